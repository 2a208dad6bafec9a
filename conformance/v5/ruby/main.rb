# The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md).

ACTIONS = {
  'plaintextResponse' => ->(context) { context.res.text('Hello World 👋') },
  'jsonResponse' => ->(context) { context.res.json({ 'json' => true, 'message' => 'Developers are awesome.' }) },
  'customCharsetResponse' => lambda { |context|
    context.res.text('ÅÆ', 200, { 'content-type' => 'text/plain; charset=iso-8859-1' })
  },
  'uppercaseCharsetResponse' => ->(context) { context.res.text('ÅÆ', 200, { 'content-type' => 'TEXT/PLAIN' }) },
  'multipartResponse' => lambda { |context|
    context.res.text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
                     { 'content-type' => 'multipart/form-data; boundary=12345' })
  },
  'redirectResponse' => ->(context) { context.res.redirect('https://github.com/') },
  'emptyResponse' => ->(context) { context.res.empty },
  'noResponse' => lambda { |context|
    context.res.text('This should be ignored, as it is not returned.')
    nil
  },
  'doubleResponse' => lambda { |context|
    context.res.text('This should be ignored.')
    context.res.text('This should be returned.')
  },
  'headersResponse' => lambda { |context|
    headers = context.req.headers
    context.res.text('OK', 200, {
                       'first-header' => 'first-value',
                       'second-header' => headers['x-open-runtimes-custom-in-header'] || 'missing',
                       'cookie' => headers['cookie'] || 'missing',
                       'x-open-runtimes-custom-out-header' => 'third-value',
                       'Mixed-Case-Header' => 'mixed'
                     })
  },
  'statusResponse' => ->(context) { context.res.text('FAIL', 404) },
  'setCookie' => ->(context) { context.res.text('OK', 200, { 'set-cookie' => ['cookie=value; path=/', 'cookie2=value2'] }) },
  'binaryResponse' => ->(context) { context.res.binary([0x00, 0x0A, 0xFF, 0x80, 0x00].pack('C*')) },
  'binaryResponseLarge' => ->(context) { context.res.binary((0..255).to_a.pack('C*') * (17_825_792 / 256)) },
  'requestMethod' => ->(context) { context.res.text(context.req.method) },
  'requestUrl' => lambda { |context|
    req = context.req
    context.res.json({ 'url' => req.url, 'scheme' => req.scheme, 'host' => req.host, 'port' => req.port,
                       'path' => req.path, 'queryString' => req.query_string, 'query' => req.query })
  },
  'requestHeaders' => ->(context) { context.res.json(context.req.headers) },
  'requestBodyText' => ->(context) { context.res.text(context.req.body_text) },
  'requestBodyRaw' => ->(context) { context.res.text(context.req.body_raw) },
  'requestBodyJson' => ->(context) { context.res.json(context.req.body_json) },
  'requestBody' => ->(context) { context.res.json({ 'body' => context.req.body }) },
  'requestBodyBinary' => ->(context) { context.res.binary(context.req.body_binary) },
  'requestBodyLength' => ->(context) { context.res.json({ 'length' => context.req.body_binary.bytesize }) },
  'envVars' => lambda { |context|
    context.res.json({
                       'var' => ENV['CUSTOM_ENV_VAR'],
                       'emptyVar' => ENV['NOT_DEFINED_VAR'],
                       'secret' => ENV['OPEN_RUNTIMES_SECRET'],
                       'shimVars' => ENV.keys.count { |name| name.start_with?('SHIM_') }
                     })
  },
  'logs' => lambda { |context|
    context.log('Debug log')
    context.error('Error log')
    puts 'Native log'
    context.log(42)
    context.log(4.2)
    context.log(true)
    context.log({ 'objectKey' => 'objectValue' })
    context.log(['arrayValue'])
    context.log('Log1', 'Log2', 3, { 'a' => 1 })
    context.error('Error1', ['e'])
    context.res.text('')
  },
  'longLogs' => lambda { |context|
    context.log('A' * 9000)
    context.error('B' * 9000)
    context.res.text('OK')
  },
  'nativeLogs' => lambda { |context|
    puts 'Native log 1'
    puts 'Native log 2'
    context.res.text('OK')
  },
  'multilineLog' => lambda { |context|
    context.log("line one\nline two")
    context.res.text('OK')
  },
  'throwException' => ->(_context) { raise 'Code exception occurred' },
  'timeout' => lambda { |context|
    context.log('Timeout start.')
    sleep 3 # Ruby's standard library has no non-blocking sleep
    File.write(context.req.headers['x-marker'], 'done')
    context.res.text('Successful response.')
  },
  'concurrent' => lambda { |context|
    index = context.req.headers['x-index']
    context.log("concurrent #{index}")
    sleep 0.3
    context.res.text(index)
  },
  'deprecatedSend' => ->(context) { context.res.send(context.req.body_raw) },
  'deprecatedSendUntyped' => ->(context) { context.res.send('50') },
  'deprecatedSendBytes' => lambda { |context|
    context.res.send([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF].pack('C*'), 200, { 'content-type' => 'image/png' })
  },
  'enforcedHeaders' => lambda { |context|
    headers = context.req.headers
    context.res.json(%w[x-custom x-custom-uppercase x-open-runtimes-custom].to_h { |name| [name, headers[name]] })
  },
  'errorTest' => lambda { |context|
    context.log('Before error...')
    raise 'Error!'
  },
  'spreadOperatorLogs' => lambda { |context|
    context.log('engine:', 'open-runtimes')
    context.error('engine:', 'open-runtimes')
    context.res.text('OK')
  },
  'requestBodyTextAuto' => ->(context) { context.res.text(context.req.body) }
}.freeze

def main(context)
  action = context.req.headers['x-action']
  raise "Unknown action #{action}" unless ACTIONS.key?(action)

  ACTIONS[action].call(context)
end
