/* Test-only entry file: one runtime stands for the three entry files the v5 kit starts the shim with. It
 * serves main.c, emulates the load failures of noexport.c and throwsatload.c as an interpreted adapter reports
 * them (503, the reason in the errors log), and answers any other name as a file that does not exist. A real
 * runtime is built from one entry file and serves it. */
#include <string.h>
#include "runtime.h"

struct output *main_entry(struct context *ctx);
void noexport_load(void);
const char *throwsatload_load(void);

struct output *context_main(struct context *ctx) {
    static int loaded;
    const char *entry = runtime_entrypoint();
    if (!strcmp(entry, "main.c")) return main_entry(ctx);
    if (!strcmp(entry, "noexport.c")) {
        if (!loaded++) noexport_load();
        return ctx_unavailable(ctx, "Function signature invalid. Did you forget to export a 'main' function?");
    }
    if (!strcmp(entry, "throwsatload.c")) return ctx_unavailable(ctx, "%s", throwsatload_load());
    return ctx_unavailable(ctx, "Failed to load entrypoint, file %s does not exist.", entry);
}
