import 'package:runtime/runtime.dart';

var count = 0; // lives as long as the runtime process

void start(Request req, Response res) {
  res.json({'count': ++count});
}
