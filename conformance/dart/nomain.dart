// Compiles, but the function has the wrong name: the dispatcher knows no start here and answers 404.
import 'package:runtime/runtime.dart';

void handler(Request req, Response res) {
  res.send('never called');
}
