#!/usr/bin/env bash
# The installed Debian package, not the build tree: the programs in /usr/bin,
# the vhost-user descriptor, the man pages, the systemd unit, the docs; the
# installed daemon serving a client and answering its control socket; and
# the installed spicegl-vm booting the test guest's disk image with the
# installed daemon as its GPU. The client (spicegl-probe) comes from the
# build tree. Speaks TAP. Run by scripts/package after installing the .deb.
set -u
builddir=${SGL_BUILDDIR:?give the build directory (for spicegl-probe and the test guest)}
srcdir=${SGL_SRCDIR:?give the source directory}
echo "1..7"

. "$srcdir/tests/harness/scratch.sh"
show() { sed 's/^/#   /' "$@" | tail -n 15; }
num() { sed -n "s/.*\"$1\":\(-\?[0-9.]*\).*/\1/p" <<<"$2"; }
free_port() {
  local p
  for p in $(seq $((22000 + $$ % 20000)) $((22050 + $$ % 20000))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
probe="$builddir/client-test/spicegl-probe"

# 1: the programs are the package's, and say its version.
version=$(dpkg-query -W -f='${Version}' spicegl 2>/dev/null)
where=$(for p in spicegl-gpu spicegl-vm spicegl-ctl; do command -v "$p"; done | tr '\n' ' ')
said=$(spicegl-gpu --version 2>&1)
if [ -n "$version" ] && [ "$where" = "/usr/bin/spicegl-gpu /usr/bin/spicegl-vm /usr/bin/spicegl-ctl " ] &&
  [ "$said" = "spicegl-gpu $version" ] &&
  dpkg -S /usr/bin/spicegl-gpu /usr/bin/spicegl-vm /usr/bin/spicegl-ctl >/dev/null 2>&1; then
  echo "ok 1 - spicegl $version installs spicegl-gpu, spicegl-vm and spicegl-ctl in /usr/bin"
else
  echo "not ok 1 - package version '${version}', programs at '$where', spicegl-gpu --version said '$said'"
fi

# 2: libvirt finds the daemon through the descriptor.
desc=/usr/share/qemu/vhost-user/40-spicegl-gpu.json
binary=$(sed -n 's/.*"binary": *"\([^"]*\)".*/\1/p' "$desc" 2>/dev/null)
caps=$("${binary:-/nonexistent}" --print-capabilities 2>&1)
if [ "$binary" = /usr/bin/spicegl-gpu ] && grep -q '"type": *"gpu"' "$desc" &&
  grep -q '"type": *"gpu"' <<<"$caps" && grep -q '"virgl"' <<<"$caps" &&
  [ -d /etc/spicegl/vm ] && spicegl-gpu --help | grep -q "default /etc/spicegl/vm)"; then
  echo "ok 2 - $desc names $binary, which prints its capabilities and reads VMs' settings from /etc/spicegl/vm"
else
  echo "not ok 2 - descriptor binary '${binary}', capabilities '$caps', settings directory $(spicegl-gpu --help | grep -o 'default [^ ]*/vm)')"
fi

# 3: the man pages are found by man and render without a warning.
bad=""
for page in spicegl-gpu spicegl-vm spicegl-ctl; do
  file=$(man -w "$page" 2>/dev/null)
  warnings=$(MANWIDTH=80 man --warnings -l "$file" 2>&1 >/dev/null)
  [ "$file" = "/usr/share/man/man1/$page.1.gz" ] && [ -z "$warnings" ] &&
    MANWIDTH=80 man -l "$file" 2>/dev/null | grep -q "spicegl $version" || bad+=" $page($file: $warnings)"
done
if [ -z "$bad" ]; then
  echo "ok 3 - man spicegl-gpu, spicegl-vm and spicegl-ctl: installed, version $version, no groff warning"
else
  echo "not ok 3 - man pages:$bad"
fi

# 4: the systemd template unit passes systemd's own checks and runs the
# installed daemon.
unit=/lib/systemd/system/spicegl-gpu@.service
verify=$(systemd-analyze verify "$unit" 2>&1)
if [ -f "$unit" ] && [ -z "$verify" ] && grep -q '^ExecStart=/usr/bin/spicegl-gpu ' "$unit"; then
  echo "ok 4 - $unit: systemd-analyze verify finds nothing; ExecStart is /usr/bin/spicegl-gpu"
else
  echo "not ok 4 - the systemd unit: ${verify:-missing or wrong ExecStart}"
fi

# 5: the docs are installed with their links intact.
doc=/usr/share/doc/spicegl
missing=""
for f in README.md docs/control.md docs/launcher.md docs/security.md; do
  [ -s "$doc/$f" ] || missing+=" $f"
done
for link in $(grep -o '](docs/[a-z-]*\.md' "$doc/README.md" 2>/dev/null | sed 's/^](//' | sort -u); do
  [ -s "$doc/$link" ] || missing+=" $link(linked from README.md)"
done
if [ -z "$missing" ]; then
  echo "ok 5 - $doc has the README and docs/, every page the README links to"
else
  echo "not ok 5 - missing from $doc:$missing"
fi

# 6: the installed daemon serves a client and its control socket answers
# the installed spicegl-ctl; SIGTERM ends it with status 0.
port=$(free_port) || { echo "Bail out! no free port"; exit 1; }
ctl=$tmp/control.sock
spicegl-gpu --synthetic 640x400@30 --port "$port" --control "$ctl" >"$tmp/synthetic.log" 2>&1 &
daemon=$!
pids+=("$daemon")
for _ in $(seq 100); do [ -S "$ctl" ] && break; sleep 0.1; done
out=$("$probe" "spice://127.0.0.1:$port" --seconds 3 --warmup 1000 --json 2>"$tmp/probe.err")
frames=$(num frames "$out")
status=$(spicegl-ctl -c "$ctl" --json status 2>&1)
spicegl-ctl -c "$ctl" screenshot "$tmp/shot.png" >/dev/null 2>&1
shot=$(head -c 8 "$tmp/shot.png" 2>/dev/null | od -An -c | tr -d ' ')
kill -TERM "$daemon"
wait "$daemon"
exit_status=$?
if awk -v f="${frames:-0}" 'BEGIN { exit !(f >= 80) }' &&
  grep -q "\"version\":\"$version\"" <<<"$status" && [ "$shot" = '211PNG\r\n032\n' ] &&
  [ "$exit_status" = 0 ]; then
  echo "ok 6 - the installed spicegl-gpu streamed $frames frames in 3 s, answered spicegl-ctl status ($version) and screenshot (PNG), and exited 0 on SIGTERM"
else
  echo "not ok 6 - frames ${frames:-none} (want >= 80), status '$status', screenshot '$shot', exit $exit_status"
  show "$tmp/synthetic.log" "$tmp/probe.err"
fi

# 7: the installed spicegl-vm runs the test guest's disk image with the
# installed daemon as its GPU, and Ctrl-C powers the guest off.
image=$("$srcdir/tests/guest/build-guest" --gl-program "$builddir/tests/guest/sgl-guest-gl" --quiet) ||
  { echo "Bail out! the test guest did not build"; exit 1; }
kernel=$(sed -n 's/^kernel=//p' <<<"$image") initrd=$(sed -n 's/^initrd=//p' <<<"$image")
disk=$tmp/guest.img
"$srcdir/tests/guest/make-disk" "$kernel" "$initrd" "$disk" \
  "console=ttyS0 quiet panic=-1 sgl.run=gl sgl.frames=0 sgl.fps=30" ||
  { echo "Bail out! make-disk failed"; exit 1; }
port=$(free_port) || { echo "Bail out! no free port"; exit 1; }
printf 's3cret\n' >"$tmp/ticket"
console=$tmp/vm.console
# One vCPU: a TCG guest on both cores would starve the daemon and the client.
XDG_RUNTIME_DIR=$tmp spicegl-vm --disk "$disk" --snapshot --accel tcg --cpus 1 --no-network \
  --port "$port" --ticket-file "$tmp/ticket" --console "$console" >"$tmp/vm.out" 2>&1 &
vm=$!
pids+=("$vm")
for _ in $(seq 1800); do
  grep -q "@@SGL gl-start" "$console" 2>/dev/null && break
  kill -0 "$vm" 2>/dev/null || break
  sleep 0.1
done
gpu=$(pgrep -f "spicegl-gpu --socket-path $tmp/" | head -n 1)
exe=$(readlink "/proc/${gpu:-0}/exe" 2>/dev/null)
# PSNR on every 4th frame: a probe comparing every frame falls behind the
# stream beside a TCG guest, and spice-gtk drops the frames it gets late.
# Delivery counts the frames that reached the client's decoder, shown or
# dropped late by a probe starved of the CPU.
out=$("$probe" "spice://127.0.0.1:$port" --ticket s3cret --seconds 3 --warmup 1000 --psnr-every 4 \
  --json 2>"$tmp/probe.err")
frames=$(num frames "$out") decoded=$(num decoded "$out")
kill -INT "$vm"
for _ in $(seq 900); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
wait "$vm"
exit_status=$?
if [ "$exe" = /usr/bin/spicegl-gpu ] && grep -q "renderer=.*virgl" "$console" &&
  awk -v f="${decoded:-0}" 'BEGIN { exit !(f >= 80) }' && [ "$exit_status" = 0 ] &&
  grep -q "@@SGL power-button" "$console"; then
  echo "ok 7 - the installed spicegl-vm booted the disk with $exe as its GPU (virgl); $decoded frames in 3 s reached a client, which showed $frames; Ctrl-C powered the guest off (exit 0)"
else
  echo "not ok 7 - spicegl-vm: daemon '${exe}', ${decoded:-no} frames reached the client (want >= 80; it showed ${frames:-none}), exit $exit_status"
  show "$tmp/vm.out" "$console" "$tmp/probe.err"
fi
