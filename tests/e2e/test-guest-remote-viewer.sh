#!/usr/bin/env bash
# Stock remote-viewer under Xvfb shows the test guest through spicegl: the
# guest's GL program renders through spicegl-gpu (spicegl-demo --gpu spicegl, as
# scripts/demo runs it), and markers read from screenshots of the viewer's
# window are the guest's own and advance. Speaks TAP; missing tools or
# QEMU skip, or fail under CI=true.
set -u
builddir=${SGL_BUILDDIR:?run through make check}
srcdir=${SGL_SRCDIR:?run through make check}
echo "1..3"
. "$srcdir/tests/harness/remote-viewer.sh"
rv_require 3 || exit 0

exec 8>"$builddir/.heavy-tests.lock"
flock 8

# Under ASan, the slow unwinder deadlocks against llvmpipe's JIT in the
# daemon (see test-guest-spicegl.c): fast unwinding, leaks checked elsewhere.
# It also renders at half the rate there (test-guest-spicegl.c says why).
fps=30
if [ "${SGL_SANITIZERS:-}" = yes ]; then
  export ASAN_OPTIONS=fast_unwind_on_malloc=1:detect_leaks=0
  fps=15
fi

rv_pick
rv_start_xvfb
log="$builddir/tests/e2e/spicegl-remote-viewer.console.log"
rm -f "$log" # an older run's gl-start must not count
"$builddir/tools/spicegl-demo" --srcdir "$srcdir" --builddir "$builddir" --gpu spicegl \
  --spice-port "$port" --run gl --fps "$fps" --frames 0 --seconds 90 --log "$log" \
  >"$tmp/vm.log" 2>&1 &
vm=$!
pids+=($vm)
for _ in $(seq 600); do
  grep -q "@@SGL gl-start" "$log" 2>/dev/null && break
  kill -0 "$vm" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "@@SGL gl-start" "$log" 2>/dev/null; then
  for i in 1 2 3; do echo "not ok $i - the guest did not start its GL program"; done
  sed 's/^/# /' "$tmp/vm.log" | tail -n 20
  exit 0
fi
rv_start_viewer "spice://127.0.0.1:$port"

# The guest's clock is set from the RTC at boot: its timestamps may be a
# second or so off the host's, so "recent" is looser than for --synthetic.
if rv_wait_marker 30; then
  now_us=$(($(date +%s%N) / 1000))
  age_ms=$(((now_us - $(field timestamp_us "$first")) / 1000))
  echo "# first screenshot: $first (${age_ms} ms by the host's clock)"
  if [ "$age_ms" -gt -5000 ] && [ "$age_ms" -lt 10000 ]; then
    echo "ok 1 - remote-viewer shows the guest's GL frames: a valid marker in its window"
  else
    echo "not ok 1 - the marker's timestamp is ${age_ms} ms off"
  fi
else
  echo "not ok 1 - no guest marker on screen within 30 s"
  sed 's/^/# rv: /' "$tmp/rv.log" | tail -n 10
  sed 's/^/# vm: /' "$tmp/vm.log" | tail -n 20
fi

sleep 2
if [ -n "$first" ]; then rv_expect_live 2 $((fps / 3)) | tee "$tmp/live.tap"; else echo "not ok 2 - no first marker"; fi
# A CI log may be all there is: what the daemon and QEMU said when the
# picture did not advance.
if grep -q "^not ok" "$tmp/live.tap" 2>/dev/null; then
  grep -v -e "stats\[" -e "DEBUG" "$tmp/vm.log" | sed 's/^/# vm: /' | tail -n 40
fi

kill "$vm"
wait "$vm"
status=$?
if [ "$status" = 0 ] && ! grep -q "sandbox: denied" "$tmp/vm.log"; then
  echo "ok 3 - the VM and spicegl-gpu stop cleanly, the daemon's sandbox denying nothing"
elif [ "$status" = 0 ]; then
  echo "not ok 3 - the sandbox denied spicegl-gpu a call"
  grep "sandbox: denied" "$tmp/vm.log" | sed 's/^/# /'
else
  echo "not ok 3 - spicegl-demo exited with $status"
  sed 's/^/# /' "$tmp/vm.log" | tail -n 30
fi
