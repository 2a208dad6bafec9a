//! runtime-shim adapter library for Zig 0.14: `serve(main)` answers the shim's requests with your
//! `pub fn main(req: *const Request, res: *Response) !void` over adapter protocol 1 (the v1 contract), or
//! open-runtimes' `pub fn main(context: *Context) !?RuntimeOutput` over adapter protocol 2 (the v5 contract) when
//! SHIM_PROTOCOL is 2 (docs/adapter-protocol.md), persistently, one at a time. Standard library only; requests
//! come in the `json` encoding (std.json), replies are made with std.json.stringify.
const std = @import("std");
const builtin = @import("builtin");
const posix = std.posix;

/// A string map that std.json reads and writes as an object.
pub const Map = std.json.ArrayHashMap([]const u8);

/// The request as the shim sends it (the `json` encoding); unknown fields are ignored.
const Wire = struct {
    env: Map = .{},
    payload: []const u8 = "",
    headers: Map = .{},
    path: []const u8 = "",
    file: []const u8 = "",
    timeout_ms: i64 = 0,
    deadline_ms: i64 = 0,
};

/// One execution's input. `path` and `file` are what the executor named: a compiled runtime serves the same
/// function for any, so only a router (like the conformance dispatcher) looks at them. Everything here, and
/// whatever you allocate with `allocator`, is freed after the reply.
pub const Request = struct {
    env: Map = .{},
    payload: []const u8 = "",
    headers: Map = .{},
    path: []const u8 = "",
    file: []const u8 = "",
    timeout_ms: i64 = 0,
    deadline_ms: i64 = 0,
    allocator: std.mem.Allocator,

    pub fn getEnv(self: *const Request, name: []const u8) ?[]const u8 {
        return self.env.map.get(name);
    }

    pub fn getHeader(self: *const Request, name: []const u8) ?[]const u8 {
        return self.headers.map.get(name);
    }
};

/// The reply: the last `send` or `json` before `main` returns wins.
pub const Response = struct {
    allocator: std.mem.Allocator,
    kind: enum { none, text, json, not_found } = .none,
    status: u16 = 0,
    body: []const u8 = "",
    failure: []const u8 = "",

    /// `text` (copied) as text/plain; charset=utf-8. A status outside 200..599 is error.InvalidStatus.
    pub fn send(self: *Response, text: []const u8, status: u16) !void {
        try self.check(status);
        self.* = .{ .allocator = self.allocator, .kind = .text, .status = status, .body = try self.allocator.dupe(u8, text) };
    }

    /// The JSON of `value` as std.json.stringify writes it (structs are objects, tuples and slices arrays,
    /// []const u8 strings, null is null; a `Map` is an object) as application/json.
    pub fn json(self: *Response, value: anytype, status: u16) !void {
        try self.check(status);
        const text = try std.json.stringifyAlloc(self.allocator, value, .{});
        self.* = .{ .allocator = self.allocator, .kind = .json, .status = status, .body = text };
    }

    /// Answers as the shim's "not found" (404), for a function that routes on `req.file`.
    pub fn notFound(self: *Response, comptime fmt: []const u8, args: anytype) !void {
        self.* = .{ .allocator = self.allocator, .kind = .not_found, .body = try std.fmt.allocPrint(self.allocator, fmt, args) };
    }

    /// Fails the execution with a message: `return res.fail("no user {s}", .{id});` is a 500 with the message
    /// and the error return trace.
    pub fn fail(self: *Response, comptime fmt: []const u8, args: anytype) error{FunctionFailed} {
        self.failure = std.fmt.allocPrint(self.allocator, fmt, args) catch "(out of memory)";
        return error.FunctionFailed;
    }

    fn check(self: *Response, status: u16) !void {
        if (status < 200 or status > 599) {
            self.failure = std.fmt.allocPrint(self.allocator, "status must be from 200 to 599, not {d}", .{status}) catch "";
            return error.InvalidStatus;
        }
    }
};

const header_max = 256;
const F_DUPFD_CLOEXEC = 1030; // Linux, every architecture

