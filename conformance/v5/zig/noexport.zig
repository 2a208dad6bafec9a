//! What loading noexport.zig does: it prints natively, and it has no main.
const std = @import("std");

pub fn load() void {
    std.io.getStdOut().writeAll("Hello World\n") catch {};
}
