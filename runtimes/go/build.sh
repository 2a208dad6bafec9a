#!/bin/sh
# Build step of the go runtime: compiles the function in $CODE_DIR with the Go adapter library
# (adapters/go, package runtime-shim/shim) into $CODE_DIR/runtime, and leaves only that in $CODE_DIR.
# The image runs it with SHIM_ADAPTER=/usr/code/runtime.
#
# The entry file (APPWRITE_ENTRYPOINT_NAME, e.g. main.go) is in a non-main package that defines
#   func Main(req *shim.Request, res *shim.Response) error
# $CODE_DIR is a module: its go.mod (or, without one, `module function` made here) gets the adapter added with
# a replace directive. Other requirements are downloaded (GOPROXY), or must be vendored for an offline build.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR, GO.
set -eu
GO=${GO:-go}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir go shim.go Go
command -v "$GO" >/dev/null 2>&1 || die "no Go toolchain: '$GO' is not installed (apt-get install golang)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .go file that defines Main(req, res)"
case $ENTRY in *.go) ;; *) die "the entry file $ENTRY is not a .go file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch go
cp -R "$CODE_DIR/." "$src/"
cd "$src"
export GOFLAGS="${GOFLAGS:--mod=mod}" GOTOOLCHAIN=local
"$GO" env GOCACHE >/dev/null 2>&1 || export GOCACHE="$WORK_DIR/.go-cache" # no $HOME: keep the cache in the scratch dir
[ -f go.mod ] || "$GO" mod init function >/dev/null 2>&1 || die "go mod init failed"
"$GO" mod edit -require=runtime-shim/shim@v0.0.0 -replace=runtime-shim/shim="$ADAPTER_DIR"
module=$("$GO" list -m) || die "cannot read the module path from go.mod"
dir=$(dirname "$ENTRY")
package=$module; [ "$dir" = . ] || package=$module/$dir
# The program: a main package beside the user's code that serves their Main.
mkdir -p _runtime
cat > _runtime/main.go <<GO
package main

import (
	function "$package"
	shim "runtime-shim/shim"
)

func main() { shim.Serve(function.Main) }
GO
# -trimpath: stack traces name files by module path (function/throws.go), not by this scratch folder.
"$GO" build -trimpath -o runtime ./_runtime || die "compiling $ENTRY failed (the compiler's messages are above)"

install_runtime runtime
