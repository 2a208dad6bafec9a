const runtime = @import("runtime");

var count: u32 = 0; // lives as long as the runtime process

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    _ = req;
    count += 1;
    try res.json(.{ .count = count }, 200);
}
