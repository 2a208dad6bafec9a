const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    try res.json(.{ .env = req.env, .payload = req.payload, .headers = req.headers }, 200);
}
