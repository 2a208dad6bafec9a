// The v5 image test's node function (tests/images/v5.sh): proves the build step ran (built.txt, written by
// the install command), that node_modules it installed resolve, and the v5 context API.
const fs = require('fs');
const path = require('path');
const v5dep = require('v5dep'); // node_modules/v5dep, made by the install command

module.exports = async (context) => {
  context.log('node function log', { n: 1 });
  context.error('node function error line');
  console.log('node native print');
  const built = fs.readFileSync(path.join(__dirname, 'built.txt'), 'utf8').trim();
  return context.res.json(
    {
      runtime: 'node',
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
