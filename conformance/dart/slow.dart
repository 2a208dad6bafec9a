import 'package:runtime/runtime.dart';

Future<void> start(Request req, Response res) async {
  final seconds = double.tryParse(req.payload) ?? 30;
  await Future<void>.delayed(Duration(milliseconds: (seconds * 1000).round()));
  res.send('woke');
}
