const { execFileSync } = require('child_process');
const fs = require('fs');

module.exports = async (req, res) => {
  const p = req.payload;
  console.log(`noisy-stdout ${p}`);
  console.error(`noisy-stderr ${p}`);
  // The child inherits the adapter's stdio; the payload goes in as $1, not spliced into the script.
  execFileSync('sh', ['-c', 'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', 'sh', p], { stdio: 'inherit' });
  fs.writeSync(1, `noisy-fd1 ${p}\n`);
  return res.send(`quiet ${p}`);
};
