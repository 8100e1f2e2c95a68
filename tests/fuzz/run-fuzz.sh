#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# while: make fuzz (FUZZ_SECONDS, default 300) and, briefly, make check
# (test-fuzz.sh). A finding fails the run; its reproducer is kept in
# BUILDDIR/tests/fuzz/findings/. With --tap, prints TAP lines.
#
# usage: [FUZZ_TARGETS="fuzz-..."] run-fuzz.sh BUILDDIR SRCDIR SECONDS [--tap]
set -u
builddir=${1:?usage: run-fuzz.sh BUILDDIR SRCDIR SECONDS [--tap]}
srcdir=${2:?}
seconds=${3:?}
tap=${4:-}
out="$builddir/tests/fuzz"
mkdir -p "$out/findings"

# FUZZ_TARGETS: a space-separated subset (default: all).
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz-vgpu-parse fuzz-vgpu-device fuzz-vhost-user fuzz-spice-protocols}"
# shellcheck source=tests/fuzz/sources.sh
. "$srcdir/tests/fuzz/sources.sh"

say() { if [ "$tap" = --tap ]; then echo "# $*"; else echo "fuzz: $*"; fi; }
result() { # n ok? text
  if [ "$tap" = --tap ]; then
    if [ "$2" = 1 ]; then echo "ok $1 - $3"; else echo "not ok $1 - $3"; fi
  else
    echo "fuzz: $3"
  fi
}

[ "$tap" = --tap ] && echo "1..${#targets[@]}"
if ! command -v clang >/dev/null; then
  for i in $(seq ${#targets[@]}); do
    if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then echo "not ok $i # clang missing (scripts/setup installs it)"
    else echo "ok $i # SKIP clang missing (scripts/setup installs it)"; fi
  done
  exit 0
fi
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -I$builddir -I$srcdir -I$srcdir/common $(pkg-config --cflags glib-2.0 spice-protocol)"
libs="$(pkg-config --libs glib-2.0)"
# What each target links beyond GLib, and its leak checking: Mesa's own
# leaks under the real renderer are not ours (valgrind's session test
# tells ours apart), so the targets with the renderer run without
# LeakSanitizer.
extra_flags() {
  case "$1" in
  fuzz-vgpu-device | fuzz-vhost-user) pkg-config --cflags --libs gio-2.0 gio-unix-2.0 virglrenderer egl gbm ;;
  *) : ;;
  esac
}
leaks() { case "$1" in fuzz-vgpu-device | fuzz-vhost-user) echo 0 ;; *) echo 1 ;; esac; }
failed=0 n=0
for t in "${targets[@]}"; do
  n=$((n + 1))
  srcs=()
  for s in $(fuzz_sources "$t"); do srcs+=("$srcdir/$s"); done
  # shellcheck disable=SC2086
  if ! clang $flags -o "$out/$t" "$srcdir/tests/fuzz/$t.c" "${srcs[@]}" $libs $(extra_flags "$t") \
    2>"$out/$t.build.log"; then
    sed 's/^/# /' "$out/$t.build.log" | tail -n 20
    result "$n" 0 "$t does not build"
    failed=1
    continue
  fi
  corpus="$out/grown/$t" # the seeds, and what fuzzing adds to them
  mkdir -p "$corpus"
  [ -d "$srcdir/tests/fuzz/corpus/$t" ] && cp -n "$srcdir/tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null
  ASAN_OPTIONS=detect_leaks=$(leaks "$t") "$out/$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$out/findings/$t-" "$corpus" >"$out/$t.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
  if [ "$rc" = 0 ]; then
    result "$n" 1 "$t: ${execs:-?} executions in ${seconds} s, no findings"
  else
    grep -E "ERROR|SUMMARY|runtime error" "$out/$t.log" | head -n 5 | sed 's/^/# /'
    result "$n" 0 "$t: a finding after ${execs:-?} executions (see $out/findings/)"
    failed=1
  fi
done
[ "$tap" = --tap ] || exit "$failed"
exit 0
