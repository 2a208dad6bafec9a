//! The v5 conformance function: does what the request's x-action header names (conformance/v5-actions.md).
const std = @import("std");
const runtime = @import("runtime");

pub fn main(context: *runtime.Context) !?runtime.RuntimeOutput {
    const req = &context.req;
    const res = context.res;
    const action = req.getHeader("x-action") orelse "";
    const is = struct {
        fn is(a: []const u8, b: []const u8) bool {
            return std.mem.eql(u8, a, b);
        }
    }.is;
    if (is(action, "plaintextResponse")) return try res.text("Hello World 👋", .{});
    if (is(action, "jsonResponse")) return try res.json(.{ .json = true, .message = "Developers are awesome." }, .{});
    if (is(action, "customCharsetResponse"))
        return try res.text("ÅÆ", .{ .status = 200, .headers = .{ .@"content-type" = "text/plain; charset=iso-8859-1" } });
    if (is(action, "uppercaseCharsetResponse"))
        return try res.text("ÅÆ", .{ .status = 200, .headers = .{ .@"content-type" = "TEXT/PLAIN" } });
    if (is(action, "multipartResponse"))
        return try res.text("--12345\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--12345--", .{
            .status = 200,
            .headers = .{ .@"content-type" = "multipart/form-data; boundary=12345" },
        });
    if (is(action, "redirectResponse")) return try res.redirect("https://github.com/", .{});
    if (is(action, "emptyResponse")) return res.empty();
    if (is(action, "noResponse")) {
        _ = try res.text("This should be ignored, as it is not returned.", .{});
        return null;
    }
    if (is(action, "doubleResponse")) {
        _ = try res.text("This should be ignored.", .{});
        return try res.text("This should be returned.", .{});
    }
    if (is(action, "headersResponse")) return try res.text("OK", .{ .status = 200, .headers = .{
        .@"first-header" = "first-value",
        .@"second-header" = req.getHeader("x-open-runtimes-custom-in-header") orelse "missing",
        .cookie = req.getHeader("cookie") orelse "missing",
        .@"x-open-runtimes-custom-out-header" = "third-value",
        .@"Mixed-Case-Header" = "mixed",
    } });
    if (is(action, "statusResponse")) return try res.text("FAIL", .{ .status = 404 });
    if (is(action, "setCookie"))
        return try res.text("OK", .{ .status = 200, .headers = .{ .@"set-cookie" = .{ "cookie=value; path=/", "cookie2=value2" } } });
    if (is(action, "binaryResponse")) return try res.binary(&.{ 0x00, 0x0a, 0xff, 0x80, 0x00 }, .{});
    if (is(action, "binaryResponseLarge")) {
        const body = try context.allocator.alloc(u8, 17825792);
        for (body, 0..) |*b, i| b.* = @truncate(i);
        return try res.binary(body, .{});
    }
    if (is(action, "requestMethod")) return try res.text(req.method, .{});
    if (is(action, "requestUrl")) return try res.json(.{
        .url = req.url,
        .scheme = req.scheme,
        .host = req.host,
        .port = req.port,
        .path = req.path,
        .queryString = req.query_string,
        .query = req.query,
    }, .{});
    if (is(action, "requestHeaders")) return try res.json(req.headers, .{});
    if (is(action, "requestBodyText")) return try res.text(req.bodyText(), .{});
    if (is(action, "requestBodyRaw")) return try res.text(req.bodyRaw(), .{});
    if (is(action, "requestBodyJson")) return try res.json(try req.bodyJson(), .{});
    if (is(action, "requestBody")) return try res.json(.{ .body = try req.body() }, .{});
    if (is(action, "requestBodyBinary")) return try res.binary(req.bodyBinary(), .{});
    if (is(action, "requestBodyLength")) return try res.json(.{ .length = req.bodyBinary().len }, .{});
    if (is(action, "envVars")) {
        var shim_vars: usize = 0;
        for (std.os.environ) |entry| {
            if (std.mem.startsWith(u8, std.mem.span(entry), "SHIM_")) shim_vars += 1;
        }
        return try res.json(.{
            .@"var" = std.posix.getenv("CUSTOM_ENV_VAR"),
            .emptyVar = std.posix.getenv("NOT_DEFINED_VAR"),
            .secret = std.posix.getenv("OPEN_RUNTIMES_SECRET"),
            .shimVars = shim_vars,
        }, .{});
    }
    if (is(action, "logs")) {
        context.log("Debug log");
        context.@"error"("Error log");
        std.io.getStdOut().writeAll("Native log\n") catch {};
        context.log(42);
        context.log(4.2);
        context.log(true);
        context.log(.{ .objectKey = "objectValue" });
        context.log(.{[_][]const u8{"arrayValue"}});
        context.log(.{ "Log1", "Log2", 3, .{ .a = 1 } });
        context.@"error"(.{ "Error1", [_][]const u8{"e"} });
        return try res.text("", .{});
    }
    if (is(action, "longLogs")) {
        context.log("A" ** 9000);
        context.@"error"("B" ** 9000);
        return try res.text("OK", .{});
    }
    if (is(action, "nativeLogs")) {
        std.io.getStdOut().writeAll("Native log 1\nNative log 2\n") catch {};
        return try res.text("OK", .{});
    }
    if (is(action, "multilineLog")) {
        context.log("line one\nline two");
        return try res.text("OK", .{});
    }
    if (is(action, "throwException")) return context.fail("Code exception occurred", .{});
    if (is(action, "timeout")) {
        context.log("Timeout start.");
        std.time.sleep(3 * std.time.ns_per_s);
        const marker = try std.fs.cwd().createFile(req.getHeader("x-marker") orelse "", .{});
        marker.close();
        return try res.text("Successful response.", .{});
    }
    if (is(action, "concurrent")) {
        const index = req.getHeader("x-index") orelse "";
        context.log(.{ "concurrent", index });
        std.time.sleep(300 * std.time.ns_per_ms);
        return try res.text(index, .{});
    }
    if (is(action, "deprecatedSend")) return try res.send(req.bodyRaw(), .{});
    if (is(action, "deprecatedSendUntyped")) return try res.send("50", .{});
    if (is(action, "deprecatedSendBytes"))
        return try res.send(&.{ 0x89, 0x50, 0x4e, 0x47, 0x00, 0xff }, .{ .status = 200, .headers = .{ .@"content-type" = "image/png" } });
    if (is(action, "enforcedHeaders")) return try res.json(.{
        .@"x-custom" = req.getHeader("x-custom"),
        .@"x-custom-uppercase" = req.getHeader("x-custom-uppercase"),
        .@"x-open-runtimes-custom" = req.getHeader("x-open-runtimes-custom"),
    }, .{});
    if (is(action, "errorTest")) {
        context.log("Before error...");
        return context.fail("Error!", .{});
    }
    if (is(action, "spreadOperatorLogs")) {
        context.log(.{ "engine:", "open-runtimes" });
        context.@"error"(.{ "engine:", "open-runtimes" });
        return try res.text("OK", .{});
    }
    if (is(action, "requestBodyTextAuto")) return try res.text((try req.body()).string, .{});
    return context.fail("Unknown action {s}", .{action});
}
