/* The seed test function as a native library:
 *   cc -shared -fPIC -O2 -I ../../adapters/native -o libseed.so seed.c
 *   SHIM_NATIVE_LIB=$PWD/libseed.so APPWRITE_INTERNAL_RUNTIME_KEY=secret runtime-shim
 */
#include <stdio.h>
#include <stdlib.h>
#include "runtime_shim.h"

/* Appends `s` as a JSON string literal to `out` (which has room for 6 bytes per input byte + 2). */
static size_t json_string(char *out, const char *s, size_t len) {
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { out[n++] = '\\'; out[n++] = (char)c; }
        else if (c < 0x20) n += (size_t)sprintf(out + n, "\\u%04x", c);
        else out[n++] = (char)c;
    }
    out[n++] = '"';
    return n;
}

uint32_t rshim_abi_version(void) { return RSHIM_ABI_VERSION; }

void rshim_handle(const rshim_request *req, rshim_response *res) {
    const rshim_bytes *env1 = rshim_find(req->env, req->env_len, "ENV1");
    size_t room = 64 + 6 * (req->payload.len + (env1 ? env1->len : 0));
    char *body = malloc(room);
    if (!body) { rshim_fail(res, "out of memory"); return; }
    size_t n = (size_t)sprintf(body, "{\"normal\":\"Hello World!\",\"env1\":");
    if (env1) n += json_string(body + n, env1->ptr, env1->len);
    else n += (size_t)sprintf(body + n, "null");
    n += (size_t)sprintf(body + n, ",\"payload\":");
    n += json_string(body + n, req->payload.ptr, req->payload.len);
    body[n++] = '}';
    res->json(res, body, n, 200);
    free(body);
}
