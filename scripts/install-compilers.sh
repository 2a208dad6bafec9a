#!/usr/bin/env bash
# Installs the toolchains of the compiled-language adapters on a fresh Debian machine (run as root), so that
# `scripts/conformance-compiled.sh <lang>` can build and check them:
#   go (golang), c and cpp (gcc, g++; Debian's libgcc-*-dev brings libbacktrace for C++ stack traces),
#   java (default-jdk-headless), kotlin (Debian's `kotlin` package, when the release has one),
#   zig 0.14 (the PyPI package ziglang==0.14.1, its binary linked as /usr/local/bin/zig),
#   rust: cargo and rustc come from rustup, which this script does not run (it only checks for them).
# dart, swift and dotnet are not installable here (no package in these registries): their adapters are
# untested, and their build scripts say so when the toolchain is missing.
# Idempotent: whatever is installed already is skipped. Exits non-zero, saying what failed, if a required
# toolchain could not be installed; a missing kotlin package is reported, not an error.
set -euo pipefail

BIN=/usr/local/bin
ZIG_VERSION=0.14.1
say() { printf 'install-compilers: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (apt-get and $BIN need it)"

# --- Debian packages: the command each one provides, and the package that provides it ---
missing=()
for pair in go:golang gcc:gcc g++:g++ javac:default-jdk-headless jar:default-jdk-headless kotlinc:kotlin; do
  cmd=${pair%%:*} pkg=${pair#*:}
  if command -v "$cmd" >/dev/null 2>&1; then say "$cmd: already installed ($(command -v "$cmd"))"
  elif [[ " ${missing[*]:-} " != *" $pkg "* ]]; then missing+=("$pkg"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian (missing: ${missing[*]})"
  apt-get update -qq || die "apt-get update failed"
  available=()
  for pkg in "${missing[@]}"; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then available+=("$pkg")
    elif [ "$pkg" = kotlin ]; then say "NOTE: this Debian release has no 'kotlin' package: the kotlin adapter stays untested here"
    else die "no Debian package '$pkg' in this release"; fi
  done
  if [ ${#available[@]} -gt 0 ]; then
    say "apt-get install ${available[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${available[@]}" >/dev/null \
      || die "apt-get install ${available[*]} failed"
  fi
fi
for cmd in go gcc g++ javac jar; do command -v "$cmd" >/dev/null 2>&1 || die "$cmd is still missing after apt-get install"; done

# --- zig from PyPI: the wheel carries the compiler ---
PY=${PYTHON:-python3}
if command -v zig >/dev/null 2>&1 && [[ "$(zig version)" == 0.14.* ]]; then
  say "zig: already installed ($(command -v zig), $(zig version))"
else
  command -v "$PY" >/dev/null 2>&1 && "$PY" -m pip --version >/dev/null 2>&1 || die "$PY with pip is needed to install ziglang"
  if [ "$("$PY" -m ziglang version 2>/dev/null || true)" != "$ZIG_VERSION" ]; then
    say "$PY -m pip install ziglang==$ZIG_VERSION"
    "$PY" -m pip install -q "ziglang==$ZIG_VERSION" || die "pip install ziglang==$ZIG_VERSION failed"
  fi
  zig=$("$PY" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')
  [ -x "$zig" ] || die "the ziglang package has no zig executable at $zig"
  if command -v zig >/dev/null 2>&1 && [ "$(command -v zig)" != "$BIN/zig" ]; then
    say "NOTE: another zig ($(command -v zig), $(zig version)) comes first on PATH; the build uses ZIG=\"$zig\" if you set it"
  else
    ln -sf "$zig" "$BIN/zig" # zig finds its lib/ beside its real path
  fi
fi

# --- rust: rustup's, not installed here ---
if command -v cargo >/dev/null 2>&1 && command -v rustc >/dev/null 2>&1; then
  say "cargo, rustc: already installed ($(rustc --version))"
else
  die "cargo and rustc are missing: install them with rustup (https://rustup.rs); this script does not download toolchains"
fi

for cmd in go gcc g++ javac kotlinc cargo zig; do
  if command -v "$cmd" >/dev/null 2>&1; then
    case $cmd in go) v=$(go version) ;; zig) v=$(zig version) ;; kotlinc) v=$(kotlinc -version 2>&1 | grep -i kotlinc) ;; *) v=$("$cmd" --version 2>&1 | head -n1) ;; esac
    printf '%-8s %s\n' "$cmd" "$v"
  else
    printf '%-8s %s\n' "$cmd" "not installed"
  fi
done
