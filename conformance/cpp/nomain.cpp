// Compiles, but the function has the wrong name: the dispatcher knows no case here and answers 404.
#include "runtime.hpp"

namespace cases {

void handler(const runtime::Request &, runtime::Response &res) {
    res.send("never called");
}

}  // namespace cases
