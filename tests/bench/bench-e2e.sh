#!/usr/bin/env bash
# make bench-e2e: spicegl against what users run today, on the same guest
# and machine in one run. Systems:
#   spicegl      spicegl-gpu (vhost-user-gpu, x264) serving SPICE
#   spicegl-ac   the same with --audio-clock, the client playing audio
#                (spice-gtk's appsink path then paces video by the audio
#                clock: its latency without the ~400 ms media-time margin)
#   stock-spice  stock QEMU virtio-vga-gl + egl-headless + -spice (gl off)
#   stock-spice-video  the same with streaming-video=all: spice-server's
#                own video streams (MJPEG) for areas it sees changing
#   stock-vnc    stock QEMU virtio-vga-gl + egl-headless + -vnc
# Workloads: the marker GL program at 1280x800 and 1920x1080 aiming at
# 60 fps, kmscube, and an idle desktop (one frame, held). SPICE is watched
# by spicegl-probe, VNC by sgl-vnc-probe (libvncclient, its default
# encodings); both read the same markers. Both compare every 10th frame with
# its reference for PSNR (on every frame the SPICE probe took 65 % of a
# core at 1080p, on the same two cores as the guest and the server), on a
# complete picture: VNC's at the end of a framebuffer update, SPICE's at
# the end of a burst of draws (a stream frame is one).
#
# Idle: the client connects to the held frame and is watched for 5 s more
# than the others. It must be shown that picture; the bytes of the first
# 5 s (the picture a new client is sent) are reported apart, and
# idle_bytes_s is the rate after them: what a static desktop costs.
#
# Per run: pictures delivered per second, markers lost, PSNR, latency from
# the marker's guest timestamp to the client (guest/host clock offset
# removed, see below), bytes per picture and Mbit/s on the display
# connection, and host CPU (QEMU + spicegl-gpu) both per picture (seconds)
# and per second (cores): a system that delivers fewer pictures spreads its
# fixed costs over fewer of them, so per picture alone would flatter it.
#
# The guest's clock comes from the RTC at boot, so it is off the host's by
# up to a second. The guest prints a line per frame with its clock as it
# writes the line (at=, not the frame's render-start timestamp, which would
# put the render and flip time into the offset); the harness stamps each
# console line with the host's time on receipt. The smallest (host receipt
# - at) over the run is the offset plus the console's least delay, and is
# taken off every latency (which are then low by that least delay, about a
# millisecond of serial console).
#
# Writes results.md, results.csv and chart.png to BENCH_RESULTS (default
# BUILDDIR/bench-results/e2e-DATE) and ends with one line:
# bench-e2e: fps_ratio=<ours/stock SPICE> bytes_ratio=<per picture> mbit_ratio=<per second>
#   cpu_ratio=<cores, per second> cpu_picture_ratio=<per picture> psnr=<ours> idle_bytes_s=<ours>
# (ratios at gl-1280x800; CPU ratios count QEMU + spicegl-gpu against QEMU).
set -eu
builddir=${1:?usage: bench-e2e.sh BUILDDIR SRCDIR [SECONDS]}
srcdir=${2:?usage: bench-e2e.sh BUILDDIR SRCDIR [SECONDS]}
seconds=${3:-10}
. "$(dirname "$0")/bench-lib.sh"
out=${BENCH_RESULTS:-$builddir/bench-results/e2e-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
hz=$(getconf CLK_TCK)
systems=(spicegl spicegl-ac stock-spice stock-spice-video stock-vnc)
# shellcheck disable=SC2206
# BENCH_WORKLOADS: a subset, or gl-WxH@FPS for another frame rate (the
# summary line reads the default gl-1280x800 rows).
workloads=(${BENCH_WORKLOADS:-gl-1280x800 gl-1920x1080 kmscube idle})

cpu_ticks() { # pids...: utime + stime
  local t=0 p
  for p in "$@"; do
    t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
# min(host receipt - the guest's clock as it wrote the line) in ms, from a
# --log-times log: the clocks' offset plus the console's least delay.
clock_offset_ms() {
  sed -n 's/^\[\([0-9.]*\)\] @@SGL gl-frame n=[0-9]* ts=[0-9]* at=\([0-9]*\).*/\1 \2/p' "$1" |
    awk 'NR == 1 || $1 * 1e6 - $2 < m { m = $1 * 1e6 - $2 } END { if (NR) printf "%.3f", m / 1e3 }'
}

echo "system,workload,pictures_per_s,markers_lost_pct,psnr_db,latency_p50_ms,bytes_per_picture,mbit_s,cpu_s_per_picture,clock_offset_ms,pictures,settle_bytes,final_psnr_db,cpu_cores" \
  >"$out/results.csv"

run_one() { # system workload
  local system=$1 workload=$2 port vm=() start client=() log="$tmp/$1-$2.log"
  local watch=(--seconds "$seconds")
  port=$(free_port 23000)
  case $workload in
  gl-*) # gl-WxH, or gl-WxH@FPS (default 60)
    local spec=${workload#gl-} fps=60
    [[ $spec == *@* ]] && fps=${spec#*@} spec=${spec%@*}
    vm=(--run gl --size "$spec" --fps "$fps" --frames 0 --guest-arg sgl.perframe=1)
    start="@@SGL gl-start" ;;
  kmscube)
    vm=(--run kmscube --fps 60 --guest-arg sgl.kmscube_frames=1000000)
    start="@@SGL kmscube-start" ;;
  idle)
    vm=(--run gl --size 1280x800 --fps 60 --frames 1 --guest-arg sgl.hold=3600)
    start="@@SGL gl-hold"
    watch=(--seconds $((seconds + 5)) --settle 5) ;;
  esac
  local probe=("$builddir/client-test/spicegl-probe" --json "${watch[@]}" --psnr-every 10)
  local uri="spice://127.0.0.1:$port"
  case $system in
  spicegl)
    vm+=(--gpu spicegl --spice-port "$port")
    client=("${probe[@]}" "$uri") ;;
  spicegl-ac)
    vm+=(--gpu spicegl --spice-port "$port" --daemon-arg=--audio-clock)
    client=("${probe[@]}" --audio "$uri") ;;
  stock-spice)
    vm+=(--gpu stock --spice-port "$port")
    client=("${probe[@]}" "$uri") ;;
  stock-spice-video)
    vm+=(--gpu stock --spice-port "$port" --spice-streaming all)
    client=("${probe[@]}" "$uri") ;;
  stock-vnc)
    vm+=(--gpu stock --vnc-port "$port")
    client=("$builddir/client-test/sgl-vnc-probe" "${watch[@]}" --psnr-every 10 "127.0.0.1:$port") ;;
  esac
  "$builddir/tools/spicegl-demo" --srcdir "$srcdir" --builddir "$builddir" "${vm[@]}" \
    --seconds $((seconds + 240)) --log "$log" --log-times >"$log.out" 2>&1 &
  local vmpid=$!
  pids+=("$vmpid")
  wait_for "$log" "$start" "$vmpid"
  sleep 3 # the display path settles (encoder, stream set-up, the idle frame sent)
  local procs
  procs=$(pgrep -P "$vmpid" | tr '\n' ' ')
  local c0 c1 json
  c0=$(cpu_ticks $procs)
  json=$("${client[@]}" 2>"$log.client") || json=${json:-"{}"}
  c1=$(cpu_ticks $procs)
  kill "$vmpid" 2>/dev/null || true
  wait "$vmpid" 2>/dev/null || true
  echo "$system $workload: $json" >&2
  local offset
  offset=$(clock_offset_ms "$log")
  awk -v sys="$system" -v wl="$workload" -v s="$seconds" -v hz="$hz" -v cpu=$((c1 - c0)) \
    -v off="${offset:-nan}" \
    -v frames="$(field frames "$json")" -v lost="$(field lost "$json")" \
    -v fps="$(field fps "$json")" -v psnr="$(field psnr_avg "$json")" \
    -v lat="$(field latency_p50_ms "$json")" -v bps="$(field bytes_per_s "$json")" \
    -v pictures="$(field pictures "$json")" -v settle="$(field settle_bytes "$json")" \
    -v final="$(field final_psnr "$json")" '
    function num(v) { return v == "" ? "nan" : v }
    BEGIN {
      # Marker workloads: distinct frames per second. kmscube has no marker:
      # the distinct pictures the client showed.
      if (wl == "kmscube") pps = pictures / s
      else if (wl == "idle") pps = "nan"
      else pps = fps
      lostpct = (frames + lost) > 0 ? 100 * lost / (frames + lost) : "nan"
      latc = (lat != "" && off != "nan" && wl ~ /^gl-/) ? lat - off : "nan"
      bpp = pps != "nan" && pps > 0 ? bps / pps : "nan"
      cpp = pps != "nan" && pps > 0 ? cpu / hz / (pps * s) : "nan"
      printf "%s,%s,%s,%s,%s,%s,%s,%.5f,%s,%s,%s,%s,%s,%.3f\n", sys, wl,
        pps == "nan" ? "nan" : sprintf("%.2f", pps),
        lostpct == "nan" ? "nan" : sprintf("%.1f", lostpct),
        (wl ~ /^gl-/ && psnr != "") ? sprintf("%.2f", psnr) : "nan",
        latc == "nan" ? "nan" : sprintf("%.1f", latc),
        bpp == "nan" ? "nan" : sprintf("%.0f", bpp), bps * 8 / 1e6,
        cpp == "nan" ? "nan" : sprintf("%.4f", cpp), off, num(pictures),
        wl == "idle" ? num(settle) : "nan",
        (wl == "idle" && final != "") ? sprintf("%.2f", final) : "nan",
        cpu / hz / s
    }' >>"$out/results.csv"
}

