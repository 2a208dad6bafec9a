// The v5 conformance function for deno: does what the request header x-action names (conformance/v5-actions.md).

// deno-lint-ignore-file no-explicit-any
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export default async (context: any) => {
  const { req, res } = context;
  const action = req.headers['x-action'];
  switch (action) {
    case 'plaintextResponse':
      return res.text('Hello World 👋');
    case 'jsonResponse':
      return res.json({ json: true, message: 'Developers are awesome.' });
    case 'customCharsetResponse':
      return res.text('ÅÆ', 200, { 'content-type': 'text/plain; charset=iso-8859-1' });
    case 'uppercaseCharsetResponse':
      return res.text('ÅÆ', 200, { 'content-type': 'TEXT/PLAIN' });
    case 'multipartResponse':
      return res.text('--12345\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--12345--', 200, {
        'content-type': 'multipart/form-data; boundary=12345',
      });
    case 'redirectResponse':
      return res.redirect('https://github.com/');
    case 'emptyResponse':
      return res.empty();
    case 'noResponse':
      res.text('This should be ignored, as it is not returned.');
      return;
    case 'doubleResponse':
      res.text('This should be ignored.');
      return res.text('This should be returned.');
    case 'headersResponse':
      return res.text('OK', 200, {
        'first-header': 'first-value',
        'second-header': req.headers['x-open-runtimes-custom-in-header'] ?? 'missing',
        cookie: req.headers['cookie'] ?? 'missing',
        'x-open-runtimes-custom-out-header': 'third-value',
        'Mixed-Case-Header': 'mixed',
      });
    case 'statusResponse':
      return res.text('FAIL', 404);
    case 'setCookie':
      return res.text('OK', 200, { 'set-cookie': ['cookie=value; path=/', 'cookie2=value2'] });
    case 'binaryResponse':
      return res.binary(new Uint8Array([0x00, 0x0a, 0xff, 0x80, 0x00]));
    case 'binaryResponseLarge': {
      const bytes = new Uint8Array(17825792);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff;
      return res.binary(bytes);
    }
    case 'requestMethod':
      return res.text(req.method);
    case 'requestUrl':
      return res.json({
        url: req.url,
        scheme: req.scheme,
        host: req.host,
        port: req.port,
        path: req.path,
        queryString: req.queryString,
        query: req.query,
      });
    case 'requestHeaders':
      return res.json(req.headers);
    case 'requestBodyText':
      return res.text(req.bodyText);
    case 'requestBodyRaw':
      return res.text(req.bodyRaw);
    case 'requestBodyJson':
      return res.json(req.bodyJson);
    case 'requestBody':
      return res.json({ body: req.body });
    case 'requestBodyBinary':
      return res.binary(req.bodyBinary);
    case 'requestBodyLength':
      return res.json({ length: req.bodyBinary.length });
    case 'envVars':
      return res.json({
        var: Deno.env.get('CUSTOM_ENV_VAR') ?? null,
        emptyVar: Deno.env.get('NOT_DEFINED_VAR') ?? null,
        secret: Deno.env.get('OPEN_RUNTIMES_SECRET') ?? null,
        shimVars: Object.keys(Deno.env.toObject()).filter((name) => name.startsWith('SHIM_')).length,
      });
    case 'logs':
      context.log('Debug log');
      context.error('Error log');
      console.log('Native log');
      context.log(42);
      context.log(4.2);
      context.log(true);
      context.log({ objectKey: 'objectValue' });
      context.log(['arrayValue']);
      context.log('Log1', 'Log2', 3, { a: 1 });
      context.error('Error1', ['e']);
      return res.text('');
    case 'longLogs':
      context.log('A'.repeat(9000));
      context.error('B'.repeat(9000));
      return res.text('OK');
    case 'nativeLogs':
      console.log('Native log 1');
      console.log('Native log 2');
      return res.text('OK');
    case 'multilineLog':
      context.log('line one\nline two');
      return res.text('OK');
    case 'throwException':
      throw new Error('Code exception occurred');
    case 'timeout':
      context.log('Timeout start.');
      await sleep(3000);
      Deno.writeTextFileSync(req.headers['x-marker'], 'done');
      return res.text('Successful response.');
    case 'concurrent':
      context.log('concurrent ' + req.headers['x-index']);
      await sleep(300);
      return res.text(req.headers['x-index']);
    case 'deprecatedSend':
      return res.send(req.bodyRaw);
    case 'deprecatedSendUntyped':
      return res.send('50');
    case 'deprecatedSendBytes':
      return res.send(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]), 200, { 'content-type': 'image/png' });
    case 'enforcedHeaders':
      return res.json({
        'x-custom': req.headers['x-custom'] ?? null,
        'x-custom-uppercase': req.headers['x-custom-uppercase'] ?? null,
        'x-open-runtimes-custom': req.headers['x-open-runtimes-custom'] ?? null,
      });
    case 'errorTest':
      context.log('Before error...');
      throw new Error('Error!');
    case 'spreadOperatorLogs':
      context.log('engine:', 'open-runtimes');
      context.error('engine:', 'open-runtimes');
      return res.text('OK');
    case 'requestBodyTextAuto':
      return res.text(req.body);
    default:
      throw new Error(`Unknown action ${action}`);
  }
};
