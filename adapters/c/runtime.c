/* runtime-shim adapter library for C (C11 + POSIX): main() serves the user's handler() over adapter protocol 1,
 * or context_main() over protocol 2 (docs/adapter-protocol.md), persistent, one request at a time. Requests
 * come in the `kv` encoding. */
#define _GNU_SOURCE
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEADER_MAX 256
#define DEPTH_MAX 64

struct buf { char *data; size_t len, cap; };
struct json { struct buf *out; int depth, after_key, done; char open[DEPTH_MAX], first[DEPTH_MAX]; const char *error; };
struct response { int status, code; const char *type; struct buf body; struct json json; };
enum { NONE, REPLY, FAILED, NOT_FOUND }; /* response.code */

static int proto_in, proto_out;

static void fatal(const char *message) {
    fprintf(stderr, "c adapter: %s\n", message);
    exit(2);
}

static void put(struct buf *b, const void *data, size_t len) {
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        if (!(b->data = realloc(b->data, b->cap))) fatal("out of memory");
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = 0;
}

static void putf(struct buf *b, const char *fmt, va_list ap) {
    char small[256];
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) fatal("out of memory");
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    put(b, big, (size_t)n);
    free(big);
}

/* ---- the protocol stream ---- */

static char inbuf[65536];
static size_t in_at, in_len;

static int read_byte(void) {
    if (in_at == in_len) {
        ssize_t n;
        do n = read(proto_in, inbuf, sizeof inbuf); while (n < 0 && errno == EINTR);
        if (n <= 0) return -1;
        in_at = 0, in_len = (size_t)n;
    }
    return (unsigned char)inbuf[in_at++];
}

static void read_exact(char *to, size_t len) {
    while (len > 0) {
        if (in_at == in_len && read_byte() >= 0) in_at--; /* refill */
        if (in_at == in_len) fatal("input ended inside a request body");
        size_t n = in_len - in_at < len ? in_len - in_at : len;
        memcpy(to, inbuf + in_at, n);
        in_at += n, to += n, len -= n;
    }
}

static void write_all(const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(proto_out, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fatal("cannot write to the shim");
        data += n, len -= (size_t)n;
    }
}

static void write_frame(const char *head, const char *body, size_t len) {
    char line[HEADER_MAX];
    int n = snprintf(line, sizeof line, "%s %zu\n", head, len);
    write_all(line, (size_t)n);
    write_all(body, len);
}

/* Reads "REQ <id> <N>\n" (protocol 2: "REQ <id> <M> <N>\n", *meta = M; else *meta = N) and the body;
 * returns 0 on EOF between frames. */
