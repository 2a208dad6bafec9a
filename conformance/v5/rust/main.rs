//! The v5 conformance function: does what the request's `x-action` header names (conformance/v5-actions.md).
use runtime::{json, Context, Json, RuntimeOutput};
use std::error::Error;
use std::time::Duration;

type Reply = Result<RuntimeOutput, Box<dyn Error>>;

fn plaintext_response(context: &mut Context) -> Reply {
    Ok(context.res.text("Hello World 👋"))
}

fn json_response(context: &mut Context) -> Reply {
    Ok(context
        .res
        .json(json!({"json": true, "message": "Developers are awesome."})))
}

fn custom_charset_response(context: &mut Context) -> Reply {
    Ok(context
        .res
        .text("ÅÆ")
        .header("content-type", "text/plain; charset=iso-8859-1"))
}

fn uppercase_charset_response(context: &mut Context) -> Reply {
    Ok(context.res.text("ÅÆ").header("content-type", "TEXT/PLAIN"))
}

fn multipart_response(context: &mut Context) -> Reply {
    let body = "--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--";
    Ok(context
        .res
        .text(body)
        .header("content-type", "multipart/form-data; boundary=12345"))
}

fn redirect_response(context: &mut Context) -> Reply {
    Ok(context.res.redirect("https://github.com/"))
}

fn empty_response(context: &mut Context) -> Reply {
    Ok(context.res.empty())
}

fn double_response(context: &mut Context) -> Reply {
    let _ = context.res.text("This should be ignored.");
    Ok(context.res.text("This should be returned."))
}

fn headers_response(context: &mut Context) -> Reply {
    let headers = &context.req.headers;
    let missing = String::from("missing");
    Ok(context
        .res
        .text("OK")
        .header("first-header", "first-value")
        .header(
            "second-header",
            headers
                .get("x-open-runtimes-custom-in-header")
                .unwrap_or(&missing),
        )
        .header("cookie", headers.get("cookie").unwrap_or(&missing))
        .header("x-open-runtimes-custom-out-header", "third-value")
        .header("Mixed-Case-Header", "mixed"))
}

fn status_response(context: &mut Context) -> Reply {
    Ok(context.res.text("FAIL").status(404))
}

fn set_cookie(context: &mut Context) -> Reply {
    Ok(context
        .res
        .text("OK")
        .header("set-cookie", "cookie=value; path=/")
        .header("set-cookie", "cookie2=value2"))
}

fn binary_response(context: &mut Context) -> Reply {
    Ok(context.res.binary([0x00, 0x0a, 0xff, 0x80, 0x00]))
}

fn binary_response_large(context: &mut Context) -> Reply {
    let bytes: Vec<u8> = (0..17825792usize).map(|i| i as u8).collect();
    Ok(context.res.binary(bytes))
}

fn request_method(context: &mut Context) -> Reply {
    Ok(context.res.text(context.req.method.as_str()))
}

fn request_url(context: &mut Context) -> Reply {
    let req = &context.req;
    Ok(context.res.json(
        json!({"url": &req.url, "scheme": &req.scheme, "host": &req.host, "port": req.port,
        "path": &req.path, "queryString": &req.query_string, "query": &req.query}),
    ))
}

fn request_headers(context: &mut Context) -> Reply {
    Ok(context.res.json(&context.req.headers))
}

fn request_body_text(context: &mut Context) -> Reply {
    Ok(context.res.text(context.req.body_text()))
}

fn request_body_raw(context: &mut Context) -> Reply {
    Ok(context.res.text(context.req.body_raw()))
}

fn request_body_json(context: &mut Context) -> Reply {
    Ok(context.res.json(context.req.body_json()?))
}

fn request_body(context: &mut Context) -> Reply {
    Ok(context.res.json(json!({"body": context.req.body()?})))
}

fn request_body_binary(context: &mut Context) -> Reply {
    Ok(context.res.binary(context.req.body_binary()))
}

fn request_body_length(context: &mut Context) -> Reply {
    Ok(context
        .res
        .json(json!({"length": context.req.body_binary().len()})))
}

fn env_vars(context: &mut Context) -> Reply {
    let shim_vars = std::env::vars_os()
        .filter(|(name, _)| name.to_string_lossy().starts_with("SHIM_"))
        .count();
    Ok(context.res.json(json!({
        "var": std::env::var("CUSTOM_ENV_VAR").ok(),
        "emptyVar": std::env::var("NOT_DEFINED_VAR").ok(),
        "secret": std::env::var("OPEN_RUNTIMES_SECRET").ok(),
        "shimVars": shim_vars,
    })))
}

