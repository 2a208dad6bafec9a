let count = 0;

export default async function (req: any, res: any) {
  count += 1;
  return res.json({ count });
}