static int read_request(char id[65], char **body, size_t *len, size_t *meta) {
    char line[HEADER_MAX + 1];
    size_t n = 0;
    int c;
    while ((c = read_byte()) != '\n') {
        if (c < 0) {
            if (n == 0) return 0;
            fatal("input ended inside a request header");
        }
        if (n == HEADER_MAX - 1) fatal("a request header is longer than 256 bytes");
        line[n++] = (char)c;
    }
    line[n] = 0;
    char *kind = strtok(line, " "), *rid = strtok(NULL, " "), *size = strtok(NULL, " ");
    if (!kind || strcmp(kind, "REQ") || !rid || strlen(rid) > 64 || strspn(rid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(rid)
        || !size || strspn(size, "0123456789") != strlen(size) || (size[0] == '0' && size[1]) || strlen(size) > 15)
        fatal("bad request header");
    char *first = size;
    for (char *more; (more = strtok(NULL, " ")); size = more) {} /* the last token is the length */
    if (strspn(size, "0123456789") != strlen(size) || !size[0] || strlen(size) > 15) fatal("bad request header");
    strcpy(id, rid);
    *len = (size_t)strtoull(size, NULL, 10);
    *meta = first == size ? *len : (size_t)strtoull(first, NULL, 10);
    if (*meta > *len) fatal("bad request header");
    if (!(*body = malloc(*len + 1))) fatal("out of memory");
    read_exact(*body, *len);
    (*body)[*len] = 0;
    return 1;
}

/* The `kv` encoding: records "<tag> <K> <V>\n<K bytes of key><V bytes of value>"; every string is copied with a
 * NUL after it, into one block freed after the request. */
static void decode(char *body, size_t len, struct request *req, struct entry *entries, size_t cap, char *strings) {
    size_t at = 0, n_env = 0, n_head = 0;
    for (char *p = body; at < len;) {
        char tag[16];
        size_t k, v;
        int used = 0;
        if (sscanf(p, "%15s %zu %zu%n", tag, &k, &v, &used) != 3 || p[used] != '\n' || at + used + 1 + k + v > len)
            fatal("bad request record");
        char *key = p + used + 1, *value = key + k, *key_copy = strings, *value_copy = strings + k + 1;
        memcpy(key_copy, key, k), key_copy[k] = 0;
        memcpy(value_copy, value, v), value_copy[v] = 0;
        strings += k + v + 2;
        if (!strcmp(tag, "env")) entries[n_env++] = (struct entry){key_copy, value_copy};
        else if (!strcmp(tag, "header")) entries[cap - ++n_head] = (struct entry){key_copy, value_copy}; /* from the end */
        else if (!strcmp(tag, "payload")) req->payload = value_copy, req->payload_len = v;
        else if (!strcmp(tag, "path")) req->path = value_copy;
        else if (!strcmp(tag, "file")) req->file = value_copy;
        else if (!strcmp(tag, "timeout_ms")) req->timeout_ms = atoll(value_copy);
        else if (!strcmp(tag, "deadline_ms")) req->deadline_ms = atoll(value_copy);
        at += used + 1 + k + v, p = body + at;
    }
    req->env = entries, req->env_count = n_env;
    req->headers = entries + cap - n_head, req->header_count = n_head;
}

const char *request_env(const struct request *req, const char *name) {
    for (size_t i = 0; i < req->env_count; i++)
        if (!strcmp(req->env[i].name, name)) return req->env[i].value;
    return NULL;
}

const char *request_header(const struct request *req, const char *name) {
    for (size_t i = 0; i < req->header_count; i++)
        if (!strcasecmp(req->headers[i].name, name)) return req->headers[i].value;
    return NULL;
}

/* ---- the reply ---- */

static int set(struct response *res, int code, const char *type, int status) {
    res->code = code, res->type = type, res->status = status, res->body.len = 0;
    if (res->body.data) res->body.data[0] = 0;
    res->json = (struct json){.out = &res->body};
    if (code == REPLY && (status < 200 || status > 599)) {
        res_error_at(res, "", 0, "", "status must be from 200 to 599, not %d", status);
        return 0;
    }
    return 1;
}

void res_send_bytes(struct response *res, const void *data, size_t len, int status) {
    if (set(res, REPLY, "text", status)) put(&res->body, data, len);
}

void res_send(struct response *res, const char *text, int status) { res_send_bytes(res, text, strlen(text), status); }

struct json *res_json(struct response *res, int status) {
    set(res, REPLY, "json", status);
    return &res->json;
}

int res_error_at(struct response *res, const char *file, int line, const char *func, const char *fmt, ...) {
    va_list ap;
    set(res, FAILED, NULL, 500);
    va_start(ap, fmt);
    putf(&res->body, fmt, ap);
    va_end(ap);
    if (line) {
        char where[512];
        int n = snprintf(where, sizeof where, "\n    at %s (%s:%d)", func, file, line);
        put(&res->body, where, (size_t)n < sizeof where ? (size_t)n : sizeof where - 1);
    }
    return -1;
}

void res_not_found(struct response *res, const char *fmt, ...) {
    va_list ap;
    set(res, NOT_FOUND, NULL, 404);
    va_start(ap, fmt);
    putf(&res->body, fmt, ap);
    va_end(ap);
}

/* Before each value: the comma, and whether a value may go here at all. */
static int value(struct json *j) {
    if (j->error) return 0;
    if (j->done) j->error = "a second value after the whole JSON value";
    else if (j->depth > 0 && j->open[j->depth - 1] == '{' && !j->after_key) j->error = "a value in an object needs json_key() first";
    else if (j->depth > 0 && !j->after_key && !j->first[j->depth - 1]) put(j->out, ",", 1);
    if (j->depth > 0) j->first[j->depth - 1] = 0;
    j->after_key = 0;
    j->done = j->depth == 0;
    return !j->error;
}

static void open_(struct json *j, char c) {
    if (!value(j)) return;
    if (j->depth == DEPTH_MAX) { j->error = "nested too deep"; return; }
    j->done = 0, j->open[j->depth] = c, j->first[j->depth++] = 1;
    put(j->out, &c, 1);
}

void json_object(struct json *j) { open_(j, '{'); }
void json_array(struct json *j) { open_(j, '['); }

void json_end(struct json *j) {
    if (j->error) return;
    if (j->depth == 0 || j->after_key) { j->error = "json_end() with nothing open, or after a key"; return; }
    put(j->out, j->open[--j->depth] == '{' ? "}" : "]", 1);
    j->done = j->depth == 0;
}

static void quote(struct buf *out, const char *s, size_t len) {
    put(out, "\"", 1);
    for (size_t i = 0, run = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)s[i] : 0;
        if (i < len && c >= 0x20 && c != '"' && c != '\\') continue;
        put(out, s + run, i - run); /* the bytes that need no escape, at once */
        run = i + 1;
        char esc[8];
        if (i == len) break;
        if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = (char)c, put(out, esc, 2);
        else put(out, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
    }
    put(out, "\"", 1);
}

void json_key(struct json *j, const char *key) {
    if (j->error) return;
    if (j->depth == 0 || j->open[j->depth - 1] != '{' || j->after_key) { j->error = "json_key() outside an object"; return; }
    if (!j->first[j->depth - 1]) put(j->out, ",", 1);
    j->first[j->depth - 1] = 0;
    quote(j->out, key, strlen(key));
    put(j->out, ":", 1);
    j->after_key = 1;
}

void json_string_n(struct json *j, const char *s, size_t len) { if (value(j)) quote(j->out, s, len); }
void json_string(struct json *j, const char *s) { if (!s) json_null(j); else json_string_n(j, s, strlen(s)); }
void json_bool(struct json *j, int b) { if (value(j)) put(j->out, b ? "true" : "false", b ? 4 : 5); }
void json_null(struct json *j) { if (value(j)) put(j->out, "null", 4); }

void json_int(struct json *j, long long n) {
    char s[32];
    if (value(j)) put(j->out, s, (size_t)snprintf(s, sizeof s, "%lld", n));
}

void json_number(struct json *j, double n) {
    char s[32];
    if (!isfinite(n)) j->error = "NaN and infinities are not JSON";
    else if (value(j)) put(j->out, s, (size_t)snprintf(s, sizeof s, "%.17g", n));
}

/* ---- the loop ---- */

static void serve_v5(void);

int main(void) {
    int v5 = getenv("SHIM_PROTOCOL") && !strcmp(getenv("SHIM_PROTOCOL"), "2");
    if (!v5 && !handler)
        fatal(context_main ? "this function is written for the v5 context API (context_main); the shim expects adapter protocol 1: serve it with SHIM_PROTOCOL=v5"
                           : "the function defines neither handler(req, res) nor context_main(ctx)");
    if (v5 && !context_main && handler)
        fatal("this function is written for the v1 API (handler); the shim expects adapter protocol 2: serve it with the v1 contract");
    /* The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and
     * fd 0 at /dev/null, so printf, libraries and child processes can neither write nor read a frame. */
    proto_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
    proto_in = fcntl(0, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDONLY);
    if (proto_out < 0 || proto_in < 0 || null < 0 || dup2(2, 1) < 0 || dup2(null, 0) < 0) fatal("cannot move the protocol off fds 0 and 1");
    close(null);
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines reach the log as they are printed */
    setvbuf(stderr, NULL, _IOLBF, 0);

    if (v5) serve_v5();
    const char *info = "c " __VERSION__;
    write_frame("READY 1 kv", info, strlen(info));
    char id[65], head[HEADER_MAX], *body;
    size_t len, meta;
    struct response res = {0};
    while (read_request(id, &body, &len, &meta)) {
        struct request req = {.payload = "", .path = "", .file = ""};
        /* A record takes at least 6 bytes, and its two strings 2 bytes more as copies with NULs. */
        size_t cap = len / 6 + 1;
        struct entry *entries = malloc(cap * sizeof *entries);
        char *strings = malloc(len + 2 * cap);
        if (!entries || !strings) fatal("out of memory");
        decode(body, len, &req, entries, cap, strings);
        set(&res, NONE, NULL, 0);
        handler(&req, &res);
        fflush(stdout), fflush(stderr); /* what the request printed is logged before its reply */
        if (res.code == REPLY && res.type[0] == 'j' && (res.json.error || !res.json.done))
            res_error_at(&res, "", 0, "", "res_json(): %s", res.json.error ? res.json.error : "the JSON value is incomplete (a json_end() missing?)");
        if (res.code == NONE)
            res_error_at(&res, "", 0, "", "handler() returned without calling res_send() or res_json()");
        if (res.code == REPLY) snprintf(head, sizeof head, "RES %s %d %s", id, res.status, res.type);
        else snprintf(head, sizeof head, "ERR %s %d", id, res.code == NOT_FOUND ? 404 : 500);
        write_frame(head, res.body.data ? res.body.data : "", res.body.len);
        free(body), free(entries), free(strings);
    }
    return 0;
}

/* ---- the v5 contract ---- */

struct owned_header { char *name, *value; };
struct output {
    int status;
    struct owned_header *headers;
    size_t header_count;
    struct buf body;
    struct json json;
    int is_json;
    const char *error; /* output_status() was given a bad status */
    struct output *next; /* every output of the request, freed after it */
};
struct context_state {
    const char *id;
    int fail_code; /* 500 or 503 once ctx_fail / ctx_unavailable was called */
    struct buf message;
    struct output *outputs;
    char *checked_json; /* ctx_body_json's copy */
};

static char *entrypoint = "";

const char *runtime_entrypoint(void) { return entrypoint; }

static const char *find(const struct entry *entries, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(entries[i].name, name)) return entries[i].value;
    return NULL;
}

