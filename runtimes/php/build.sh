#!/bin/sh
# Build step of the php-8.2 runtime: installs the dependencies of the function in $CODE_DIR, when it has a
# composer.json, into $CODE_DIR/vendor with Composer (no dev packages, optimized class loader); the function
# loads them with `require __DIR__ . '/vendor/autoload.php';`. Without a composer.json there is nothing to do.
# For tests on a host, override: CODE_DIR (/usr/code), COMPOSER (composer).
set -eu
COMPOSER=${COMPOSER:-composer}
lib_dir=$(cd "$(dirname "$0")" && pwd); [ -f "$lib_dir/build-lib.sh" ] || lib_dir=${lib_dir%/*}
. "$lib_dir/build-lib.sh"

cd "$CODE_DIR" || die "no folder $CODE_DIR with the php function"
if [ -f composer.json ]; then
  command -v "$COMPOSER" >/dev/null 2>&1 || die "composer.json needs Composer, and '$COMPOSER' is not installed"
  echo "build: composer install --no-dev"
  COMPOSER_ALLOW_SUPERUSER=1 "$COMPOSER" install --no-dev --no-interaction --no-progress --optimize-autoloader ||
    die "composer install failed"
else
  echo "build: no composer.json, no dependencies to install"
fi
