// Loads fine, prints natively while it loads, and has no function: a 503. The dispatcher runs its load step.
#include <iostream>

void noexport_load() { std::cout << "Hello World" << std::endl; }
