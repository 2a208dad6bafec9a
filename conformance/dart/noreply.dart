import 'package:runtime/runtime.dart';

void start(Request req, Response res) {
  // returns without res.send() or res.json()
}
