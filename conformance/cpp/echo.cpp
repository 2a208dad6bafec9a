#include "runtime.hpp"

namespace cases {

void echo(const runtime::Request &req, runtime::Response &res) {
    // Json::object: an object even when env and headers are empty.
    res.json(runtime::Json::object({{"env", req.env}, {"payload", req.payload}, {"headers", req.headers}}));
}

}  // namespace cases
