// Test-only entry file: one runtime serves every case function, picked by the base name of the request's
// file (seed.dart -> seed.start). The conformance kit names a file per case; a real runtime has one start.
import 'dart:async';

import 'package:runtime/runtime.dart';

import 'counter.dart' as counter;
import 'crash.dart' as crash;
import 'echo.dart' as echo;
import 'jsonreply.dart' as jsonreply;
import 'noisy.dart' as noisy;
import 'noreply.dart' as noreply;
import 'seed.dart' as seed;
import 'send.dart' as send;
import 'slow.dart' as slow;
import 'throws.dart' as throws;

final Map<String, FutureOr<void> Function(Request, Response)> functions = {
  'seed': seed.start, 'send': send.start, 'jsonreply': jsonreply.start, 'echo': echo.start,
  'throws': throws.start, 'noisy': noisy.start, 'slow': slow.start, 'noreply': noreply.start,
  'crash': crash.start, 'counter': counter.start,
};

Future<void> start(Request req, Response res) async {
  final name = req.file.split('/').last.split('.').first;
  final function = functions[name];
  if (function == null) return res.notFound('${req.path}/${req.file}: this runtime has no function for that file');
  await function(req, res);
}
