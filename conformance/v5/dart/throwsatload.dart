// What loading throwsatload.dart does: it throws.
void load() {
  throw Exception('Load failure');
}
