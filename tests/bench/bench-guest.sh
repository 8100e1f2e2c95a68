#!/usr/bin/env bash
# make bench-guest: the test guest's marker GL program at 1280x800 (aiming
# at 60 fps) through spicegl-gpu, watched by spicegl-probe over SPICE, then
# the same workload on stock QEMU's virtio-vga-gl, in one run. Prints what
# each run measured, then one line:
# bench-guest: guest_fps_ours=<> guest_fps_stock=<> probe_fps=<> probe_psnr=<> probe_lost=<%>
set -eu
builddir=${1:?usage: bench-guest.sh BUILDDIR SRCDIR [SECONDS]}
srcdir=${2:?usage: bench-guest.sh BUILDDIR SRCDIR [SECONDS]}
seconds=${3:-10}
fps=60
frames=$(((seconds + 6) * fps)) # the probe's window, and room to connect
. "$(dirname "$0")/bench-lib.sh"
guest_fps() { sed -n 's/.*@@SGL gl-result status=ok .* fps=\([0-9.]*\).*/\1/p' "$1" | tail -n 1; }
vm() { # log gpu [options]
  local log=$1 gpu=$2
  shift 2
  "$builddir/tools/spicegl-demo" --srcdir "$srcdir" --builddir "$builddir" --gpu "$gpu" \
    --run gl --size 1280x800 --fps "$fps" --frames "$frames" --log "$log" "$@" \
    >"$log.out" 2>&1
}

# Ours: the guest renders through spicegl-gpu, the probe watches.
port=$(free_port 22000)
vm "$tmp/ours.log" spicegl --spice-port "$port" &
pids+=($!)
wait_for "$tmp/ours.log" "@@SGL gl-start" "${pids[0]}" || exit 1
probe=$("$builddir/client-test/spicegl-probe" --json --seconds "$seconds" "spice://127.0.0.1:$port")
echo "spicegl probe: $probe"
wait "${pids[0]}" || { echo "bench-guest: the guest on spicegl-gpu failed" >&2; exit 1; }
ours=$(guest_fps "$tmp/ours.log")
echo "spicegl guest: $(grep '@@SGL gl-result' "$tmp/ours.log")"

# Stock: QEMU's own virtio-vga-gl (egl-headless), the same workload.
vm "$tmp/stock.log" stock || { echo "bench-guest: the guest on stock QEMU failed" >&2; exit 1; }
stock=$(guest_fps "$tmp/stock.log")
echo "stock guest:   $(grep '@@SGL gl-result' "$tmp/stock.log")"

f=$(field frames "$probe") l=$(field lost "$probe")
lost=$(awk -v f="$f" -v l="$l" 'BEGIN { printf "%.1f", (f + l) ? 100 * l / (f + l) : 100 }')
printf 'bench-guest: guest_fps_ours=%s guest_fps_stock=%s probe_fps=%.1f probe_psnr=%.2f probe_lost=%s%%\n' \
  "$ours" "$stock" "$(field fps "$probe")" "$(field psnr_avg "$probe")" "$lost"
