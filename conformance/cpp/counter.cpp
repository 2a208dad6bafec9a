#include "runtime.hpp"

namespace cases {

static int count = 0;  // lives as long as the runtime process

void counter(const runtime::Request &, runtime::Response &res) {
    res.json({{"count", ++count}});
}

}  // namespace cases
