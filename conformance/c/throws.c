#include "runtime.h"

static int inner_helper(struct response *res) {
    return res_error(res, "boom from user code");
}

void throws_main(const struct request *req, struct response *res) {
    (void)req;
    if (inner_helper(res) < 0) return;
    res_send(res, "unreachable", 200);
}
