/* runtime-shim adapter library for C (C11 + POSIX): main() serves the user's handler() over adapter protocol 1
 * (docs/adapter-protocol.md), persistent, one request at a time. Requests come in the `kv` encoding. */
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

/* Reads "REQ <id> <N>\n" and the body; returns 0 on EOF between frames. */
static int read_request(char id[65], char **body, size_t *len) {
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
    for (char *more; (more = strtok(NULL, " ")); size = more) {} /* the last token is the length */
    strcpy(id, rid);
    *len = (size_t)strtoull(size, NULL, 10);
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

int main(void) {
    /* The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and
     * fd 0 at /dev/null, so printf, libraries and child processes can neither write nor read a frame. */
    proto_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
    proto_in = fcntl(0, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDONLY);
    if (proto_out < 0 || proto_in < 0 || null < 0 || dup2(2, 1) < 0 || dup2(null, 0) < 0) fatal("cannot move the protocol off fds 0 and 1");
    close(null);
    setvbuf(stdout, NULL, _IOLBF, 0); /* lines reach the log as they are printed */
    setvbuf(stderr, NULL, _IOLBF, 0);

    const char *info = "c " __VERSION__;
    write_frame("READY 1 kv", info, strlen(info));
    char id[65], head[HEADER_MAX], *body;
    size_t len;
    struct response res = {0};
    while (read_request(id, &body, &len)) {
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