const char *ctx_header(const struct context *ctx, const char *name) { return find(ctx->req.headers, ctx->req.header_count, name); }
const char *ctx_query(const struct context *ctx, const char *name) {
    for (size_t i = 0; i < ctx->req.query_count; i++)
        if (!strcmp(ctx->req.query[i].name, name)) return ctx->req.query[i].value;
    return NULL;
}

/* A JSON checker (RFC 8259): returns the end of the value at s, or NULL with *error set. */
static const char *skip_ws(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) s++;
    return s;
}

static const char *check_value(const char *s, const char *end, int depth, const char **error) {
    s = skip_ws(s, end);
    if (s == end) return *error = "invalid JSON: unexpected end of the text", NULL;
    if (depth > DEPTH_MAX) return *error = "invalid JSON: nested too deeply", NULL;
    if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        s = skip_ws(s + 1, end);
        if (s < end && *s == close) return s + 1;
        for (;;) {
            if (close == '}') {
                s = skip_ws(s, end);
                if (s == end || *s != '"') return *error = "invalid JSON: expected a string key", NULL;
                if (!(s = check_value(s, end, depth + 1, error))) return NULL;
                s = skip_ws(s, end);
                if (s == end || *s++ != ':') return *error = "invalid JSON: expected ':'", NULL;
            }
            if (!(s = check_value(s, end, depth + 1, error))) return NULL;
            s = skip_ws(s, end);
            if (s < end && *s == close) return s + 1;
            if (s == end || *s++ != ',') return *error = "invalid JSON: expected ',' or the end of a list", NULL;
        }
    }
    if (*s == '"') {
        for (s++; s < end; s++) {
            unsigned char c = (unsigned char)*s;
            if (c == '"') return s + 1;
            if (c < 0x20) return *error = "invalid JSON: a control character in a string", NULL;
            if (c != '\\') continue;
            if (++s == end) break;
            if (*s == 'u') {
                if (end - s < 5 || strspn(s + 1, "0123456789abcdefABCDEF") < 4) return *error = "invalid JSON: bad \\u escape", NULL;
                s += 4;
            } else if (!strchr("\"\\/bfnrt", *s) || !*s) return *error = "invalid JSON: bad escape", NULL;
        }
        return *error = "invalid JSON: unterminated string", NULL;
    }
    for (const char *word = "true\0false\0null\0"; *word; word += strlen(word) + 1)
        if ((size_t)(end - s) >= strlen(word) && !memcmp(s, word, strlen(word))) return s + strlen(word);
    const char *start = s;
    if (s < end && *s == '-') s++;
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9') s++;
    if (s == digits || (s - digits > 1 && *digits == '0')) return *error = "invalid JSON: not a JSON value", NULL;
    if (s < end && *s == '.') {
        const char *frac = ++s;
        while (s < end && *s >= '0' && *s <= '9') s++;
        if (s == frac) return *error = "invalid JSON: expected digits after '.'", NULL;
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-')) s++;
        const char *exp = s;
        while (s < end && *s >= '0' && *s <= '9') s++;
        if (s == exp) return *error = "invalid JSON: expected digits in the exponent", NULL;
    }
    (void)start;
    return s;
}

