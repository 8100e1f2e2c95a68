#!/usr/bin/env bash
# make bench-stream: spicegl-gpu --synthetic against spicegl-probe at 720p30
# and 1080p30 over TCP, then glass to glass through stock remote-viewer
# under Xvfb at 720p30: through its X video overlay, and through its appsink
# (DISABLE_GSTVIDEOOVERLAY=1, the path it takes on Wayland, as GNOME Boxes
# and virt-manager do), each without and with --audio-clock, with the
# client's sound going to a real PulseAudio server (a null sink, which
# plays at real time). Prints what each run measured, then one line:
# bench-stream: fps_720=<> psnr_720=<> lost_720=<%> fps_1080=<> latency_p50_ms=<>
#   glass_p50_ms=<> glass_ac_p50_ms=<> glass_appsink_p50_ms=<> glass_appsink_ac_p50_ms=<>
#   silence_bytes_per_s=<> (NA where a program is missing)
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

# The client side's sound server: PulseAudio with a null sink, on a socket
# of its own (not the user's), for the probe and remote-viewer.
pulse_env=()
if command -v pulseaudio >/dev/null; then
  mkdir -p "$tmp/pulse"
  HOME=$tmp/pulse XDG_RUNTIME_DIR=$tmp/pulse pulseaudio -n --daemonize=no --exit-idle-time=-1 \
    --use-pid-file=no --load="module-null-sink sink_name=bench" \
    --load="module-native-protocol-unix socket=$tmp/pulse/native auth-anonymous=1" \
    >"$tmp/pulse.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -S "$tmp/pulse/native" ] && break; sleep 0.1; done
  [ -S "$tmp/pulse/native" ] && pulse_env=(PULSE_SERVER="unix:$tmp/pulse/native")
fi
[ ${#pulse_env[@]} = 0 ] && echo "bench-stream: no PulseAudio server: clients play audio nowhere" >&2

probe_run() { # spec [probe option] [daemon option] -> JSON line
  start_daemon "$1" ${3:+"$3"}
  env "${pulse_env[@]}" "$builddir/client-test/spicegl-probe" --json --seconds "$seconds" ${2:+"$2"} \
    "spice://127.0.0.1:$port"
  stop_daemon
}

p720=$(probe_run 1280x720@30)
echo "720p30 probe: $p720"
p1080=$(probe_run 1920x1080@30)
echo "1080p30 probe: $p1080"

paudio=$(probe_run 1280x720@30 --audio --audio-clock)
echo "720p30 probe, --audio-clock, the probe playing audio: $paudio"
silence=$(sed -n 's/.*"sound":{\([^}]*\)}.*/\1/p' <<<"$paudio")
silence_bps=NA
[ -n "$silence" ] && silence_bps=$(round "$(field bytes_per_s "$silence")" 0)

frames=$(field frames "$p720") lost=$(field lost "$p720")
lost_pct=$(awk -v f="$frames" -v l="$lost" 'BEGIN { printf "%.1f", (f + l) ? 100 * l / (f + l) : 100 }')
echo "720p30 latency stages (p50, ms): transport $(round "$(field transport_p50_ms "$p720")" 1)," \
  "decode $(round "$(field decode_p50_ms "$p720")" 1), media-clock wait" \
  "$(round "$(field clock_wait_p50_ms "$p720")" 1) = $(round "$(field latency_p50_ms "$p720")" 1) total"

# Glass to glass through stock remote-viewer, its sound to the null sink;
# rv_env: more of its environment (the appsink path).
rv_env=()
glass_run() { # [daemon option] -> glass JSON
  start_daemon 1280x720@30 "$@"
  sleep 0.5
  env DISPLAY="$display" "${pulse_env[@]}" "${rv_env[@]}" remote-viewer "spice://127.0.0.1:$port" \
    >"$tmp/rv.log" 2>&1 &
  local rv=$!
  sleep 6 # the window maps and settles
  DISPLAY=$display "$builddir/client-test/sgl-glass" --seconds "$seconds" --json || true
  kill "$rv"
  wait "$rv" 2>/dev/null || true
  stop_daemon
}

# One run: its JSON line, and its p50 into the variable named var.
glass_row() { # path var [daemon option]
  local path=$1 var=$2 glass
  shift 2
  glass=$(glass_run "$@")
  echo "720p30 glass to glass (remote-viewer, $path)${1:+, $1}: $glass"
  printf -v "$var" '%s' "$(round "$(field glass_p50_ms "$glass")" 1)"
}

glass_p50=NA glass_ac_p50=NA glass_appsink_p50=NA glass_appsink_ac_p50=NA
if command -v Xvfb >/dev/null && command -v remote-viewer >/dev/null; then
  display=""
  for n in $(seq 80 89); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=":$n"; break; }
  done
  Xvfb "$display" -screen 0 1920x1200x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
  pids+=($!)
  glass_row "X overlay" glass_p50
  glass_row "X overlay" glass_ac_p50 --audio-clock
  rv_env=(DISABLE_GSTVIDEOOVERLAY=1)
  glass_row appsink glass_appsink_p50
  glass_row appsink glass_appsink_ac_p50 --audio-clock
fi

echo "bench-stream: fps_720=$(round "$(field fps "$p720")" 1)" \
  "psnr_720=$(round "$(field psnr_avg "$p720")" 2) lost_720=${lost_pct}%" \
  "fps_1080=$(round "$(field fps "$p1080")" 1)" \
  "latency_p50_ms=$(round "$(field latency_p50_ms "$p720")" 1) glass_p50_ms=$glass_p50" \
  "glass_ac_p50_ms=$glass_ac_p50 glass_appsink_p50_ms=$glass_appsink_p50" \
  "glass_appsink_ac_p50_ms=$glass_appsink_ac_p50 silence_bytes_per_s=$silence_bps"
