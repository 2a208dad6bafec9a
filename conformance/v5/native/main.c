/* The v5 conformance function for the native ABI, version 2: does what the request's x-action header names
 * (conformance/v5-actions.md). The dispatcher (dispatch.c) calls main_serve() for the entry file main.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>

#include "runtime_shim.h"

typedef const rshim_request_v2 req_t;
typedef rshim_response_v2 res_t;


/* The value of a request header, NUL-terminated in a static buffer per slot, or NULL. */
static const char *header(req_t *req, const char *name, int slot) {
    static char values[4][4096];
    const rshim_bytes *v = rshim_find(req->headers, req->headers_len, name);
    if (!v) return NULL;
    snprintf(values[slot], sizeof values[slot], "%.*s", (int)v->len, v->ptr);
    return values[slot];
}

static void logf_(res_t *res, int stream, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(res_t *res, int stream, const char *fmt, ...) {
    char line[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    res->log(res, stream, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

static void fail(res_t *res, const char *message) {
    char text[512];
    snprintf(text, sizeof text, "%s\n    at %s", message, __FILE__);
    res->fail(res, text, strlen(text));
}

/* A JSON string of bytes. */
static void quote(char *out, size_t cap, const char *s, size_t len) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') out[o++] = '\\', out[o++] = (char)c;
        else if (c < 0x20) o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        else out[o++] = (char)c;
    }
    out[o++] = '"', out[o] = 0;
}

/* JSON text: the end of the value at s, or NULL. */
static const char *ws(const char *s, const char *e) { while (s < e && strchr(" \t\r\n", *s) && *s) s++; return s; }
static const char *value(const char *s, const char *e, int depth) {
    s = ws(s, e);
    if (s == e || depth > 64) return NULL;
    if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        if ((s = ws(s + 1, e)) < e && *s == close) return s + 1;
        for (;;) {
            if (close == '}') {
                if ((s = ws(s, e)) == e || *s != '"' || !(s = value(s, e, depth + 1))) return NULL;
                if ((s = ws(s, e)) == e || *s++ != ':') return NULL;
            }
            if (!(s = value(s, e, depth + 1)) || (s = ws(s, e)) == e) return NULL;
            if (*s == close) return s + 1;
            if (*s++ != ',') return NULL;
        }
    }
    if (*s == '"') {
        for (s++; s < e; s++) {
            if (*s == '"') return s + 1;
            if ((unsigned char)*s < 0x20) return NULL;
            if (*s == '\\' && ++s == e) return NULL;
        }
        return NULL;
    }
    for (const char *w = "true\0false\0null\0"; *w; w += strlen(w) + 1)
        if ((size_t)(e - s) >= strlen(w) && !memcmp(s, w, strlen(w))) return s + strlen(w);
    const char *start = s;
    if (s < e && *s == '-') s++;
    while (s < e && strchr("0123456789.eE+-", *s) && *s) s++;
    return s > start ? s : NULL;
}
static int is_json(rshim_bytes b) {
    const char *end = b.ptr + b.len, *at = value(b.ptr, end, 0);
    return at && ws(at, end) == end;
}

static void text(res_t *res, const char *s) { rshim_v2_text(res, s); }
static void bytes(res_t *res, const void *data, size_t len) { rshim_v2_reply(res, 200, data, len); }
static void json(res_t *res, const char *s) { rshim_v2_json(res, s); }

static void request_url(req_t *req, res_t *res) {
    char out[16384], q[8][512];
    size_t o = 0;
    o += (size_t)snprintf(out + o, sizeof out - o, "{");
    rshim_bytes parts[] = {req->url, req->scheme, req->host, req->path, req->query_string};
    const char *names[] = {"url", "scheme", "host", "path", "queryString"};
    for (int i = 0; i < 5; i++) {
        quote(q[0], sizeof q[0], parts[i].ptr, parts[i].len);
        o += (size_t)snprintf(out + o, sizeof out - o, "\"%s\":%s,", names[i], q[0]);
    }
    o += (size_t)snprintf(out + o, sizeof out - o, "\"port\":%u,\"query\":{", req->port);
    for (size_t i = 0; i < req->query_len; i++) {
        quote(q[1], sizeof q[1], req->query[i].name.ptr, req->query[i].name.len);
        quote(q[2], sizeof q[2], req->query[i].value.ptr, req->query[i].value.len);
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s", i ? "," : "", q[1], q[2]);
    }
    snprintf(out + o, sizeof out - o, "}}");
    json(res, out);
}

static void request_headers(req_t *req, res_t *res) {
    static char out[65536];
    char name[512], val[8192];
    size_t o = (size_t)snprintf(out, sizeof out, "{");
    for (size_t i = 0; i < req->headers_len; i++) {
        quote(name, sizeof name, req->headers[i].name.ptr, req->headers[i].name.len);
        quote(val, sizeof val, req->headers[i].value.ptr, req->headers[i].value.len);
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s:%s", i ? "," : "", name, val);
    }
    snprintf(out + o, sizeof out - o, "}");
    json(res, out);
}

static void body_json(req_t *req, res_t *res, int wrap) {
    char *out = malloc(req->body.len + 16);
    if (!out) return fail(res, "out of memory");
    if (wrap && !req->json_body) {
        free(out);
        out = malloc(req->body.len * 6 + 16);
        quote(out + 8, req->body.len * 6 + 8, req->body.ptr, req->body.len);
    } else if (wrap && req->body.len == 0) {
        strcpy(out + 8, "{}");
    } else if (!is_json(req->body)) {
        free(out);
        return fail(res, "the body is not valid JSON");
    } else {
        memcpy(out + 8, req->body.ptr, req->body.len), out[8 + req->body.len] = 0;
    }
    if (wrap) {
        memcpy(out, "{\"body\":", 8);
        strcat(out, "}");
        json(res, out);
    } else json(res, out + 8);
    free(out);
}

static void env_vars(res_t *res) {
    extern char **environ;
    int shim = 0;
    for (char **e = environ; *e; e++) shim += !strncmp(*e, "SHIM_", 5);
    const char *names[] = {"CUSTOM_ENV_VAR", "NOT_DEFINED_VAR", "OPEN_RUNTIMES_SECRET"}, *keys[] = {"var", "emptyVar", "secret"};
    char out[4096], q[1024];
    size_t o = (size_t)snprintf(out, sizeof out, "{");
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (v) quote(q, sizeof q, v, strlen(v));
        o += (size_t)snprintf(out + o, sizeof out - o, "\"%s\":%s,", keys[i], v ? q : "null");
    }
    snprintf(out + o, sizeof out - o, "\"shimVars\":%d}", shim);
    json(res, out);
}

