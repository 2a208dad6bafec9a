# The static release binary: glibc's static runtime via crt-static. The explicit --target keeps the flag off
# build scripts and proc-macros, which cannot be linked statically.
TARGET := x86_64-unknown-linux-gnu
STATIC := target/$(TARGET)/release/runtime-shim

.PHONY: static test check

# Also builds runtime-shim-native next to it: the same program linked dynamically, which the static binary
# runs as the worker of the native-library path (static glibc cannot dlopen libraries that use TLS).
static:
	RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target $(TARGET)
	cargo build --release --locked
	cp target/release/runtime-shim $(dir $(STATIC))runtime-shim-native
	@file $(STATIC) | grep -Eq "static-pie linked|statically linked" || { echo "$(STATIC) is not statically linked"; exit 1; }
	@ls -l $(STATIC) | awk '{print "$(STATIC): " $$5 " bytes, static (static-pie: no dynamic loader, no shared libraries)"}'

test:
	scripts/test.sh

check:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
