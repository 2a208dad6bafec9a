#!/bin/sh
# Build step of the node-20 runtime: installs the dependencies of the function in $CODE_DIR, when it has a
# package.json, into $CODE_DIR/node_modules (where `require` and `import` find them): `npm ci` with a
# package-lock.json, else `npm install`; devDependencies are left out. Without a package.json there is nothing
# to do. For tests on a host, override: CODE_DIR (/usr/code), NPM (npm).
set -eu
NPM=${NPM:-npm}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the node function"
if [ -f package.json ]; then
  command -v "$NPM" >/dev/null 2>&1 || die "package.json needs npm, and '$NPM' is not installed"
  if [ -f package-lock.json ] || [ -f npm-shrinkwrap.json ]; then set -- ci; else set -- install; fi
  echo "build: npm $1 --omit=dev"
  "$NPM" "$1" --omit=dev --no-audit --no-fund --no-update-notifier || die "npm $1 failed"
else
  echo "build: no package.json, no dependencies to install"
fi
