#include <stdlib.h>
#include <string.h>
#include "runtime.h"

void send_main(const struct request *req, struct response *res) {
    const char *prefix = "héllo wörld ✓ ";
    size_t n = strlen(prefix);
    char *text = malloc(n + req->payload_len);
    memcpy(text, prefix, n);
    memcpy(text + n, req->payload, req->payload_len);
    res_send_bytes(res, text, n + req->payload_len, 201);
    free(text);
}
