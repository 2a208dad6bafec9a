#include <chrono>
#include <string>
#include <thread>

#include "runtime.hpp"

namespace cases {

void slow(const runtime::Request &req, runtime::Response &res) {
    double seconds = req.payload.empty() ? 30 : std::stod(req.payload);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    res.send("woke");
}

}  // namespace cases
