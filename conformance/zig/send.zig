const std = @import("std");
const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    try res.send(try std.fmt.allocPrint(req.allocator, "héllo wörld ✓ {s}", .{req.payload}), 201);
}
