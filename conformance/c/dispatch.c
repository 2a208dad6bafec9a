/* Test-only entry file: one runtime serves every case function, picked by the base name of the request's
 * file (seed.c -> seed_main). The conformance kit names a file per case; a real runtime has one handler. */
#include <string.h>
#include "runtime.h"

#define CASES(X) X(seed) X(send) X(jsonreply) X(echo) X(throws) X(noisy) X(slow) X(noreply) X(crash) X(counter)
#define DECLARE(name) void name##_main(const struct request *, struct response *);
CASES(DECLARE)

void handler(const struct request *req, struct response *res) {
    const char *base = strrchr(req->file, '/') ? strrchr(req->file, '/') + 1 : req->file;
    size_t n = strcspn(base, ".");
#define PICK(name) if (n == strlen(#name) && !strncmp(base, #name, n)) { name##_main(req, res); return; }
    CASES(PICK)
    res_not_found(res, "%s/%s: this runtime has no function for that file", req->path, req->file);
}
