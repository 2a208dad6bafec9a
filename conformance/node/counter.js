let count = 0;

module.exports = async (req, res) => {
  count += 1;
  return res.json({ count });
};
