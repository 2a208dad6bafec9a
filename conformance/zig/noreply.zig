const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) void {
    _ = req;
    _ = res; // returns without res.send() or res.json()
}
