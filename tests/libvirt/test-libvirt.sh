#!/usr/bin/env bash
# spicegl under a real libvirtd (qemu:///system, TCG): two VMs defined from
# docs/libvirt/domain.xml, each with its own settings file (port, ticket,
# log). virsh start: libvirt starts spicegl-gpu through its vhost-user
# descriptor with only --fd, --virgl and --render-node; each daemon finds
# its VM, applies its settings and QEMU's D-Bus display and registers the
# guest agent's port (libvirt's dbus channel); each guest renders
# with virgl and a client with that VM's ticket sees it on that VM's port;
# one guest's sound (libvirt's dbus audio) reaches its client; a client's
# USB CD-ROM reaches the other (libvirt's dbus redirdevs) and not the first,
# whose USB policy (libvirt's redirfilter) refuses mass storage.
# virsh shutdown and virsh destroy leave no daemon; a killed daemon shows
# in the VM's log and the VM still powers off; a bad settings file fails
# virsh start and leaves nothing running. Needs root. Speaks TAP.
#
# What it changes on the host while it runs, and undoes: libvirtd and
# virtlogd (started when not running), a vhost-user descriptor in
# /etc/qemu/vhost-user/ naming the build's daemon (sorted first), the two
# settings files, and, on a host without a render node (libvirt refuses a
# vhost-user GPU then), /dev/dri/renderD128 made as a null device: QEMU's
# EGL and the daemon then fall back to llvmpipe, as with no GPU.
set -u
builddir=${SGL_BUILDDIR:?run through make check}
srcdir=${SGL_SRCDIR:?run through make check}
echo "1..11"

. "$srcdir/tests/harness/scratch.sh"
[ "$(id -u)" = 0 ] || { echo "Bail out! needs root (libvirtd, qemu:///system)"; exit 1; }
for p in virsh libvirtd virtlogd; do
  command -v "$p" >/dev/null || { echo "Bail out! $p missing (scripts/setup installs libvirt)"; exit 1; }
done

fps=10 boot_s=120
if [ "${SGL_SANITIZERS:-}" = yes ]; then
  fps=5 boot_s=240
