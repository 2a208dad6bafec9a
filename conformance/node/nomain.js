// Loads fine, but exports no function: the adapter answers 404.
module.exports = { notAFunction: 1 };
