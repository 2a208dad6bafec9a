import 'package:runtime/runtime.dart';

Future<void> start(Request req, Response res) async {
  res.json({'normal': 'Hello World!', 'env1': req.env['ENV1'], 'payload': req.payload});
}
