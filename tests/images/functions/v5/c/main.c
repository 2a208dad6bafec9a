/* The v5 image test's c function (tests/images/v5.sh): proves the install command ran in the build folder
 * before the compile (v5dep.c, which it writes, is compiled in) and the v5 context API. */
#include <stdio.h>
#include "runtime.h"

extern const char *v5_built, *v5_dependency; /* v5dep.c, made by the install command */

struct output *context_main(struct context *ctx) {
    ctx_log(ctx, "%s %s", "c function log", "{\"n\":1}");
    ctx_error(ctx, "c function error line");
    printf("c native print\n");
    fflush(stdout);
    int is_json;
    const char *error, *body = ctx_body(ctx, &is_json, &error);
    if (!body) return ctx_fail(ctx, "%s", error);
    struct json *j;
    struct output *out = ctx_json(ctx, &j);
    json_object(j);
    json_key(j, "runtime"), json_string(j, "c");
    json_key(j, "method"), json_string(j, ctx->req.method);
    json_key(j, "path"), json_string(j, ctx->req.path);
    json_key(j, "query"), json_object(j);
    for (size_t i = 0; i < ctx->req.query_count; i++) json_key(j, ctx->req.query[i].name), json_string(j, ctx->req.query[i].value);
    json_end(j);
    json_key(j, "body");
    if (is_json) json_raw(j, body);
    else json_string_n(j, body, ctx->req.body_len);
    json_key(j, "built"), json_string(j, v5_built);
    json_key(j, "dependency"), json_string(j, v5_dependency);
    json_end(j);
    output_header(out, "x-v5-test", "yes");
    return output_status(out, 201);
}
