/* The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
 * The dispatcher (dispatch.c) calls main_entry() for the entry file main.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "runtime.h"

#define HEADER_OR(name, fallback) (ctx_header(ctx, name) ? ctx_header(ctx, name) : (fallback))

static struct output *plaintext_response(struct context *ctx) { return ctx_text(ctx, "Hello World 👋"); }

static struct output *json_response(struct context *ctx) {
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    json_key(j, "json"), json_bool(j, 1);
    json_key(j, "message"), json_string(j, "Developers are awesome.");
    json_end(j);
    return out;
}

static struct output *custom_charset_response(struct context *ctx) {
    return output_header(ctx_text(ctx, "ÅÆ"), "content-type", "text/plain; charset=iso-8859-1");
}

static struct output *uppercase_charset_response(struct context *ctx) {
    return output_header(ctx_text(ctx, "ÅÆ"), "content-type", "TEXT/PLAIN");
}

static struct output *multipart_response(struct context *ctx) {
    const char *body = "--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--";
    return output_header(ctx_text(ctx, body), "content-type", "multipart/form-data; boundary=12345");
}

static struct output *redirect_response(struct context *ctx) { return ctx_redirect(ctx, "https://github.com/"); }
static struct output *empty_response(struct context *ctx) { return ctx_empty(ctx); }

static struct output *no_response(struct context *ctx) {
    ctx_text(ctx, "This should be ignored, as it is not returned.");
    return NULL;
}

static struct output *double_response(struct context *ctx) {
    ctx_text(ctx, "This should be ignored.");
    return ctx_text(ctx, "This should be returned.");
}

static struct output *headers_response(struct context *ctx) {
    struct output *out = ctx_text(ctx, "OK");
    output_header(out, "first-header", "first-value");
    output_header(out, "second-header", HEADER_OR("x-open-runtimes-custom-in-header", "missing"));
    output_header(out, "cookie", HEADER_OR("cookie", "missing"));
    output_header(out, "x-open-runtimes-custom-out-header", "third-value");
    return output_header(out, "Mixed-Case-Header", "mixed");
}

static struct output *status_response(struct context *ctx) { return output_status(ctx_text(ctx, "FAIL"), 404); }

static struct output *set_cookie(struct context *ctx) {
    struct output *out = ctx_text(ctx, "OK");
    output_header(out, "set-cookie", "cookie=value; path=/");
    return output_header(out, "set-cookie", "cookie2=value2");
}

static struct output *binary_response(struct context *ctx) {
    static const unsigned char bytes[] = {0x00, 0x0a, 0xff, 0x80, 0x00};
    return ctx_binary(ctx, bytes, sizeof bytes);
}

static struct output *binary_response_large(struct context *ctx) {
    size_t n = 17825792;
    unsigned char *bytes = malloc(n);
    if (!bytes) return ctx_fail(ctx, "out of memory");
    for (size_t i = 0; i < n; i++) bytes[i] = (unsigned char)i;
    struct output *out = ctx_binary(ctx, bytes, n);
    free(bytes);
    return out;
}

static struct output *request_method(struct context *ctx) { return ctx_text(ctx, ctx->req.method); }

static struct output *request_url(struct context *ctx) {
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    json_key(j, "url"), json_string(j, ctx->req.url);
    json_key(j, "scheme"), json_string(j, ctx->req.scheme);
    json_key(j, "host"), json_string(j, ctx->req.host);
    json_key(j, "port"), json_int(j, ctx->req.port);
    json_key(j, "path"), json_string(j, ctx->req.path);
    json_key(j, "queryString"), json_string(j, ctx->req.query_string);
    json_key(j, "query"), json_object(j);
    for (size_t i = 0; i < ctx->req.query_count; i++) json_key(j, ctx->req.query[i].name), json_string(j, ctx->req.query[i].value);
    json_end(j);
    json_end(j);
    return out;
}

static struct output *request_headers(struct context *ctx) {
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    for (size_t i = 0; i < ctx->req.header_count; i++) json_key(j, ctx->req.headers[i].name), json_string(j, ctx->req.headers[i].value);
    json_end(j);
    return out;
}

static struct output *request_body_text(struct context *ctx) { return ctx_send(ctx, ctx->req.body, ctx->req.body_len); }
static struct output *request_body_raw(struct context *ctx) { return ctx_send(ctx, ctx->req.body, ctx->req.body_len); }

static struct output *request_body_json(struct context *ctx) {
    const char *error, *text = ctx_body_json(ctx, &error);
    if (!text) return ctx_fail(ctx, "%s", error);
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_raw(j, text);
    return out;
}

static struct output *request_body(struct context *ctx) {
    int is_json;
    const char *error, *body = ctx_body(ctx, &is_json, &error);
    if (!body) return ctx_fail(ctx, "%s", error);
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    json_key(j, "body");
    if (is_json) json_raw(j, body);
    else json_string_n(j, body, ctx->req.body_len);
    json_end(j);
    return out;
}

static struct output *request_body_binary(struct context *ctx) { return ctx_binary(ctx, ctx->req.body, ctx->req.body_len); }

static struct output *request_body_length(struct context *ctx) {
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    json_key(j, "length"), json_int(j, (long long)ctx->req.body_len);
    json_end(j);
    return out;
}

static struct output *env_vars(struct context *ctx) {
    extern char **environ;
    long long shim_vars = 0;
    for (char **e = environ; *e; e++) shim_vars += !strncmp(*e, "SHIM_", 5);
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    json_key(j, "var"), json_string(j, getenv("CUSTOM_ENV_VAR"));
    json_key(j, "emptyVar"), json_string(j, getenv("NOT_DEFINED_VAR"));
    json_key(j, "secret"), json_string(j, getenv("OPEN_RUNTIMES_SECRET"));
    json_key(j, "shimVars"), json_int(j, shim_vars);
    json_end(j);
    return out;
}

static struct output *logs(struct context *ctx) {
    ctx_log(ctx, "Debug log");
    ctx_error(ctx, "Error log");
    printf("Native log\n");
    ctx_log(ctx, "%d", 42);
    ctx_log(ctx, "%g", 4.2);
    ctx_log(ctx, "%s", "true");
    ctx_log(ctx, "{\"objectKey\":\"objectValue\"}");
    ctx_log(ctx, "[\"arrayValue\"]");
    ctx_log(ctx, "%s %s %d %s", "Log1", "Log2", 3, "{\"a\":1}");
    ctx_error(ctx, "%s %s", "Error1", "[\"e\"]");
    return ctx_text(ctx, "");
}

static struct output *long_logs(struct context *ctx) {
    static char line[9001];
    ctx_log(ctx, "%s", (char *)memset(line, 'A', 9000));
    ctx_error(ctx, "%s", (char *)memset(line, 'B', 9000));
    return ctx_text(ctx, "OK");
}

static struct output *native_logs(struct context *ctx) {
    printf("Native log 1\n");
    printf("Native log 2\n");
    return ctx_text(ctx, "OK");
}

static struct output *multiline_log(struct context *ctx) {
    ctx_log(ctx, "line one\nline two");
    return ctx_text(ctx, "OK");
}

static struct output *throw_exception(struct context *ctx) { return ctx_fail(ctx, "Code exception occurred"); }

static struct output *timeout(struct context *ctx) {
    ctx_log(ctx, "Timeout start.");
    sleep(3);
    FILE *marker = fopen(HEADER_OR("x-marker", ""), "w");
    if (!marker) return ctx_fail(ctx, "cannot create the marker file");
    fputs("done", marker);
    fclose(marker);
    return ctx_text(ctx, "Successful response.");
}

static struct output *concurrent(struct context *ctx) {
    const char *index = HEADER_OR("x-index", "");
    ctx_log(ctx, "concurrent %s", index);
    nanosleep(&(struct timespec){0, 300 * 1000 * 1000}, NULL);
    return ctx_text(ctx, index);
}

static struct output *deprecated_send(struct context *ctx) { return ctx_send(ctx, ctx->req.body, ctx->req.body_len); }
static struct output *deprecated_send_untyped(struct context *ctx) { return ctx_send(ctx, "50", 2); }

static struct output *deprecated_send_bytes(struct context *ctx) {
    static const unsigned char png[] = {0x89, 0x50, 0x4e, 0x47, 0x00, 0xff};
    return output_header(output_status(ctx_send(ctx, png, sizeof png), 200), "content-type", "image/png");
}

static struct output *enforced_headers(struct context *ctx) {
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    for (const char **name = (const char *[]){"x-custom", "x-custom-uppercase", "x-open-runtimes-custom", NULL}; *name; name++)
        json_key(j, *name), json_string(j, ctx_header(ctx, *name));
    json_end(j);
    return out;
}

static struct output *error_test(struct context *ctx) {
    ctx_log(ctx, "Before error...");
    return ctx_fail(ctx, "Error!");
}

static struct output *spread_operator_logs(struct context *ctx) {
    ctx_log(ctx, "%s %s", "engine:", "open-runtimes");
    ctx_error(ctx, "%s %s", "engine:", "open-runtimes");
    return ctx_text(ctx, "OK");
}

static struct output *request_body_text_auto(struct context *ctx) {
    int is_json;
    const char *error, *body = ctx_body(ctx, &is_json, &error);
    if (!body) return ctx_fail(ctx, "%s", error);
    return is_json ? ctx_text(ctx, body) : ctx_send(ctx, body, ctx->req.body_len);
}

static const struct { const char *name; struct output *(*run)(struct context *); } actions[] = {
    {"plaintextResponse", plaintext_response}, {"jsonResponse", json_response},
    {"customCharsetResponse", custom_charset_response}, {"uppercaseCharsetResponse", uppercase_charset_response},
    {"multipartResponse", multipart_response}, {"redirectResponse", redirect_response},
    {"emptyResponse", empty_response}, {"noResponse", no_response}, {"doubleResponse", double_response},
    {"headersResponse", headers_response}, {"statusResponse", status_response}, {"setCookie", set_cookie},
    {"binaryResponse", binary_response}, {"binaryResponseLarge", binary_response_large},
    {"requestMethod", request_method}, {"requestUrl", request_url}, {"requestHeaders", request_headers},
    {"requestBodyText", request_body_text}, {"requestBodyRaw", request_body_raw},
    {"requestBodyJson", request_body_json}, {"requestBody", request_body},
    {"requestBodyBinary", request_body_binary}, {"requestBodyLength", request_body_length},
    {"envVars", env_vars}, {"logs", logs}, {"longLogs", long_logs}, {"nativeLogs", native_logs},
    {"multilineLog", multiline_log}, {"throwException", throw_exception}, {"timeout", timeout},
    {"concurrent", concurrent}, {"deprecatedSend", deprecated_send},
    {"deprecatedSendUntyped", deprecated_send_untyped}, {"deprecatedSendBytes", deprecated_send_bytes},
    {"enforcedHeaders", enforced_headers}, {"errorTest", error_test},
    {"spreadOperatorLogs", spread_operator_logs}, {"requestBodyTextAuto", request_body_text_auto},
};

struct output *main_entry(struct context *ctx) {
    const char *action = HEADER_OR("x-action", "");
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (!strcmp(actions[i].name, action)) return actions[i].run(ctx);
    return ctx_fail(ctx, "Unknown action %s", action);
}