fn fatal(comptime fmt: []const u8, args: anytype) noreturn {
    std.debug.print("zig adapter: " ++ fmt ++ "\n", args);
    std.process.exit(2);
}

/// "REQ <id> <N>\n" and the body into `arena`; null on EOF between frames.
fn readRequest(reader: anytype, arena: std.mem.Allocator, id: *[64]u8) ?struct { []const u8, []u8 } {
    var line: [header_max]u8 = undefined;
    var n: usize = 0;
    while (true) : (n += 1) {
        const c = reader.readByte() catch {
            if (n == 0) return null;
            fatal("input ended inside a request header", .{});
        };
        if (c == '\n') break;
        if (n == header_max - 1) fatal("a request header is longer than {d} bytes", .{header_max});
        line[n] = c;
    }
    var tokens = std.mem.splitScalar(u8, line[0..n], ' ');
    const kind = tokens.first();
    const rid = tokens.next() orelse "";
    var size: []const u8 = "";
    while (tokens.next()) |t| size = t; // the last token is the length
    const id_ok = rid.len > 0 and rid.len <= 64 and for (rid) |c| {
        if (!std.ascii.isAlphanumeric(c) and c != '.' and c != '_' and c != '-') break false;
    } else true;
    const digits = size.len > 0 and size.len < 16 and (size.len == 1 or size[0] != '0') and for (size) |c| {
        if (!std.ascii.isDigit(c)) break false;
    } else true;
    const len = if (digits) std.fmt.parseUnsigned(usize, size, 10) catch null else null;
    if (!std.mem.eql(u8, kind, "REQ") or !id_ok or len == null) {
        fatal("bad request header: {s}", .{line[0..n]});
    }
    const body = arena.alloc(u8, len.?) catch fatal("out of memory", .{});
    reader.readNoEof(body) catch fatal("input ended inside a request body", .{});
    @memcpy(id[0..rid.len], rid);
    return .{ id[0..rid.len], body };
}

fn writeFrame(out: std.fs.File, head: []const u8, body: []const u8) void {
    var line: [header_max]u8 = undefined;
    const text = std.fmt.bufPrint(&line, "{s} {d}\n", .{ head, body.len }) catch unreachable;
    out.writeAll(text) catch fatal("cannot write to the shim", .{});
    out.writeAll(body) catch fatal("cannot write to the shim", .{});
}

/// The error, the message given to `res.fail`, and the error return trace (file:line from debug info).
fn describe(arena: std.mem.Allocator, err: anyerror, message: []const u8, trace: ?*std.builtin.StackTrace) []const u8 {
    var out = std.ArrayList(u8).init(arena);
    const w = out.writer();
    w.print("error.{s}", .{@errorName(err)}) catch {};
    if (message.len > 0) w.print(": {s}", .{message}) catch {};
    if (trace) |t| if (std.debug.getSelfDebugInfo()) |info| {
        w.writeByte('\n') catch {};
        std.debug.writeStackTrace(t.*, w, info, .no_color) catch {};
    } else |_| {};
    return out.items;
}

