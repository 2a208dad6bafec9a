// The payload phase's function (bench/README.md): replies the payload itself, as text — N bytes in, N bytes out.
// The floor and the trivial C adapter do the same for `file: "echo.js"`.
module.exports = (req, res) => res.send(req.payload);
