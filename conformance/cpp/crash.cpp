#include <cstdlib>

#include "runtime.hpp"

namespace cases {

void crash(const runtime::Request &, runtime::Response &) {
    std::exit(3);
}

}  // namespace cases
