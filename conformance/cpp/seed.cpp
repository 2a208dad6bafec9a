#include "runtime.hpp"

namespace cases {

void seed(const runtime::Request &req, runtime::Response &res) {
    res.json({{"normal", "Hello World!"}, {"env1", req.getenv("ENV1")}, {"payload", req.payload}});
}

}  // namespace cases
