# Sourced by the remote-viewer tests: stock remote-viewer under Xvfb, and
# reading frame markers from screenshots of the X screen. Needs builddir
# set; uses and cleans up $tmp and the pids array.

# TAP lines for n cases when a tool is missing: skipped, or failed under
# CI=true. Returns 1 (the caller exits) when something is missing.
rv_require() { # n
  local missing="" i
  for tool in Xvfb remote-viewer gst-launch-1.0; do
    command -v "$tool" >/dev/null || missing="$missing $tool"
  done
  if [ -z "$missing" ] && ! gst-inspect-1.0 ximagesrc >/dev/null 2>&1; then missing=" ximagesrc"; fi
  [ -z "$missing" ] && return 0
  local why="missing:$missing (scripts/setup installs xvfb, virt-viewer, gstreamer1.0-x, gstreamer1.0-plugins-good)"
  for i in $(seq "$1"); do
    if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then echo "not ok $i # $why"; else echo "ok $i # SKIP $why"; fi
  done
  return 1
}

tmp=$(mktemp -d)
pids=()
rv_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap rv_cleanup EXIT

# Sets display and port to a free X display and TCP port.
rv_pick() {
  display="" port=""
  for n in $(seq 90 99); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || { display=":$n"; break; }
  done
  for p in $(seq $((20000 + $$ % 20000)) $((20050 + $$ % 20000))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
  done
  [ -n "$display" ] && [ -n "$port" ] || { echo "Bail out! no free X display or port"; exit 1; }
}

rv_start_xvfb() {
  Xvfb "$display" -screen 0 1920x1200x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
  pids+=($!)
}

# Under Xvfb (no Xv, no GL sink) with no DRM device (/dev/dri), GStreamer's
# autovideosink tries kmssink, which takes about 2 s to fail; remote-viewer's first
# picture waits for it, and the frames queued meanwhile are dropped late.
# Ranking kmssink out makes autovideosink take the X sink at once.
rv_viewer_env=(GST_PLUGIN_FEATURE_RANK=kmssink:NONE)

rv_start_viewer() { # uri
  env DISPLAY="$display" "${rv_viewer_env[@]}" remote-viewer "$1" >"$tmp/rv.log" 2>&1 &
  pids+=($!)
}

shot() { # file: a screenshot of the whole X screen
  DISPLAY=$display gst-launch-1.0 -q ximagesrc num-buffers=1 ! videoconvert ! pngenc ! \
    filesink location="$1" >/dev/null 2>&1
}
read_marker() { "$builddir/client-test/sgl-marker-read" "$1" 2>/dev/null; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2"; }

# Sets first to the first marker seen on screen within seconds*2 tries.
rv_wait_marker() { # seconds
  first=""
  for _ in $(seq $(($1 * 2))); do
    sleep 0.5
    shot "$tmp/a.png" && first=$(read_marker "$tmp/a.png") && return 0
  done
  return 1
}

# After a failed case, for the log: whether the picture moves on within
# 10 s, and what remote-viewer said. The case stays failed.
rv_explain_stall() { # frame
  local t m f=""
  for t in $(seq 1 20); do
    sleep 0.5
    shot "$tmp/d.png" && m=$(read_marker "$tmp/d.png") || continue
    f=$(field frame "$m")
    if [ "$f" != "$1" ]; then
      echo "# the picture moved on $((t * 5 / 10)).$((t * 5 % 10)) s later: $m"
      break
    fi
  done
  if [ -z "${f:-}" ]; then
    echo "# no marker on screen in the next 10 s"
  elif [ "$f" = "$1" ]; then
    echo "# still frame $1 10 s later"
  fi
  sed 's/^/# rv: /' "$tmp/rv.log" | tail -n 15
}

# Case n: two screenshots a second apart show frames at least min apart.
rv_expect_live() { # n min
  local second third f1 f2
  if shot "$tmp/b.png" && second=$(read_marker "$tmp/b.png") &&
    sleep 1 && shot "$tmp/c.png" && third=$(read_marker "$tmp/c.png"); then
    f1=$(field frame "$second") f2=$(field frame "$third")
    echo "# then: $second"
    echo "# one second later: $third"
    if [ "$f2" -gt $((f1 + $2)) ]; then
      echo "ok $1 - the picture is live: frame $f1 then $f2"
    else
      echo "not ok $1 - frame $f1 then $f2: the picture does not advance"
      rv_explain_stall "$f2"
    fi
  else
    echo "not ok $1 - no second marker"
  fi
}
