#!/bin/sh
# Build step of the perl-5.36 runtime: installs the modules the function in $CODE_DIR needs, when it has a
# cpanfile, into $CODE_DIR/local with cpanm (local::lib layout; launch.sh puts $CODE_DIR/local/lib/perl5 on
# PERL5LIB). Without a cpanfile there is nothing to do.
# For tests on a host, override: CODE_DIR (/usr/code), CPANM (cpanm).
set -eu
CPANM=${CPANM:-cpanm}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the perl function"
if [ -f cpanfile ]; then
  command -v "$CPANM" >/dev/null 2>&1 || die "a cpanfile needs cpanm, and '$CPANM' is not installed"
  echo "build: cpanm --installdeps . (into $CODE_DIR/local)"
  "$CPANM" --notest --quiet --local-lib-contained "$CODE_DIR/local" --installdeps . || die "cpanm failed"
else
  echo "build: no cpanfile, no modules to install"
fi
