// The v5 image test's zig function (tests/images/v5.sh): proves the install command ran in the build folder
// before the compile (v5dep.zig, which it writes, is imported) and the v5 context API.
const std = @import("std");
const runtime = @import("runtime");
const v5dep = @import("v5dep.zig"); // made by the install command

pub fn main(context: *runtime.Context) !?runtime.RuntimeOutput {
    context.log(.{ "zig function log", .{ .n = 1 } });
    context.@"error"("zig function error line");
    std.io.getStdOut().writeAll("zig native print\n") catch {};
    const req = &context.req;
    return try context.res.json(.{
        .runtime = "zig",
        .method = req.method,
        .path = req.path,
        .query = req.query,
        .body = try req.body(),
        .built = v5dep.built,
        .dependency = v5dep.dependency,
    }, .{ .status = 201, .headers = .{ .@"x-v5-test" = "yes" } });
}
