#!/usr/bin/env bash
# make bench-guest: the test guest's marker GL program at 1280x800 (aiming
# at 60 fps; BENCH_SIZE=WxH for another size) through spicegl-gpu, watched
# by spicegl-probe over SPICE, then the same workload on stock QEMU's
# virtio-vga-gl, in one run. Prints what each run measured, then one line:
# bench-guest: size=<> guest_fps_ours=<> guest_fps_stock=<> probe_fps=<> probe_psnr=<> probe_lost=<%>
#   probe_cpu_cores=<> server_p50_ms=<> server_p95_ms=<>
# server_*: the daemon's own share of a picture's latency (its last stats
# line: from the guest's flush, before the read-back, to spice-server taking
# the access unit).
set -eu
builddir=${1:?usage: bench-guest.sh BUILDDIR SRCDIR [SECONDS]}
srcdir=${2:?usage: bench-guest.sh BUILDDIR SRCDIR [SECONDS]}
seconds=${3:-10}
fps=60
size=${BENCH_SIZE:-1280x800}
frames=$(((seconds + 6) * fps)) # the probe's window, and room to connect
. "$(dirname "$0")/bench-lib.sh"
guest_fps() { sed -n 's/.*@@SGL gl-result status=ok .* fps=\([0-9.]*\).*/\1/p' "$1" | tail -n 1; }
vm() { # log gpu [options]
  local log=$1 gpu=$2
  shift 2
  "$builddir/tools/spicegl-demo" --srcdir "$srcdir" --builddir "$builddir" --gpu "$gpu" \
    --run gl --size "$size" --fps "$fps" --frames "$frames" --log "$log" "$@" \
    >"$log.out" 2>&1
}

# Ours: the guest renders through spicegl-gpu, the probe watches.
port=$(free_port 22000)
vm "$tmp/ours.log" spicegl --spice-port "$port" --daemon-arg=--log-file="$tmp/daemon.log" \
  --daemon-arg=--stats-interval=2 &
pids+=($!)
wait_for "$tmp/ours.log" "@@SGL gl-start" "${pids[0]}" || exit 1
# PSNR on every 10th picture, as bench-e2e samples it: the probe shares the
# host's cores with the guest and the daemon. Its CPU is reported too.
t0=$(date +%s.%N)
{
  TIMEFORMAT='%U %S'
  time "$builddir/client-test/spicegl-probe" --json --seconds "$seconds" --psnr-every 10 \
    "spice://127.0.0.1:$port" >"$tmp/probe.json"
} 2>"$tmp/probe.time"
probe=$(cat "$tmp/probe.json")
probe_cpu=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'NR == FNR && NF == 2 { u = $1; s = $2 }
  END { printf "%.2f", (u + s) / (t1 - t0) }' <(tail -n 1 "$tmp/probe.time"))
echo "spicegl probe: $probe"
echo "spicegl probe: CPU $probe_cpu cores"
wait "${pids[0]}" || { echo "bench-guest: the guest on spicegl-gpu failed" >&2; exit 1; }
ours=$(guest_fps "$tmp/ours.log")
echo "spicegl guest: $(grep '@@SGL gl-result' "$tmp/ours.log")"

# Stock: QEMU's own virtio-vga-gl (egl-headless), the same workload.
vm "$tmp/stock.log" stock || { echo "bench-guest: the guest on stock QEMU failed" >&2; exit 1; }
stock=$(guest_fps "$tmp/stock.log")
echo "stock guest:   $(grep '@@SGL gl-result' "$tmp/stock.log")"

f=$(field frames "$probe") l=$(field lost "$probe")
lost=$(awk -v f="$f" -v l="$l" 'BEGIN { printf "%.1f", (f + l) ? 100 * l / (f + l) : 100 }')
# The last stats line while the probe watched (the guest renders on after it left).
stats=$(grep "stats\[0\]: .*frame to server" "$tmp/daemon.log" | awk '!/p50 0.0 ms/' | tail -n 1)
echo "spicegl daemon: ${stats#*: }"
# What share of the pictures' pixels it read back, and what share changed.
gpu=$(grep "stats\[gpu\]: " "$tmp/daemon.log" | tail -n 1)
echo "spicegl gpu: ${gpu#*: }"
server=$(sed -n 's/.*frame to server p50 \([0-9.]*\) ms p95 \([0-9.]*\) ms.*/\1 \2/p' <<<"$stats")
printf 'bench-guest: size=%s guest_fps_ours=%s guest_fps_stock=%s probe_fps=%.1f probe_psnr=%.2f probe_lost=%s%% probe_cpu_cores=%s server_p50_ms=%s server_p95_ms=%s\n' \
  "$size" "$ours" "$stock" "$(field fps "$probe")" "$(field psnr_avg "$probe")" "$lost" \
  "$probe_cpu" "${server% *}" "${server#* }"
