#!/bin/sh
# Build step of the dart runtime (UNTESTED: no Dart SDK can be installed where this was written): compiles the
# function in $CODE_DIR (the entry file, APPWRITE_ENTRYPOINT_NAME, defines start(Request req, Response res),
# sync or async) with the Dart adapter library (adapters/dart, package:runtime) into $CODE_DIR/runtime.bin,
# writes the launcher $CODE_DIR/runtime, and leaves only those two in $CODE_DIR. The image runs it with
# SHIM_ADAPTER=/usr/code/runtime.
#
# $CODE_DIR may have a pubspec.yaml (its dependencies are fetched by `dart pub get`, so a build without network
# needs none, or a pub cache that has them); without one, a minimal package is made here.
# The launcher is a shell script: `exec runtime.bin 3>&1 4<&0 1>&2 0</dev/null`. Dart cannot dup2, so the
# shell moves the protocol to fds 3 and 4 and fd 1 (print, native code, child processes) is stderr.
# For tests on a host, override: CODE_DIR (/usr/code), WORK_DIR (scratch, /usr/workspace), ADAPTER_DIR, DART.
set -eu
DART=${DART:-dart}

lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"
adapter_dir dart lib/runtime.dart Dart
command -v "$DART" >/dev/null 2>&1 || die "no Dart SDK: '$DART' is not installed (use the official dart image, or https://dart.dev/get-dart)"
[ -n "$ENTRY" ] || die "APPWRITE_ENTRYPOINT_NAME is not set: it names the .dart file that defines start(req, res)"
case $ENTRY in *.dart) ;; *) die "the entry file $ENTRY is not a .dart file" ;; esac
[ -f "$CODE_DIR/$ENTRY" ] || die "the entry file $CODE_DIR/$ENTRY does not exist"

scratch dart
mkdir -p "$src/app" "$src/out"
cp -R "$CODE_DIR/." "$src/app/"
cd "$src/app"
if [ -f pubspec.yaml ]; then
  # Add the adapter as a path dependency (the descriptor syntax of Dart 3, else the --path flag of Dart 2).
  "$DART" pub add "runtime:{path: $ADAPTER_DIR}" >/dev/null 2>&1 || "$DART" pub add runtime --path "$ADAPTER_DIR" \
    || die "cannot add the adapter library to pubspec.yaml"
else
  cat > pubspec.yaml <<YAML
name: function
publish_to: none
environment:
  sdk: ">=2.17.0 <4.0.0"
dependencies:
  runtime:
    path: $ADAPTER_DIR
YAML
fi
"$DART" pub get || die "dart pub get failed"
mkdir -p .runtime
cat > .runtime/main.dart <<DART
import 'package:runtime/runtime.dart';
import '../$ENTRY' as function;

Future<void> main() => serve(function.start);
DART
"$DART" compile exe .runtime/main.dart -o "$src/out/runtime.bin" || die "compiling $ENTRY failed (the compiler's messages are above)"
cat > "$src/out/runtime" <<'SH'
#!/bin/sh
# The dart runtime (made by runtimes/dart-3.5/build.sh): the protocol moves to fds 3 (replies) and 4 (requests);
# fd 1 becomes stderr and fd 0 /dev/null, so nothing the function prints or reads can touch a frame.
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/runtime.bin" 3>&1 4<&0 1>&2 0</dev/null
SH
chmod +x "$src/out/runtime"

find "$CODE_DIR" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cp -R "$src/out/." "$CODE_DIR/"
echo "build: $CODE_DIR/runtime is ready"
