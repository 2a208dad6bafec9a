#include "runtime.h"

static int count; /* lives as long as the runtime process */

void counter_main(const struct request *req, struct response *res) {
    (void)req;
    struct json *j = res_json(res, 200);
    json_object(j);
    json_key(j, "count"), json_int(j, ++count);
    json_end(j);
}
