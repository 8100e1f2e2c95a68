#!/usr/bin/env bash
# make bench-stream: spicegl-gpu --synthetic against spicegl-probe at 720p30
# and 1080p30 over TCP, then glass to glass through stock remote-viewer
# under Xvfb at 720p30. Prints what each run measured, then one line:
# bench-stream: fps_720=<> psnr_720=<> lost_720=<%> fps_1080=<> latency_p50_ms=<> glass_p50_ms=<>
set -eu
builddir=${1:?usage: bench-stream.sh BUILDDIR [SECONDS]}
seconds=${2:-10}
. "$(dirname "$0")/bench-lib.sh"
round() { printf '%.*f' "$2" "$1"; }
start_daemon() { # spec [daemon options] -> sets port, daemon
  port=$(free_port)
  "$builddir/daemon/spicegl-gpu" --synthetic "$@" --port "$port" --stats-interval 0 \
    >"$tmp/daemon-$1.log" 2>&1 &
  daemon=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done
  echo "bench-stream: spicegl-gpu did not start" >&2
  exit 1
}
stop_daemon() { kill "$daemon"; wait "$daemon" || true; }

probe_run() { # spec [probe option] [daemon option] -> JSON line
  start_daemon "$1" ${3:+"$3"}
  "$builddir/client-test/spicegl-probe" --json --seconds "$seconds" ${2:+"$2"} \
    "spice://127.0.0.1:$port"
  stop_daemon
}

p720=$(probe_run 1280x720@30)
echo "720p30 probe: $p720"
p1080=$(probe_run 1920x1080@30)
echo "1080p30 probe: $p1080"
paudio=$(probe_run 1280x720@30 --audio --audio-clock)
echo "720p30 probe, --audio-clock, the probe playing audio: $paudio"

frames=$(field frames "$p720") lost=$(field lost "$p720")
lost_pct=$(awk -v f="$frames" -v l="$lost" 'BEGIN { printf "%.1f", (f + l) ? 100 * l / (f + l) : 100 }')
echo "720p30 latency stages (p50, ms): transport $(round "$(field transport_p50_ms "$p720")" 1)," \
  "decode $(round "$(field decode_p50_ms "$p720")" 1), media-clock wait" \
  "$(round "$(field clock_wait_p50_ms "$p720")" 1) = $(round "$(field latency_p50_ms "$p720")" 1) total"

# Glass to glass through stock remote-viewer (its X overlay path).
glass_run() { # [daemon option] -> glass JSON
  start_daemon 1280x720@30 "$@"
  sleep 0.5
  DISPLAY=$display remote-viewer "spice://127.0.0.1:$port" >"$tmp/rv.log" 2>&1 &
  local rv=$!
  sleep 6 # the window maps and settles
  DISPLAY=$display "$builddir/client-test/sgl-glass" --seconds "$seconds" --json || true
  kill "$rv"
  wait "$rv" 2>/dev/null || true
  stop_daemon
}

glass_p50=NA
if command -v Xvfb >/dev/null && command -v remote-viewer >/dev/null; then
  display=""
  for n in $(seq 80 89); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=":$n"; break; }
  done
  Xvfb "$display" -screen 0 1920x1200x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
  pids+=($!)
  glass=$(glass_run)
  echo "720p30 glass to glass (remote-viewer): $glass"
  glass_p50=$(round "$(field glass_p50_ms "$glass")" 1)
  echo "720p30 glass to glass (remote-viewer), --audio-clock: $(glass_run --audio-clock)"
fi

echo "bench-stream: fps_720=$(round "$(field fps "$p720")" 1)" \
  "psnr_720=$(round "$(field psnr_avg "$p720")" 2) lost_720=${lost_pct}%" \
  "fps_1080=$(round "$(field fps "$p1080")" 1)" \
  "latency_p50_ms=$(round "$(field latency_p50_ms "$p720")" 1) glass_p50_ms=$glass_p50"
