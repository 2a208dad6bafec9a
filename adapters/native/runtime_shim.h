/*
 * runtime-shim native ABI, version 1: a function built as a shared library (SHIM_NATIVE_LIB=/path/lib.so).
 *
 * The shim loads the library inside an isolated worker process (the shim binary re-executed in a worker
 * role), so a crash or a hang in it costs one request and one worker, never the server. Timeouts kill the
 * worker's process group as for any adapter. Nothing is JSON here: the request arrives as byte strings.
 *
 * The library exports two functions:
 *
 *   uint32_t rshim_abi_version(void);        returns RSHIM_ABI_VERSION
 *   void     rshim_handle(const rshim_request *req, rshim_response *res);
 *
 * and may export `int rshim_init(void)`, called once when the worker starts (non-zero = failed to start).
 *
 * Byte strings are NOT NUL-terminated; they stay valid only during the call to rshim_handle. The response
 * functions copy what they are given. The last call of send/json/fail before rshim_handle returns wins.
 * Anything written to stdout or stderr (printf, child processes) goes to the shim's log, tagged with the
 * request id, and never into the reply.
 */
#ifndef RUNTIME_SHIM_H
#define RUNTIME_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RSHIM_ABI_VERSION 1u

typedef struct {
    const char *ptr;
    size_t len;
} rshim_bytes;

typedef struct {
    rshim_bytes name;
    rshim_bytes value;
} rshim_pair;

typedef struct {
    rshim_bytes path;         /* the request's code folder */
    rshim_bytes file;         /* the request's entry file (informative for native code) */
    rshim_bytes payload;      /* request.payload */
    const rshim_pair *env;    /* request.env */
    size_t env_len;
    const rshim_pair *headers; /* request.headers */
    size_t headers_len;
    uint64_t timeout_ms;
    uint64_t deadline_ms;     /* milliseconds since the Unix epoch */
} rshim_request;

typedef struct rshim_response rshim_response;
struct rshim_response {
    void *state; /* the shim's; leave it alone */
    /* The body as text/plain; charset=utf-8, with an HTTP status (200-599). */
    void (*send)(rshim_response *res, const char *text, size_t len, uint16_t status);
    /* The body is JSON text you produced, served as application/json. */
    void (*json)(rshim_response *res, const char *json, size_t len, uint16_t status);
    /* The function failed: a 500 carrying this message (the "throw" of C). */
    void (*fail)(rshim_response *res, const char *message, size_t len);
};

/* Conveniences for NUL-terminated strings. */
static inline void rshim_send(rshim_response *res, const char *text, uint16_t status) {
    res->send(res, text, strlen(text), status);
}
static inline void rshim_json(rshim_response *res, const char *json, uint16_t status) {
    res->json(res, json, strlen(json), status);
}
static inline void rshim_fail(rshim_response *res, const char *message) {
    res->fail(res, message, strlen(message));
}

/* The value of a variable or header (case-sensitive), or NULL. */
static inline const rshim_bytes *rshim_find(const rshim_pair *pairs, size_t n, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (pairs[i].name.len == len && memcmp(pairs[i].name.ptr, name, len) == 0) return &pairs[i].value;
    }
    return NULL;
}

#endif