/// Serves `main` until the shim closes stdin. The runtime's build script writes the program that calls it.
/// `main` takes `(*const Request, *Response)` (v1) or `(*Context)` (v5); the shim says which contract it speaks
/// (SHIM_PROTOCOL), and a main of the other kind answers every request with an error that says so.
pub fn serve(comptime main: anytype) noreturn {
    const v5 = comptime @typeInfo(@TypeOf(main)).@"fn".params[0].type.? == *Context;
    // The protocol owns fds 0 and 1: keep private copies (closed in children), then point fd 1 at stderr and
    // fd 0 at /dev/null, so prints, C code and child processes can neither write nor read a frame.
    const in_fd = posix.fcntl(0, F_DUPFD_CLOEXEC, 3) catch fatal("cannot copy fd 0", .{});
    const out_fd = posix.fcntl(1, F_DUPFD_CLOEXEC, 3) catch fatal("cannot copy fd 1", .{});
    const null_fd = posix.open("/dev/null", .{ .ACCMODE = .RDONLY }, 0) catch fatal("cannot open /dev/null", .{});
    posix.dup2(2, 1) catch fatal("cannot point fd 1 at stderr", .{});
    posix.dup2(null_fd, 0) catch fatal("cannot point fd 0 at /dev/null", .{});
    posix.close(null_fd);
    const out = std.fs.File{ .handle = @intCast(out_fd) };
    var buffered = std.io.bufferedReader((std.fs.File{ .handle = @intCast(in_fd) }).reader());
    const reader = buffered.reader();
    if (posix.getenv("SHIM_PROTOCOL")) |p| if (std.mem.eql(u8, p, "2")) serve2(if (v5) main else null, out, reader);

    writeFrame(out, "READY 1 json", "zig " ++ builtin.zig_version_string);
    var arena_state = std.heap.ArenaAllocator.init(std.heap.page_allocator);
    var id_buf: [64]u8 = undefined;
    var head_buf: [header_max]u8 = undefined;
    while (true) {
        _ = arena_state.reset(.retain_capacity);
        const arena = arena_state.allocator();
        const id, const body = readRequest(reader, arena, &id_buf) orelse std.process.exit(0);
        const w = std.json.parseFromSliceLeaky(Wire, arena, body, .{ .ignore_unknown_fields = true }) catch |e|
            fatal("bad request body: {s}", .{@errorName(e)});
        const req = Request{ .env = w.env, .payload = w.payload, .headers = w.headers, .path = w.path, .file = w.file, .timeout_ms = w.timeout_ms, .deadline_ms = w.deadline_ms, .allocator = arena };
        var res = Response{ .allocator = arena };
        var failure: ?[]const u8 = null;
        if (v5) {
            res.notFound("main is pub fn main(context: *runtime.Context) !?runtime.RuntimeOutput, the v5 API; the v1 contract " ++
                "calls pub fn main(req: *const runtime.Request, res: *runtime.Response) !void", .{}) catch {};
        } else {
            const returned = main(&req, &res);
            if (@typeInfo(@TypeOf(returned)) == .error_union) {
                if (returned) |_| {} else |err| failure = describe(arena, err, res.failure, @errorReturnTrace());
            }
        }
        const head = if (failure != null or res.kind == .none)
            std.fmt.bufPrint(&head_buf, "ERR {s} 500", .{id}) catch unreachable
        else if (res.kind == .not_found)
            std.fmt.bufPrint(&head_buf, "ERR {s} 404", .{id}) catch unreachable
        else
            std.fmt.bufPrint(&head_buf, "RES {s} {d} {s}", .{ id, res.status, @tagName(res.kind) }) catch unreachable;
        const reply = failure orelse if (res.kind == .none) "main(req, res) returned without calling res.send() or res.json()" else res.body;
        writeFrame(out, head, reply);
    }
}

// ---- Protocol 2: open-runtimes' v5 API, `main(context)`. The shim has computed everything `context.req` shows
// and applies the contract's rules to the reply (header names and filtering, content-type and charset, log
// truncation, log files); here the context is built and bytes move.

/// The request's metadata as the shim sends it (the `json` encoding); unknown fields are ignored.
const Wire2 = struct {
    method: []const u8 = "",
    scheme: []const u8 = "",
    host: []const u8 = "",
    port: u16 = 0,
    path: []const u8 = "",
    query_string: []const u8 = "",
    query: Map = .{},
    url: []const u8 = "",
    headers: Map = .{},
    json_body: bool = false,
    timeout_ms: i64 = 0,
    deadline_ms: i64 = 0,
};

