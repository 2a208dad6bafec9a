/* Loads fine, prints natively while it loads, and has no function: a 503. The dispatcher runs its load step. */
#include <stdio.h>

void noexport_load(void) { printf("Hello World\n"); }
