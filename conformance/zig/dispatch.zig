//! Test-only entry file: one runtime serves every case function, picked by the base name of the request's
//! file (seed.zig -> seed.main). The conformance kit names a file per case; a real runtime has one main.
const std = @import("std");
const runtime = @import("runtime");

const cases = .{
    .{ "seed", @import("seed.zig") },       .{ "send", @import("send.zig") },
    .{ "jsonreply", @import("jsonreply.zig") }, .{ "echo", @import("echo.zig") },
    .{ "throws", @import("throws.zig") },   .{ "noisy", @import("noisy.zig") },
    .{ "slow", @import("slow.zig") },       .{ "noreply", @import("noreply.zig") },
    .{ "crash", @import("crash.zig") },     .{ "counter", @import("counter.zig") },
};

comptime {
    _ = @import("nomain.zig"); // compiled, but it has no main to dispatch to
}

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    const base = std.fs.path.basename(req.file);
    const name = base[0 .. std.mem.indexOfScalar(u8, base, '.') orelse base.len];
    inline for (cases) |case| {
        if (std.mem.eql(u8, name, case[0])) return case[1].main(req, res);
    }
    try res.notFound("{s}/{s}: this runtime has no function for that file", .{ req.path, req.file });
}
