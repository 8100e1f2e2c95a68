#!/usr/bin/env bash
# Line coverage of the fuzz targets: each is built with clang's source-based
# coverage, run once over its corpus (the seeds in tests/fuzz/corpus/ and
# what `make fuzz` added in BUILDDIR/tests/fuzz/grown/), and llvm-cov
# reports the lines of the files it exercises. Prints one table.
#
# usage: coverage.sh BUILDDIR SRCDIR   (make fuzz-coverage, after make fuzz)
set -eu
builddir=$(cd "${1:?usage: coverage.sh BUILDDIR SRCDIR}" && pwd)
srcdir=$(cd "${2:?}" && pwd)
out="$builddir/tests/fuzz/coverage"
mkdir -p "$out"
for tool in clang llvm-profdata llvm-cov; do
  command -v "$tool" >/dev/null || { echo "coverage: $tool missing (Debian: clang, llvm)" >&2; exit 1; }
done

# shellcheck source=tests/fuzz/sources.sh
. "$srcdir/tests/fuzz/sources.sh"
flags="-g -O1 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping
  -I$builddir -I$srcdir -I$srcdir/common $(pkg-config --cflags glib-2.0 spice-protocol)"
libs="$(pkg-config --libs glib-2.0)"
renderer="$(pkg-config --cflags --libs gio-2.0 gio-unix-2.0 virglrenderer egl gbm)"

run() { # target sources extra-flags
  local t=$1 srcs=() s
  for s in $2; do srcs+=("$srcdir/$s"); done
  # shellcheck disable=SC2086
  clang $flags -o "$out/$t" "$srcdir/tests/fuzz/$t.c" "${srcs[@]}" $libs $3
  local dirs=()
  for d in "$srcdir/tests/fuzz/corpus/$t" "$builddir/tests/fuzz/grown/$t"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  LLVM_PROFILE_FILE="$out/$t.profraw" "$out/$t" -runs=0 "${dirs[@]}" >"$out/$t.log" 2>&1
  llvm-profdata merge -sparse "$out/$t.profraw" -o "$out/$t.profdata"
}

run fuzz-vhost-user "$(fuzz_sources fuzz-vhost-user)" "$renderer"
run fuzz-vgpu-device "$(fuzz_sources fuzz-vgpu-device)" "$renderer"
run fuzz-vgpu-parse "$(fuzz_sources fuzz-vgpu-parse)" ""
llvm-profdata merge -sparse "$out"/fuzz-vhost-user.profdata "$out"/fuzz-vgpu-device.profdata \
  "$out"/fuzz-vgpu-parse.profdata -o "$out/all.profdata"
# Lines per file over all three targets (each binary maps its own copy).
llvm-cov report "$out/fuzz-vhost-user" -object "$out/fuzz-vgpu-device" -object "$out/fuzz-vgpu-parse" \
  -instr-profile="$out/all.profdata" \
  "$srcdir"/qemu-integration/vhost-user/*.c "$srcdir"/qemu-integration/virtio-gpu/vgpu*.c \
  "$srcdir/qemu-integration/virtio-gpu/ratelimit.c" "$srcdir/qemu-integration/virtio-gpu/diff.c" \
  | tee "$out/report.txt"
