// runtime-shim adapter library for C++17 (POSIX): ::main() serves runtime::main over adapter protocol 1
// (docs/adapter-protocol.md), persistent, one request at a time. Requests come in the `kv` encoding.
//
// Where a stack trace comes from: the build links with -Wl,--wrap=__cxa_throw, so every `throw` in the
// user's code passes through __wrap___cxa_throw below, which records the return addresses. When
// RUNTIME_LIBBACKTRACE is defined (Debian's libgcc-dev ships libbacktrace), they are turned into
// function (file:line) from the program's own debug info; otherwise into glibc's symbol+offset.
#include "runtime.hpp"

#include <cxxabi.h>
#include <execinfo.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <typeinfo>
#ifdef RUNTIME_LIBBACKTRACE
#include <backtrace.h>
#endif

namespace runtime {

std::optional<std::string> Request::getenv(const std::string &name) const {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
}

Json::Json(std::initializer_list<Json> items) {
    bool pairs = items.size() > 0;
    for (const Json &item : items) {
        auto *a = std::get_if<Array>(&item.value_);
        pairs = pairs && a && a->size() == 2 && std::holds_alternative<std::string>((*a)[0].value_);
    }
    if (!pairs) {
        value_ = Array(items);
        return;
    }
    Object members;
    for (const Json &item : items) {
        auto &a = std::get<Array>(item.value_);
        members.emplace_back(std::get<std::string>(a[0].value_), a[1]);
    }
    value_ = std::move(members);
}

Json Json::array(std::initializer_list<Json> items) {
    Json j;
    j.value_ = Array(items);
    return j;
}

Json Json::object(std::initializer_list<std::pair<const std::string, Json>> members) {
    Json j;
    j.value_ = Object(members.begin(), members.end());
    return j;
}

Json Json::raw(std::string text) {
    Json j;
    j.value_ = Raw{std::move(text)};
    return j;
}

static void quote(std::string &out, const std::string &s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
        else if (c < 0x20) {
            char esc[8];
            std::snprintf(esc, sizeof esc, "\\u%04x", c);
            out += esc;
        } else out += static_cast<char>(c);
    }
    out += '"';
}

void Json::write(std::string &out) const {
    if (std::holds_alternative<std::nullptr_t>(value_)) out += "null";
    else if (auto *b = std::get_if<bool>(&value_)) out += *b ? "true" : "false";
    else if (auto *n = std::get_if<long long>(&value_)) out += std::to_string(*n);
    else if (auto *d = std::get_if<double>(&value_)) {
        if (!std::isfinite(*d)) throw std::domain_error("res.json(): NaN and infinities are not JSON");
        char s[32];
        for (int digits = 1; digits <= 17; digits++) { // the shortest text that reads back the same
            std::snprintf(s, sizeof s, "%.*g", digits, *d);
            if (std::strtod(s, nullptr) == *d) break;
        }
        out += s;
    } else if (auto *s = std::get_if<std::string>(&value_)) quote(out, *s);
    else if (auto *r = std::get_if<Raw>(&value_)) out += r->text;
    else if (auto *a = std::get_if<Array>(&value_)) {
        out += '[';
        for (size_t i = 0; i < a->size(); i++) {
            if (i) out += ',';
            (*a)[i].write(out);
        }
        out += ']';
    } else {
        auto &o = std::get<Object>(value_);
        out += '{';
        for (size_t i = 0; i < o.size(); i++) {
            if (i) out += ',';
            quote(out, o[i].first);
            out += ':';
            o[i].second.write(out);
        }
        out += '}';
    }
}

std::string Json::dump() const {
    std::string out;
    write(out);
    return out;
}

static int checked(int status) {
    if (status < 200 || status > 599) throw std::invalid_argument("status must be from 200 to 599, not " + std::to_string(status));
    return status;
}

void Response::send(std::string_view text, int status) {
    status_ = checked(status), kind_ = Text, body_ = text;
}

void Response::json(const Json &value, int status) {
    status_ = checked(status), body_ = value.dump(), kind_ = JsonBody;
}

