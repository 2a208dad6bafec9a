export default async function (req: any, res: any) {
  return res.json({ normal: 'Hello World!', env1: req.env.ENV1 ?? null, payload: req.payload });
}
