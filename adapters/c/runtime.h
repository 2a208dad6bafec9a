/* runtime-shim adapter library for C: your file defines handler(req, res) (the v1 contract) or
 * context_main(ctx) (the v5 contract); link it with runtime.c, which has main() and speaks adapter protocol 1
 * or 2 (docs/adapter-protocol.md) with the shim. See README.md. */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <stddef.h>

struct entry {
    const char *name;
    const char *value;
};

struct request {
    const char *payload; /* NUL-terminated; payload_len counts the bytes (it may hold NULs) */
    size_t payload_len;
    const struct entry *env; /* the function's variables for this execution */
    size_t env_count;
    const struct entry *headers;
    size_t header_count;
    const char *path, *file; /* what the executor named; a compiled runtime serves the same handler for any */
    long long timeout_ms, deadline_ms;
};

struct response;

/* Your function. Everything in req, and every string from request_env/request_header, lives until it returns.
 * (Declared weak: a file defines this one or context_main below.) */
void handler(const struct request *req, struct response *res) __attribute__((weak));

const char *request_env(const struct request *req, const char *name);    /* NULL when absent */
const char *request_header(const struct request *req, const char *name); /* NULL when absent */

/* The reply: the last call wins. status is 200..599. */
void res_send(struct response *res, const char *text, int status);
void res_send_bytes(struct response *res, const void *data, size_t len, int status);

/* A JSON reply, written value by value: res_json() starts it, then exactly one value, e.g.
 *   struct json *j = res_json(res, 200);
 *   json_object(j); json_key(j, "payload"); json_string(j, req->payload); json_end(j); */
struct json *res_json(struct response *res, int status);
void json_object(struct json *j);
void json_array(struct json *j);
void json_end(struct json *j); /* closes the innermost object or array */
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s);
void json_string_n(struct json *j, const char *s, size_t len);
void json_int(struct json *j, long long n);
void json_number(struct json *j, double n);
void json_bool(struct json *j, int b);
void json_null(struct json *j);

/* The function failed: a 500 whose message is the text and where it was raised. Returns -1, so a helper can
 * `return res_error(res, "no such user %s", id);`. The last res_send/res_json/res_error wins. */
#define res_error(res, ...) res_error_at((res), __FILE__, __LINE__, __func__, __VA_ARGS__)
int res_error_at(struct response *res, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Answer as the shim's "not found" (404): for a handler that routes on req->file. */
void res_not_found(struct response *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the v5 contract: context_main(ctx) over adapter protocol 2 ---- */

/* context.req: the HTTP request as the shim computed it (header names lower-cased, x-open-runtimes-* removed).
 * Every string is NUL-terminated and lives until context_main returns. */
struct context_request {
    const char *method, *scheme, *host, *path, *query_string, *url;
    int port;
    const struct entry *headers; /* one per name; several values arrive joined by ", " */
    size_t header_count;
    const struct entry *query; /* query_string split on & and the first = (the last of a repeated key) */
    size_t query_count;
    const char *body; /* the raw bytes, NUL-terminated for convenience; body_len counts them (NULs included) */
    size_t body_len;
    int json_body; /* the content-type is application/json */
    long long timeout_ms, deadline_ms;
};

struct context {
    struct context_request req;
    struct context_state *state; /* the library's */
};

/* The reply that context_main returns: made by ctx_text/ctx_binary/ctx_json/…, changed by output_status and
 * output_header, freed by the library. Returning NULL means no reply (a 500 saying the return is missing). */
struct output;

/* Your v5 function (declared weak: a file defines this one or handler above). */
struct output *context_main(struct context *ctx) __attribute__((weak));

const char *ctx_header(const struct context *ctx, const char *name); /* NULL when absent; name in any case */
const char *ctx_query(const struct context *ctx, const char *name);  /* NULL when absent */
/* The body as JSON text, checked (whatever the content-type): NULL when it is not JSON, with the reason in
 * *error (a static string) when error is not NULL. */
const char *ctx_body_json(struct context *ctx, const char **error);
/* context.req.body: the JSON text when the content-type is application/json ("{}" for an empty body; NULL when
 * it is not JSON, as ctx_body_json), else the text. *is_json says which. */
const char *ctx_body(struct context *ctx, int *is_json, const char **error);

struct output *ctx_text(struct context *ctx, const char *text);                    /* status 200 */
struct output *ctx_binary(struct context *ctx, const void *data, size_t len);      /* bytes as they are */
struct output *ctx_send(struct context *ctx, const void *data, size_t len);        /* the older name */
struct output *ctx_empty(struct context *ctx);                                     /* 204 */
struct output *ctx_redirect(struct context *ctx, const char *url);                 /* 301, location */
/* A JSON reply (content-type: application/json), written value by value into *j as for res_json. */
struct output *ctx_json(struct context *ctx, struct json **j);
struct output *output_status(struct output *out, int status); /* 200..599; returns out */
/* Adds a header; again with the same name for several values (set-cookie). A content-type replaces json's. */
struct output *output_header(struct output *out, const char *name, const char *value);
void json_raw(struct json *j, const char *text); /* a value that is JSON text already (ctx_body_json's) */

/* One line of the execution's logs / errors log, printf-style. */
void ctx_log(struct context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctx_error(struct context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The function failed (the throw of C): a 500, the message and where it was raised in the errors log.
 * Returns NULL, so `return ctx_fail(ctx, "no user %s", id);`. */
#define ctx_fail(ctx, ...) ctx_fail_at((ctx), __FILE__, __LINE__, __func__, __VA_ARGS__)
struct output *ctx_fail_at(struct context *ctx, const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The function cannot serve at all (as an entry file that failed to load): a 503, the message in the errors
 * log. Returns NULL. */
struct output *ctx_unavailable(struct context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The entry file the runtime was started with (OPEN_RUNTIMES_ENTRYPOINT, as the shim gave it; "" when none).
 * A compiled runtime serves the one function it was built from; only a router looks at this. */
const char *runtime_entrypoint(void);

#endif
