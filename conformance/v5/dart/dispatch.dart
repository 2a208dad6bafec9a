// Test-only entry file. A compiled runtime is one program, so this start stands in for loading the entry file
// the shim names (entrypoint()): main.dart runs its function, the others fail to load as the kit expects
// (noexport.dart prints and has no start, throwsatload.dart throws), and any other name is a missing file.
// A real runtime has one start.
import 'package:runtime/runtime.dart';

import 'main.dart' as cases;
import 'noexport.dart' as noexport;
import 'throwsatload.dart' as throwsatload;

bool _noexportLoaded = false;

Future<RuntimeOutput?> start(Context context) async {
  final entry = entrypoint();
  final stem = entry.split('/').last.split('.').first;
  if (stem == 'main') return cases.start(context);
  if (stem == 'noexport') {
    if (!_noexportLoaded) noexport.load();
    _noexportLoaded = true;
    throw LoadFailure("Function signature invalid. Did you forget to export a 'main' function?");
  }
  if (stem == 'throwsatload') {
    try {
      throwsatload.load();
    } catch (error, stack) {
      throw LoadFailure('$error\n$stack');
    }
  }
  throw LoadFailure('Failed to load entrypoint, file $entry does not exist.');
}
