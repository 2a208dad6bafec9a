// A plain (not async) function.
module.exports = function (req, res) {
  res.json({ env: req.env, payload: req.payload, headers: req.headers });
};
