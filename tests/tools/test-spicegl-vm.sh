#!/usr/bin/env bash
# spicegl-vm runs a VM from a disk image, as a user runs their own: a BIOS
# disk built here from the test guest (MBR, SYSLINUX, kernel, a small
# initramfs, an ext4 root; tests/guest/make-disk) boots through the firmware
# with spicegl-gpu as its GPU and SPICE server; a client with the ticket sees the guest's frames and
# one without it is refused; Ctrl-C powers the guest off through its ACPI
# power button and both processes end; when QEMU or the daemon dies, the
# launcher stops the other and says so. Speaks TAP.
set -u
builddir=${SGL_BUILDDIR:?run through make check}
srcdir=${SGL_SRCDIR:?run through make check}
echo "1..6"

. "$srcdir/tests/harness/scratch.sh"

fps=30 boot_s=180
if [ "${SGL_SANITIZERS:-}" = yes ]; then
  # As in the other guest tests: fast unwinding (llvmpipe's JIT), half rate.
  export ASAN_OPTIONS=fast_unwind_on_malloc=1:detect_leaks=0
  fps=15 boot_s=300
fi

image=$("$srcdir/tests/guest/build-guest" --gl-program "$builddir/tests/guest/sgl-guest-gl" --quiet) ||
  { echo "Bail out! the test guest did not build"; exit 1; }
kernel=$(sed -n 's/^kernel=//p' <<<"$image") initrd=$(sed -n 's/^initrd=//p' <<<"$image")
disk=$tmp/guest.img
"$srcdir/tests/guest/make-disk" "$kernel" "$initrd" "$disk" \
  "console=ttyS0 quiet panic=-1 sgl.run=gl sgl.frames=0 sgl.fps=$fps" ||
  { echo "Bail out! make-disk failed"; exit 1; }

exec 8>"$builddir/.heavy-tests.lock"
flock 8

port=""
for p in $(seq $((21000 + $$ % 20000)) $((21050 + $$ % 20000))); do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { echo "Bail out! no free port"; exit 1; }
printf 's3cret\n' >"$tmp/ticket"
vm_bin="$builddir/tools/spicegl-vm"

# Starts spicegl-vm on the disk (a snapshot: the image stays as built), with
# one vCPU: a TCG guest on both cores would starve the daemon and the client.
start_vm() { # name [accel]
  console=$tmp/$1.console out=$tmp/$1.out
  XDG_RUNTIME_DIR=$tmp "$vm_bin" --disk "$disk" --snapshot --accel "${2:-tcg}" --memory 2G --cpus 1 --no-network \
    --port "$port" --ticket-file "$tmp/ticket" --console "$console" --shutdown-timeout 60 \
    >"$out" 2>&1 &
  vm=$!
  pids+=("$vm")
}

