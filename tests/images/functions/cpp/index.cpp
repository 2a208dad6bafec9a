// The image test's entry file: the C++ runtime calls runtime::main(); the seed function is conformance/cpp/seed.cpp.
#include "runtime.hpp"

namespace cases {
void seed(const runtime::Request &req, runtime::Response &res);
}

void runtime::main(const Request &req, Response &res) { cases::seed(req, res); }