fn logs(context: &mut Context) -> Reply {
    context.log("Debug log");
    context.error("Error log");
    println!("Native log");
    context.log(42);
    context.log(4.2);
    context.log(true);
    context.log(json!({"objectKey": "objectValue"}));
    context.log(json!(["arrayValue"]));
    context.log(("Log1", "Log2", 3, json!({"a": 1})));
    context.error(("Error1", json!(["e"])));
    Ok(context.res.text(""))
}

fn long_logs(context: &mut Context) -> Reply {
    context.log("A".repeat(9000));
    context.error("B".repeat(9000));
    Ok(context.res.text("OK"))
}

fn native_logs(context: &mut Context) -> Reply {
    println!("Native log 1");
    println!("Native log 2");
    Ok(context.res.text("OK"))
}

fn multiline_log(context: &mut Context) -> Reply {
    context.log("line one\nline two");
    Ok(context.res.text("OK"))
}

fn throw_exception(_context: &mut Context) -> Reply {
    panic!("Code exception occurred");
}

fn timeout(context: &mut Context) -> Reply {
    context.log("Timeout start.");
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(&context.req.headers["x-marker"], "done")?;
    Ok(context.res.text("Successful response."))
}

fn concurrent(context: &mut Context) -> Reply {
    let index = context.req.headers["x-index"].clone();
    context.log(format!("concurrent {index}"));
    std::thread::sleep(Duration::from_millis(300));
    Ok(context.res.text(index))
}

fn deprecated_send(context: &mut Context) -> Reply {
    Ok(context.res.send(context.req.body_raw()))
}

fn deprecated_send_untyped(context: &mut Context) -> Reply {
    Ok(context.res.send("50"))
}

fn deprecated_send_bytes(context: &mut Context) -> Reply {
    Ok(context
        .res
        .send([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff])
        .status(200)
        .header("content-type", "image/png"))
}

fn enforced_headers(context: &mut Context) -> Reply {
    let headers = &context.req.headers;
    Ok(context.res.json(json!({
        "x-custom": headers.get("x-custom"),
        "x-custom-uppercase": headers.get("x-custom-uppercase"),
        "x-open-runtimes-custom": headers.get("x-open-runtimes-custom"),
    })))
}

fn error_test(context: &mut Context) -> Reply {
    context.log("Before error...");
    panic!("Error!");
}

fn spread_operator_logs(context: &mut Context) -> Reply {
    context.log(("engine:", "open-runtimes"));
    context.error(("engine:", "open-runtimes"));
    Ok(context.res.text("OK"))
}

fn request_body_text_auto(context: &mut Context) -> Reply {
    let text = match context.req.body()? {
        Json::String(text) => text,
        other => other.to_string(),
    };
    Ok(context.res.text(text))
}

pub fn main(context: &mut Context) -> Result<Option<RuntimeOutput>, Box<dyn Error>> {
    let action = context
        .req
        .headers
        .get("x-action")
        .cloned()
        .unwrap_or_default();
    let run: fn(&mut Context) -> Reply = match action.as_str() {
        "plaintextResponse" => plaintext_response,
        "jsonResponse" => json_response,
        "customCharsetResponse" => custom_charset_response,
        "uppercaseCharsetResponse" => uppercase_charset_response,
        "multipartResponse" => multipart_response,
        "redirectResponse" => redirect_response,
        "emptyResponse" => empty_response,
        "noResponse" => {
            let _ = context
                .res
                .text("This should be ignored, as it is not returned.");
            return Ok(None);
        }
        "doubleResponse" => double_response,
        "headersResponse" => headers_response,
        "statusResponse" => status_response,
        "setCookie" => set_cookie,
        "binaryResponse" => binary_response,
        "binaryResponseLarge" => binary_response_large,
        "requestMethod" => request_method,
        "requestUrl" => request_url,
        "requestHeaders" => request_headers,
        "requestBodyText" => request_body_text,
        "requestBodyRaw" => request_body_raw,
        "requestBodyJson" => request_body_json,
        "requestBody" => request_body,
        "requestBodyBinary" => request_body_binary,
        "requestBodyLength" => request_body_length,
        "envVars" => env_vars,
        "logs" => logs,
        "longLogs" => long_logs,
        "nativeLogs" => native_logs,
        "multilineLog" => multiline_log,
        "throwException" => throw_exception,
        "timeout" => timeout,
        "concurrent" => concurrent,
        "deprecatedSend" => deprecated_send,
        "deprecatedSendUntyped" => deprecated_send_untyped,
        "deprecatedSendBytes" => deprecated_send_bytes,
        "enforcedHeaders" => enforced_headers,
        "errorTest" => error_test,
        "spreadOperatorLogs" => spread_operator_logs,
        "requestBodyTextAuto" => request_body_text_auto,
        _ => panic!("Unknown action {action}"),
    };
    run(context).map(Some)
}
