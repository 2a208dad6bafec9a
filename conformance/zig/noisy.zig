const std = @import("std");
const runtime = @import("runtime");

pub fn main(req: *const runtime.Request, res: *runtime.Response) !void {
    const p = req.payload;
    try std.io.getStdOut().writer().print("noisy-stdout {s}\n", .{p});
    std.debug.print("noisy-stderr {s}\n", .{p});
    // The child inherits the runtime's stdio; the payload goes in as $1, not spliced into the script.
    var child = std.process.Child.init(&.{ "sh", "-c", "echo noisy-child \"$1\"; echo noisy-child-err \"$1\" >&2", "sh", p }, req.allocator);
    _ = try child.spawnAndWait();
    _ = try std.posix.write(1, try std.fmt.allocPrint(req.allocator, "noisy-fd1 {s}\n", .{p}));
    try res.send(try std.fmt.allocPrint(req.allocator, "quiet {s}", .{p}), 200);
}
