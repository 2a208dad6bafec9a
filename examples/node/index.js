module.exports = async (req, res) => {
  // Anything logged goes to the shim's log, tagged with this request.
  console.log(`hello function called with ${req.payload.length} characters of payload`);
  return res.json({ message: 'Hello from Node!', payload: req.payload, env1: req.env.ENV1 ?? null });
};
