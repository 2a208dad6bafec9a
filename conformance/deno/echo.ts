// A plain (not async) function.
export default function (req: any, res: any) {
  res.json({ env: req.env, payload: req.payload, headers: req.headers });
}
