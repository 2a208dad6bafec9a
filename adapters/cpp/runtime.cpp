// runtime-shim adapter library for C++17 (POSIX): ::main() serves runtime::main(req, res) over adapter protocol
// 1, or runtime::main(context) over protocol 2 (docs/adapter-protocol.md), persistent, one request at a time.
// Requests come in the `kv` encoding.
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

#include <strings.h>

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

// ---- JSON text to a Json ----

struct Parser {
    std::string_view s;
    size_t i = 0;

    [[noreturn]] void fail(const char *what) const {
        throw std::invalid_argument("invalid JSON at byte " + std::to_string(i) + ": " + what);
    }
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    }
    bool eat(std::string_view word) {
        if (s.substr(i, word.size()) != word) return false;
        i += word.size();
        return true;
    }
    unsigned hex4() {
        if (i + 4 > s.size()) fail("bad \\u escape");
        unsigned code = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i++];
            code = code * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : (fail("bad \\u escape"), 0));
        }
        return code;
    }
    std::string string() {
        std::string out;
        for (i++;;) {
            if (i >= s.size()) fail("unterminated string");
            unsigned char c = static_cast<unsigned char>(s[i++]);
            if (c == '"') return out;
            if (c < 0x20) fail("a control character in a string");
            if (c != '\\') { out += static_cast<char>(c); continue; }
            if (i >= s.size()) fail("unterminated string");
            char e = s[i++];
            unsigned code;
            switch (e) {
                case '"': case '\\': case '/': out += e; continue;
                case 'b': out += '\b'; continue;
                case 'f': out += '\f'; continue;
                case 'n': out += '\n'; continue;
                case 'r': out += '\r'; continue;
                case 't': out += '\t'; continue;
                case 'u': code = hex4(); break;
                default: fail("bad escape");
            }
            if (code >= 0xD800 && code < 0xDC00) {
                if (!eat("\\u")) fail("a lone surrogate");
                unsigned low = hex4();
                if (low < 0xDC00 || low >= 0xE000) fail("a lone surrogate");
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            } else if (code >= 0xDC00 && code < 0xE000) fail("a lone surrogate");
            if (code < 0x80) out += static_cast<char>(code);
            else if (code < 0x800) out += static_cast<char>(0xC0 | code >> 6), out += static_cast<char>(0x80 | (code & 0x3F));
            else if (code < 0x10000) out += static_cast<char>(0xE0 | code >> 12), out += static_cast<char>(0x80 | (code >> 6 & 0x3F)), out += static_cast<char>(0x80 | (code & 0x3F));
            else out += static_cast<char>(0xF0 | code >> 18), out += static_cast<char>(0x80 | (code >> 12 & 0x3F)), out += static_cast<char>(0x80 | (code >> 6 & 0x3F)), out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }
    Json number() {
        size_t start = i;
        auto digits = [&] { size_t from = i; while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++; return i - from; };
        eat("-");
        size_t int_start = i, n = digits();
        if (n == 0 || (n > 1 && s[int_start] == '0')) fail("not a JSON value");
        bool integer = true;
        if (eat(".")) {
            integer = false;
            if (!digits()) fail("expected digits after '.'");
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
            integer = false, i++;
            if (!eat("+")) eat("-");
            if (!digits()) fail("expected digits in the exponent");
        }
        std::string text(s.substr(start, i - start));
        if (integer && n < 19) return Json(std::stoll(text));
        return Json(std::strtod(text.c_str(), nullptr));
    }
    Json value(int depth) {
        if (depth > 512) fail("nested too deeply");
        ws();
        if (i >= s.size()) fail("unexpected end of the text");
        char c = s[i];
        if (c == '{') {
            i++;
            Json::Object members;
            ws();
            if (!eat("}")) for (;;) {
                ws();
                if (i >= s.size() || s[i] != '"') fail("expected a string key");
                std::string key = string();
                ws();
                if (!eat(":")) fail("expected ':'");
                Json v = value(depth + 1);
                members.emplace_back(std::move(key), std::move(v));
                ws();
                if (eat("}")) break;
                if (!eat(",")) fail("expected ',' or '}'");
            }
            Json j = Json::object();
            j.value_ = std::move(members);
            return j;
        }
        if (c == '[') {
            i++;
            Json::Array items;
            ws();
            if (!eat("]")) for (;;) {
                items.push_back(value(depth + 1));
                ws();
                if (eat("]")) break;
                if (!eat(",")) fail("expected ',' or ']'");
            }
            Json j = Json::array();
            j.value_ = std::move(items);
            return j;
        }
        if (c == '"') return Json(string());
        if (eat("true")) return Json(true);
        if (eat("false")) return Json(false);
        if (eat("null")) return Json(nullptr);
        return number();
    }
};

