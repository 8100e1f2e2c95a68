#!/usr/bin/env bash
# make check: each libFuzzer target briefly (make fuzz runs them longer).
exec "$SGL_SRCDIR/tests/fuzz/run-fuzz.sh" "$SGL_BUILDDIR" "$SGL_SRCDIR" "${SGL_FUZZ_SECONDS:-20}" --tap