/// `context.req`: the request as the shim computed it, and its raw body. Everything is freed after the reply.
pub const RuntimeRequest = struct {
    method: []const u8,
    scheme: []const u8,
    host: []const u8,
    port: u16,
    path: []const u8,
    query_string: []const u8,
    query: Map,
    url: []const u8,
    /// Names lower-cased; a name sent several times has its values joined with ", ".
    headers: Map,
    timeout_ms: i64,
    deadline_ms: i64,
    json_body: bool,
    raw: []const u8,
    context: *Context,

    pub fn getHeader(self: *const RuntimeRequest, name: []const u8) ?[]const u8 {
        return self.headers.map.get(name);
    }

    pub fn getQuery(self: *const RuntimeRequest, name: []const u8) ?[]const u8 {
        return self.query.map.get(name);
    }

    /// The body as it came.
    pub fn bodyBinary(self: *const RuntimeRequest) []const u8 {
        return self.raw;
    }

    /// The body as text (the same bytes: Zig strings are bytes).
    pub fn bodyText(self: *const RuntimeRequest) []const u8 {
        return self.raw;
    }

    /// `bodyText` (open-runtimes' older name).
    pub fn bodyRaw(self: *const RuntimeRequest) []const u8 {
        return self.raw;
    }

    /// The body parsed as a `std.json.Value` (objects keep their key order; numbers stay as they were written,
    /// `.number_string`). Invalid or empty JSON is an error whose message says so.
    pub fn bodyJson(self: *const RuntimeRequest) !std.json.Value {
        return std.json.parseFromSliceLeaky(std.json.Value, self.context.allocator, self.raw, .{ .parse_numbers = false }) catch |e|
            return self.context.fail("the request body is not valid JSON: {s}", .{@errorName(e)}) catch e;
    }

    /// `bodyJson()` when the content-type is application/json (an empty object for an empty body), else the
    /// text as a `.string` value.
    pub fn body(self: *const RuntimeRequest) !std.json.Value {
        if (!self.json_body) return .{ .string = self.raw };
        if (self.raw.len == 0) return .{ .object = std.json.ObjectMap.init(self.context.allocator) };
        return self.bodyJson();
    }
};

/// One header line of a reply.
pub const Header = struct { name: []const u8, value: []const u8 };

/// A reply, as `main` returns it.
pub const RuntimeOutput = struct {
    body: []const u8 = "",
    status_code: u16 = 200,
    headers: []const Header = &.{},
};

/// `context.res`: the reply helpers. `options` is `.{}`, or has `.status` (200..599; another is
/// error.InvalidStatus) and `.headers`: a struct (`.{ .@"content-type" = "text/html" }`) whose values are
/// strings, or tuples or slices of strings for a header sent once per value, or a `[]const Header`.
pub const RuntimeResponse = struct {
    context: *Context,

    /// Text (copied); content-type is the shim's default (text/plain) unless the headers give one.
    pub fn text(self: RuntimeResponse, body: []const u8, options: anytype) !RuntimeOutput {
        return self.output(try self.context.allocator.dupe(u8, body), 200, options, null);
    }

    /// The JSON of `value` as std.json.stringify writes it, content-type application/json.
    pub fn json(self: RuntimeResponse, value: anytype, options: anytype) !RuntimeOutput {
        const body = try std.json.stringifyAlloc(self.context.allocator, value, .{});
        return self.output(body, 200, options, .{ .name = "content-type", .value = "application/json" });
    }

    /// Bytes as they are (copied).
    pub fn binary(self: RuntimeResponse, bytes: []const u8, options: anytype) !RuntimeOutput {
        return self.output(try self.context.allocator.dupe(u8, bytes), 200, options, null);
    }

    /// 204, no body.
    pub fn empty(self: RuntimeResponse) RuntimeOutput {
        _ = self;
        return .{ .status_code = 204 };
    }

    /// An empty reply with location: url, 301 unless `.status` says otherwise.
    pub fn redirect(self: RuntimeResponse, url: []const u8, options: anytype) !RuntimeOutput {
        return self.output("", 301, options, .{ .name = "location", .value = try self.context.allocator.dupe(u8, url) });
    }

    /// Bytes or text as given (open-runtimes' older helper).
    pub fn send(self: RuntimeResponse, body: []const u8, options: anytype) !RuntimeOutput {
        return self.binary(body, options);
    }

    fn output(self: RuntimeResponse, body: []const u8, default_status: u16, options: anytype, own: ?Header) !RuntimeOutput {
        const O = @TypeOf(options);
        const status: u16 = if (@hasField(O, "status")) options.status else default_status;
        if (status < 200 or status > 599) {
            return self.context.fail("status must be from 200 to 599, not {d}", .{status}) catch error.InvalidStatus;
        }
        var headers = std.ArrayList(Header).init(self.context.allocator);
        if (@hasField(O, "headers")) {
            const H = @TypeOf(options.headers);
            if (H == []const Header or H == []Header) {
                for (options.headers) |h| if (own == null or !std.ascii.eqlIgnoreCase(h.name, own.?.name)) try headers.append(h);
            } else inline for (@typeInfo(H).@"struct".fields) |f| {
                if (own == null or !std.ascii.eqlIgnoreCase(f.name, own.?.name)) { // the helper's own wins
                    const value = @field(options.headers, f.name);
                    if (comptime isString(@TypeOf(value))) {
                        try headers.append(.{ .name = f.name, .value = value });
                    } else if (comptime @typeInfo(@TypeOf(value)) == .@"struct") { // a tuple
                        inline for (value) |one| try headers.append(.{ .name = f.name, .value = one });
                    } else for (value) |one| try headers.append(.{ .name = f.name, .value = one });
                }
            }
        }
        if (own) |h| try headers.append(h);
        return .{ .body = body, .status_code = status, .headers = headers.items };
    }
};

