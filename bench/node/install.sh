#!/bin/sh
# Installs the Node reference server's dependencies (bench/node/node_modules) from
# package-lock.json; bench/ws_broadcast.py runs this when node_modules is missing.
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund
fi
