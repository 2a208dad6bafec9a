#include "runtime.h"

static void object(struct json *j, const struct entry *entries, size_t n) {
    json_object(j);
    for (size_t i = 0; i < n; i++) json_key(j, entries[i].name), json_string(j, entries[i].value);
    json_end(j);
}

void echo_main(const struct request *req, struct response *res) {
    struct json *j = res_json(res, 200);
    json_object(j);
    json_key(j, "env"), object(j, req->env, req->env_count);
    json_key(j, "payload"), json_string_n(j, req->payload, req->payload_len);
    json_key(j, "headers"), object(j, req->headers, req->header_count);
    json_end(j);
}
