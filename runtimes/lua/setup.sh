#!/bin/sh
# The lua image's language: Debian's lua5.4 (the image is debian:bookworm-slim) unless it is there already.
command -v lua5.4 >/dev/null || { apt-get update && apt-get install -y --no-install-recommends lua5.4 && rm -rf /var/lib/apt/lists/*; }
