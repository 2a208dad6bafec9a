#include "runtime.h"

void jsonreply_main(const struct request *req, struct response *res) {
    struct json *j = res_json(res, 202);
    json_object(j);
    json_key(j, "nested");
    json_object(j);
    json_key(j, "list");
    json_array(j);
    json_int(j, 1), json_number(j, 2.5), json_string(j, "three"), json_bool(j, 1), json_null(j);
    json_end(j);
    json_key(j, "unicode"), json_string(j, "✓");
    json_end(j);
    json_key(j, "payload"), json_string(j, req->payload);
    json_end(j);
}