for w in "${workloads[@]}"; do
  for s in "${systems[@]}"; do
    echo "bench-e2e: $s, $w" >&2
    run_one "$s" "$w"
  done
done

# The tables: moving pictures, then the idle desktop.
{
  echo "| system | workload | pictures/s | markers lost | PSNR dB | latency p50 ms | KB/picture | Mbit/s | CPU s/picture | CPU cores |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  tail -n +2 "$out/results.csv" | awk -F, '$2 != "idle" {
    kb = $7 == "nan" ? "–" : sprintf("%.1f", $7 / 1024)
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f |\n", $1, $2, $3,
      $4 == "nan" ? "–" : $4 "%", $5 == "nan" ? "–" : $5, $6 == "nan" ? "–" : $6, kb,
      sprintf("%.3f", $8),
      $9 == "nan" ? "–" : $9, $14 }'
  tail -n +2 "$out/results.csv" | awk -F, '$2 == "idle" {
    if (!heading++)
      printf "\n| system | idle: pictures shown | KB in the first 5 s | bytes/s after them | PSNR dB at the end |\n|---|---|---|---|---|\n"
    printf "| %s | %d | %s | %.0f | %s |\n", $1, $11, $12 == "nan" ? "–" : sprintf("%.1f", $12 / 1024),
      $8 * 1e6 / 8, $13 == "nan" ? "–" : $13 }'
} >"$out/table.md"
row() { awk -F, -v s="$1" -v w="$2" -v c="$3" '$1 == s && $2 == w { print $c }' "$out/results.csv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "nan" || b == "nan" || b == 0) print "nan"; else printf "%.2f", a / b }'; }
fps_ratio=$(ratio "$(row spicegl gl-1280x800 3)" "$(row stock-spice gl-1280x800 3)")
bytes_ratio=$(ratio "$(row spicegl gl-1280x800 7)" "$(row stock-spice gl-1280x800 7)")
mbit_ratio=$(ratio "$(row spicegl gl-1280x800 8)" "$(row stock-spice gl-1280x800 8)")
cpu_ratio=$(ratio "$(row spicegl gl-1280x800 14)" "$(row stock-spice gl-1280x800 14)")
cpu_picture_ratio=$(ratio "$(row spicegl gl-1280x800 9)" "$(row stock-spice gl-1280x800 9)")
psnr=$(row spicegl gl-1280x800 5)
psnr=${psnr:-nan}
# A static desktop's cost counts only if a new client was shown it.
idle=$(awk -v m="$(row spicegl idle 8)" -v n="$(row spicegl idle 11)" \
  'BEGIN { if (m == "" || n == "nan" || n < 1) print "nan"; else printf "%.0f", m * 1e6 / 8 }')
[ "$idle" != nan ] || echo "bench-e2e: the idle client was shown no picture" >&2
summary="bench-e2e: fps_ratio=$fps_ratio bytes_ratio=$bytes_ratio mbit_ratio=$mbit_ratio cpu_ratio=$cpu_ratio cpu_picture_ratio=$cpu_picture_ratio psnr=$psnr idle_bytes_s=$idle"
{
  echo "# bench-e2e: $(nproc) cores, ${seconds} s per run"
  echo
  echo "Same guest, same machine, one run: the marker GL program (60 fps target), kmscube, and an"
  echo "idle desktop, through spicegl (also with --audio-clock), stock QEMU SPICE (virtio-vga-gl,"
  echo "egl-headless, gl off; also with streaming-video=all) and stock QEMU VNC. SPICE clients:"
  echo "spicegl-probe (spice-client-glib);"
  echo "VNC: sgl-vnc-probe (libvncclient). Latency has the guest/host clock offset (min of host"
  echo "receipt minus guest timestamp over the run's per-frame console lines) taken off. kmscube"
  echo "has no markers: its pictures/s are the distinct pictures the client showed. Both probes"
  echo "compare every 10th frame for PSNR (on every frame the SPICE probe took 65 % of a core at"
  echo "1080p, on the cores the guest and the server use), on complete pictures (VNC: at the end of"
  echo "a framebuffer update; SPICE: at the end of a burst of draws). Idle: a client connects to"
  echo "the held frame;"
  echo "the bytes of its first 5 s (the picture a new client is sent, and spicegl's refine passes)"
  echo "are apart from the rate after; the PSNR is that of the picture shown at the end."
  echo
  cat "$out/table.md"
  echo
  echo '```'
  echo "$summary"
  echo '```'
} >"$out/results.md"

# The chart: pictures/s, Mbit/s and host CPU cores per workload, a bar per
# system (columns 2.. of chart.dat: three per system, in systems' order).
if command -v gnuplot >/dev/null; then
  for w in "${workloads[@]}"; do
    printf '%s' "$w"
    for s in "${systems[@]}"; do
      printf ' %s %s %s' "$(row "$s" "$w" 3)" "$(row "$s" "$w" 8)" "$(row "$s" "$w" 14)"
    done
    echo
  done >"$tmp/chart.dat"
  titles=("spicegl" "spicegl --audio-clock" "stock SPICE" "stock SPICE streaming-video=all" "stock VNC")
  plot() { # the column of the first system's figure (2, 3 or 4)
    local i sep=""
    printf 'plot '
    for i in "${!titles[@]}"; do
      printf '%s"%s" using %d%s title "%s"' "$sep" "$tmp/chart.dat" $(($1 + 3 * i)) \
        "$([ "$i" = 0 ] && echo ':xtic(1)')" "${titles[$i]}"
      sep=", "
    done
    echo
  }
  gnuplot <<EOF
set terminal pngcairo size 1500,500 font ",10"
set output "$out/chart.png"
set multiplot layout 1,3 title "bench-e2e: spicegl vs stock QEMU (same guest, same host)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key below
set yrange [0:*]
set title "pictures delivered per second"
$(plot 2)
set title "Mbit/s on the display connection"
$(plot 3)
set title "host CPU cores (QEMU + spicegl-gpu)"
$(plot 4)
unset multiplot
EOF
else
  echo "bench-e2e: gnuplot missing (scripts/setup installs gnuplot-nox): no chart" >&2
fi
cat "$out/results.md"
echo "bench-e2e: results in $out"
echo "$summary"
