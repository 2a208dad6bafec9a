module.exports = async (req, res) => {
  return res.json({ normal: 'Hello World!', env1: req.env.ENV1 ?? null, payload: req.payload });
};
