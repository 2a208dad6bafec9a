/* runtime-shim adapter library for C: your file defines handler(req, res); link it with runtime.c, which has
 * main() and speaks adapter protocol 1 (docs/adapter-protocol.md) with the shim. See README.md. */
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

/* Your function. Everything in req, and every string from request_env/request_header, lives until it returns. */
void handler(const struct request *req, struct response *res);

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

#endif
