// Test-only entry file: one runtime serves every case function, picked by the base name of the request's
// file (seed.cpp -> cases::seed). The conformance kit names a file per case; a real runtime has one main.
#include <map>
#include <string>

#include "runtime.hpp"

namespace cases {
using Function = void (*)(const runtime::Request &, runtime::Response &);
void seed(const runtime::Request &, runtime::Response &);
void send(const runtime::Request &, runtime::Response &);
void jsonreply(const runtime::Request &, runtime::Response &);
void echo(const runtime::Request &, runtime::Response &);
void throws(const runtime::Request &, runtime::Response &);
void noisy(const runtime::Request &, runtime::Response &);
void slow(const runtime::Request &, runtime::Response &);
void noreply(const runtime::Request &, runtime::Response &);
void crash(const runtime::Request &, runtime::Response &);
void counter(const runtime::Request &, runtime::Response &);
}  // namespace cases

void runtime::main(const runtime::Request &req, runtime::Response &res) {
    static const std::map<std::string, cases::Function> functions = {
        {"seed", cases::seed}, {"send", cases::send}, {"jsonreply", cases::jsonreply}, {"echo", cases::echo},
        {"throws", cases::throws}, {"noisy", cases::noisy}, {"slow", cases::slow}, {"noreply", cases::noreply},
        {"crash", cases::crash}, {"counter", cases::counter},
    };
    std::string base = req.file.substr(req.file.rfind('/') + 1);
    auto found = functions.find(base.substr(0, base.find('.')));
    if (found == functions.end()) return res.not_found(req.path + "/" + req.file + ": this runtime has no function for that file");
    found->second(req, res);
}
