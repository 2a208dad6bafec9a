import 'package:runtime/runtime.dart';

Future<void> start(Request req, Response res) async {
  await Future<void>.delayed(Duration.zero); // an async function: awaited before the reply
  res.json({
    'nested': {'list': [1, 2.5, 'three', true, null], 'unicode': '✓'},
    'payload': req.payload,
  }, 202);
}
