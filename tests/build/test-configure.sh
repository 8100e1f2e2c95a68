#!/usr/bin/env bash
# configure, run without one needed library or tool, must fail and name the
# Debian package that provides it. Speaks TAP.
set -u
srcdir=${SGL_SRCDIR:?run through make check}
cases=(
  "glib-2.0 libglib2.0-dev" "json-glib-1.0 libjson-glib-dev" "zlib zlib1g-dev"
  "libpng libpng-dev" "cmocka libcmocka-dev" "libdrm libdrm-dev" "gbm libgbm-dev"
  "egl libegl-dev" "glesv2 libgles-dev" "alsa libasound2-dev" "x264 libx264-dev" "pixman-1 libpixman-1-dev"
  "gstreamer-app-1.0 libgstreamer-plugins-base1.0-dev" "libavcodec libavcodec-dev"
  "spice-server libspice-server-dev" "spice-client-glib-2.0 libspice-client-glib-2.0-dev"
  "libturbojpeg libturbojpeg0-dev" "x11 libx11-dev"
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pc_path=$(pkg-config --variable pc_path pkg-config)

echo "1..$(( ${#cases[@]} + 2 ))"
n=0
report() { # ok? description [output]
  n=$((n + 1))
  if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; sed 's/^/# /' <<<"${3:-}"; fi
}

# A pkg-config search path holding every .pc file but the hidden one's.
pc_dir_without() {
  local dir=$tmp/pc-$1 d f
  mkdir -p "$dir"
  IFS=: read -ra dirs <<<"$pc_path"
  for d in "${dirs[@]}"; do
    for f in "$d"/*.pc; do
      [ -e "$f" ] && [ "$(basename "$f")" != "$1.pc" ] && ln -sf "$f" "$dir/"
    done
  done
  echo "$dir"
}

run_configure() { # name, then env assignments
  local b=$tmp/build-$1; shift
  mkdir -p "$b"
  (cd "$b" && env "$@" "$srcdir/configure" -q 2>&1)
}

# Sanity: with nothing hidden configure passes, so the failures below are
# caused by what each one hides.
out=$(run_configure all PKG_CONFIG_LIBDIR="$pc_path")
report $? "configure passes with every dependency present" "$out"

for c in "${cases[@]}"; do
  set -- $c
  out=$(run_configure "$1" PKG_CONFIG_LIBDIR="$(pc_dir_without "$1")")
  rc=$?
  if [ $rc -ne 0 ] && grep -q "apt-get install $2" <<<"$out"; then ok=0; else ok=1; fi
  report $ok "without $1.pc configure fails naming $2" "$out"
done

# A tool: cpio hidden from PATH.
bin=$tmp/bin
mkdir -p "$bin"
for d in /usr/local/bin /usr/bin /bin; do
  for f in "$d"/*; do
    [ "$(basename "$f")" = cpio ] || [ -e "$bin/$(basename "$f")" ] || ln -s "$f" "$bin/" 2>/dev/null
  done
done
out=$(run_configure nocpio PATH="$bin" PKG_CONFIG_LIBDIR="$pc_path")
rc=$?
if [ $rc -ne 0 ] && grep -q "apt-get install cpio" <<<"$out"; then ok=0; else ok=1; fi
report $ok "without cpio configure fails naming cpio" "$out"