const char *ctx_body_json(struct context *ctx, const char **error) {
    const char *why = NULL, *end = ctx->req.body + ctx->req.body_len;
    const char *at = check_value(ctx->req.body, end, 0, &why);
    if (at && skip_ws(at, end) != end) at = NULL, why = "invalid JSON: unexpected text after the JSON value";
    if (!at) {
        if (error) *error = why;
        return NULL;
    }
    return ctx->req.body;
}

const char *ctx_body(struct context *ctx, int *is_json, const char **error) {
    if (is_json) *is_json = ctx->req.json_body;
    if (!ctx->req.json_body) return ctx->req.body;
    if (ctx->req.body_len == 0) return "{}";
    return ctx_body_json(ctx, error);
}

static struct output *new_output(struct context *ctx, const void *data, size_t len, int status) {
    struct output *out = calloc(1, sizeof *out);
    if (!out) fatal("out of memory");
    out->status = status;
    out->next = ctx->state->outputs, ctx->state->outputs = out;
    put(&out->body, data, len);
    return out;
}

struct output *ctx_text(struct context *ctx, const char *text) { return new_output(ctx, text, strlen(text), 200); }
struct output *ctx_binary(struct context *ctx, const void *data, size_t len) { return new_output(ctx, data, len, 200); }
struct output *ctx_send(struct context *ctx, const void *data, size_t len) { return new_output(ctx, data, len, 200); }
struct output *ctx_empty(struct context *ctx) { return new_output(ctx, "", 0, 204); }
struct output *ctx_redirect(struct context *ctx, const char *url) {
    return output_header(new_output(ctx, "", 0, 301), "location", url);
}