void Response::not_found(std::string message) {
    kind_ = NotFound, body_ = std::move(message);
}

// ---- where the last exception was thrown ----

static thread_local void *thrown;  // the exception object, to match it when caught
static thread_local void *thrown_at[64];
static thread_local int thrown_depth;

static std::string demangle(const char *name) {
    int status = 0;
    char *plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string s = status == 0 && plain ? plain : name;
    std::free(plain);
    return s;
}

#ifdef RUNTIME_LIBBACKTRACE
static std::string symbolize(void *const *pcs, int n) {
    static backtrace_state *state = backtrace_create_state(nullptr, 0, nullptr, nullptr);
    std::pair<std::string, bool> trace;  // the text, and whether the library's own frames were reached
    for (int i = 0; i < n && state && !trace.second; i++) {
        backtrace_pcinfo(state, reinterpret_cast<uintptr_t>(pcs[i]) - 1,
            [](void *data, uintptr_t, const char *file, int line, const char *function) {
                auto &[out, done] = *static_cast<std::pair<std::string, bool> *>(data);
                std::string name = function ? demangle(function) : "";
                done = done || name.rfind("runtime::Loop::", 0) == 0;
                if (!done && file) out += "\n    at " + name + " (" + file + ":" + std::to_string(line) + ")";
                return 0;
            }, [](void *, const char *, int) {}, &trace);
    }
    return trace.first;
}
#else
static std::string symbolize(void *const *pcs, int n) {
    std::string out;
    char **names = backtrace_symbols(pcs, n);
    for (int i = 0; names && i < n; i++) {  // "file(mangled+0x1d) [0x…]": the name demangled, where there is one
        std::string line = names[i];
        size_t open = line.find('('), plus = line.find('+', open);
        if (open != std::string::npos && plus != std::string::npos && plus > open + 1) {
            std::string name = demangle(line.substr(open + 1, plus - open - 1).c_str());
            if (name.rfind("runtime::Loop::", 0) == 0) break;
            line = name + " (" + line.substr(0, open) + line.substr(plus, line.find(')', plus) - plus) + ")";
        }
        out += "\n    at " + line;
    }
    std::free(names);
    return out;
}
#endif

}  // namespace runtime

extern "C" [[noreturn]] void __real___cxa_throw(void *, std::type_info *, void (*)(void *));
extern "C" [[noreturn]] void __wrap___cxa_throw(void *object, std::type_info *type, void (*destroy)(void *)) {
    runtime::thrown = object;
    runtime::thrown_depth = backtrace(runtime::thrown_at, 64);
    __real___cxa_throw(object, type, destroy);
}

namespace runtime {

static const size_t HEADER_MAX = 256;
static int proto_in, proto_out;

[[noreturn]] static void fatal(const std::string &message) {
    std::cerr << "cpp adapter: " << message << std::endl;
    std::exit(2);
}

struct Loop {
    char buf[65536];
    size_t at = 0, len = 0;

    bool fill() {
        ssize_t n;
        do n = ::read(proto_in, buf, sizeof buf); while (n < 0 && errno == EINTR);
        at = 0, len = n > 0 ? static_cast<size_t>(n) : 0;
        return n > 0;
    }

    // "REQ <id> <N>\n" and the body; false on EOF between frames.
    bool read_request(std::string &id, std::string &body) {
        std::string line;
        for (;;) {
            if (at == len && !fill()) {
                if (line.empty()) return false;
                fatal("input ended inside a request header");
            }
            char c = buf[at++];
            if (c == '\n') break;
            if ((line += c).size() >= HEADER_MAX) fatal("a request header is longer than 256 bytes");
        }
        size_t space = line.find(' ', 4), last = line.rfind(' ');
        id = line.substr(4, space - 4);
        std::string size = line.substr(last + 1);
        if (line.compare(0, 4, "REQ ") || space == std::string::npos || id.empty() || id.size() > 64
            || id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos
            || size.empty() || size.size() > 15 || size.find_first_not_of("0123456789") != std::string::npos || (size[0] == '0' && size.size() > 1))
            fatal("bad request header: " + line);
        body.resize(std::stoull(size));
        for (size_t got = 0; got < body.size();) {
            if (at == len && !fill()) fatal("input ended inside a request body");
            size_t n = std::min(len - at, body.size() - got);
            std::memcpy(&body[got], buf + at, n);
            at += n, got += n;
        }
        return true;
    }

