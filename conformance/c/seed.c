#include "runtime.h"

void seed_main(const struct request *req, struct response *res) {
    struct json *j = res_json(res, 200);
    json_object(j);
    json_key(j, "normal"), json_string(j, "Hello World!");
    json_key(j, "env1"), json_string(j, request_env(req, "ENV1")); /* NULL is null */
    json_key(j, "payload"), json_string_n(j, req->payload, req->payload_len);
    json_end(j);
}
