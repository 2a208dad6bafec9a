#!/bin/sh
# The kotlin build image's compiler: Debian's kotlin package (1.3.31, on OpenJDK 17) unless kotlinc is there.
command -v kotlinc >/dev/null || { mkdir -p /usr/share/man/man1 && apt-get update &&
  apt-get install -y --no-install-recommends kotlin && rm -rf /var/lib/apt/lists/*; }