fn isString(comptime T: type) bool {
    return switch (@typeInfo(T)) {
        .pointer => |p| switch (p.size) {
            .slice => p.child == u8,
            .one => switch (@typeInfo(p.child)) {
                .array => |a| a.child == u8,
                else => false,
            },
            else => false,
        },
        else => false,
    };
}

/// One v5 execution: the request, the reply helpers, the execution's log, and an arena freed after the reply.
pub const Context = struct {
    req: RuntimeRequest,
    res: RuntimeResponse,
    allocator: std.mem.Allocator,
    id: []const u8,
    failure: []const u8 = "",

    /// One line of the logs file. `values` is one value or a tuple of them (`.{ "a", 42 }`): joined by one
    /// space, strings as they are, other values as JSON (std.json.stringify; a float at the top as `{d}`).
    pub fn log(self: *Context, values: anytype) void {
        self.writeLog("log", values);
    }

    /// One line of the errors file, as `log`.
    pub fn @"error"(self: *Context, values: anytype) void {
        self.writeLog("error", values);
    }

    /// `context.@"error"` by a name that needs no quoting.
    pub fn logError(self: *Context, values: anytype) void {
        self.writeLog("error", values);
    }

    /// Fails the execution with a message: `return context.fail("no user {s}", .{id});` is a 500 with the
    /// message and the error return trace.
    pub fn fail(self: *Context, comptime fmt: []const u8, args: anytype) error{FunctionFailed} {
        self.failure = std.fmt.allocPrint(self.allocator, fmt, args) catch "(out of memory)";
        return error.FunctionFailed;
    }

    /// For a function that cannot run at all (its setup failed): `return context.loadFailure(…)` is a 503 with
    /// the message in the errors log, as for an entry file that fails to load.
    pub fn loadFailure(self: *Context, comptime fmt: []const u8, args: anytype) error{LoadFailed} {
        self.failure = std.fmt.allocPrint(self.allocator, fmt, args) catch "(out of memory)";
        return error.LoadFailed;
    }

    fn writeLog(self: *Context, stream: []const u8, values: anytype) void {
        var line = std.ArrayList(u8).init(self.allocator);
        const T = @TypeOf(values);
        const info = @typeInfo(T);
        if (info == .@"struct" and info.@"struct".is_tuple) {
            inline for (info.@"struct".fields, 0..) |f, i| {
                if (i > 0) line.append(' ') catch {};
                logPiece(line.writer(), @field(values, f.name));
            }
        } else logPiece(line.writer(), values);
        const text = line.items[0..@min(line.items.len, log_line_max)];
        frames.lock();
        defer frames.unlock();
        if (serving != null and std.mem.eql(u8, serving.?, self.id)) {
            var head: [header_max]u8 = undefined;
            writeFrame(proto, std.fmt.bufPrint(&head, "LOG {s} {s}", .{ self.id, stream }) catch unreachable, text);
        } else std.debug.print("{s}\n", .{text}); // its execution has ended: native output instead
    }
};

