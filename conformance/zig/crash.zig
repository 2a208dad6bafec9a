const std = @import("std");
const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) void {
    _ = req;
    _ = res;
    std.process.exit(3);
}
