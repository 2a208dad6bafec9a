#include <stdexcept>

#include "runtime.hpp"

namespace cases {

static void inner_helper() {
    throw std::runtime_error("boom from user code");
}

void throws(const runtime::Request &, runtime::Response &res) {
    inner_helper();
    res.send("unreachable");
}

}  // namespace cases
