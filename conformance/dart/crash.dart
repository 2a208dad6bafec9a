import 'dart:io';

import 'package:runtime/runtime.dart';

void start(Request req, Response res) {
  exit(3);
}
