#include "runtime.hpp"

namespace cases {

void send(const runtime::Request &req, runtime::Response &res) {
    res.send("héllo wörld ✓ " + req.payload, 201);
}

}  // namespace cases
