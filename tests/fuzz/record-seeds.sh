#!/usr/bin/env bash
# Records the fuzz targets' seed corpora from real guest traffic: the test
# guest runs the marker program, then kmscube, on spicegl-gpu with
# --record-commands, and the start of each session (resources, the 3D
# context, the first command streams) goes into tests/fuzz/corpus/, with the
# first requests of each command type for the parser.
#
# usage: record-seeds.sh BUILDDIR SRCDIR   (make fuzz-seeds)
set -eu
builddir=$(cd "${1:?usage: record-seeds.sh BUILDDIR SRCDIR}" && pwd)
srcdir=$(cd "${2:?}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus="$srcdir/tests/fuzz/corpus"
mkdir -p "$corpus/fuzz-vgpu-parse" "$corpus/fuzz-vgpu-device" "$corpus/fuzz-vhost-user"

for run in gl kmscube; do
  echo "record-seeds: $run"
  "$builddir/tools/spicegl-demo" --builddir "$builddir" --srcdir "$srcdir" --gpu spicegl \
    --spice-port 5977 --run "$run" --frames 30 --seconds 120 --log "$work/$run.log" \
    --daemon-arg=--sandbox --daemon-arg=off \
    --daemon-arg=--record-commands --daemon-arg="$work/$run" >/dev/null
  # A session's first 48 KiB: set-up and the first frames' command streams
  # (a request cut at the end is still a fine input).
  head -c 49152 "$work/$run/session.bin" >"$corpus/fuzz-vgpu-device/session-$run.bin"
  # QEMU's messages and the guest's requests as fuzz-vhost-user replays them.
  head -c 49152 "$work/$run/vhost-user.bin" >"$corpus/fuzz-vhost-user/qemu-$run.bin"
  for f in "$work/$run"/cmd-*.bin; do
    # Small requests only: large ones are command streams, in the sessions.
    [ "$(stat -c %s "$f")" -le 2048 ] && cp "$f" "$corpus/fuzz-vgpu-parse/$run-$(basename "$f")"
  done
done
echo "record-seeds: $(ls "$corpus/fuzz-vgpu-parse" | wc -l) parser seeds," \
  "$(du -sh "$corpus" | cut -f1) in $corpus"
