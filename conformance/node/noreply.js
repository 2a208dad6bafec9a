module.exports = async (req, res) => {
  return { 'this is': 'not a reply' };
};
