using Runtime;

// The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
class Actions
{
    public async Task<RuntimeOutput> Main(Context context)
    {
        var req = context.Req;
        var res = context.Res;
        req.Headers.TryGetValue("x-action", out var action);
        string Header(string name, string otherwise) => req.Headers.TryGetValue(name, out var v) ? v : otherwise;
        switch (action)
        {
            case "plaintextResponse":
                return res.Text("Hello World 👋");
            case "jsonResponse":
                return res.Json(new Dictionary<string, object> { ["json"] = true, ["message"] = "Developers are awesome." });
            case "customCharsetResponse":
                return res.Text("ÅÆ", 200, new Dictionary<string, string> { ["content-type"] = "text/plain; charset=iso-8859-1" });
            case "uppercaseCharsetResponse":
                return res.Text("ÅÆ", 200, new Dictionary<string, string> { ["content-type"] = "TEXT/PLAIN" });
            case "multipartResponse":
                return res.Text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
                    new Dictionary<string, string> { ["content-type"] = "multipart/form-data; boundary=12345" });
            case "redirectResponse":
                return res.Redirect("https://github.com/");
            case "emptyResponse":
                return res.Empty();
            case "noResponse":
                res.Text("This should be ignored, as it is not returned.");
                return null;
            case "doubleResponse":
                res.Text("This should be ignored.");
                return res.Text("This should be returned.");
            case "headersResponse":
                return res.Text("OK", 200, new Dictionary<string, string>
                {
                    ["first-header"] = "first-value",
                    ["second-header"] = Header("x-open-runtimes-custom-in-header", "missing"),
                    ["cookie"] = Header("cookie", "missing"),
                    ["x-open-runtimes-custom-out-header"] = "third-value",
                    ["Mixed-Case-Header"] = "mixed",
                });
            case "statusResponse":
                return res.Text("FAIL", 404);
            case "setCookie":
                return res.Text("OK", 200, new Dictionary<string, string[]> { ["set-cookie"] = new[] { "cookie=value; path=/", "cookie2=value2" } });
            case "binaryResponse":
                return res.Binary(new byte[] { 0x00, 0x0a, 0xff, 0x80, 0x00 });
            case "binaryResponseLarge":
            {
                var body = new byte[17825792];
                for (var i = 0; i < body.Length; i++) body[i] = (byte)i;
                return res.Binary(body);
            }
            case "requestMethod":
                return res.Text(req.Method);
            case "requestUrl":
                return res.Json(new Dictionary<string, object>
                {
                    ["url"] = req.Url, ["scheme"] = req.Scheme, ["host"] = req.Host, ["port"] = req.Port, ["path"] = req.Path,
                    ["queryString"] = req.QueryString, ["query"] = req.Query,
                });
            case "requestHeaders":
                return res.Json(req.Headers);
            case "requestBodyText":
                return res.Text(req.BodyText);
            case "requestBodyRaw":
                return res.Text(req.BodyRaw);
            case "requestBodyJson":
                return res.Json(req.BodyJson);
            case "requestBody":
                return res.Json(new Dictionary<string, object> { ["body"] = req.Body });
            case "requestBodyBinary":
                return res.Binary(req.BodyBinary);
            case "requestBodyLength":
                return res.Json(new Dictionary<string, object> { ["length"] = req.BodyBinary.Length });
            case "envVars":
                return res.Json(new Dictionary<string, object>
                {
                    ["var"] = Environment.GetEnvironmentVariable("CUSTOM_ENV_VAR"),
                    ["emptyVar"] = Environment.GetEnvironmentVariable("NOT_DEFINED_VAR"),
                    ["secret"] = Environment.GetEnvironmentVariable("OPEN_RUNTIMES_SECRET"),
                    ["shimVars"] = Environment.GetEnvironmentVariables().Keys.Cast<string>().Count(n => n.StartsWith("SHIM_")),
                });
            case "logs":
                context.Log("Debug log");
                context.Error("Error log");
                Console.WriteLine("Native log");
                context.Log(42);
                context.Log(4.2);
                context.Log(true);
                context.Log(new Dictionary<string, string> { ["objectKey"] = "objectValue" });
                context.Log(new List<string> { "arrayValue" });
                context.Log("Log1", "Log2", 3, new { a = 1 });
                context.Error("Error1", new List<string> { "e" });
                return res.Text("");
            case "longLogs":
                context.Log(new string('A', 9000));
                context.Error(new string('B', 9000));
                return res.Text("OK");
            case "nativeLogs":
                Console.WriteLine("Native log 1");
                Console.WriteLine("Native log 2");
                return res.Text("OK");
            case "multilineLog":
                context.Log("line one\nline two");
                return res.Text("OK");
            case "throwException":
                throw new Exception("Code exception occurred");
            case "timeout":
                context.Log("Timeout start.");
                await Task.Delay(3000);
                await File.WriteAllTextAsync(req.Headers["x-marker"], "done");
                return res.Text("Successful response.");
            case "concurrent":
                context.Log("concurrent " + req.Headers["x-index"]);
                await Task.Delay(300);
                return res.Text(req.Headers["x-index"]);
            case "deprecatedSend":
                return res.Send(req.BodyRaw);
            case "deprecatedSendUntyped":
                return res.Send("50");
            case "deprecatedSendBytes":
                return res.Send(new byte[] { 0x89, 0x50, 0x4e, 0x47, 0x00, 0xff }, 200,
                    new Dictionary<string, string> { ["content-type"] = "image/png" });
            case "enforcedHeaders":
                return res.Json(new[] { "x-custom", "x-custom-uppercase", "x-open-runtimes-custom" }
                    .ToDictionary(name => name, name => Header(name, null)));
            case "errorTest":
                context.Log("Before error...");
                throw new Exception("Error!");
            case "spreadOperatorLogs":
                context.Log("engine:", "open-runtimes");
                context.Error("engine:", "open-runtimes");
                return res.Text("OK");
            case "requestBodyTextAuto":
                return res.Text((string)req.Body);
            default:
                throw new Exception($"Unknown action {action}");
        }
    }
}
