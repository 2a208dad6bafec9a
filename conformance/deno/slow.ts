export default async function (req: any, res: any) {
  await new Promise((resolve) => setTimeout(resolve, parseFloat(req.payload || '30') * 1000));
  return res.send('woke');
}
