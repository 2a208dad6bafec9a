package cases

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	shim "runtime-shim/shim"
)

// The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
func Actions(ctx *shim.Context) (*shim.RuntimeOutput, error) {
	req, res := ctx.Req, ctx.Res
	header := func(name, otherwise string) string {
		if v, ok := req.Headers[name]; ok {
			return v
		}
		return otherwise
	}
	switch action := req.Headers["x-action"]; action {
	case "plaintextResponse":
		return res.Text("Hello World 👋"), nil
	case "jsonResponse":
		return res.JSON(map[string]any{"json": true, "message": "Developers are awesome."}), nil
	case "customCharsetResponse":
		return res.Text("ÅÆ", 200, map[string]string{"content-type": "text/plain; charset=iso-8859-1"}), nil
	case "uppercaseCharsetResponse":
		return res.Text("ÅÆ", 200, map[string]string{"content-type": "TEXT/PLAIN"}), nil
	case "multipartResponse":
		return res.Text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", 200,
			map[string]string{"content-type": "multipart/form-data; boundary=12345"}), nil
	case "redirectResponse":
		return res.Redirect("https://github.com/"), nil
	case "emptyResponse":
		return res.Empty(), nil
	case "noResponse":
		res.Text("This should be ignored, as it is not returned.")
		return nil, nil
	case "doubleResponse":
		res.Text("This should be ignored.")
		return res.Text("This should be returned."), nil
	case "headersResponse":
		return res.Text("OK", 200, map[string]string{
			"first-header":                      "first-value",
			"second-header":                     header("x-open-runtimes-custom-in-header", "missing"),
			"cookie":                            header("cookie", "missing"),
			"x-open-runtimes-custom-out-header": "third-value",
			"Mixed-Case-Header":                 "mixed",
		}), nil
	case "statusResponse":
		return res.Text("FAIL", 404), nil
	case "setCookie":
		return res.Text("OK", 200, map[string][]string{"set-cookie": {"cookie=value; path=/", "cookie2=value2"}}), nil
	case "binaryResponse":
		return res.Binary([]byte{0x00, 0x0a, 0xff, 0x80, 0x00}), nil
	case "binaryResponseLarge":
		body := make([]byte, 17825792)
		for i := range body {
			body[i] = byte(i)
		}
		return res.Binary(body), nil
	case "requestMethod":
		return res.Text(req.Method), nil
	case "requestUrl":
		return res.JSON(map[string]any{"url": req.URL, "scheme": req.Scheme, "host": req.Host, "port": req.Port,
			"path": req.Path, "queryString": req.QueryString, "query": req.Query}), nil
	case "requestHeaders":
		return res.JSON(req.Headers), nil
	case "requestBodyText":
		return res.Text(req.BodyText()), nil
	case "requestBodyRaw":
		return res.Text(req.BodyRaw()), nil
	case "requestBodyJson":
		var body json.RawMessage
		if err := req.BodyJSON(&body); err != nil {
			return nil, err
		}
		return res.JSON(body), nil
	case "requestBody":
		body, err := req.Body()
		if err != nil {
			return nil, err
		}
		return res.JSON(map[string]any{"body": body}), nil
	case "requestBodyBinary":
		return res.Binary(req.BodyBinary()), nil
	case "requestBodyLength":
		return res.JSON(map[string]any{"length": len(req.BodyBinary())}), nil
	case "envVars":
		lookup := func(name string) any {
			if v, ok := os.LookupEnv(name); ok {
				return v
			}
			return nil
		}
		shimVars := 0
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "SHIM_") {
				shimVars++
			}
		}
		return res.JSON(map[string]any{"var": lookup("CUSTOM_ENV_VAR"), "emptyVar": lookup("NOT_DEFINED_VAR"),
			"secret": lookup("OPEN_RUNTIMES_SECRET"), "shimVars": shimVars}), nil
	case "logs":
		ctx.Log("Debug log")
		ctx.Error("Error log")
		fmt.Println("Native log")
		ctx.Log(42)
		ctx.Log(4.2)
		ctx.Log(true)
		ctx.Log(map[string]string{"objectKey": "objectValue"})
		ctx.Log([]string{"arrayValue"})
		ctx.Log("Log1", "Log2", 3, map[string]int{"a": 1})
		ctx.Error("Error1", []string{"e"})
		return res.Text(""), nil
	case "longLogs":
		ctx.Log(strings.Repeat("A", 9000))
		ctx.Error(strings.Repeat("B", 9000))
		return res.Text("OK"), nil
	case "nativeLogs":
		fmt.Println("Native log 1")
		fmt.Println("Native log 2")
		return res.Text("OK"), nil
	case "multilineLog":
		ctx.Log("line one\nline two")
		return res.Text("OK"), nil
	case "throwException":
		return nil, fmt.Errorf("Code exception occurred")
	case "timeout":
		ctx.Log("Timeout start.")
		time.Sleep(3 * time.Second)
		if err := os.WriteFile(req.Headers["x-marker"], []byte("done"), 0o644); err != nil {
			return nil, err
		}
		return res.Text("Successful response."), nil
	case "concurrent":
		ctx.Log("concurrent " + req.Headers["x-index"])
		time.Sleep(300 * time.Millisecond)
		return res.Text(req.Headers["x-index"]), nil
	case "deprecatedSend":
		return res.Send(req.BodyRaw()), nil
	case "deprecatedSendUntyped":
		return res.Send("50"), nil
	case "deprecatedSendBytes":
		return res.Send([]byte{0x89, 0x50, 0x4e, 0x47, 0x00, 0xff}, 200, map[string]string{"content-type": "image/png"}), nil
	case "enforcedHeaders":
		out := map[string]any{}
		for _, name := range []string{"x-custom", "x-custom-uppercase", "x-open-runtimes-custom"} {
			if v, ok := req.Headers[name]; ok {
				out[name] = v
			} else {
				out[name] = nil
			}
		}
		return res.JSON(out), nil
	case "errorTest":
		ctx.Log("Before error...")
		return nil, fmt.Errorf("Error!")
	case "spreadOperatorLogs":
		ctx.Log("engine:", "open-runtimes")
		ctx.Error("engine:", "open-runtimes")
		return res.Text("OK"), nil
	case "requestBodyTextAuto":
		body, err := req.Body()
		if err != nil {
			return nil, err
		}
		text, _ := body.(string)
		return res.Text(text), nil
	default:
		return nil, fmt.Errorf("Unknown action %s", action)
	}
}
