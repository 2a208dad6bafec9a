-- The v5 image test's lua function (tests/images/v5.sh): proves the build step ran (built.txt, written by the
-- install command), that the module it installed into lib/ loads, and the v5 context API.
local v5dep = require('lib.v5dep') -- lib/v5dep.lua, made by the install command

local here = debug.getinfo(1, 'S').source:match('^@(.*)/[^/]*$') or '.'

return function(context)
  context.log('lua function log', { n = 1 })
  context.error('lua function error line')
  print('lua native print')
  local f = assert(io.open(here .. '/built.txt'))
  local built = f:read('l')
  f:close()
  return context.res.json({
    runtime = 'lua',
    method = context.req.method,
    path = context.req.path,
    query = context.req.query,
    body = context.req.body,
    built = built,
    dependency = v5dep,
  }, 201, { ['x-v5-test'] = 'yes' })
end
