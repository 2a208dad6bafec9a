// The shape TypeScript and Babel emit for `export default`.
module.exports.default = async (req, res) => {
  return res.json({ nested: { list: [1, 2.5, 'three', true, null], unicode: '✓' }, payload: req.payload }, 202);
};
