-- The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md).

-- Lua has no sleep of its own: a child process sleeps (it is killed with the adapter's group on a timeout).
local function sleep(seconds) os.execute('sleep ' .. seconds) end

-- Lua can only read variables by name: /proc lists them.
local function env_names()
  local f = assert(io.open('/proc/self/environ', 'rb'))
  local all = f:read('a')
  f:close()
  local names = {}
  for entry in all:gmatch('[^\0]+') do names[#names + 1] = entry:match('^([^=]*)=') end
  return names
end

local actions = {}

function actions.plaintextResponse(context)
  return context.res.text('Hello World 👋')
end

function actions.jsonResponse(context)
  return context.res.json({ json = true, message = 'Developers are awesome.' })
end

function actions.customCharsetResponse(context)
  return context.res.text('ÅÆ', 200, { ['content-type'] = 'text/plain; charset=iso-8859-1' })
end

function actions.uppercaseCharsetResponse(context)
  return context.res.text('ÅÆ', 200, { ['content-type'] = 'TEXT/PLAIN' })
end

function actions.multipartResponse(context)
  local body = '--12345\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--12345--'
  return context.res.text(body, 200, { ['content-type'] = 'multipart/form-data; boundary=12345' })
end

function actions.redirectResponse(context)
  return context.res.redirect('https://github.com/')
end

function actions.emptyResponse(context)
  return context.res.empty()
end

function actions.noResponse(context)
  context.res.text('This should be ignored, as it is not returned.')
end

function actions.doubleResponse(context)
  context.res.text('This should be ignored.')
  return context.res.text('This should be returned.')
end

function actions.headersResponse(context)
  local headers = context.req.headers
  return context.res.text('OK', 200, {
    ['first-header'] = 'first-value',
    ['second-header'] = headers['x-open-runtimes-custom-in-header'] or 'missing',
    ['cookie'] = headers['cookie'] or 'missing',
    ['x-open-runtimes-custom-out-header'] = 'third-value',
    ['Mixed-Case-Header'] = 'mixed',
  })
end

function actions.statusResponse(context)
  return context.res.text('FAIL', 404)
end

function actions.setCookie(context)
  return context.res.text('OK', 200, { ['set-cookie'] = { 'cookie=value; path=/', 'cookie2=value2' } })
end

function actions.binaryResponse(context)
  return context.res.binary(string.char(0x00, 0x0A, 0xFF, 0x80, 0x00))
end

function actions.binaryResponseLarge(context)
  local bytes = {}
  for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
  return context.res.binary(table.concat(bytes):rep(17825792 // 256))
end

function actions.requestMethod(context)
  return context.res.text(context.req.method)
end

function actions.requestUrl(context)
  local req = context.req
  return context.res.json({
    url = req.url, scheme = req.scheme, host = req.host, port = req.port, path = req.path,
    queryString = req.query_string, query = req.query,
  })
end

function actions.requestHeaders(context)
  return context.res.json(context.req.headers)
end

function actions.requestBodyText(context)
  return context.res.text(context.req.body_text)
end

function actions.requestBodyRaw(context)
  return context.res.text(context.req.body_raw)
end

function actions.requestBodyJson(context)
  return context.res.json(context.req.body_json)
end

function actions.requestBody(context)
  return context.res.json({ body = context.req.body })
end

function actions.requestBodyBinary(context)
  return context.res.binary(context.req.body_binary)
end

function actions.requestBodyLength(context)
  return context.res.json({ length = #context.req.body_binary })
end

function actions.envVars(context)
  local shim_vars = 0
  for _, name in ipairs(env_names()) do
    if name:sub(1, 5) == 'SHIM_' then shim_vars = shim_vars + 1 end
  end
  local null = context.res.null
  return context.res.json({
    var = os.getenv('CUSTOM_ENV_VAR') or null,
    emptyVar = os.getenv('NOT_DEFINED_VAR') or null,
    secret = os.getenv('OPEN_RUNTIMES_SECRET') or null,
    shimVars = shim_vars,
  })
end

function actions.logs(context)
  context.log('Debug log')
  context.error('Error log')
  print('Native log')
  context.log(42)
  context.log(4.2)
  context.log(true)
  context.log({ objectKey = 'objectValue' })
  context.log({ 'arrayValue' })
  context.log('Log1', 'Log2', 3, { a = 1 })
  context.error('Error1', { 'e' })
  return context.res.text('')
end

function actions.longLogs(context)
  context.log(('A'):rep(9000))
  context.error(('B'):rep(9000))
  return context.res.text('OK')
end

function actions.nativeLogs(context)
  print('Native log 1')
  print('Native log 2')
  return context.res.text('OK')
end

function actions.multilineLog(context)
  context.log('line one\nline two')
  return context.res.text('OK')
end

function actions.throwException(context)
  error('Code exception occurred')
end

function actions.timeout(context)
  context.log('Timeout start.')
  sleep(3)
  local marker = assert(io.open(context.req.headers['x-marker'], 'w'))
  marker:write('done')
  marker:close()
  return context.res.text('Successful response.')
end

function actions.concurrent(context)
  local index = context.req.headers['x-index']
  context.log('concurrent ' .. index)
  sleep(0.3)
  return context.res.text(index)
end

function actions.deprecatedSend(context)
  return context.res.send(context.req.body_raw)
end

function actions.deprecatedSendUntyped(context)
  return context.res.send('50')
end

function actions.deprecatedSendBytes(context)
  return context.res.send(string.char(0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF), 200, { ['content-type'] = 'image/png' })
end

function actions.enforcedHeaders(context)
  local headers, null = context.req.headers, context.res.null
  return context.res.json({
    ['x-custom'] = headers['x-custom'] or null,
    ['x-custom-uppercase'] = headers['x-custom-uppercase'] or null,
    ['x-open-runtimes-custom'] = headers['x-open-runtimes-custom'] or null,
  })
end

function actions.errorTest(context)
  context.log('Before error...')
  error('Error!')
end

function actions.spreadOperatorLogs(context)
  context.log('engine:', 'open-runtimes')
  context.error('engine:', 'open-runtimes')
  return context.res.text('OK')
end

function actions.requestBodyTextAuto(context)
  return context.res.text(context.req.body)
end

return function(context)
  local action = context.req.headers['x-action']
  local run = actions[action]
  if not run then error('Unknown action ' .. tostring(action)) end
  return run(context)
end