static void enforced_headers(req_t *req, res_t *res) {
    const char *names[] = {"x-custom", "x-custom-uppercase", "x-open-runtimes-custom"};
    char out[4096], q[1024];
    size_t o = (size_t)snprintf(out, sizeof out, "{");
    for (int i = 0; i < 3; i++) {
        const char *v = header(req, names[i], 0);
        if (v) quote(q, sizeof q, v, strlen(v));
        o += (size_t)snprintf(out + o, sizeof out - o, "%s\"%s\":%s", i ? "," : "", names[i], v ? q : "null");
    }
    snprintf(out + o, sizeof out - o, "}");
    json(res, out);
}

void main_serve(req_t *req, res_t *res) {
    const char *action = header(req, "x-action", 3);
    action = action ? action : "";
    if (!strcmp(action, "plaintextResponse")) text(res, "Hello World 👋");
    else if (!strcmp(action, "jsonResponse")) json(res, "{\"json\":true,\"message\":\"Developers are awesome.\"}");
    else if (!strcmp(action, "customCharsetResponse")) rshim_v2_header(res, "content-type", "text/plain; charset=iso-8859-1"), text(res, "ÅÆ");
    else if (!strcmp(action, "uppercaseCharsetResponse")) rshim_v2_header(res, "content-type", "TEXT/PLAIN"), text(res, "ÅÆ");
    else if (!strcmp(action, "multipartResponse")) {
        rshim_v2_header(res, "content-type", "multipart/form-data; boundary=12345");
        text(res, "--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--");
    } else if (!strcmp(action, "redirectResponse")) rshim_v2_redirect(res, "https://github.com/");
    else if (!strcmp(action, "emptyResponse")) res->set_status(res, 204);
    else if (!strcmp(action, "noResponse")) {
        /* nothing: no set_status */
    } else if (!strcmp(action, "doubleResponse")) text(res, "This should be returned.");
    else if (!strcmp(action, "headersResponse")) {
        const char *in = header(req, "x-open-runtimes-custom-in-header", 0), *cookie = header(req, "cookie", 1);
        rshim_v2_header(res, "first-header", "first-value");
        rshim_v2_header(res, "second-header", in ? in : "missing");
        rshim_v2_header(res, "cookie", cookie ? cookie : "missing");
        rshim_v2_header(res, "x-open-runtimes-custom-out-header", "third-value");
        rshim_v2_header(res, "Mixed-Case-Header", "mixed");
        text(res, "OK");
    } else if (!strcmp(action, "statusResponse")) rshim_v2_reply(res, 404, "FAIL", 4);
    else if (!strcmp(action, "setCookie")) {
        rshim_v2_header(res, "set-cookie", "cookie=value; path=/");
        rshim_v2_header(res, "set-cookie", "cookie2=value2");
        text(res, "OK");
    } else if (!strcmp(action, "binaryResponse")) bytes(res, "\x00\x0a\xff\x80\x00", 5);
    else if (!strcmp(action, "binaryResponseLarge")) {
        unsigned char block[256];
        for (int i = 0; i < 256; i++) block[i] = (unsigned char)i;
        res->set_status(res, 200);
        for (size_t n = 0; n < 17825792; n += 256) res->write_body(res, (const char *)block, 256);
    } else if (!strcmp(action, "requestMethod")) bytes(res, req->method.ptr, req->method.len);
    else if (!strcmp(action, "requestUrl")) request_url(req, res);
    else if (!strcmp(action, "requestHeaders")) request_headers(req, res);
    else if (!strcmp(action, "requestBodyText") || !strcmp(action, "requestBodyRaw") || !strcmp(action, "requestBodyBinary")
             || !strcmp(action, "deprecatedSend") || !strcmp(action, "requestBodyTextAuto"))
        bytes(res, req->body.ptr, req->body.len);
    else if (!strcmp(action, "requestBodyJson")) body_json(req, res, 0);
    else if (!strcmp(action, "requestBody")) body_json(req, res, 1);
    else if (!strcmp(action, "requestBodyLength")) {
        char out[64];
        snprintf(out, sizeof out, "{\"length\":%zu}", req->body.len);
        json(res, out);
    } else if (!strcmp(action, "envVars")) env_vars(res);
    else if (!strcmp(action, "logs")) {
        rshim_v2_log(res, "Debug log");
        rshim_v2_error(res, "Error log");
        printf("Native log\n");
        logf_(res, RSHIM_LOG, "%d", 42);
        logf_(res, RSHIM_LOG, "%g", 4.2);
        rshim_v2_log(res, "true");
        rshim_v2_log(res, "{\"objectKey\":\"objectValue\"}");
        rshim_v2_log(res, "[\"arrayValue\"]");
        logf_(res, RSHIM_LOG, "%s %s %d %s", "Log1", "Log2", 3, "{\"a\":1}");
        logf_(res, RSHIM_ERROR, "%s %s", "Error1", "[\"e\"]");
        text(res, "");
    } else if (!strcmp(action, "longLogs")) {
        static char line[9001];
        logf_(res, RSHIM_LOG, "%s", (char *)memset(line, 'A', 9000));
        logf_(res, RSHIM_ERROR, "%s", (char *)memset(line, 'B', 9000));
        text(res, "OK");
    } else if (!strcmp(action, "nativeLogs")) {
        printf("Native log 1\n");
        printf("Native log 2\n");
        text(res, "OK");
    } else if (!strcmp(action, "multilineLog")) rshim_v2_log(res, "line one\nline two"), text(res, "OK");
    else if (!strcmp(action, "throwException")) fail(res, "Code exception occurred");
    else if (!strcmp(action, "timeout")) {
        rshim_v2_log(res, "Timeout start.");
        sleep(3);
        const char *marker = header(req, "x-marker", 0);
        FILE *f = marker ? fopen(marker, "w") : NULL;
        if (!f) return fail(res, "cannot create the marker file");
        fputs("done", f);
        fclose(f);
        text(res, "Successful response.");
    } else if (!strcmp(action, "concurrent")) {
        const char *index = header(req, "x-index", 0);
        logf_(res, RSHIM_LOG, "concurrent %s", index ? index : "");
        nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
        text(res, index ? index : "");
    } else if (!strcmp(action, "deprecatedSendUntyped")) text(res, "50");
    else if (!strcmp(action, "deprecatedSendBytes")) rshim_v2_header(res, "content-type", "image/png"), bytes(res, "\x89\x50\x4e\x47\x00\xff", 6);
    else if (!strcmp(action, "enforcedHeaders")) enforced_headers(req, res);
    else if (!strcmp(action, "errorTest")) rshim_v2_log(res, "Before error..."), fail(res, "Error!");
    else if (!strcmp(action, "spreadOperatorLogs")) {
        logf_(res, RSHIM_LOG, "%s %s", "engine:", "open-runtimes");
        logf_(res, RSHIM_ERROR, "%s %s", "engine:", "open-runtimes");
        text(res, "OK");
    } else {
        char message[256];
        snprintf(message, sizeof message, "Unknown action %s", action);
        fail(res, message);
    }
}
