// The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
// The dispatcher (dispatch.cpp) calls main_entry() for the entry file main.cpp.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <stdexcept>
#include <thread>

#include "runtime.hpp"

using runtime::Context;
using runtime::Json;
using runtime::RuntimeOutput;

extern char **environ;

static Json getenv_or_null(const char *name) {
    const char *value = std::getenv(name);
    return value ? Json(value) : Json();
}

static Json header_or_null(const Context &context, const std::string &name) {
    auto value = context.req.header(name);
    return value ? Json(*value) : Json();
}

static const std::map<std::string, std::function<RuntimeOutput(Context &)>> actions = {
    {"plaintextResponse", [](Context &context) { return context.res.text("Hello World 👋"); }},
    {"jsonResponse", [](Context &context) { return context.res.json({{"json", true}, {"message", "Developers are awesome."}}); }},
    {"customCharsetResponse", [](Context &context) { return context.res.text("ÅÆ", 200, {{"content-type", "text/plain; charset=iso-8859-1"}}); }},
    {"uppercaseCharsetResponse", [](Context &context) { return context.res.text("ÅÆ", 200, {{"content-type", "TEXT/PLAIN"}}); }},
    {"multipartResponse", [](Context &context) {
         return context.res.text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
                                 {{"content-type", "multipart/form-data; boundary=12345"}});
     }},
    {"redirectResponse", [](Context &context) { return context.res.redirect("https://github.com/"); }},
    {"emptyResponse", [](Context &context) { return context.res.empty(); }},
    {"noResponse", [](Context &context) {
         context.res.text("This should be ignored, as it is not returned.");
         return RuntimeOutput{};
     }},
    {"doubleResponse", [](Context &context) {
         context.res.text("This should be ignored.");
         return context.res.text("This should be returned.");
     }},
    {"headersResponse", [](Context &context) {
         return context.res.text("OK", 200, {
             {"first-header", "first-value"},
             {"second-header", context.req.header("x-open-runtimes-custom-in-header").value_or("missing")},
             {"cookie", context.req.header("cookie").value_or("missing")},
             {"x-open-runtimes-custom-out-header", "third-value"},
             {"Mixed-Case-Header", "mixed"},
         });
     }},
    {"statusResponse", [](Context &context) { return context.res.text("FAIL", 404); }},
    {"setCookie", [](Context &context) {
         return context.res.text("OK", 200, {{"set-cookie", "cookie=value; path=/"}, {"set-cookie", "cookie2=value2"}});
     }},
    {"binaryResponse", [](Context &context) { return context.res.binary(std::vector<unsigned char>{0x00, 0x0a, 0xff, 0x80, 0x00}); }},
    {"binaryResponseLarge", [](Context &context) {
         std::vector<unsigned char> bytes(17825792);
         for (size_t i = 0; i < bytes.size(); i++) bytes[i] = static_cast<unsigned char>(i);
         return context.res.binary(bytes);
     }},
    {"requestMethod", [](Context &context) { return context.res.text(context.req.method); }},
    {"requestUrl", [](Context &context) {
         const auto &req = context.req;
         return context.res.json({{"url", req.url}, {"scheme", req.scheme}, {"host", req.host}, {"port", req.port},
                                  {"path", req.path}, {"queryString", req.query_string}, {"query", Json(req.query)}});
     }},
    {"requestHeaders", [](Context &context) { return context.res.json(context.req.headers); }},
    {"requestBodyText", [](Context &context) { return context.res.text(context.req.body_text()); }},
    {"requestBodyRaw", [](Context &context) { return context.res.text(context.req.body_raw()); }},
    {"requestBodyJson", [](Context &context) { return context.res.json(context.req.body_json()); }},
    {"requestBody", [](Context &context) { return context.res.json({{"body", context.req.body()}}); }},
    {"requestBodyBinary", [](Context &context) { return context.res.binary(context.req.body_binary()); }},
    {"requestBodyLength", [](Context &context) { return context.res.json({{"length", context.req.body_binary().size()}}); }},
    {"envVars", [](Context &context) {
         long long shim_vars = 0;
         for (char **e = environ; *e; e++) shim_vars += std::string(*e).compare(0, 5, "SHIM_") == 0;
         return context.res.json({{"var", getenv_or_null("CUSTOM_ENV_VAR")}, {"emptyVar", getenv_or_null("NOT_DEFINED_VAR")},
                                  {"secret", getenv_or_null("OPEN_RUNTIMES_SECRET")}, {"shimVars", shim_vars}});
     }},
    {"logs", [](Context &context) {
         context.log("Debug log");
         context.error("Error log");
         std::cout << "Native log" << std::endl;
         context.log(42);
         context.log(4.2);
         context.log(true);
         context.log(Json{{"objectKey", "objectValue"}});
         context.log(Json::array({"arrayValue"}));
         context.log("Log1", "Log2", 3, Json{{"a", 1}});
         context.error("Error1", Json::array({"e"}));
         return context.res.text("");
     }},
    {"longLogs", [](Context &context) {
         context.log(std::string(9000, 'A'));
         context.error(std::string(9000, 'B'));
         return context.res.text("OK");
     }},
    {"nativeLogs", [](Context &context) {
         std::cout << "Native log 1" << std::endl;
         std::cout << "Native log 2" << std::endl;
         return context.res.text("OK");
     }},
    {"multilineLog", [](Context &context) {
         context.log("line one\nline two");
         return context.res.text("OK");
     }},
    {"throwException", [](Context &) -> RuntimeOutput { throw std::runtime_error("Code exception occurred"); }},
    {"timeout", [](Context &context) {
         context.log("Timeout start.");
         std::this_thread::sleep_for(std::chrono::seconds(3));
         std::ofstream(context.req.header("x-marker").value_or("")) << "done";
         return context.res.text("Successful response.");
     }},
    {"concurrent", [](Context &context) {
         std::string index = context.req.header("x-index").value_or("");
         context.log("concurrent " + index);
         std::this_thread::sleep_for(std::chrono::milliseconds(300));
         return context.res.text(index);
     }},
    {"deprecatedSend", [](Context &context) { return context.res.send(context.req.body_raw()); }},
    {"deprecatedSendUntyped", [](Context &context) { return context.res.send("50"); }},
    {"deprecatedSendBytes", [](Context &context) {
         return context.res.send(std::string("\x89\x50\x4e\x47\x00\xff", 6), 200, {{"content-type", "image/png"}});
     }},
    {"enforcedHeaders", [](Context &context) {
         return context.res.json({{"x-custom", header_or_null(context, "x-custom")},
                                  {"x-custom-uppercase", header_or_null(context, "x-custom-uppercase")},
                                  {"x-open-runtimes-custom", header_or_null(context, "x-open-runtimes-custom")}});
     }},
    {"errorTest", [](Context &context) -> RuntimeOutput {
         context.log("Before error...");
         throw std::runtime_error("Error!");
     }},
    {"spreadOperatorLogs", [](Context &context) {
         context.log("engine:", "open-runtimes");
         context.error("engine:", "open-runtimes");
         return context.res.text("OK");
     }},
    {"requestBodyTextAuto", [](Context &context) {
         Json body = context.req.body();
         return context.res.text(body.as_string() ? *body.as_string() : body.dump());
     }},
};

RuntimeOutput main_entry(Context &context) {
    std::string action = context.req.header("x-action").value_or("");
    auto it = actions.find(action);
    if (it == actions.end()) throw std::runtime_error("Unknown action " + action);
    return it->second(context);
}
