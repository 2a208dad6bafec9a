// A named export `main` also works, for files that want no default export.
export async function main(req: any, res: any) {
  return res.json({ nested: { list: [1, 2.5, 'three', true, null], unicode: '✓' }, payload: req.payload }, 202);
}
