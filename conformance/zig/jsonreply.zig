const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    try res.json(.{
        .nested = .{ .list = .{ 1, 2.5, "three", true, null }, .unicode = "✓" },
        .payload = req.payload,
    }, 202);
}