struct output *ctx_json(struct context *ctx, struct json **j) {
    struct output *out = new_output(ctx, "", 0, 200);
    out->is_json = 1;
    out->json = (struct json){.out = &out->body};
    *j = &out->json;
    return output_header(out, "content-type", "application/json");
}

struct output *output_status(struct output *out, int status) {
    if (out && (status < 200 || status > 599)) out->error = "output_status(): the status must be from 200 to 599";
    else if (out) out->status = status;
    return out;
}

struct output *output_header(struct output *out, const char *name, const char *value) {
    if (!out) return out;
    if (!strcasecmp(name, "content-type")) {
        size_t kept = 0;
        for (size_t i = 0; i < out->header_count; i++) {
            if (strcasecmp(out->headers[i].name, "content-type")) out->headers[kept++] = out->headers[i];
            else free(out->headers[i].name), free(out->headers[i].value);
        }
        out->header_count = kept;
    }
    out->headers = realloc(out->headers, (out->header_count + 1) * sizeof *out->headers);
    if (!out->headers) fatal("out of memory");
    out->headers[out->header_count++] = (struct owned_header){strdup(name), strdup(value)};
    return out;
}

void json_raw(struct json *j, const char *text) { if (value(j)) put(j->out, text, strlen(text)); }

static void log_line(struct context *ctx, const char *stream, const char *fmt, va_list ap) {
    struct buf line = {0};
    putf(&line, fmt, ap);
    char head[HEADER_MAX];
    snprintf(head, sizeof head, "LOG %s %s", ctx->state->id, stream);
    fflush(stdout), fflush(stderr); /* native output printed before stays before */
    write_frame(head, line.data ? line.data : "", line.len);
    free(line.data);
}

