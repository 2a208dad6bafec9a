module.exports = async (req, res) => {
  await new Promise((resolve) => setTimeout(resolve, parseFloat(req.payload || '30') * 1000));
  return res.send('woke');
};
