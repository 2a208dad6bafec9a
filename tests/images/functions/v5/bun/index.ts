// The v5 image test's bun function (tests/images/v5.sh): proves the build step ran (built.txt, written by
// the install command), that node_modules it installed resolve, and the v5 context API.
import { readFileSync } from 'fs';
import { join } from 'path';
import v5dep from 'v5dep'; // node_modules/v5dep, made by the install command

export default async (context: any) => {
  context.log('bun function log', { n: 1 });
  context.error('bun function error line');
  console.log('bun native print');
  const built = readFileSync(join(import.meta.dir, 'built.txt'), 'utf8').trim();
  return context.res.json(
    {
      runtime: 'bun',
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
