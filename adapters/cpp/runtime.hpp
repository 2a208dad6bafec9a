// runtime-shim adapter library for C++17: your file defines runtime::main(req, res); runtime.cpp has ::main()
// and serves it over adapter protocol 1 (docs/adapter-protocol.md). See README.md.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
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

    std::string dump() const;

  private:
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
// stack where it was thrown are the message.
void main(const Request &req, Response &res);

}  // namespace runtime
