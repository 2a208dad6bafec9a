// The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
package cases

import java.io.File
import runtime.Context
import runtime.RuntimeOutput

fun main(context: Context): RuntimeOutput? {
    val req = context.req
    val res = context.res
    val action = req.headers["x-action"]
    return when (action) {
        "plaintextResponse" -> res.text("Hello World 👋")
        "jsonResponse" -> res.json(mapOf("json" to true, "message" to "Developers are awesome."))
        "customCharsetResponse" -> res.text("ÅÆ", 200, mapOf("content-type" to "text/plain; charset=iso-8859-1"))
        "uppercaseCharsetResponse" -> res.text("ÅÆ", 200, mapOf("content-type" to "TEXT/PLAIN"))
        "multipartResponse" -> res.text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
            mapOf("content-type" to "multipart/form-data; boundary=12345"))
        "redirectResponse" -> res.redirect("https://github.com/")
        "emptyResponse" -> res.empty()
        "noResponse" -> {
            res.text("This should be ignored, as it is not returned.")
            null
        }
        "doubleResponse" -> {
            res.text("This should be ignored.")
            res.text("This should be returned.")
        }
        "headersResponse" -> res.text("OK", 200, mapOf(
            "first-header" to "first-value",
            "second-header" to (req.headers["x-open-runtimes-custom-in-header"] ?: "missing"),
            "cookie" to (req.headers["cookie"] ?: "missing"),
            "x-open-runtimes-custom-out-header" to "third-value",
            "Mixed-Case-Header" to "mixed"))
        "statusResponse" -> res.text("FAIL", 404)
        "setCookie" -> res.text("OK", 200, mapOf("set-cookie" to listOf("cookie=value; path=/", "cookie2=value2")))
        "binaryResponse" -> res.binary(byteArrayOf(0x00, 0x0a, 0xff.toByte(), 0x80.toByte(), 0x00))
        "binaryResponseLarge" -> res.binary(ByteArray(17825792) { it.toByte() })
        "requestMethod" -> res.text(req.method)
        "requestUrl" -> res.json(mapOf("url" to req.url, "scheme" to req.scheme, "host" to req.host, "port" to req.port,
            "path" to req.path, "queryString" to req.queryString, "query" to req.query))
        "requestHeaders" -> res.json(req.headers)
        "requestBodyText" -> res.text(req.bodyText)
        "requestBodyRaw" -> res.text(req.bodyRaw)
        "requestBodyJson" -> res.json(req.bodyJson)
        "requestBody" -> res.json(mapOf("body" to req.body))
        "requestBodyBinary" -> res.binary(req.bodyBinary)
        "requestBodyLength" -> res.json(mapOf("length" to req.bodyBinary.size))
        "envVars" -> res.json(mapOf(
            "var" to System.getenv("CUSTOM_ENV_VAR"),
            "emptyVar" to System.getenv("NOT_DEFINED_VAR"),
            "secret" to System.getenv("OPEN_RUNTIMES_SECRET"),
            "shimVars" to System.getenv().keys.count { it.startsWith("SHIM_") }))
        "logs" -> {
            context.log("Debug log")
            context.error("Error log")
            println("Native log")
            context.log(42)
            context.log(4.2)
            context.log(true)
            context.log(mapOf("objectKey" to "objectValue"))
            context.log(listOf("arrayValue"))
            context.log("Log1", "Log2", 3, mapOf("a" to 1))
            context.error("Error1", listOf("e"))
            res.text("")
        }
        "longLogs" -> {
            context.log("A".repeat(9000))
            context.error("B".repeat(9000))
            res.text("OK")
        }
        "nativeLogs" -> {
            println("Native log 1")
            println("Native log 2")
            res.text("OK")
        }
        "multilineLog" -> {
            context.log("line one\nline two")
            res.text("OK")
        }
        "throwException" -> throw RuntimeException("Code exception occurred")
        "timeout" -> {
            context.log("Timeout start.")
            Thread.sleep(3000)
            File(req.headers.getValue("x-marker")).writeText("done")
            res.text("Successful response.")
        }
        "concurrent" -> {
            context.log("concurrent " + req.headers["x-index"])
            Thread.sleep(300)
            res.text(req.headers.getValue("x-index"))
        }
        "deprecatedSend" -> res.send(req.bodyRaw)
        "deprecatedSendUntyped" -> res.send("50")
        "deprecatedSendBytes" -> res.send(byteArrayOf(0x89.toByte(), 0x50, 0x4e, 0x47, 0x00, 0xff.toByte()), 200,
            mapOf("content-type" to "image/png"))
        "enforcedHeaders" -> res.json(listOf("x-custom", "x-custom-uppercase", "x-open-runtimes-custom").associateWith { req.headers[it] })
        "errorTest" -> {
            context.log("Before error...")
            throw RuntimeException("Error!")
        }
        "spreadOperatorLogs" -> {
            context.log("engine:", "open-runtimes")
            context.error("engine:", "open-runtimes")
            res.text("OK")
        }
        "requestBodyTextAuto" -> res.text(req.body as String)
        else -> throw RuntimeException("Unknown action $action")
    }
}
