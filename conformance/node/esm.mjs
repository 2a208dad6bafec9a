export default async function (req, res) {
  return res.json({ esm: true, payload: req.payload });
}
