#include "runtime.h"

void noreply_main(const struct request *req, struct response *res) {
    (void)req, (void)res; /* returns without res_send or res_json */
}
