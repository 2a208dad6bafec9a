import 'dart:io';

import 'package:runtime/runtime.dart';

Future<void> start(Request req, Response res) async {
  final p = req.payload;
  print('noisy-stdout $p');
  stderr.writeln('noisy-stderr $p');
  // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
  final child = await Process.start(
      'sh', ['-c', r'echo noisy-child "$1"; echo noisy-child-err "$1" >&2', 'sh', p],
      mode: ProcessStartMode.inheritStdio);
  await child.exitCode;
  final fd1 = File('/proc/self/fd/1').openSync(mode: FileMode.writeOnlyAppend);
  fd1.writeStringSync('noisy-fd1 $p\n');
  fd1.closeSync();
  res.send('quiet $p');
}
