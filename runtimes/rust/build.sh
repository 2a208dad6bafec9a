#!/bin/sh
# Build step of the rust runtime: compiles the function in $CODE_DIR (the entry file, APPWRITE_ENTRYPOINT_NAME,
# defines `pub fn main(req: Request, res: &mut Response)`; sibling .rs files are its modules) with the Rust
# adapter library (adapters/rust, crate `runtime`) into $CODE_DIR/runtime, and leaves only that in $CODE_DIR.
# The image runs it with SHIM_ADAPTER=/usr/code/runtime.
#
# Crates: a Cargo.toml in $CODE_DIR may list [dependencies]; they are fetched from the registry (so a build
# without network access must vendor them or go without). With none, the build needs no network.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR, CARGO.
set -eu
CARGO=${CARGO:-cargo}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir rust src/lib.rs Rust
command -v "$CARGO" >/dev/null 2>&1 && command -v rustc >/dev/null 2>&1 || die "no Rust toolchain: cargo and rustc are not installed (https://rustup.rs)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .rs file that defines main(req, res)"
case $ENTRY in *.rs) ;; *) die "the entry file $ENTRY is not a .rs file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch rust
mkdir -p "$src/src/function"
cp -R "$CODE_DIR/." "$src/src/function/"
[ -f "$CODE_DIR/Cargo.lock" ] && cp "$CODE_DIR/Cargo.lock" "$src/"
# The user's [dependencies], if any: the lines of that table in their Cargo.toml.
deps=""
[ -f "$CODE_DIR/Cargo.toml" ] && deps=$(awk '/^[[:space:]]*\[/ { on = ($0 ~ /^[[:space:]]*\[dependencies\][[:space:]]*$/); next } on' "$CODE_DIR/Cargo.toml")
cat > "$src/Cargo.toml" <<TOML
[package]
name = "function"
version = "0.0.0"
edition = "2021"
publish = false

[[bin]]
name = "runtime"
path = "src/main.rs"

[dependencies]
runtime = { path = "$ADAPTER_DIR" }
$deps

[profile.release]
debug = "line-tables-only"   # file:line in panic stack traces
panic = "unwind"             # a panic is a 500 for that request, not the end of the process
TOML
# The entry is a module whose siblings are its own modules (a #[path] module looks beside its file).
cat > "$src/src/main.rs" <<RUST
#[path = "function/$ENTRY"]
mod function;

fn main() {
    runtime::serve(function::main)
}
RUST
cd "$src"
# Panic messages and stack traces name the user's files as $CODE_DIR/<file>, not the scratch copy.
RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$src/src/function=$CODE_DIR --remap-path-prefix=src/function=$CODE_DIR" \
RUNTIME_RUSTC_VERSION=$(rustc --version | cut -d' ' -f2) CARGO_TARGET_DIR="$src/target" \
  "$CARGO" build --release --quiet || die "compiling $ENTRY failed (the compiler's messages are above)"

find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mv target/release/runtime "$CODE_DIR/runtime"
echo "build: $CODE_DIR/runtime is ready ($(wc -c < "$CODE_DIR/runtime") bytes)"
