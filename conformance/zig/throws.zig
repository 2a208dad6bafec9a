const runtime = @import("runtime");

fn innerHelper(res: *runtime.Response) !void {
    return res.fail("boom from user code", .{});
}

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    _ = req;
    try innerHelper(res);
    try res.send("unreachable", 200);
}
