// The v5 image test's cpp function (tests/images/v5.sh): proves the install command ran in the build folder
// before the compile (v5dep.cc, which it writes, is compiled in) and the v5 context API.
#include <iostream>

#include "runtime.hpp"

extern const char *v5_built, *v5_dependency; // v5dep.cc, made by the install command

runtime::RuntimeOutput runtime::main(runtime::Context &context) {
    context.log("cpp function log", runtime::Json{{"n", 1}});
    context.error("cpp function error line");
    std::cout << "cpp native print" << std::endl;
    const auto &req = context.req;
    return context.res.json({{"runtime", "cpp"}, {"method", req.method}, {"path", req.path},
                             {"query", runtime::Json(req.query)}, {"body", req.body()}, {"built", v5_built},
                             {"dependency", v5_dependency}},
                            201, {{"x-v5-test", "yes"}});
}
