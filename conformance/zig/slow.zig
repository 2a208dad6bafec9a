const std = @import("std");
const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    const seconds = std.fmt.parseFloat(f64, req.payload) catch 30;
    std.time.sleep(@intFromFloat(seconds * std.time.ns_per_s));
    try res.send("woke", 200);
}
