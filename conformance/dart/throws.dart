import 'package:runtime/runtime.dart';

void innerHelper() {
  throw StateError('boom from user code');
}

void start(Request req, Response res) {
  innerHelper();
  res.send('unreachable');
}
