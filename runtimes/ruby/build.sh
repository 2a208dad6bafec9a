#!/bin/sh
# Build step of the ruby-3.1 runtime: installs the gems of the function in $CODE_DIR, when it has a Gemfile,
# into $CODE_DIR/vendor/bundle with Bundler (without the development and test groups; the settings are kept in
# $CODE_DIR/.bundle, where launch.sh points Bundler). Without a Gemfile there is nothing to do.
# For tests on a host, override: CODE_DIR (/usr/code), BUNDLE (bundle).
set -eu
BUNDLE=${BUNDLE:-bundle}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the ruby function"
if [ -f Gemfile ]; then
  command -v "$BUNDLE" >/dev/null 2>&1 || die "a Gemfile needs Bundler, and '$BUNDLE' is not installed"
  export BUNDLE_APP_CONFIG="$CODE_DIR/.bundle" BUNDLE_GEMFILE="$CODE_DIR/Gemfile"
  "$BUNDLE" config set --local path vendor/bundle >/dev/null
  "$BUNDLE" config set --local without 'development test' >/dev/null
  echo "build: bundle install (path vendor/bundle)"
  "$BUNDLE" install || die "bundle install failed"
else
  echo "build: no Gemfile, no gems to install"
fi
