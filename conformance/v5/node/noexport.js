// Loads fine, prints natively while it loads, and exports no function: a 503.
console.log('Hello World');
module.exports = { main: 'not a function' };
