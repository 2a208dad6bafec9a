/* The seed function as a native library (native ABI v1, adapters/native/runtime_shim.h), for the shim+native
 * contender: replies {"normal":"Hello World!","env1":<env.ENV1 or null>,"payload":<payload>}.
 * Build: cc -O2 -shared -fPIC -I adapters/native -o libseed.so bench/contenders/native_seed.c
 */
#include <stdio.h>
#include <stdlib.h>
#include "runtime_shim.h"

uint32_t rshim_abi_version(void) { return RSHIM_ABI_VERSION; }

static char *buf; static size_t len, cap;
static void add(const char *p, size_t n) {
    if (len + n > cap) { cap = (len + n) * 2; buf = realloc(buf, cap); if (!buf) abort(); }
    memcpy(buf + len, p, n); len += n;
}
static void add_s(const char *s) { add(s, strlen(s)); }
static void add_string(const rshim_bytes *b) {
    add_s("\"");
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->ptr[i];
        char esc[8];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; add(esc, 2); }
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); add(esc, 6); }
        else add(&b->ptr[i], 1);
    }
    add_s("\"");
}

void rshim_handle(const rshim_request *req, rshim_response *res) {
    const rshim_bytes *env1 = rshim_find(req->env, req->env_len, "ENV1");
    len = 0;
    add_s("{\"normal\":\"Hello World!\",\"env1\":");
    if (env1) add_string(env1); else add_s("null");
    add_s(",\"payload\":");
    add_string(&req->payload);
    add_s("}");
    res->json(res, buf, len, 200);
}
