// Fails while it loads: its load step throws, a 503 with that error.
#include <stdexcept>

void throwsatload_load() { throw std::runtime_error("Load failure"); }
