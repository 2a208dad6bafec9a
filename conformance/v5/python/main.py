"""The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md)."""
import asyncio
import os


def plaintext_response(context):
    return context.res.text("Hello World 👋")


def json_response(context):
    return context.res.json({"json": True, "message": "Developers are awesome."})


def custom_charset_response(context):
    return context.res.text("ÅÆ", 200, {"content-type": "text/plain; charset=iso-8859-1"})


def uppercase_charset_response(context):
    return context.res.text("ÅÆ", 200, {"content-type": "TEXT/PLAIN"})


def multipart_response(context):
    body = "--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--"
    return context.res.text(body, 200, {"content-type": "multipart/form-data; boundary=12345"})


def redirect_response(context):
    return context.res.redirect("https://github.com/")


def empty_response(context):
    return context.res.empty()


def no_response(context):
    context.res.text("This should be ignored, as it is not returned.")


def double_response(context):
    context.res.text("This should be ignored.")
    return context.res.text("This should be returned.")


def headers_response(context):
    headers = context.req.headers
    return context.res.text("OK", 200, {
        "first-header": "first-value",
        "second-header": headers.get("x-open-runtimes-custom-in-header", "missing"),
        "cookie": headers.get("cookie", "missing"),
        "x-open-runtimes-custom-out-header": "third-value",
        "Mixed-Case-Header": "mixed",
    })


def status_response(context):
    return context.res.text("FAIL", 404)


def set_cookie(context):
    return context.res.text("OK", 200, {"set-cookie": ["cookie=value; path=/", "cookie2=value2"]})


def binary_response(context):
    return context.res.binary(bytes([0x00, 0x0A, 0xFF, 0x80, 0x00]))


def binary_response_large(context):
    return context.res.binary(bytes(range(256)) * (17825792 // 256))


def request_method(context):
    return context.res.text(context.req.method)


def request_url(context):
    req = context.req
    return context.res.json({"url": req.url, "scheme": req.scheme, "host": req.host, "port": req.port,
                             "path": req.path, "queryString": req.query_string, "query": req.query})


def request_headers(context):
    return context.res.json(context.req.headers)


def request_body_text(context):
    return context.res.text(context.req.body_text)


def request_body_raw(context):
    return context.res.text(context.req.body_raw)


def request_body_json(context):
    return context.res.json(context.req.body_json)


def request_body(context):
    return context.res.json({"body": context.req.body})


def request_body_binary(context):
    return context.res.binary(context.req.body_binary)


def request_body_length(context):
    return context.res.json({"length": len(context.req.body_binary)})


def env_vars(context):
    return context.res.json({
        "var": os.environ.get("CUSTOM_ENV_VAR"),
        "emptyVar": os.environ.get("NOT_DEFINED_VAR"),
        "secret": os.environ.get("OPEN_RUNTIMES_SECRET"),
        "shimVars": sum(1 for name in os.environ if name.startswith("SHIM_")),
    })


def logs(context):
    context.log("Debug log")
    context.error("Error log")
    print("Native log")
    context.log(42)
    context.log(4.2)
    context.log(True)
    context.log({"objectKey": "objectValue"})
    context.log(["arrayValue"])
    context.log("Log1", "Log2", 3, {"a": 1})
    context.error("Error1", ["e"])
    return context.res.text("")


def long_logs(context):
    context.log("A" * 9000)
    context.error("B" * 9000)
    return context.res.text("OK")


def native_logs(context):
    print("Native log 1")
    print("Native log 2")
    return context.res.text("OK")


def multiline_log(context):
    context.log("line one\nline two")
    return context.res.text("OK")


def throw_exception(context):
    raise Exception("Code exception occurred")


async def timeout(context):
    context.log("Timeout start.")
    await asyncio.sleep(3)
    with open(context.req.headers["x-marker"], "w") as marker:
        marker.write("done")
    return context.res.text("Successful response.")


async def concurrent(context):
    index = context.req.headers["x-index"]
    context.log("concurrent " + index)
    await asyncio.sleep(0.3)
    return context.res.text(index)


def deprecated_send(context):
    return context.res.send(context.req.body_raw)


def deprecated_send_untyped(context):
    return context.res.send("50")


def deprecated_send_bytes(context):
    return context.res.send(bytes([0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF]), 200, {"content-type": "image/png"})


def enforced_headers(context):
    headers = context.req.headers
    return context.res.json({name: headers.get(name)
                             for name in ("x-custom", "x-custom-uppercase", "x-open-runtimes-custom")})


def error_test(context):
    context.log("Before error...")
    raise Exception("Error!")


def spread_operator_logs(context):
    context.log("engine:", "open-runtimes")
    context.error("engine:", "open-runtimes")
    return context.res.text("OK")


def request_body_text_auto(context):
    return context.res.text(context.req.body)


ACTIONS = {
    "plaintextResponse": plaintext_response,
    "jsonResponse": json_response,
    "customCharsetResponse": custom_charset_response,
    "uppercaseCharsetResponse": uppercase_charset_response,
    "multipartResponse": multipart_response,
    "redirectResponse": redirect_response,
    "emptyResponse": empty_response,
    "noResponse": no_response,
    "doubleResponse": double_response,
    "headersResponse": headers_response,
    "statusResponse": status_response,
    "setCookie": set_cookie,
    "binaryResponse": binary_response,
    "binaryResponseLarge": binary_response_large,
    "requestMethod": request_method,
    "requestUrl": request_url,
    "requestHeaders": request_headers,
    "requestBodyText": request_body_text,
    "requestBodyRaw": request_body_raw,
    "requestBodyJson": request_body_json,
    "requestBody": request_body,
    "requestBodyBinary": request_body_binary,
    "requestBodyLength": request_body_length,
    "envVars": env_vars,
    "logs": logs,
    "longLogs": long_logs,
    "nativeLogs": native_logs,
    "multilineLog": multiline_log,
    "throwException": throw_exception,
    "timeout": timeout,
    "concurrent": concurrent,
    "deprecatedSend": deprecated_send,
    "deprecatedSendUntyped": deprecated_send_untyped,
    "deprecatedSendBytes": deprecated_send_bytes,
    "enforcedHeaders": enforced_headers,
    "errorTest": error_test,
    "spreadOperatorLogs": spread_operator_logs,
    "requestBodyTextAuto": request_body_text_auto,
}


async def main(context):
    action = context.req.headers.get("x-action")
    if action not in ACTIONS:
        raise Exception("Unknown action %s" % action)
    result = ACTIONS[action](context)
    if asyncio.iscoroutine(result):
        result = await result
    return result