void ctx_log(struct context *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_line(ctx, "log", fmt, ap);
    va_end(ap);
}

void ctx_error(struct context *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_line(ctx, "error", fmt, ap);
    va_end(ap);
}

struct output *ctx_fail_at(struct context *ctx, const char *file, int line, const char *func, const char *fmt, ...) {
    va_list ap;
    ctx->state->fail_code = 500, ctx->state->message.len = 0;
    va_start(ap, fmt);
    putf(&ctx->state->message, fmt, ap);
    va_end(ap);
    char where[512];
    int n = snprintf(where, sizeof where, "\n    at %s (%s:%d)", func, file, line);
    put(&ctx->state->message, where, (size_t)n < sizeof where ? (size_t)n : sizeof where - 1);
    return NULL;
}

struct output *ctx_unavailable(struct context *ctx, const char *fmt, ...) {
    va_list ap;
    ctx->state->fail_code = 503, ctx->state->message.len = 0;
    va_start(ap, fmt);
    putf(&ctx->state->message, fmt, ap);
    va_end(ap);
    return NULL;
}

/* The metadata's `kv` records, strings copied with a NUL after each, into one block freed after the request. */
static void decode_v5(char *meta, size_t len, struct context_request *req, struct entry *entries, size_t cap, char *strings) {
    size_t at = 0, n_head = 0, n_query = 0;
    for (char *p = meta; at < len;) {
        char tag[16];
        size_t k, v;
        int used = 0;
        if (sscanf(p, "%15s %zu %zu%n", tag, &k, &v, &used) != 3 || p[used] != '\n' || at + used + 1 + k + v > len)
            fatal("bad request record");
        char *key = p + used + 1, *val = key + k, *key_copy = strings, *value_copy = strings + k + 1;
        memcpy(key_copy, key, k), key_copy[k] = 0;
        memcpy(value_copy, val, v), value_copy[v] = 0;
        strings += k + v + 2;
        if (!strcmp(tag, "header")) entries[n_head++] = (struct entry){key_copy, value_copy};
        else if (!strcmp(tag, "query")) entries[cap - ++n_query] = (struct entry){key_copy, value_copy}; /* from the end */
        else if (!strcmp(tag, "method")) req->method = value_copy;
        else if (!strcmp(tag, "scheme")) req->scheme = value_copy;
        else if (!strcmp(tag, "host")) req->host = value_copy;
        else if (!strcmp(tag, "port")) req->port = atoi(value_copy);
        else if (!strcmp(tag, "path")) req->path = value_copy;
        else if (!strcmp(tag, "query_string")) req->query_string = value_copy;
        else if (!strcmp(tag, "url")) req->url = value_copy;
        else if (!strcmp(tag, "json_body")) req->json_body = value_copy[0] == '1';
        else if (!strcmp(tag, "timeout_ms")) req->timeout_ms = atoll(value_copy);
        else if (!strcmp(tag, "deadline_ms")) req->deadline_ms = atoll(value_copy);
        at += used + 1 + k + v, p = meta + at;
    }
    req->headers = entries, req->header_count = n_head;
    req->query = entries + cap - n_query, req->query_count = n_query;
}

