/* A minimal compiled adapter (adapter protocol 1, `kv` encoding) with the seed function built in: replies
 * {"normal":"Hello World!","env1":<env.ENV1 or null>,"payload":<payload>}. It costs next to nothing to start or to
 * run, so "shim + this adapter" measures the shim itself: its cold start, its per-request overhead, its ceiling.
 * Two more functions, chosen by the request's `file`, for the payload and memory phases:
 *   echo.js   replies the payload itself as text (what bench/contenders/echo.js does);
 *   generate  replies as many bytes ('x') as the payload's decimal number says, as text.
 * Bench-only; not a product adapter. Build: cc -O2 -static -o trivial-adapter trivial_adapter.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/uio.h>

static int proto;

/* Header and body in one writev: one wakeup of the shim for a small reply, no copy of a large one. */
static void put2(const char *h, size_t hn, const char *b, size_t bn) {
    struct iovec v[2] = {{(void *)h, hn}, {(void *)b, bn}};
    struct iovec *at = v;
    int left = 2;
    while (left) {
        ssize_t w = writev(proto, at, left);
        if (w <= 0) exit(1);
        size_t n = (size_t)w;
        while (left && n >= at->iov_len) { n -= at->iov_len; at++; left--; }
        if (left) { at->iov_base = (char *)at->iov_base + n; at->iov_len -= n; }
    }
}

static void put(const char *p, size_t n) { put2(p, n, "", 0); }

static char *out; static size_t out_len, out_cap;
static void add(const char *p, size_t n) {
    if (out_len + n > out_cap) { out_cap = (out_len + n) * 2; out = realloc(out, out_cap); if (!out) exit(1); }
    memcpy(out + out_len, p, n); out_len += n;
}
static void add_s(const char *s) { add(s, strlen(s)); }
static void add_json_string(const char *s, size_t n) {
    add("\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; add(esc, 2); }
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); add(esc, 6); }
        else add((const char *)&s[i], 1);
    }
    add("\"", 1);
}

static int is(const char *s, size_t n, const char *want) { return n == strlen(want) && !memcmp(s, want, n); }

int main(void) {
    proto = dup(1);
    dup2(2, 1);
    int in = dup(0);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    FILE *rd = fdopen(in, "rb");
    const char ready[] = "READY 1 kv 15\ntrivial adapter";
    put(ready, sizeof ready - 1);
    char head[260];
    for (;;) {
        if (!fgets(head, sizeof head, rd)) return 0;
        char id[80]; size_t n;
        if (sscanf(head, "REQ %64s %zu", id, &n) != 2) { fprintf(stderr, "bad header\n"); return 2; }
        char *body = malloc(n + 1);
        if (!body || fread(body, 1, n, rd) != n) { fprintf(stderr, "short body\n"); return 2; }
        const char *payload = "", *env1 = NULL, *file = ""; size_t payload_n = 0, env1_n = 0, file_n = 0;
        for (size_t at = 0; at < n;) {
            char tag[32]; size_t k, v; int used = 0;
            if (sscanf(body + at, "%31s %zu %zu%n", tag, &k, &v, &used) != 3 || body[at + used] != '\n') {
                fprintf(stderr, "bad record\n"); return 2;
            }
            const char *key = body + at + used + 1, *val = key + k;
            if (!strcmp(tag, "payload")) { payload = val; payload_n = v; }
            else if (!strcmp(tag, "file")) { file = val; file_n = v; }
            else if (!strcmp(tag, "env") && k == 4 && !memcmp(key, "ENV1", 4)) { env1 = val; env1_n = v; }
            at = (size_t)(val + v - body);
        }
        char res[128];
        if (is(file, file_n, "echo.js")) {
            int h = snprintf(res, sizeof res, "RES %s 200 text %zu\n", id, payload_n);
            put2(res, (size_t)h, payload, payload_n);
        } else if (is(file, file_n, "generate")) {
            char num[32] = {0};
            memcpy(num, payload, payload_n < sizeof num - 1 ? payload_n : sizeof num - 1);
            size_t want = strtoull(num, NULL, 10);
            char *gen = malloc(want + 1);
            if (!gen) exit(1);
            memset(gen, 'x', want);
            int h = snprintf(res, sizeof res, "RES %s 200 text %zu\n", id, want);
            put2(res, (size_t)h, gen, want);
            free(gen);
        } else {
            out_len = 0;
            add_s("{\"normal\":\"Hello World!\",\"env1\":");
            if (env1) add_json_string(env1, env1_n); else add_s("null");
            add_s(",\"payload\":");
            add_json_string(payload, payload_n);
            add_s("}");
            int h = snprintf(res, sizeof res, "RES %s 200 json %zu\n", id, out_len);
            put2(res, (size_t)h, out, out_len);
        }
        free(body);
    }
}