fn logPiece(w: anytype, value: anytype) void {
    const T = @TypeOf(value);
    if (comptime isString(T)) {
        w.writeAll(value) catch {};
    } else switch (@typeInfo(T)) {
        .float, .comptime_float => w.print("{d}", .{value}) catch {},
        else => std.json.stringify(value, .{}, w) catch {},
    }
}

const log_line_max = 1 << 16; // bytes per LOG frame: far past the shim's 8000-character cut
var frames: std.Thread.Mutex = .{}; // whole frames, whatever thread writes
var proto: std.fs.File = undefined;
var serving: ?[]const u8 = null; // the request being served, null between requests
var entry_name: []const u8 = "";

/// The entry file the shim names under v5 (SHIM_ENTRYPOINT, from OPEN_RUNTIMES_ENTRYPOINT), which `serve`
/// removes from the environment with the shim's other settings. A runtime is built from one entry file and
/// serves it whatever this says; a router (like the conformance dispatcher) may look at it.
pub fn entrypoint() []const u8 {
    return entry_name;
}

/// The function's variables are the process environment: the shim's own settings (SHIM_*) are taken out of it
/// (the program has no libc: std.os.environ is the environment, also for child processes).
fn hideShimSettings() void {
    var kept: usize = 0;
    for (std.os.environ) |entry| {
        if (!std.mem.startsWith(u8, std.mem.span(entry), "SHIM_")) {
            std.os.environ[kept] = entry;
            kept += 1;
        }
    }
    const raw: [*]?[*:0]u8 = @ptrCast(std.os.environ.ptr);
    raw[kept] = null; // the block stays null-terminated for a child's execve
    std.os.environ = std.os.environ[0..kept];
}

fn serve2(comptime main: anytype, out: std.fs.File, reader: anytype) noreturn {
    proto = out;
    entry_name = posix.getenv("SHIM_ENTRYPOINT") orelse "";
    hideShimSettings();
    writeFrame(out, "READY 2 json", "zig " ++ builtin.zig_version_string);
    var arena_state = std.heap.ArenaAllocator.init(std.heap.page_allocator);
    var id_buf: [64]u8 = undefined;
    var head_buf: [header_max]u8 = undefined;
    while (true) {
        _ = arena_state.reset(.retain_capacity);
        const arena = arena_state.allocator();
        const id, const all, const m = readRequest2(reader, arena, &id_buf) orelse std.process.exit(0);
        const w = std.json.parseFromSliceLeaky(Wire2, arena, all[0..m], .{ .ignore_unknown_fields = true }) catch |e|
            fatal("bad request metadata: {s}", .{@errorName(e)});
        var context = Context{ .req = undefined, .res = undefined, .allocator = arena, .id = id };
        context.req = .{ .method = w.method, .scheme = w.scheme, .host = w.host, .port = w.port, .path = w.path, .query_string = w.query_string, .query = w.query, .url = w.url, .headers = w.headers, .timeout_ms = w.timeout_ms, .deadline_ms = w.deadline_ms, .json_body = w.json_body, .raw = all[m..], .context = &context };
        context.res = .{ .context = &context };
        var head: []const u8 = undefined;
        var meta: []const u8 = "";
        var body: []const u8 = "";
        frames.lock();
        serving = id;
        frames.unlock();
        if (@TypeOf(main) == @TypeOf(null)) {
            head = std.fmt.bufPrint(&head_buf, "ERR {s} 503", .{id}) catch unreachable;
            body = "Function signature invalid. Did you forget to export a 'main' function? (main is the v1 " ++
                "pub fn main(req: *const runtime.Request, res: *runtime.Response) !void; the v5 contract calls " ++
                "pub fn main(context: *runtime.Context) !?runtime.RuntimeOutput)";
        } else {
            var result: ?RuntimeOutput = null;
            var failure: ?anyerror = null;
            const returned = main(&context);
            if (@typeInfo(@TypeOf(returned)) == .error_union) {
                if (returned) |r| result = r else |err| failure = err;
            } else result = returned;
            if (failure) |err| {
                if (err == error.LoadFailed) {
                    head = std.fmt.bufPrint(&head_buf, "ERR {s} 503", .{id}) catch unreachable;
                    body = context.failure;
                } else {
                    head = std.fmt.bufPrint(&head_buf, "ERR {s} 500", .{id}) catch unreachable;
                    // Release builds inline the function's frames, so the trace may not name its file: the
                    // message does.
                    const message = std.fmt.allocPrint(arena, "{s}{s}(returned by main(context) of {s})", .{
                        context.failure, if (context.failure.len > 0) " " else "", entry_name,
                    }) catch context.failure;
                    body = describe(arena, err, message, @errorReturnTrace());
                }
            } else if (result) |r| {
                var pairs = std.ArrayList([2][]const u8).init(arena);
                for (r.headers) |h| pairs.append(.{ h.name, h.value }) catch fatal("out of memory", .{});
                meta = std.json.stringifyAlloc(arena, pairs.items, .{}) catch fatal("out of memory", .{});
                head = std.fmt.bufPrint(&head_buf, "RES {s} {d} {d}", .{ id, r.status_code, meta.len }) catch unreachable;
                body = r.body;
            } else head = std.fmt.bufPrint(&head_buf, "NONE {s}", .{id}) catch unreachable;
        }
        frames.lock();
        serving = null; // a log call from now on has no request: it goes to stderr
        writeFrame2(out, head, meta, body);
        frames.unlock();
    }
}

