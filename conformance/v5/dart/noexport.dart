// What loading noexport.dart does: it prints natively, and it has no start.
void load() {
  print('Hello World');
}
