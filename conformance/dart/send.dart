import 'package:runtime/runtime.dart';

void start(Request req, Response res) {
  res.send('héllo wörld ✓ ${req.payload}', 201);
}