Json Json::parse(std::string_view text) {
    Parser p{text};
    Json value = p.value(0);
    p.ws();
    if (p.i != text.size()) p.fail("unexpected text after the JSON value");
    return value;
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

// ---- the v5 reply ----

std::optional<std::string> RuntimeRequest::header(const std::string &name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::nullopt : std::optional<std::string>(it->second);
}

static bool is_content_type(const std::string &name) { return strcasecmp(name.c_str(), "content-type") == 0; }

static RuntimeOutput output(std::string body, int status, Headers given, Headers own = {}) {
    RuntimeOutput out{checked(status), std::move(own), std::move(body), true};
    for (auto &h : given) {
        if (is_content_type(h.first)) {  // the function's content-type wins over json's
            Headers kept;
            for (auto &o : out.headers) if (!is_content_type(o.first)) kept.push_back(o);
            out.headers = std::move(kept);
        }
        out.headers.push_back(std::move(h));
    }
    return out;
}

RuntimeOutput RuntimeResponse::text(std::string_view body, int status, Headers headers) const {
    return output(std::string(body), status, std::move(headers));
}
RuntimeOutput RuntimeResponse::binary(std::string_view bytes, int status, Headers headers) const {
    return output(std::string(bytes), status, std::move(headers));
}
RuntimeOutput RuntimeResponse::binary(const std::vector<unsigned char> &bytes, int status, Headers headers) const {
    return output(std::string(bytes.begin(), bytes.end()), status, std::move(headers));
}
RuntimeOutput RuntimeResponse::send(std::string_view body, int status, Headers headers) const {
    return output(std::string(body), status, std::move(headers));
}
RuntimeOutput RuntimeResponse::json(const Json &value, int status, Headers headers) const {
    return output(value.dump(), status, std::move(headers), {{"content-type", "application/json"}});
}
RuntimeOutput RuntimeResponse::empty() const { return output("", 204, {}); }
RuntimeOutput RuntimeResponse::redirect(std::string url, int status, Headers headers) const {
    return output("", status, std::move(headers), {{"location", std::move(url)}});
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

    // "REQ <id> <N>\n" (protocol 2: "REQ <id> <M> <N>\n", meta = M; else meta = N) and the body; false on
    // EOF between frames.
    bool read_request(std::string &id, std::string &body) {
        size_t meta;
        return read_request(id, body, meta);
    }
    bool read_request(std::string &id, std::string &body, size_t &meta) {
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
        meta = body.size();
        if (last != space) {  // a middle token: the metadata's length
            std::string m = line.substr(space + 1, last - space - 1);
            if (m.empty() || m.size() > 15 || m.find_first_not_of("0123456789") != std::string::npos || std::stoull(m) > body.size())
                fatal("bad request header: " + line);
            meta = std::stoull(m);
        }
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

    static void records(const std::string &body, size_t end, void (*each)(void *, const std::string &, std::string, std::string), void *to) {
        for (size_t at = 0; at < end;) {
            size_t nl = body.find('\n', at);
            char tag[16];
            size_t k, v;
            if (nl == std::string::npos || std::sscanf(body.substr(at, nl - at).c_str(), "%15s %zu %zu", tag, &k, &v) != 3
                || nl + 1 + k + v > end)
                fatal("bad request record");
            each(to, tag, body.substr(nl + 1, k), body.substr(nl + 1 + k, v));
            at = nl + 1 + k + v;
        }
    }

    static void record(std::string &out, const char *tag, const std::string &key, const std::string &value) {
        out += std::string(tag) + " " + std::to_string(key.size()) + " " + std::to_string(value.size()) + "\n" + key + value;
    }

    void serve_v5() {
        std::string id, body, info = std::string("cpp g++ ") + __VERSION__;
        write_frame("READY 2 kv", info);
        size_t meta;
        while (read_request(id, body, meta)) {
            Context context;
            context.id = id;
            records(body, meta, [](void *to, const std::string &t, std::string key, std::string value) {
                RuntimeRequest &req = *static_cast<RuntimeRequest *>(to);
                if (t == "header") req.headers[key] = std::move(value);
                else if (t == "query") req.query[key] = std::move(value);
                else if (t == "method") req.method = std::move(value);
                else if (t == "scheme") req.scheme = std::move(value);
                else if (t == "host") req.host = std::move(value);
                else if (t == "port") req.port = std::atoi(value.c_str());
                else if (t == "path") req.path = std::move(value);
                else if (t == "query_string") req.query_string = std::move(value);
                else if (t == "url") req.url = std::move(value);
                else if (t == "json_body") req.json_body = value == "1";
                else if (t == "timeout_ms") req.timeout_ms = std::atoll(value.c_str());
                else if (t == "deadline_ms") req.deadline_ms = std::atoll(value.c_str());
            }, &context.req);
            context.req.raw = body.substr(meta);
            std::string().swap(body);
            RuntimeOutput out;
            std::string failure;
            bool unavailable = false;
            thrown = nullptr;
            try {
                auto v5 = static_cast<RuntimeOutput (*)(Context &)>(&runtime::main);
                if (!v5) throw Unavailable("Function signature invalid. Did you forget to export a 'main' function?");
                out = v5(context);
            } catch (const Unavailable &e) {
                failure = e.what(), unavailable = true;
            } catch (const std::exception &e) {
                failure = describe(typeid(e).name(), e.what(), dynamic_cast<const void *>(&e));
            } catch (...) {
                auto *type = abi::__cxa_current_exception_type();
                failure = describe(type ? type->name() : "unknown", "(not a std::exception)", thrown);
            }
            std::cout.flush(), std::fflush(stdout), std::fflush(stderr);  // printed lines are logged before the reply
            if (!failure.empty() || unavailable) write_frame("ERR " + id + (unavailable ? " 503" : " 500"), failure);
            else if (!out.returned) write_frame("NONE " + id, "");
            else {
                std::string headers;
                for (auto &h : out.headers) record(headers, "header", h.first, h.second);
                std::string head = "RES " + id + " " + std::to_string(out.status) + " " + std::to_string(headers.size());
                size_t n = headers.size() + out.body.size();
                std::string frame = head + " " + std::to_string(n) + "\n";
                write_all(frame), write_all(headers), write_all(out.body);
            }
        }
    }

    static void write_all(const std::string &data) {
        for (size_t done = 0; done < data.size();) {
            ssize_t n = ::write(proto_out, data.data() + done, data.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fatal("cannot write to the shim");
            done += static_cast<size_t>(n);
        }
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

static std::string entry_file;

const std::string &entrypoint() { return entry_file; }

void Context::write_log(const char *stream, std::initializer_list<Json> pieces) {
    std::string line;
    for (const Json &piece : pieces) {
        if (!line.empty()) line += ' ';
        if (auto *s = piece.as_string()) line += *s;
        else line += piece.dump();
    }
    std::cout.flush(), std::fflush(stdout);  // native output printed before stays before
    Loop::write_frame("LOG " + id + " " + stream, line);
}

}  // namespace runtime

extern char **environ;

int main() {
    bool v5 = std::getenv("SHIM_PROTOCOL") && std::string(std::getenv("SHIM_PROTOCOL")) == "2";
    bool has_v1 = static_cast<void (*)(const runtime::Request &, runtime::Response &)>(&runtime::main) != nullptr;
    bool has_v5 = static_cast<runtime::RuntimeOutput (*)(runtime::Context &)>(&runtime::main) != nullptr;
    if (!v5 && !has_v1)
        runtime::fatal(has_v5 ? "this function is written for the v5 context API (runtime::main(context)); the shim expects adapter protocol 1: serve it with SHIM_PROTOCOL=v5"
                              : "the function defines neither runtime::main(req, res) nor runtime::main(context)");
    if (v5 && !has_v5 && has_v1)
        runtime::fatal("this function is written for the v1 API (runtime::main(req, res)); the shim expects adapter protocol 2: serve it with the v1 contract");
    if (v5) {
        const char *entry = std::getenv("SHIM_ENTRYPOINT");
        runtime::entry_file = entry ? entry : "";
        // The function's variables are the process environment, less the shim's own settings.
        for (size_t i = 0; environ[i];) {
            std::string e = environ[i];
            if (e.compare(0, 5, "SHIM_")) i++;
            else unsetenv(e.substr(0, e.find('=')).c_str());
        }
    }
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
    if (v5) loop.serve_v5();
    else loop.serve();
    return 0;
}
