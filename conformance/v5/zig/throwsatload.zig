//! What loading throwsatload.zig does: it fails.
pub fn load() !void {
    return error.LoadFailure;
}
