/* The image test's entry file: the C runtime calls handler(); the seed function is conformance/c/seed.c. */
#include "runtime.h"

void seed_main(const struct request *req, struct response *res);

void handler(const struct request *req, struct response *res) { seed_main(req, res); }
