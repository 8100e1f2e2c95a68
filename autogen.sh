#!/bin/sh
# Generates configure; run once after a fresh clone.
set -e
cd "$(dirname "$0")"
autoreconf --install --force