/// "REQ <id> <M> <N>\n" and the N bytes into `arena`; null on EOF between frames. Returns the id, the N bytes
/// (metadata, then raw body) and M.
fn readRequest2(reader: anytype, arena: std.mem.Allocator, id: *[64]u8) ?struct { []const u8, []u8, usize } {
    var line: [header_max]u8 = undefined;
    var n: usize = 0;
    while (true) : (n += 1) {
        const c = reader.readByte() catch {
            if (n == 0) return null;
            fatal("input ended inside a request header", .{});
        };
        if (c == '\n') break;
        if (n == header_max - 1) fatal("a request header is longer than {d} bytes", .{header_max});
        line[n] = c;
    }
    var tokens = std.mem.splitScalar(u8, line[0..n], ' ');
    const kind = tokens.first();
    const rid = tokens.next() orelse "";
    const meta = number(tokens.next() orelse "");
    const size = number(tokens.next() orelse "");
    const id_ok = rid.len > 0 and rid.len <= 64 and for (rid) |c| {
        if (!std.ascii.isAlphanumeric(c) and c != '.' and c != '_' and c != '-') break false;
    } else true;
    if (!std.mem.eql(u8, kind, "REQ") or !id_ok or meta == null or size == null or meta.? > size.? or tokens.next() != null) {
        fatal("bad request header: {s}", .{line[0..n]});
    }
    const all = arena.alloc(u8, size.?) catch fatal("out of memory", .{});
    reader.readNoEof(all) catch fatal("input ended inside a request body", .{});
    @memcpy(id[0..rid.len], rid);
    return .{ id[0..rid.len], all, meta.? };
}

fn number(text: []const u8) ?usize {
    const digits = text.len > 0 and text.len < 16 and (text.len == 1 or text[0] != '0') and for (text) |c| {
        if (!std.ascii.isDigit(c)) break false;
    } else true;
    return if (digits) std.fmt.parseUnsigned(usize, text, 10) catch null else null;
}

fn writeFrame2(out: std.fs.File, head: []const u8, meta: []const u8, body: []const u8) void {
    var line: [header_max]u8 = undefined;
    const text = std.fmt.bufPrint(&line, "{s} {d}\n", .{ head, meta.len + body.len }) catch unreachable;
    out.writeAll(text) catch fatal("cannot write to the shim", .{});
    out.writeAll(meta) catch fatal("cannot write to the shim", .{});
    out.writeAll(body) catch fatal("cannot write to the shim", .{});
}
