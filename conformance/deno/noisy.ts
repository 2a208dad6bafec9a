export default async function (req: any, res: any) {
  const p: string = req.payload;
  console.log(`noisy-stdout ${p}`);
  console.error(`noisy-stderr ${p}`);
  // The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
  const args = ['-c', 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', 'sh', p];
  const { success } = await new Deno.Command('sh', { args, stdout: 'inherit', stderr: 'inherit' }).output();
  if (!success) throw new Error('sh failed');
  Deno.stdout.writeSync(new TextEncoder().encode(`noisy-fd1 ${p}\n`));
  return res.send(`quiet ${p}`);
}
