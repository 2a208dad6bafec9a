#!/bin/sh
# Composer, which the php images' build.sh runs (the official php images have none): Composer 2's phar from
# getcomposer.org unless a composer is there already (the local stand-ins have Debian's).
set -e
if ! command -v composer >/dev/null; then
  php -r "copy('https://getcomposer.org/download/latest-2.x/composer.phar', '/usr/local/bin/composer');"
  chmod 755 /usr/local/bin/composer
fi
