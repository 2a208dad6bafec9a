import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import runtime.Context;

/** The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md). */
class Main {
    public Context.Output main(Context context) throws IOException, InterruptedException {
        Context.Request req = context.req;
        Context.Response res = context.res;
        String action = req.headers.get("x-action");
        switch (action == null ? "" : action) {
            case "plaintextResponse":
                return res.text("Hello World 👋");
            case "jsonResponse": {
                Map<String, Object> out = new LinkedHashMap<>(); // in order: the kit compares the text
                out.put("json", true);
                out.put("message", "Developers are awesome.");
                return res.json(out);
            }
            case "customCharsetResponse":
                return res.text("ÅÆ", 200, Map.of("content-type", "text/plain; charset=iso-8859-1"));
            case "uppercaseCharsetResponse":
                return res.text("ÅÆ", 200, Map.of("content-type", "TEXT/PLAIN"));
            case "multipartResponse":
                return res.text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
                        Map.of("content-type", "multipart/form-data; boundary=12345"));
            case "redirectResponse":
                return res.redirect("https://github.com/");
            case "emptyResponse":
                return res.empty();
            case "noResponse":
                res.text("This should be ignored, as it is not returned.");
                return null;
            case "doubleResponse":
                res.text("This should be ignored.");
                return res.text("This should be returned.");
            case "headersResponse":
                return res.text("OK", 200, Map.of(
                        "first-header", "first-value",
                        "second-header", req.headers.getOrDefault("x-open-runtimes-custom-in-header", "missing"),
                        "cookie", req.headers.getOrDefault("cookie", "missing"),
                        "x-open-runtimes-custom-out-header", "third-value",
                        "Mixed-Case-Header", "mixed"));
            case "statusResponse":
                return res.text("FAIL", 404);
            case "setCookie":
                return res.text("OK", 200, Map.of("set-cookie", List.of("cookie=value; path=/", "cookie2=value2")));
            case "binaryResponse":
                return res.binary(new byte[] {0x00, 0x0a, (byte) 0xff, (byte) 0x80, 0x00});
            case "binaryResponseLarge": {
                byte[] body = new byte[17825792];
                for (int i = 0; i < body.length; i++) body[i] = (byte) i;
                return res.binary(body);
            }
            case "requestMethod":
                return res.text(req.method);
            case "requestUrl": {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("url", req.url);
                out.put("scheme", req.scheme);
                out.put("host", req.host);
                out.put("port", req.port);
                out.put("path", req.path);
                out.put("queryString", req.queryString);
                out.put("query", req.query);
                return res.json(out);
            }
            case "requestHeaders":
                return res.json(req.headers);
            case "requestBodyText":
                return res.text(req.bodyText());
            case "requestBodyRaw":
                return res.text(req.bodyRaw());
            case "requestBodyJson":
                return res.json(req.bodyJson());
            case "requestBody":
                return res.json(Collections.singletonMap("body", req.body()));
            case "requestBodyBinary":
                return res.binary(req.bodyBinary());
            case "requestBodyLength":
                return res.json(Map.of("length", req.bodyBinary().length));
            case "envVars": {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("var", System.getenv("CUSTOM_ENV_VAR"));
                out.put("emptyVar", System.getenv("NOT_DEFINED_VAR"));
                out.put("secret", System.getenv("OPEN_RUNTIMES_SECRET"));
                out.put("shimVars", System.getenv().keySet().stream().filter(n -> n.startsWith("SHIM_")).count());
                return res.json(out);
            }
            case "logs":
                context.log("Debug log");
                context.error("Error log");
                System.out.println("Native log");
                context.log(42);
                context.log(4.2);
                context.log(true);
                context.log(Map.of("objectKey", "objectValue"));
                context.log(List.of("arrayValue"));
                context.log("Log1", "Log2", 3, Map.of("a", 1));
                context.error("Error1", List.of("e"));
                return res.text("");
            case "longLogs":
                context.log("A".repeat(9000));
                context.error("B".repeat(9000));
                return res.text("OK");
            case "nativeLogs":
                System.out.println("Native log 1");
                System.out.println("Native log 2");
                return res.text("OK");
            case "multilineLog":
                context.log("line one\nline two");
                return res.text("OK");
            case "throwException":
                throw new RuntimeException("Code exception occurred");
            case "timeout":
                context.log("Timeout start.");
                Thread.sleep(3000);
                Files.writeString(Path.of(req.headers.get("x-marker")), "done");
                return res.text("Successful response.");
            case "concurrent":
                context.log("concurrent " + req.headers.get("x-index"));
                Thread.sleep(300);
                return res.text(req.headers.get("x-index"));
            case "deprecatedSend":
                return res.send(req.bodyRaw());
            case "deprecatedSendUntyped":
                return res.send("50");
            case "deprecatedSendBytes":
                return res.send(new byte[] {(byte) 0x89, 0x50, 0x4e, 0x47, 0x00, (byte) 0xff}, 200,
                        Map.of("content-type", "image/png"));
            case "enforcedHeaders": {
                Map<String, Object> out = new LinkedHashMap<>();
                for (String name : List.of("x-custom", "x-custom-uppercase", "x-open-runtimes-custom")) {
                    out.put(name, req.headers.get(name));
                }
                return res.json(out);
            }
            case "errorTest":
                context.log("Before error...");
                throw new RuntimeException("Error!");
            case "spreadOperatorLogs":
                context.log("engine:", "open-runtimes");
                context.error("engine:", "open-runtimes");
                return res.text("OK");
            case "requestBodyTextAuto":
                return res.text((String) req.body());
            default:
                throw new RuntimeException("Unknown action " + action);
        }
    }
}
