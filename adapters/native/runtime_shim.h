/*
 * runtime-shim native ABI, versions 1 and 2: a function built as a shared library (SHIM_NATIVE_LIB=/path/lib.so).
 * Version 1 (the v1 contract) is below; version 2 (the v5 contract: method, URL parts, headers, a binary body,
 * callbacks for the reply's headers and for log lines) follows it. A library declares the one it implements
 * with rshim_abi_version().
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

/*
 * ---- Version 2: the v5 contract (SHIM_PROTOCOL=v5) ----
 *
 * The library returns 2 from rshim_abi_version() and exports
 *
 *   void rshim_serve(const rshim_request_v2 *req, rshim_response_v2 *res);
 *
 * (and may export rshim_init as above). The request is context.req as the shim computed it: header names
 * lower-cased, x-open-runtimes-* removed. The struct is versioned: `size` is sizeof the struct the shim
 * filled, and later revisions only add fields at its end, so a library reads a field only when
 * offsetof(field) < size. The reply is built with the callbacks: set_status (required for a reply), then any
 * number of add_header (a name may repeat: set-cookie) and write_body (appends bytes). Returning without
 * set_status, fail or unavailable is "no reply" (a 500 saying the return is missing). log writes one line of
 * the execution's logs (stream 0) or errors log (stream 1) as it happens. The process environment is the
 * function's variables, less the shim's own SHIM_* settings.
 */
#define RSHIM_ABI_VERSION_2 2u

enum { RSHIM_LOG = 0, RSHIM_ERROR = 1 };

typedef struct {
    uint32_t version;          /* 2 */
    uint32_t size;             /* sizeof(rshim_request_v2) as the shim built it */
    rshim_bytes method;        /* GET, POST, ... */
    rshim_bytes scheme;        /* http or https */
    rshim_bytes host;          /* without the port */
    uint32_t port;
    rshim_bytes path;          /* before the ? */
    rshim_bytes query_string;  /* after the first ?, undecoded */
    rshim_bytes url;
    const rshim_pair *query;   /* query_string split on & and the first = */
    size_t query_len;
    const rshim_pair *headers; /* a name may appear more than once */
    size_t headers_len;
    rshim_bytes body;          /* the raw bytes, as sent */
    uint32_t json_body;        /* 1 when the content-type is application/json */
    uint64_t timeout_ms;
    uint64_t deadline_ms;      /* milliseconds since the Unix epoch */
    rshim_bytes entrypoint;    /* OPEN_RUNTIMES_ENTRYPOINT as the shim gave it (informative: one library, one function) */
} rshim_request_v2;

typedef struct rshim_response_v2 rshim_response_v2;
struct rshim_response_v2 {
    void *state; /* the shim's; leave it alone */
    /* The reply's status (200-599); calling it is what makes a reply. */
    void (*set_status)(rshim_response_v2 *res, uint16_t status);
    /* One header of the reply; called again with the same name, another value. */
    void (*add_header)(rshim_response_v2 *res, const char *name, size_t name_len, const char *value, size_t value_len);
    /* Appends bytes to the reply's body. */
    void (*write_body)(rshim_response_v2 *res, const char *data, size_t len);
    /* One log line: stream RSHIM_LOG (context.log) or RSHIM_ERROR (context.error). */
    void (*log)(rshim_response_v2 *res, int stream, const char *line, size_t len);
    /* The function failed: a 500, the message in the errors log. */
    void (*fail)(rshim_response_v2 *res, const char *message, size_t len);
    /* The function cannot serve (as an entry file that failed to load): a 503, the message in the errors log. */
    void (*unavailable)(rshim_response_v2 *res, const char *message, size_t len);
};

/* Conveniences for NUL-terminated strings: a whole reply in one call, as context.res does. */
static inline void rshim_v2_header(rshim_response_v2 *res, const char *name, const char *value) {
    res->add_header(res, name, strlen(name), value, strlen(value));
}
static inline void rshim_v2_reply(rshim_response_v2 *res, uint16_t status, const char *body, size_t len) {
    res->set_status(res, status);
    res->write_body(res, body, len);
}
static inline void rshim_v2_text(rshim_response_v2 *res, const char *text) { rshim_v2_reply(res, 200, text, strlen(text)); }
static inline void rshim_v2_json(rshim_response_v2 *res, const char *json) {
    rshim_v2_header(res, "content-type", "application/json");
    rshim_v2_reply(res, 200, json, strlen(json));
}
static inline void rshim_v2_redirect(rshim_response_v2 *res, const char *url) {
    rshim_v2_header(res, "location", url);
    res->set_status(res, 301);
}
static inline void rshim_v2_log(rshim_response_v2 *res, const char *line) { res->log(res, RSHIM_LOG, line, strlen(line)); }
static inline void rshim_v2_error(rshim_response_v2 *res, const char *line) { res->log(res, RSHIM_ERROR, line, strlen(line)); }

#endif
