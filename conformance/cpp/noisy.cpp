#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "runtime.hpp"

extern char **environ;

namespace cases {

void noisy(const runtime::Request &req, runtime::Response &res) {
    const std::string &p = req.payload;
    std::cout << "noisy-stdout " << p << std::endl;
    std::cerr << "noisy-stderr " << p << std::endl;
    // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
    const char *argv[] = {"sh", "-c", "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2", "sh", p.c_str(), nullptr};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "sh", nullptr, nullptr, const_cast<char **>(argv), environ) == 0) waitpid(pid, &status, 0);
    std::string line = "noisy-fd1 " + p + "\n";
    if (write(1, line.data(), line.size()) < 0) std::perror("write");
    res.send("quiet " + p);
}

}  // namespace cases
