#!/bin/sh
# The zig build image's compiler: the PyPI package ziglang of the catalogue's version (0.14 → the newest
# 0.14.x) unless zig is there already (the image is python:3.12-slim-bookworm).
command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1 ||
  pip install --no-cache-dir "ziglang~=${VERSION:?}.0"
