#include <stdlib.h>
#include <time.h>
#include "runtime.h"

void slow_main(const struct request *req, struct response *res) {
    double seconds = req->payload_len ? atof(req->payload) : 30;
    struct timespec t = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    while (nanosleep(&t, &t) != 0) {}
    res_send(res, "woke", 200);
}