wait_console() { # event seconds
  for _ in $(seq $(($2 * 10))); do
    grep -q "@@SGL $1" "$console" 2>/dev/null && return 0
    kill -0 "$vm" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Waits for pid to exit within seconds; its status in $exit_status.
wait_exit() { # pid seconds
  for _ in $(seq $(($2 * 10))); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then exit_status=timeout; return 1; fi
  wait "$1"
  exit_status=$?
}

# This VM's processes. QEMU's arguments name the daemon too (its chardev is
# "spicegl-gpu"): the daemon is matched by its own first arguments.
daemon_pattern="spicegl-gpu --socket-path $tmp/" qemu_pattern="qemu-system[^ ]* .*$tmp/"
child() { pgrep -f "$1" | head -n 1; }
num() { sed -n "s/.*\"$1\":\(-\?[0-9.]*\).*/\1/p" <<<"$2"; }
show() { sed 's/^/#   /' "$@" | tail -n 15; }

# 1-4: a whole session. The accelerator is probed: KVM where it works,
# else TCG, and spicegl-vm says which.
start_vm session auto
if wait_console gl-start "$boot_s" && grep -q "renderer=.*virgl" "$console" &&
  grep -q "@@SGL root device=vda2 fs=ext4" "$console" &&
  grep -qE "QEMU started \((KVM|TCG)," "$out" &&
  { grep -q "QEMU started (KVM," "$out" || grep -q "KVM does not work here (.*): emulating the CPU with TCG" "$out"; } &&
  qemu=$(child "$qemu_pattern") && [ -n "$qemu" ] &&
  tr '\0' ' ' <"/proc/$qemu/cmdline" | grep -q -- "-drive file=$disk,format=raw" &&
  ! tr '\0' ' ' <"/proc/$qemu/cmdline" | grep -q -- "-kernel"; then
  echo "ok 1 - the disk boots through the firmware (no -kernel) to its ext4 root, the guest renders with virgl on spicegl-gpu; $(grep -o 'QEMU started ([A-Z]*' "$out" | sed 's/QEMU started (//') chosen by the probe"
else
  echo "not ok 1 - the guest on the disk image did not start its GL program"
  show "$out"
  show "$console"
fi

uri="spice://127.0.0.1:$port"
# PSNR on every 4th frame: a probe comparing every frame falls behind the
# stream beside a TCG guest, and spice-gtk drops the frames it gets late.
# Delivery counts the frames that reached the client's decoder, shown or
# dropped late by a probe starved of the CPU.
probe=$("$builddir/client-test/spicegl-probe" "$uri" --ticket s3cret --seconds 3 --warmup 1000 \
  --psnr-every 4 --json 2>"$tmp/probe.err")
frames=$(num frames "$probe") decoded=$(num decoded "$probe") psnr=$(num psnr_avg "$probe")
echo "# probe: $probe"
if grep -q "remote-viewer $uri" "$out" &&
  awk -v f="${decoded:-0}" -v p="${psnr:-0}" -v fps="$fps" 'BEGIN { exit !(f >= 0.9 * 3 * fps && p >= 42) }'; then
  printf 'ok 2 - spicegl-vm printed %s; %.0f frames in 3 s reached a client with the ticket, which showed %.0f at %.1f dB\n' \
    "$uri" "$decoded" "$frames" "$psnr"
else
  echo "not ok 2 - printed URI or frames: ${decoded:-no} frames reached the client, ${frames:-none} shown, at ${psnr:-?} dB (want >= $((27 * fps / 10)) reached, >= 42 dB)"
  show "$out" "$tmp/probe.err"
fi

if "$builddir/client-test/spicegl-probe" "$uri" --ticket wrong --seconds 3 --json \
  >"$tmp/refused.json" 2>&1; then
  echo "not ok 3 - a client with the wrong ticket was let in"
elif grep -q '"error":"authentication failed"' "$tmp/refused.json"; then
  echo "ok 3 - a client with the wrong ticket is refused"
else
  echo "not ok 3 - the wrong ticket failed for another reason"
  show "$tmp/refused.json"
fi

daemon=$(child "$daemon_pattern")
kill -INT "$vm"
if wait_exit "$vm" 90 && [ "$exit_status" = 0 ] && grep -q "@@SGL power-button" "$console" &&
  grep -q "asking the guest to power off" "$out" && ! kill -0 "$daemon" 2>/dev/null &&
  grep -q "QEMU went away" "$out" && ! grep -qE "sandbox: denied|rejected:" "$out"; then
  echo "ok 4 - on Ctrl-C the guest powered off through its power button; both processes ended cleanly"
else
  echo "not ok 4 - Ctrl-C: spicegl-vm ${exit_status}, daemon ${daemon:-?} $(kill -0 "$daemon" 2>/dev/null && echo still runs)"
  show "$out"
  show "$console"
fi

# 5: QEMU dies: the launcher stops the daemon and fails.
start_vm qemu-killed
if wait_console boot "$boot_s"; then
  daemon=$(child "$daemon_pattern")
  pkill -9 -f "$qemu_pattern"
  if wait_exit "$vm" 30 && [ "$exit_status" = 1 ] && grep -q "QEMU was killed by signal 9" "$out" &&
    grep -q "spicegl-gpu exited with status 0" "$out" && ! kill -0 "$daemon" 2>/dev/null; then
    echo "ok 5 - QEMU killed: spicegl-vm says so, its daemon exits by itself, and it exits 1"
  else
    echo "not ok 5 - QEMU killed: spicegl-vm ${exit_status}"
    show "$out"
  fi
else
  echo "not ok 5 - the second boot did not start"
  show "$out"
fi

# 6: the daemon dies: the VM lost its GPU, so QEMU is stopped.
start_vm daemon-killed
if wait_console boot "$boot_s"; then
  qemu=$(child "$qemu_pattern")
  pkill -9 -f "$daemon_pattern"
  if wait_exit "$vm" 30 && [ "$exit_status" = 1 ] && grep -q "the VM lost its GPU: stopping QEMU" "$out" &&
    grep -q "QEMU exited with status 0" "$out" && ! kill -0 "$qemu" 2>/dev/null; then
    echo "ok 6 - spicegl-gpu killed: spicegl-vm stops QEMU (SIGTERM, a clean exit), says why, and exits 1"
  else
    echo "not ok 6 - daemon killed: spicegl-vm ${exit_status}"
    show "$out"
  fi
else
  echo "not ok 6 - the third boot did not start"
  show "$out"
fi
