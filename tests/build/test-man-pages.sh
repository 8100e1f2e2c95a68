#!/usr/bin/env bash
# The man pages match the programs: every long option a program's --help
# lists is in its page, every option a page documents exists, every
# spicegl-ctl command is in its page, and groff renders each page without a
# warning, also when installed under a long prefix (make distcheck's, or a
# CI runner's). Speaks TAP.
set -u
builddir=${SGL_BUILDDIR:?run through make check}
srcdir=${SGL_SRCDIR:?run through make check}
echo "1..5"

# Long options in --help output, one a line, without "=VALUE".
help_options() {
  "$@" --help 2>&1 | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z0-9-]*' | sed 's/.*--/--/' | sort -u
}
# Long options a man page documents, from its roff source (\-\- is --).
page_options() {
  sed 's/\\-/-/g' "$1" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

n=0
for prog in daemon/spicegl-gpu tools/spicegl-vm; do
  n=$((n + 1))
  name=${prog##*/}
  page=$builddir/docs/man/$name.1
  help=$(help_options "$builddir/$prog")
  documented=$(page_options "$page")
  undocumented=$(comm -23 <(echo "$help") <(echo "$documented") | tr '\n' ' ')
  # A page may name other programs' options (QEMU's, spicegl-vm's
  # --daemon-arg=--bitrate): only options that look like this program's and
  # are not in --help count as stale.
  stale=$(comm -13 <(echo "$help") <(echo "$documented") |
    grep -vxE -- '--(help|version|daemon-arg|qemu-arg)' |
    while read -r o; do grep -q -- "^\.BR\? *\\\\-\\\\-${o#--}\b" "$page" && echo "$o"; done | tr '\n' ' ')
  if [ -n "$help" ] && [ -z "$undocumented" ] && [ -z "$stale" ]; then
    echo "ok $n - $name.1 documents each of its $(wc -l <<<"$help") options and no other"
  else
    echo "not ok $n - $name.1: not documented: ${undocumented:-none}; documented but not in --help: ${stale:-none}"
  fi
done

n=$((n + 1))
page=$builddir/docs/man/spicegl-ctl.1
commands=$("$builddir/tools/spicegl-ctl" --help 2>&1 | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
missing=""
for c in $commands; do
  grep -qE "^\.B(I)? \"?$(sed 's/-/\\\\-/g' <<<"$c")\b" "$page" || missing+=" $c"
done
if [ -n "$commands" ] && [ -z "$missing" ]; then
  echo "ok $n - spicegl-ctl.1 documents each of its $(wc -w <<<"$commands") commands"
else
  echo "not ok $n - spicegl-ctl.1 lacks:${missing:- (no commands read from --help)}"
fi

# Groff's warnings for each page in directory $1, or nothing.
groff_warnings() {
  local page warnings bad=""
  for page in "$1"/*.1; do
    warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || bad+=" ${page##*/}: $warnings"
  done
  echo "$bad"
}

n=$((n + 1))
bad=$(groff_warnings "$builddir/docs/man")
if [ -z "$bad" ]; then
  echo "ok $n - every page renders without a groff warning"
else
  echo "not ok $n - groff warnings:$bad"
fi

# The same pages made by the build's own rule for a long prefix.
n=$((n + 1))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
long=$(printf '/runner-dir-%02d' {1..7})/_inst
pages=$(cd "$builddir" && ls docs/man/*.1)
if (cd "$tmp" && make -s -f "$builddir/Makefile" -o Makefile srcdir="$srcdir" AM_DEFAULT_VERBOSITY=0 \
  prefix="$long" sysconfdir="$long/etc" datadir="$long/share" bindir="$long/bin" \
  systemdsystemunitdir="$long/lib/systemd/system" $pages >/dev/null) &&
  grep -q "_inst" "$tmp/docs/man/spicegl-gpu.1"; then
  bad=$(groff_warnings "$tmp/docs/man")
  if [ -z "$bad" ]; then
    echo "ok $n - every page renders without a groff warning under a ${#long}-character prefix"
  else
    echo "not ok $n - groff warnings under a ${#long}-character prefix:$bad"
  fi
else
  echo "not ok $n - could not make the pages for a ${#long}-character prefix"
fi
