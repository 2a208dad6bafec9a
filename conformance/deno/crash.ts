export default async function (req: any, res: any) {
  Deno.exit(3);
}
