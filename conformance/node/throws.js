function innerHelper() {
  throw new Error('boom from user code');
}

module.exports = async (req, res) => {
  innerHelper();
  return res.send('unreachable');
};
