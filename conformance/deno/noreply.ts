export default async function (req: any, res: any) {
  return { 'this is': 'not a reply' };
}