static void record(struct buf *b, const char *tag, const char *key, const char *value) {
    char head[64];
    int n = snprintf(head, sizeof head, "%s %zu %zu\n", tag, strlen(key), strlen(value));
    put(b, head, (size_t)n);
    put(b, key, strlen(key));
    put(b, value, strlen(value));
}

static void serve_v5(void) {
    extern char **environ;
    entrypoint = strdup(getenv("SHIM_ENTRYPOINT") ? getenv("SHIM_ENTRYPOINT") : "");
    /* The function's variables are the process environment, less the shim's own settings. */
    for (size_t i = 0; environ[i];) {
        if (strncmp(environ[i], "SHIM_", 5)) { i++; continue; }
        char name[256];
        size_t n = strcspn(environ[i], "=");
        snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), environ[i]);
        unsetenv(name);
    }
    const char *info = "c " __VERSION__;
    write_frame("READY 2 kv", info, strlen(info));
    char id[65], head[HEADER_MAX], *body;
    size_t len, meta;
    while (read_request(id, &body, &len, &meta)) {
        struct context_state state = {.id = id};
        struct context ctx = {.req = {.method = "", .scheme = "", .host = "", .path = "", .query_string = "", .url = ""}, .state = &state};
        size_t cap = meta / 6 + 1;
        struct entry *entries = malloc(cap * sizeof *entries);
        char *strings = malloc(meta + 2 * cap);
        if (!entries || !strings) fatal("out of memory");
        decode_v5(body, meta, &ctx.req, entries, cap, strings);
        ctx.req.body = body + meta, ctx.req.body_len = len - meta; /* body[len] is a NUL */
        struct output *out = NULL;
        if (context_main) out = context_main(&ctx);
        else ctx_unavailable(&ctx, "Function signature invalid. Did you forget to export a 'main' function?");
        fflush(stdout), fflush(stderr); /* what the request printed is logged before its reply */
        const char *bad = !out ? NULL : out->error ? out->error
                        : out->is_json && out->json.error ? out->json.error
                        : out->is_json && !out->json.done ? "the JSON value is incomplete (a json_end() missing?)" : NULL;
        if (!state.fail_code && bad) {
            state.fail_code = 500;
            if (!out->error) put(&state.message, "ctx_json(): ", 12);
            put(&state.message, bad, strlen(bad));
        }
        if (state.fail_code) {
            snprintf(head, sizeof head, "ERR %s %d", id, state.fail_code);
            write_frame(head, state.message.data ? state.message.data : "", state.message.len);
        } else if (!out) {
            write_frame((snprintf(head, sizeof head, "NONE %s", id), head), "", 0);
        } else {
            struct buf headers = {0};
            for (size_t i = 0; i < out->header_count; i++) record(&headers, "header", out->headers[i].name, out->headers[i].value);
            snprintf(head, sizeof head, "RES %s %d %zu %zu\n", id, out->status, headers.len, headers.len + out->body.len);
            write_all(head, strlen(head));
            write_all(headers.data ? headers.data : "", headers.len);
            write_all(out->body.data ? out->body.data : "", out->body.len);
            free(headers.data);
        }
        for (struct output *o = state.outputs, *next; o; o = next) {
            next = o->next;
            for (size_t i = 0; i < o->header_count; i++) free(o->headers[i].name), free(o->headers[i].value);
            free(o->headers), free(o->body.data), free(o);
        }
        free(state.message.data), free(body), free(entries), free(strings);
    }
    exit(0);
}
