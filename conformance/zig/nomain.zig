// Compiles, but the function has the wrong name: the dispatcher knows no main here and answers 404.
const runtime = @import("runtime");

pub fn handler(req: *const runtime.Request, res: *runtime.Response) !void {
    _ = req;
    try res.send("never called", 200);
}
