// The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
import 'dart:io';
import 'dart:typed_data';

import 'package:runtime/runtime.dart';

Future<RuntimeOutput?> start(Context context) async {
  final req = context.req;
  final res = context.res;
  final action = req.headers['x-action'];
  switch (action) {
    case 'plaintextResponse':
      return res.text('Hello World 👋');
    case 'jsonResponse':
      return res.json({'json': true, 'message': 'Developers are awesome.'});
    case 'customCharsetResponse':
      return res.text('ÅÆ', 200, {'content-type': 'text/plain; charset=iso-8859-1'});
    case 'uppercaseCharsetResponse':
      return res.text('ÅÆ', 200, {'content-type': 'TEXT/PLAIN'});
    case 'multipartResponse':
      return res.text('--12345\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--12345--', 200,
          {'content-type': 'multipart/form-data; boundary=12345'});
    case 'redirectResponse':
      return res.redirect('https://github.com/');
    case 'emptyResponse':
      return res.empty();
    case 'noResponse':
      res.text('This should be ignored, as it is not returned.');
      return null;
    case 'doubleResponse':
      res.text('This should be ignored.');
      return res.text('This should be returned.');
    case 'headersResponse':
      return res.text('OK', 200, {
        'first-header': 'first-value',
        'second-header': req.headers['x-open-runtimes-custom-in-header'] ?? 'missing',
        'cookie': req.headers['cookie'] ?? 'missing',
        'x-open-runtimes-custom-out-header': 'third-value',
        'Mixed-Case-Header': 'mixed',
      });
    case 'statusResponse':
      return res.text('FAIL', 404);
    case 'setCookie':
      return res.text('OK', 200, {
        'set-cookie': ['cookie=value; path=/', 'cookie2=value2']
      });
    case 'binaryResponse':
      return res.binary([0x00, 0x0a, 0xff, 0x80, 0x00]);
    case 'binaryResponseLarge':
      final body = Uint8List(17825792);
      for (var i = 0; i < body.length; i++) body[i] = i & 0xff;
      return res.binary(body);
    case 'requestMethod':
      return res.text(req.method);
    case 'requestUrl':
      return res.json({
        'url': req.url,
        'scheme': req.scheme,
        'host': req.host,
        'port': req.port,
        'path': req.path,
        'queryString': req.queryString,
        'query': req.query,
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
      return res.json({'body': req.body});
    case 'requestBodyBinary':
      return res.binary(req.bodyBinary);
    case 'requestBodyLength':
      return res.json({'length': req.bodyBinary.length});
    case 'envVars':
      final env = Platform.environment;
      return res.json({
        'var': env['CUSTOM_ENV_VAR'],
        'emptyVar': env['NOT_DEFINED_VAR'],
        'secret': env['OPEN_RUNTIMES_SECRET'],
        'shimVars': env.keys.where((name) => name.startsWith('SHIM_')).length,
      });
    case 'logs':
      context.log('Debug log');
      context.error('Error log');
      print('Native log');
      context.log(42);
      context.log(4.2);
      context.log(true);
      context.log({'objectKey': 'objectValue'});
      context.log(['arrayValue']);
      context.log('Log1', 'Log2', 3, {'a': 1});
      context.error('Error1', ['e']);
      return res.text('');
    case 'longLogs':
      context.log('A' * 9000);
      context.error('B' * 9000);
      return res.text('OK');
    case 'nativeLogs':
      print('Native log 1');
      print('Native log 2');
      return res.text('OK');
    case 'multilineLog':
      context.log('line one\nline two');
      return res.text('OK');
    case 'throwException':
      throw Exception('Code exception occurred');
    case 'timeout':
      context.log('Timeout start.');
      await Future.delayed(const Duration(seconds: 3));
      await File(req.headers['x-marker']!).writeAsString('done');
      return res.text('Successful response.');
    case 'concurrent':
      context.log('concurrent ${req.headers['x-index']}');
      await Future.delayed(const Duration(milliseconds: 300));
      return res.text(req.headers['x-index']!);
    case 'deprecatedSend':
      return res.send(req.bodyRaw);
    case 'deprecatedSendUntyped':
      return res.send('50');
    case 'deprecatedSendBytes':
      return res.send(Uint8List.fromList([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]), 200, {'content-type': 'image/png'});
    case 'enforcedHeaders':
      return res.json({
        for (final name in ['x-custom', 'x-custom-uppercase', 'x-open-runtimes-custom']) name: req.headers[name]
      });
    case 'errorTest':
      context.log('Before error...');
      throw Exception('Error!');
    case 'spreadOperatorLogs':
      context.log('engine:', 'open-runtimes');
      context.error('engine:', 'open-runtimes');
      return res.text('OK');
    case 'requestBodyTextAuto':
      return res.text(req.body as String);
    default:
      throw Exception('Unknown action $action');
  }
}
