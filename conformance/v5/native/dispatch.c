/* Test-only entry file: one library stands for the three entry files the v5 kit starts the shim with. It
 * serves main.c, emulates the load failures of noexport.c and throwsatload.c as an interpreted adapter reports
 * them (503, the reason in the errors log), and answers any other name as a file that does not exist. A real
 * library is built from one function and serves it. */
#include <stdio.h>
#include <string.h>

#include "runtime_shim.h"

void main_serve(const rshim_request_v2 *req, rshim_response_v2 *res);
void noexport_load(void);
const char *throwsatload_load(void);

uint32_t rshim_abi_version(void) { return RSHIM_ABI_VERSION_2; }

static void unavailable(rshim_response_v2 *res, const char *message) { res->unavailable(res, message, strlen(message)); }

void rshim_serve(const rshim_request_v2 *req, rshim_response_v2 *res) {
    static int loaded;
    char entry[256], message[512];
    snprintf(entry, sizeof entry, "%.*s", (int)req->entrypoint.len, req->entrypoint.ptr);
    if (!strcmp(entry, "main.c")) return main_serve(req, res);
    if (!strcmp(entry, "noexport.c")) {
        if (!loaded++) noexport_load();
        return unavailable(res, "Function signature invalid. Did you forget to export a 'main' function?");
    }
    if (!strcmp(entry, "throwsatload.c")) return unavailable(res, throwsatload_load());
    snprintf(message, sizeof message, "Failed to load entrypoint, file %s does not exist.", entry);
    unavailable(res, message);
}
