// Test-only entry file: one runtime stands for the three entry files the v5 kit starts the shim with. It
// serves main.cpp, emulates the load failures of noexport.cpp and throwsatload.cpp as an interpreted adapter
// reports them (503, the reason in the errors log), and answers any other name as a file that does not exist.
// A real runtime is built from one entry file and serves it.
#include <stdexcept>

#include "runtime.hpp"

runtime::RuntimeOutput main_entry(runtime::Context &context);
void noexport_load();
void throwsatload_load();

runtime::RuntimeOutput runtime::main(runtime::Context &context) {
    static bool loaded;
    const std::string &entry = runtime::entrypoint();
    if (entry == "main.cpp") return main_entry(context);
    if (entry == "noexport.cpp") {
        if (!loaded) loaded = true, noexport_load();
        throw runtime::Unavailable("Function signature invalid. Did you forget to export a 'main' function?");
    }
    if (entry == "throwsatload.cpp") {
        try {
            throwsatload_load();
        } catch (const std::exception &e) {
            throw runtime::Unavailable(e.what());
        }
    }
    throw runtime::Unavailable("Failed to load entrypoint, file " + entry + " does not exist.");
}
