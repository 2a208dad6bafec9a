// runtime-shim adapter library for C++17: your file defines runtime::main(req, res) (the v1 contract) or
// runtime::main(context) (the v5 contract); runtime.cpp has ::main() and serves it over adapter protocol 1 or 2
// (docs/adapter-protocol.md). See README.md.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace runtime {

// One execution's input. path and file are what the executor named: a compiled runtime serves the same
// function for any, so only a router (like the conformance dispatcher) looks at them.
struct Request {
    std::map<std::string, std::string> env;
    std::string payload;
    std::map<std::string, std::string> headers;
    std::string path, file;
    long long timeout_ms = 0, deadline_ms = 0;

    // The variable's value, or nothing (a Json of an empty optional is null).
    std::optional<std::string> getenv(const std::string &name) const;
};

// A JSON value: null, bool, number, string, array or object. A braced list is an object when every item is
// a {"key", value} pair, else an array: Json{{"a", 1}, {"b", {1, 2.5, "three", true, nullptr}}}.
// Json::array({...}) and Json::object({...}) say which when a list could be either.
class Json {
  public:
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;

    Json(std::nullptr_t = nullptr) : value_(nullptr) {}
    Json(bool b) : value_(b) {}
    Json(int n) : value_(static_cast<long long>(n)) {}
    Json(long n) : value_(static_cast<long long>(n)) {}
    Json(long long n) : value_(n) {}
    Json(unsigned n) : value_(static_cast<long long>(n)) {}
    Json(unsigned long n) : value_(static_cast<double>(n)) { if (n <= INT64_MAX) value_ = static_cast<long long>(n); }
    Json(double n) : value_(n) {}
    Json(const char *s) : value_(std::string(s)) {}
    Json(std::string s) : value_(std::move(s)) {}
    Json(std::string_view s) : value_(std::string(s)) {}
    Json(std::initializer_list<Json> items);
    template <class T> Json(const std::optional<T> &v) : Json(v ? Json(*v) : Json()) {}
    template <class T> Json(const std::vector<T> &items) : value_(Array(items.begin(), items.end())) {}
    template <class V> Json(const std::map<std::string, V> &m) : value_(Object(m.begin(), m.end())) {}
    template <class V> Json(const std::unordered_map<std::string, V> &m) : Json(std::map<std::string, V>(m.begin(), m.end())) {}
    static Json array(std::initializer_list<Json> items = {});
    static Json object(std::initializer_list<std::pair<const std::string, Json>> members = {});
    // JSON text made elsewhere (by a JSON library), sent as it is.
    static Json raw(std::string text);
    // Parses JSON text (objects keep their order); throws std::invalid_argument saying why it is not JSON.
    static Json parse(std::string_view text);
    // The string, when this is one (else nullptr).
    const std::string *as_string() const { return std::get_if<std::string>(&value_); }

    std::string dump() const;

  private:
    friend struct Parser;
    struct Raw { std::string text; };
    std::variant<std::nullptr_t, bool, long long, double, std::string, Array, Object, Raw> value_;
    void write(std::string &out) const;
};

// The reply: the last send() or json() before runtime::main returns wins. status is 200..599 (else
// std::invalid_argument is thrown at your call).
class Response {
  public:
    void send(std::string_view text, int status = 200);
    void json(const Json &value, int status = 200);
    // Answers as the shim's "not found" (404), for a function that routes on req.file.
    void not_found(std::string message);

  private:
    friend struct Loop;
    enum { None, Text, JsonBody, NotFound } kind_ = None;
    int status_ = 0;
    std::string body_;
};

// Your function. Throw any exception for a 500: its type, what() and, where the build has libbacktrace, the
// stack where it was thrown are the message. (Declared weak: a file defines this one or main(context) below.)
[[gnu::weak]] void main(const Request &req, Response &res);

// ---- the v5 contract: runtime::main(context) over adapter protocol 2 ----

// Response headers in order; a name may repeat (set-cookie): {{"set-cookie", "a=1"}, {"set-cookie", "b=2"}}.
using Headers = std::vector<std::pair<std::string, std::string>>;

// context.req: the HTTP request as the shim computed it (header names lower-cased, x-open-runtimes-* removed,
// several values of one name joined by ", ").
struct RuntimeRequest {
    std::string method, scheme, host, path, query_string, url;
    int port = 0;
    std::map<std::string, std::string> headers, query;
    long long timeout_ms = 0, deadline_ms = 0;
    bool json_body = false;  // the content-type is application/json
    std::string raw;         // the body's bytes, as sent

    std::string_view body_binary() const { return raw; }
    const std::string &body_text() const { return raw; }
    const std::string &body_raw() const { return raw; }
    // The body parsed as JSON, whatever the content-type (throws std::invalid_argument when it is not).
    Json body_json() const { return Json::parse(raw); }
    // The parsed JSON when the content-type is application/json ({} for an empty body), else the text.
    Json body() const { return !json_body ? Json(raw) : raw.empty() ? Json::object() : body_json(); }
    // A header's value (name in lower case), or nothing.
    std::optional<std::string> header(const std::string &name) const;
};

// What main(context) returns; a default-constructed one (`return {};`) is no reply: a 500 saying so.
struct RuntimeOutput {
    int status = 0;
    Headers headers;
    std::string body;
    bool returned = false;
};

// context.res: makes the RuntimeOutput. status is 200..599 (else std::invalid_argument at your call).
struct RuntimeResponse {
    RuntimeOutput text(std::string_view body, int status = 200, Headers headers = {}) const;
    RuntimeOutput binary(std::string_view bytes, int status = 200, Headers headers = {}) const;
    RuntimeOutput binary(const std::vector<unsigned char> &bytes, int status = 200, Headers headers = {}) const;
    RuntimeOutput send(std::string_view body, int status = 200, Headers headers = {}) const;  // the older name
    RuntimeOutput json(const Json &value, int status = 200, Headers headers = {}) const;     // application/json
    RuntimeOutput empty() const;                                                               // 204
    RuntimeOutput redirect(std::string url, int status = 301, Headers headers = {}) const;     // location
};

struct Context {
    RuntimeRequest req;
    RuntimeResponse res;
    // One line of the execution's logs (errors log): strings as they are, other values as compact JSON, joined
    // by a space: context.log("total:", 3, Json{{"a", 1}}).
    template <class... A> void log(const A &...args) { write_log("log", {Json(args)...}); }
    template <class... A> void error(const A &...args) { write_log("error", {Json(args)...}); }

    std::string id;  // the execution's id in the protocol
  private:
    void write_log(const char *stream, std::initializer_list<Json> pieces);
};

// An exception that makes the execution 503 (its what() in the errors log) rather than 500: the function
// cannot serve at all, as when an interpreted entry file fails to load.
struct Unavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The entry file the runtime was started with (OPEN_RUNTIMES_ENTRYPOINT, as the shim gave it). A compiled
// runtime serves the one function it was built from; only a router (like the conformance dispatcher) looks.
const std::string &entrypoint();

// Your v5 function (declared weak: a file defines this one or main(req, res) above).
[[gnu::weak]] RuntimeOutput main(Context &context);

}  // namespace runtime
