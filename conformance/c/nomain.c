/* Compiles fine, but defines no case function the dispatcher knows: the runtime answers 404. */
#include "runtime.h"

void nomain_handler(const struct request *req, struct response *res) {
    (void)req;
    res_send(res, "never called", 200);
}