fi
vsh() { virsh -q -c qemu:///system "$@"; }
show() { sed 's/^/#   /' "$@" | tail -n 15; }
num() { sed -n "s/.*\"$1\":\(-\?[0-9.]*\).*/\1/p" <<<"$2"; }

image=$("$srcdir/tests/guest/build-guest" --gl-program "$builddir/tests/guest/sgl-guest-gl" --quiet) ||
  { echo "Bail out! the test guest did not build"; exit 1; }
kernel=$(sed -n 's/^kernel=//p' <<<"$image") initrd=$(sed -n 's/^initrd=//p' <<<"$image")
cmdline="console=ttyS0 quiet panic=-1 sgl.run=gl sgl.frames=0 sgl.fps=$fps"
# The first VM also plays a 440 Hz sine on its sound card from boot on.
"$srcdir/tests/guest/make-disk" "$kernel" "$initrd" "$tmp/base.img" "$cmdline" &&
  "$srcdir/tests/guest/make-disk" "$kernel" "$initrd" "$tmp/tone.img" "$cmdline sgl.tone=440" ||
  { echo "Bail out! make-disk failed"; exit 1; }

exec 8>"$builddir/.heavy-tests.lock"
flock 8

# libvirt runs QEMU and the daemon as its QEMU user: everything they open
# from here must be theirs to read.
chmod 755 "$tmp"
mkdir "$tmp/logs" && chown libvirt-qemu:libvirt-qemu "$tmp/logs"
cp "$builddir/daemon/spicegl-gpu" "$tmp/spicegl-gpu"
binary=$tmp/spicegl-gpu
if [ "${SGL_SANITIZERS:-}" = yes ]; then
  # libvirt clears the environment: the instrumented daemon gets its
  # options (fast unwinding, for llvmpipe's JIT) from a wrapper.
  printf '#!/bin/sh\nASAN_OPTIONS=fast_unwind_on_malloc=1:detect_leaks=0 exec %s "$@"\n' \
    "$tmp/spicegl-gpu" >"$tmp/spicegl-gpu-asan"
  chmod 755 "$tmp/spicegl-gpu-asan"
  binary=$tmp/spicegl-gpu-asan
fi

made_node="" started_libvirtd="" started_virtlogd="" confdir="" descriptor=/etc/qemu/vhost-user/00-spicegl-test-$$.json
names=(sgltest-$$-1 sgltest-$$-2)
libvirt_cleanup() {
  local n
  for n in "${names[@]}"; do
    vsh destroy "$n" >/dev/null 2>&1
    vsh undefine "$n" >/dev/null 2>&1
    rm -f "$confdir/$n.conf"
  done
  rm -f "$descriptor"
  [ -n "$made_node" ] && rm -f /dev/dri/renderD128 && rmdir /dev/dri 2>/dev/null
  [ -n "$started_libvirtd" ] && pkill -x libvirtd
  [ -n "$started_virtlogd" ] && pkill -x virtlogd
  scratch_cleanup
}
trap libvirt_cleanup EXIT

if ! ls /dev/dri/renderD* >/dev/null 2>&1; then
  mkdir -p /dev/dri && mknod -m 666 /dev/dri/renderD128 c 1 3 && made_node=1 ||
    { echo "Bail out! cannot make /dev/dri/renderD128"; exit 1; }
fi
# A running libvirtd (or its socket activation) is used as it is.
if ! vsh version >/dev/null 2>&1; then
  pgrep -x virtlogd >/dev/null || { virtlogd -d && started_virtlogd=1; }
  libvirtd -d && started_libvirtd=1
  for _ in $(seq 50); do vsh version >/dev/null 2>&1 && break; sleep 0.2; done
fi
vsh version >/dev/null || { echo "Bail out! libvirtd does not answer on qemu:///system"; exit 1; }

mkdir -p /etc/qemu/vhost-user
printf '{"description": "spicegl (test build)", "type": "gpu", "binary": "%s"}\n' "$binary" >"$descriptor"
# The build's settings directory, as its --help says.
confdir=$("$builddir/daemon/spicegl-gpu" --help | sed -n 's/.*NAME the VM.s (QEMU.s -name; default \(.*\))$/\1/p')
[ -n "$confdir" ] || { echo "Bail out! no settings directory in spicegl-gpu --help"; exit 1; }
mkdir -p "$confdir"

ports=()
for p in $(seq $((22000 + $$ % 20000)) $((22100 + $$ % 20000))); do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ports+=("$p")
  [ ${#ports[@]} = 2 ] && break
done
[ ${#ports[@]} = 2 ] || { echo "Bail out! no free ports"; exit 1; }

# VM i: its disk, its ticket, its settings, its domain from the documented XML.
define_vm() { # i
  local n=${names[$1]} port=${ports[$1]}
  local disk=$tmp/base.img
  [ "$1" = 0 ] && disk=$tmp/tone.img
  cp --sparse=always "$disk" "$tmp/$n.img"
  printf 'ticket-%s\n' "$1" >"$tmp/$n.ticket"
  chgrp libvirt-qemu "$tmp/$n.ticket" && chmod 640 "$tmp/$n.ticket"
  printf '[spicegl-gpu]\nport=%s\nticket-file=%s\nscanouts=1\nfps=%s\nlog-file=%s\n' \
    "$port" "$tmp/$n.ticket" "$fps" "$tmp/logs/$n.log" >"$confdir/$n.conf"
  # The first VM's USB policy refuses mass storage (test 6).
  local filter=
  [ "$1" = 0 ] && filter="<redirfilter><usbdev class='0x08' allow='no'/><usbdev allow='yes'/></redirfilter>"
  sed -e "s|<name>NAME</name>|<name>$n</name>|" -e "s|DISK|$tmp/$n.img|" \
    -e "s|<serial type='pty'/>|<serial type='file'><source path='$tmp/$n.console'/></serial>|" \
    -e "s|</devices>|$filter</devices>|" \
    "$srcdir/docs/libvirt/domain.xml" >"$tmp/$n.xml"
  vsh define "$tmp/$n.xml" >/dev/null
}

wait_console() { # name event seconds
  for _ in $(seq $(($3 * 10))); do
    grep -q "@@SGL $2" "$tmp/$1.console" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
wait_state() { # name state seconds
  for _ in $(seq $(($3 * 10))); do
    [ "$(vsh domstate "$1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
# The daemon libvirt started for a VM, from libvirt's pid file.
daemon_pid() { cat /run/libvirt/qemu/*-"$1"-video0-vhost-user-gpu.pid 2>/dev/null; }
vm_log() { echo "/var/log/libvirt/qemu/$1.log"; }

define_vm 0 && define_vm 1 || { echo "Bail out! virsh define failed"; exit 1; }

# 1: both start; each guest renders with virgl on its own daemon.
started=0
for i in 0 1; do
  n=${names[$i]}
  vsh start "$n" >"$tmp/$n.start" 2>&1 && started=$((started + 1))
done
d0=$(daemon_pid "${names[0]}") d1=$(daemon_pid "${names[1]}")
if [ "$started" = 2 ] && wait_console "${names[0]}" gl-start "$boot_s" &&
  wait_console "${names[1]}" gl-start "$boot_s" &&
  grep -q "renderer=.*virgl" "$tmp/${names[0]}.console" && grep -q "renderer=.*virgl" "$tmp/${names[1]}.console" &&
  [ -n "$d0" ] && [ -n "$d1" ] && [ "$d0" != "$d1" ] &&
  tr '\0' ' ' <"/proc/$d0/cmdline" | grep -q -- "--fd=[0-9]* --virgl --render-node=/dev/dri/renderD"; then
  echo "ok 1 - virsh start: both guests render with virgl, each on its own spicegl-gpu ($d0, $d1), started by libvirt with --fd --virgl --render-node"
else
  echo "not ok 1 - the VMs did not both start and render (started $started, daemons '$d0' '$d1')"
  for n in "${names[@]}"; do show "$tmp/$n.start" "$tmp/$n.console" "$tmp/logs/$n.log"; done
fi

# 2: each daemon found its VM, its settings and QEMU's display bus.
ok=1
for i in 0 1; do
  n=${names[$i]} l=$tmp/logs/${names[$i]}.log
  grep -q "VM '$n' (QEMU pid [0-9]*): settings from $confdir/$n.conf" "$l" &&
    grep -q "listening on spice://127.0.0.1:${ports[$i]} (ticket required)" "$l" &&
    grep -q "attached to QEMU's D-Bus display (.* on the bus unix:path=/run/libvirt/qemu/dbus/[0-9]*-$n-dbus.sock)" "$l" &&
    grep -q "agent port charchannel0: registered on QEMU's D-Bus display" "$l" &&
    grep -q "folder sharing port charchannel1: registered on QEMU's D-Bus display" "$l" ||
    { ok=0; show "$l"; }
done
if [ "$ok" = 1 ]; then
  echo "ok 2 - each daemon names its VM, applies its settings file (port ${ports[0]} / ${ports[1]}, ticket, log), attaches to the VM's D-Bus display without QMP, and holds the guest agent's and folder sharing's ports (libvirt's dbus channels)"
else
  echo "not ok 2 - a daemon's log lacks its VM, settings, display, agent or folder-sharing port"
fi

# 3: a client with each VM's ticket sees that VM on that VM's port.
ok=1 said=""
for i in 0 1; do
  probe=$("$builddir/client-test/spicegl-probe" "spice://127.0.0.1:${ports[$i]}" --ticket "ticket-$i" \
    --seconds 3 --warmup 1000 --json 2>"$tmp/probe$i.err")
  decoded=$(num decoded "$probe") psnr=$(num psnr_avg "$probe")
  echo "# probe ${names[$i]}: $probe"
  said="$said ${decoded:-no} frames at ${psnr:-?} dB;"
  awk -v f="${decoded:-0}" -v p="${psnr:-0}" -v fps="$fps" 'BEGIN { exit !(f >= 0.8 * 3 * fps && p >= 40) }' ||
    { ok=0; show "$tmp/probe$i.err"; }
done
if [ "$ok" = 1 ]; then
  echo "ok 3 - each VM's client, with its ticket on its port, received its guest's frames:$said"
else
  echo "not ok 3 - a VM's client got too few frames or a poor picture:$said (want >= $((24 * fps / 10)) in 3 s, >= 40 dB)"
fi

# 4: the first VM's sound (libvirt's dbus audio on its display) reaches
# its client: the sine's frequency, at its level, as Opus.
n=${names[0]} l=$tmp/logs/${names[0]}.log
probe=$("$builddir/client-test/spicegl-probe" "spice://127.0.0.1:${ports[0]}" --ticket ticket-0 \
  --seconds 4 --json 2>"$tmp/sound.err")
sound=$(sed -n 's/.*"sound":{\([^}]*\)}.*/\1/p' <<<"$probe")
hz=$(num frequency_hz "$sound") level=$(num level_dbfs "$sound") secs=$(num seconds "$sound")
codec=$(sed -n 's/.*"codec":"\([a-z0-9]*\)".*/\1/p' <<<"$sound")
said=$(printf '%.2f Hz at %.1f dBFS for %.1f s (%s)' "${hz:-0}" "${level:--99}" "${secs:-0}" "${codec:-none}")
if wait_console "$n" tone-start 10 && grep -q "sound: QEMU's voice [0-9]* plays to SPICE clients (48000 Hz stereo)" "$l" &&
  [ "$codec" = opus ] &&
  awk -v hz="${hz:-0}" -v db="${level:--99}" -v s="${secs:-0}" 'BEGIN { exit !(hz >= 438 && hz <= 442 && db > -20 && s >= 2) }'; then
  echo "ok 4 - libvirt's dbus audio: the guest's 440 Hz sine reaches its VM's client through spicegl-gpu: $said"
else
  echo "not ok 4 - the guest's tone did not reach its client as it should: $said (want 438-442 Hz above -20 dBFS for 2 s, as Opus)"
  show "$l" "$tmp/sound.err"
fi

# 5: USB redirection (libvirt's <redirdev bus='usb' type='dbus'/>): the
# daemon relays the VM's own usb-redir devices; a client's shared CD-ROM
# reaches the second guest whole and goes when the client leaves.
n=${names[1]} l=$tmp/logs/${names[1]}.log
head -c $((1 << 20)) /dev/urandom >"$tmp/cd.bin"
want=$(sha256sum "$tmp/cd.bin" | cut -d' ' -f1)
"$builddir/client-test/spicegl-probe" "spice://127.0.0.1:${ports[1]}" --ticket ticket-1 --seconds 120 \
  --share-cd="$tmp/cd.bin" --no-markers --json >"$tmp/usb.json" 2>"$tmp/usb.err" &
probe_pid=$!
got=none t0=$(date +%s)
wait_console "$n" usb-cd 90 &&
  got=$(sed -n 's/.*@@SGL usb-cd \(size=[0-9]* sha256=[0-9a-f]*\).*/\1/p' "$tmp/$n.console" | head -n 1)
took=$(($(date +%s) - t0))
kill -USR1 "$probe_pid" 2>/dev/null
wait "$probe_pid"
if [ "$got" = "size=1048576 sha256=$want" ] && wait_console "$n" usb-cd-gone 30 &&
  grep -q "VM '$n': USB redirection on 2 usb-redir device(s) (QEMU's command line)" "$l" &&
  grep -q "USB redirection charredir0: a client's channel connected; QEMU's side opens" "$l"; then
  echo "ok 5 - libvirt's dbus redirdevs: the daemon relays charredir0 and charredir1; a client's 1 MiB USB CD-ROM reached the guest whole (sha256) in ${took} s and went when the client left"
else
  echo "not ok 5 - USB redirection under libvirt: the guest read '$got' (want size=1048576 sha256=$want)"
  show "$l" "$tmp/usb.err" "$tmp/usb.json"
fi

# 6: USB policy (libvirt's <redirfilter>, on the first VM: mass storage,
# class 08, refused): QEMU's usb-redir devices apply it to what the daemon
# relays, so a client's CD-ROM never reaches that guest, and spice-gtk tells
# the client why.
n=${names[0]} l=$tmp/logs/${names[0]}.log
"$builddir/client-test/spicegl-probe" "spice://127.0.0.1:${ports[0]}" --ticket ticket-0 --seconds 15 \
  --share-cd="$tmp/cd.bin" --no-markers --json >"$tmp/usb-filtered.json" 2>"$tmp/usb-filtered.err"
refused=$(sed -n 's/.*"usb_errors":\["\([^"]*\)".*/\1/p' "$tmp/usb-filtered.json")
if ! grep -q "@@SGL usb-cd " "$tmp/$n.console" &&
  grep -q '"filter":"0x08:-1:-1:-1:0|-1:-1:-1:-1:1"' "$(vm_log "$n")" &&
  grep -q "VM '$n': USB redirection on 2 usb-redir device(s) (QEMU's command line)" "$l" &&
  grep -q '"usbredir_channels":2' "$tmp/usb-filtered.json" && [ -n "$refused" ]; then
  echo "ok 6 - libvirt's redirfilter: a client's USB CD-ROM, offered on the first VM's 2 usb-redir channels for 15 s (the second VM's guest had it in ${took} s), never reached its guest (QEMU's filter=0x08:-1:-1:-1:0|-1:-1:-1:-1:1), and the client was told: $refused"
else
  echo "not ok 6 - libvirt's redirfilter refusing mass storage: the guest saw $(grep -c '@@SGL usb-cd ' "$tmp/$n.console") CD-ROM(s)"
  show "$l" "$tmp/usb-filtered.err" "$tmp/usb-filtered.json"
fi

# 7: one VM's ticket does not open the other.
if "$builddir/client-test/spicegl-probe" "spice://127.0.0.1:${ports[0]}" --ticket ticket-1 --seconds 2 --json \
  >"$tmp/refused.json" 2>&1; then
  echo "not ok 7 - the second VM's ticket opened the first VM"
elif grep -q '"error":"authentication failed"' "$tmp/refused.json"; then
  echo "ok 7 - the second VM's ticket is refused by the first VM's daemon"
else
  echo "not ok 7 - the wrong ticket failed for another reason"
  show "$tmp/refused.json"
fi

# 8: virsh shutdown: the guest powers off (ACPI), the daemon exits.
n=${names[0]}
vsh shutdown "$n" >/dev/null
if [ -n "$d0" ] && wait_state "$n" "shut off" 90 && grep -q "@@SGL power-button" "$tmp/$n.console" &&
  ! kill -0 "$d0" 2>/dev/null && grep -q "QEMU went away" "$tmp/logs/$n.log" &&
  ! grep -qE "sandbox: denied|rejected:" "$tmp/logs/$n.log"; then
  echo "ok 8 - virsh shutdown: the guest powered off and its daemon exited cleanly"
else
  echo "not ok 8 - virsh shutdown: state $(vsh domstate "$n"), daemon $d0 $(kill -0 "$d0" 2>/dev/null && echo still runs)"
  show "$tmp/logs/$n.log"
fi

# 9: the daemon dies: the VM's log says the GPU went away, and the VM
# still powers off (it does not hang).
n=${names[1]}
killed=0
[ -n "$d1" ] && kill -9 "$d1" && killed=1
sleep 2
vsh shutdown "$n" >/dev/null
if [ "$killed" = 1 ] && wait_state "$n" "shut off" 60 && grep -q "Unexpected end-of-file before all data were read" "$(vm_log "$n")"; then
  echo "ok 9 - spicegl-gpu killed: the VM's log says its GPU connection ended, and virsh shutdown still powers it off"
else
  echo "not ok 9 - after the daemon was killed: state $(vsh domstate "$n")"
  show "$(vm_log "$n")"
fi

# 10: virsh destroy stops the daemon with the VM.
vsh start "$n" >"$tmp/$n.start2" 2>&1
d1=$(daemon_pid "$n")
if wait_console "$n" gl-start "$boot_s" && [ -n "$d1" ] && kill -0 "$d1" && vsh destroy "$n" >/dev/null &&
  wait_state "$n" "shut off" 30 && sleep 1 && ! kill -0 "$d1" 2>/dev/null; then
  echo "ok 10 - virsh destroy: the VM and its daemon ($d1) are gone"
else
  echo "not ok 10 - virsh destroy left daemon '$d1' or the VM: $(vsh domstate "$n")"
  show "$tmp/$n.start2"
fi

# 11: a bad settings file: virsh start fails, nothing stays.
n=${names[0]}
printf '[spicegl-gpu]\nport=%s\ntickte-file=%s\n' "${ports[0]}" "$tmp/$n.ticket" >"$confdir/$n.conf"
if vsh start "$n" >"$tmp/$n.bad" 2>&1; then
  echo "not ok 11 - a VM with a bad settings file started"
elif wait_state "$n" "shut off" 30 && [ -z "$(pgrep -f "^$binary|^$tmp/spicegl-gpu")" ]; then
  echo "ok 11 - a bad settings file (a misspelt key) fails virsh start, and no daemon stays: $(grep -o 'error: .*' "$tmp/$n.bad" | head -n 1 | cut -c1-100)"
else
  echo "not ok 11 - after a bad settings file: state $(vsh domstate "$n"), daemons $(pgrep -f "$tmp/spicegl-gpu")"
fi
