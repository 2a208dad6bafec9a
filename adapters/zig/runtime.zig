//! runtime-shim adapter library for Zig 0.14: `serve(main)` answers the shim's requests with your
//! `pub fn main(req: *const Request, res: *Response) !void` over adapter protocol 1
//! (docs/adapter-protocol.md), persistently, one at a time. Standard library only; requests come in the
//! `json` encoding (std.json), replies are made with std.json.stringify.
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
pub fn serve(comptime main: anytype) noreturn {
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
        const returned = main(&req, &res);
        if (@typeInfo(@TypeOf(returned)) == .error_union) {
            if (returned) |_| {} else |err| failure = describe(arena, err, res.failure, @errorReturnTrace());
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
