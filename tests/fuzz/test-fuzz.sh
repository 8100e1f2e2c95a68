#!/usr/bin/env bash
# make check: each libFuzzer target briefly (make fuzz runs them longer).
# Building and fuzzing keep a core busy for a minute or more: like the
# end-to-end tests, this takes the heavy-tests lock so their timings are
# their own.
exec 8>"$SGL_BUILDDIR/.heavy-tests.lock"
flock 8
exec "$SGL_SRCDIR/tests/fuzz/run-fuzz.sh" "$SGL_BUILDDIR" "$SGL_SRCDIR" "${SGL_FUZZ_SECONDS:-20}" --tap