    // The `kv` encoding: records "<tag> <K> <V>\n<K bytes of key><V bytes of value>".
    static Request decode(const std::string &body) {
        Request req;
        for (size_t at = 0; at < body.size();) {
            size_t nl = body.find('\n', at);
            char tag[16];
            size_t k, v;
            if (nl == std::string::npos || std::sscanf(body.substr(at, nl - at).c_str(), "%15s %zu %zu", tag, &k, &v) != 3
                || nl + 1 + k + v > body.size())
                fatal("bad request record");
            std::string key = body.substr(nl + 1, k), value = body.substr(nl + 1 + k, v), t = tag;
            if (t == "env") req.env[key] = value;
            else if (t == "header") req.headers[key] = value;
            else if (t == "payload") req.payload = std::move(value);
            else if (t == "path") req.path = value;
            else if (t == "file") req.file = value;
            else if (t == "timeout_ms") req.timeout_ms = std::atoll(value.c_str());
            else if (t == "deadline_ms") req.deadline_ms = std::atoll(value.c_str());
            at = nl + 1 + k + v;
        }
        return req;
    }

    static void write_frame(const std::string &head, const std::string &body) {
        std::string frame = head + " " + std::to_string(body.size()) + "\n" + body;
        for (size_t done = 0; done < frame.size();) {
            ssize_t n = ::write(proto_out, frame.data() + done, frame.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fatal("cannot write to the shim");
            done += static_cast<size_t>(n);
        }
    }

    // The exception's type and message, and the stack where it was thrown if we saw that throw.
    static std::string describe(const char *type, const std::string &what, const void *object) {
        std::string out = demangle(type) + ": " + what;
        if (object == thrown) out += symbolize(thrown_at + 1, thrown_depth - 1);  // without __wrap___cxa_throw
        return out;
    }

    void serve() {
        std::string id, body, info = std::string("cpp g++ ") + __VERSION__;
        write_frame("READY 1 kv", info);
        while (read_request(id, body)) {
            Request req = decode(body);
            Response res;
            std::string failure;
            thrown = nullptr;
            try {
                runtime::main(req, res);
            } catch (const std::exception &e) {
                failure = describe(typeid(e).name(), e.what(), dynamic_cast<const void *>(&e));
            } catch (...) {
                auto *type = abi::__cxa_current_exception_type();
                failure = describe(type ? type->name() : "unknown", "(not a std::exception)", thrown);
            }
            std::cout.flush(), std::fflush(stdout), std::fflush(stderr);  // printed lines are logged before the reply
            if (!failure.empty()) write_frame("ERR " + id + " 500", failure);
            else if (res.kind_ == Response::None) write_frame("ERR " + id + " 500", "runtime::main(req, res) returned without calling res.send() or res.json()");
            else if (res.kind_ == Response::NotFound) write_frame("ERR " + id + " 404", res.body_);
            else write_frame("RES " + id + " " + std::to_string(res.status_) + (res.kind_ == Response::Text ? " text" : " json"), res.body_);
        }
    }
};

}  // namespace runtime

int main() {
    // The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and
    // fd 0 at /dev/null, so std::cout, printf, libraries and child processes can neither write nor read a frame.
    runtime::proto_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
    runtime::proto_in = fcntl(0, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDONLY);
    if (runtime::proto_out < 0 || runtime::proto_in < 0 || null < 0 || dup2(2, 1) < 0 || dup2(null, 0) < 0)
        runtime::fatal("cannot move the protocol off fds 0 and 1");
    close(null);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines reach the log as they are printed
    static runtime::Loop loop;
    loop.serve();
    return 0;
}
