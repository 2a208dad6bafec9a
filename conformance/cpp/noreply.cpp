#include "runtime.hpp"

namespace cases {

void noreply(const runtime::Request &, runtime::Response &) {
    // returns without res.send() or res.json()
}

}  // namespace cases
