// The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
import Foundation

func actions(context: Context) async throws -> RuntimeOutput? {
    let req = context.req, res = context.res
    let action = req.headers["x-action"] ?? ""
    switch action {
    case "plaintextResponse":
        return try res.text("Hello World 👋")
    case "jsonResponse":
        return try res.json(["json": true, "message": "Developers are awesome."])
    case "customCharsetResponse":
        return try res.text("ÅÆ", 200, ["content-type": "text/plain; charset=iso-8859-1"])
    case "uppercaseCharsetResponse":
        return try res.text("ÅÆ", 200, ["content-type": "TEXT/PLAIN"])
    case "multipartResponse":
        return try res.text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
                            ["content-type": "multipart/form-data; boundary=12345"])
    case "redirectResponse":
        return try res.redirect("https://github.com/")
    case "emptyResponse":
        return res.empty()
    case "noResponse":
        _ = try res.text("This should be ignored, as it is not returned.")
        return nil
    case "doubleResponse":
        _ = try res.text("This should be ignored.")
        return try res.text("This should be returned.")
    case "headersResponse":
        return try res.text("OK", 200, [
            "first-header": "first-value",
            "second-header": req.headers["x-open-runtimes-custom-in-header"] ?? "missing",
            "cookie": req.headers["cookie"] ?? "missing",
            "x-open-runtimes-custom-out-header": "third-value",
            "Mixed-Case-Header": "mixed",
        ])
    case "statusResponse":
        return try res.text("FAIL", 404)
    case "setCookie":
        return try res.text("OK", 200, ["set-cookie": ["cookie=value; path=/", "cookie2=value2"]])
    case "binaryResponse":
        return try res.binary(Data([0x00, 0x0a, 0xff, 0x80, 0x00]))
    case "binaryResponseLarge":
        return try res.binary(Data((0..<17825792).map { UInt8(truncatingIfNeeded: $0) }))
    case "requestMethod":
        return try res.text(req.method)
    case "requestUrl":
        return try res.json(["url": req.url, "scheme": req.scheme, "host": req.host, "port": req.port, "path": req.path,
                             "queryString": req.queryString, "query": req.query])
    case "requestHeaders":
        return try res.json(req.headers)
    case "requestBodyText":
        return try res.text(req.bodyText)
    case "requestBodyRaw":
        return try res.text(req.bodyRaw)
    case "requestBodyJson":
        return try res.json(try req.bodyJson)
    case "requestBody":
        return try res.json(["body": try req.body])
    case "requestBodyBinary":
        return try res.binary(req.bodyBinary)
    case "requestBodyLength":
        return try res.json(["length": req.bodyBinary.count])
    case "envVars":
        let env = ProcessInfo.processInfo.environment
        return try res.json([
            "var": env["CUSTOM_ENV_VAR"],
            "emptyVar": env["NOT_DEFINED_VAR"],
            "secret": env["OPEN_RUNTIMES_SECRET"],
            "shimVars": env.keys.filter { $0.hasPrefix("SHIM_") }.count,
        ])
    case "logs":
        context.log("Debug log")
        context.error("Error log")
        print("Native log")
        context.log(42)
        context.log(4.2)
        context.log(true)
        context.log(["objectKey": "objectValue"])
        context.log(["arrayValue"])
        context.log("Log1", "Log2", 3, ["a": 1])
        context.error("Error1", ["e"])
        return try res.text("")
    case "longLogs":
        context.log(String(repeating: "A", count: 9000))
        context.error(String(repeating: "B", count: 9000))
        return try res.text("OK")
    case "nativeLogs":
        print("Native log 1")
        print("Native log 2")
        return try res.text("OK")
    case "multilineLog":
        context.log("line one\nline two")
        return try res.text("OK")
    case "throwException":
        throw RuntimeError("Code exception occurred")
    case "timeout":
        context.log("Timeout start.")
        try await Task.sleep(nanoseconds: 3_000_000_000)
        try "done".write(toFile: req.headers["x-marker"] ?? "", atomically: false, encoding: .utf8)
        return try res.text("Successful response.")
    case "concurrent":
        let index = req.headers["x-index"] ?? ""
        context.log("concurrent " + index)
        try await Task.sleep(nanoseconds: 300_000_000)
        return try res.text(index)
    case "deprecatedSend":
        return try res.send(req.bodyRaw)
    case "deprecatedSendUntyped":
        return try res.send("50")
    case "deprecatedSendBytes":
        return try res.send(Data([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]), 200, ["content-type": "image/png"])
    case "enforcedHeaders":
        return try res.json([
            "x-custom": req.headers["x-custom"],
            "x-custom-uppercase": req.headers["x-custom-uppercase"],
            "x-open-runtimes-custom": req.headers["x-open-runtimes-custom"],
        ])
    case "errorTest":
        context.log("Before error...")
        throw RuntimeError("Error!")
    case "spreadOperatorLogs":
        context.log("engine:", "open-runtimes")
        context.error("engine:", "open-runtimes")
        return try res.text("OK")
    case "requestBodyTextAuto":
        return try res.text(try req.body.stringValue ?? "")
    default:
        throw RuntimeError("Unknown action \(action)")
    }
}
