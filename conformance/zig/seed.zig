const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    try res.json(.{ .normal = "Hello World!", .env1 = req.getEnv("ENV1"), .payload = req.payload }, 200);
}
