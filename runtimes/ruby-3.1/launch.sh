#!/bin/sh
exec "${SHIM:-/opt/runtime-shim/runtime-shim}" launch "$@"
