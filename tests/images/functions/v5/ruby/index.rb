# The v5 image test's ruby function (tests/images/v5.sh): proves the build step ran (built.txt, written by the
# install command), that what it installed into lib/ loads, and the v5 context API.
require_relative 'lib/v5dep'

def main(context)
  context.log('ruby function log', { 'n' => 1 })
  context.error('ruby function error line')
  puts 'ruby native print'
  context.res.json({
    'runtime' => 'ruby',
    'method' => context.req.method,
    'path' => context.req.path,
    'query' => context.req.query,
    'body' => context.req.body,
    'built' => File.read(File.join(__dir__, 'built.txt')).strip,
    'dependency' => V5DEP
  }, 201, { 'x-v5-test' => 'yes' })
end
