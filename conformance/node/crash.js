module.exports = async (req, res) => {
  process.exit(3);
};
