import 'package:runtime/runtime.dart';

void start(Request req, Response res) {
  res.json({'env': req.env, 'payload': req.payload, 'headers': req.headers});
}
