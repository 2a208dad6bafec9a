//! Test-only entry file. A compiled runtime is one program, so this main stands in for loading the entry file
//! the shim names (runtime.entrypoint()): main.zig runs its function, the others fail to load as the kit
//! expects (noexport.zig prints and has no main, throwsatload.zig fails), and any other name is a missing file.
//! A real runtime has one main.
const std = @import("std");
const runtime = @import("runtime");
const cases = @import("main.zig");
const noexport = @import("noexport.zig");
const throwsatload = @import("throwsatload.zig");

var loaded_noexport = false;

pub fn main(context: *runtime.Context) !?runtime.RuntimeOutput {
    const entry = runtime.entrypoint();
    const base = std.fs.path.basename(entry);
    const stem = base[0 .. std.mem.indexOfScalar(u8, base, '.') orelse base.len];
    if (std.mem.eql(u8, stem, "main")) return cases.main(context);
    if (std.mem.eql(u8, stem, "noexport")) {
        if (!loaded_noexport) noexport.load();
        loaded_noexport = true;
        return context.loadFailure("Function signature invalid. Did you forget to export a 'main' function?", .{});
    }
    if (std.mem.eql(u8, stem, "throwsatload")) {
        throwsatload.load() catch |err| return context.loadFailure("error.{s}: Load failure", .{@errorName(err)});
    }
    return context.loadFailure("Failed to load entrypoint, file {s} does not exist.", .{entry});
}
