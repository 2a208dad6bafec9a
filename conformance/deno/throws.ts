function innerHelper(): never {
  throw new Error('boom from user code');
}

export default async function (req: any, res: any) {
  innerHelper();
  return res.send('unreachable');
}
