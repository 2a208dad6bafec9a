#include "runtime.hpp"

namespace cases {

void jsonreply(const runtime::Request &req, runtime::Response &res) {
    res.json({{"nested", {{"list", {1, 2.5, "three", true, nullptr}}, {"unicode", "✓"}}}, {"payload", req.payload}}, 202);
}

}  // namespace cases
