// The v5 image test's deno function (tests/images/v5.sh): proves the build step ran (built.txt, written by
// the install command), that the module it installed into lib/ imports, and the v5 context API.
// deno-lint-ignore-file no-explicit-any
import v5dep from './lib/v5dep.ts'; // made by the install command

export default async (context: any) => {
  context.log('deno function log', { n: 1 });
  context.error('deno function error line');
  console.log('deno native print');
  const built = (await Deno.readTextFile(new URL('./built.txt', import.meta.url))).trim();
  return context.res.json(
    {
      runtime: 'deno',
      method: context.req.method,
      path: context.req.path,
      query: context.req.query,
      body: context.req.body,
      built,
      dependency: v5dep,
    },
    201,
    { 'x-v5-test': 'yes' },
  );
};
