#!/usr/bin/env bash
# Every program the scripts and tests run comes from a Debian package that
# scripts/setup installs: one of its lists, a dependency of those, or the
# base system (Essential, or Priority required: a minimal Debian image has no
# more; kmod and cpio, Priority important, are in setup's lists for that
# reason). A program that is not installed fails as well: a fresh machine
# would miss it. Speaks TAP, one line per program: program -> package (why).
#
# The programs come from the sources, not from a list kept by hand:
# - shell scripts (autogen.sh, scripts/, tests/): the names checked with
#   `command -v NAME` and the `for tool in A B; do command -v "$tool"` lists
#   (these must be installed), and every other command they call, where it is
#   installed in /usr/bin, /usr/sbin, /bin or /sbin;
# - configure.ac: the programs it looks for;
# - the C tests and clients: the literal first element of an argv array and
#   the literal default of a program variable (QEMU's name);
# - the few below that are run without a check.
# A package a source names for its program (configure.ac, build-guest) must
# be the one that ships it.
#
# SGL_SETUP_SCRIPT: check against another setup script (default
# scripts/setup).
set -u
srcdir=${SGL_SRCDIR:?run through make check}
setup=${SGL_SETUP_SCRIPT:-$srcdir/scripts/setup}
cd "$srcdir" || exit 1

# Run without a `command -v` check: PROGRAM WHERE.
listed=(
  "gst-inspect-1.0 tests/harness/remote-viewer.sh"
  "flock tests/spice-gl/test-remote-viewer.sh"
  "autoreconf autogen.sh"
  "make scripts/build"
)
# Not from a package, and fine: scripts/setup leaves a sufficient QEMU
# alone, wherever it came from.
unpackaged_ok=" qemu-system-x86_64 "
lists=(BUILD_PKGS RUN_PKGS PACKAGE_PKGS QEMU_PKGS)

if ! command -v dpkg-query >/dev/null || ! command -v apt-cache >/dev/null; then
  if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then echo "Bail out! no dpkg-query or apt-cache: not a Debian system"
  else echo "1..0 # SKIP no dpkg-query or apt-cache: not a Debian system"; fi
  exit 0
fi
[ -r "$setup" ] || { echo "Bail out! cannot read $setup"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The words of NAME=( ... ) in the setup script, read as text (never run):
# package names, without a /suite.
setup_list() { # NAME
  awk -v name="$1" '
    !on && index($0, name "=(") == 1 { on = 1; $0 = substr($0, length(name) + 3) }
    on { sub(/#.*/, ""); done = sub(/\).*/, ""); print; if (done) exit }' "$setup" |
    tr -s '[:blank:]' '\n' | sed -e '/^$/d' -e 's|/.*||'
}
for l in "${lists[@]}"; do
  setup_list "$l" | sed "s/\$/ $l/" >>"$tmp/lists"
done
[ -s "$tmp/lists" ] || { echo "Bail out! no ${lists[*]} in $setup"; exit 1; }

# The simple commands of a shell script, one a line: LINE<TAB>WORDS. Quoted
# text, comments, here-documents, parameter expansions, array literals,
# arithmetic and case patterns are left out; command substitutions are
# commands of their own.
sh_commands() { # FILE
  awk '
    function out() { if (cur ~ /[^ \t]/) printf "%d\t%s\n", NR, cur; cur = "" }
    function push(s) { st[++sp] = s; paren[sp] = 0 }
    function code(s) { return s == "code" || s == "sub" }
    BEGIN { sp = 0; st[0] = "code"; paren[0] = 0 }
    hd != "" {
      line = $0
      if (hdtab) sub(/^\t+/, "", line)
      if (line == hd) hd = ""
      next
    }
    {
      n = length($0); i = 1; cont = 0; newhd = ""
      while (i <= n) {
        c = substr($0, i, 1); c2 = substr($0, i, 2); s = st[sp]
        if (s == "sq") { if (c == "\047") sp--; i++; continue }
        if (s == "param") {
          if (c == "{") paren[sp]++
          else if (c == "}" && paren[sp]-- == 0) sp--
          i++; continue
        }
        if (s == "arith") { if (c2 == "))") { sp--; i += 2 } else i++; continue }
        if (s == "dq") {
          if (c == "\\") { i += 2; continue }
          if (c == "\"") { sp--; if (code(st[sp])) cur = cur "\"\""; i++; continue }
          if (c2 == "$(" && substr($0, i + 2, 1) != "(") { out(); push("sub"); i += 2; continue }
          i++; continue
        }
        if (s == "array") {
          if (c == ")") sp--
          else if (c == "\047") push("sq")
          else if (c == "\"") push("dq")
          else if (c2 == "${") { push("param"); i++ }
          i++; continue
        }
        # code, or a command substitution
        if (c == "\\") {
          if (i == n) cont = 1; else cur = cur substr($0, i + 1, 1)
          i += 2; continue
        }
        if (c == "#" && (cur == "" || cur ~ /[ \t]$/)) break
        if (c == "\047") { push("sq"); cur = cur "\"\""; i++; continue }
        if (c == "\"") { push("dq"); i++; continue }
        if (substr($0, i, 3) == "$((") { push("arith"); i += 3; continue }
        if (c2 == "((" && (cur == "" || cur ~ /[ \t]$/)) { push("arith"); i += 2; continue }
        if (c2 == "$(") { out(); push("sub"); i += 2; continue }
        if (c2 == "${") { push("param"); cur = cur "$"; i += 2; continue }
        if (c == "(" && cur ~ /=$/) { push("array"); i++; continue }
        if (c == "(") { out(); paren[sp]++; i++; continue }
        if (c == ")") {
          if (paren[sp] > 0) { out(); paren[sp]-- }
          else if (s == "sub") { out(); sp-- }
          else cur = "" # a case pattern
          i++; continue
        }
        if (substr($0, i, 3) == "<<<") { cur = cur "<<<"; i += 3; continue }
        if (c2 == "<<") {
          rest = substr($0, i + 2)
          hdtab = sub(/^-/, "", rest)
          if (match(rest, /^[ \t]*[\047"]?[A-Za-z_][A-Za-z0-9_]*[\047"]?/)) {
            newhd = substr(rest, 1, RLENGTH)
            gsub(/[ \t\047"]/, "", newhd)
            i += 2 + hdtab + RLENGTH; continue
          }
        }
        if (index("`;|&{}", c)) { out(); i++; continue }
        cur = cur c; i++
      }
      if (!cont && code(st[sp])) out()
      if (newhd != "") hd = newhd
    }' "$1"
}

# From each simple command: "checked NAME" for command -v NAME, "called
# NAME" for the command it runs (and the wrapper running it).
sh_programs() { # FILE
  sh_commands "$1" | awk -F '\t' -v file="$1" '
    BEGIN {
      split("if then else elif do while until ! time exec fi done esac { }", k, " ")
      for (j in k) skip[k[j]] = 1
      split("env timeout nice setsid stdbuf xargs sudo", k, " ")
      for (j in k) wrap[k[j]] = 1
    }
    {
      n = split($2, w, /[ \t]+/); i = 1
      while (i <= n && w[i] == "") i++
      while (i <= n) {
        x = w[i]
        if (x in skip) { i++; continue }
        if (x ~ /^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=/) { i++; continue }
        if (x in wrap) {
          print "called\t" x "\t" file ":" $1
          i++
          while (i <= n && (w[i] ~ /^-/ || w[i] ~ /=/ || w[i] ~ /^[0-9.]+[smhd]?$/)) i++
          continue
        }
        break
      }
      if (i > n || w[i] ~ /^(for|case|select|function)$/) next
      if (w[i] == "command" && w[i + 1] == "-v") {
        if (w[i + 2] ~ /^[A-Za-z][A-Za-z0-9._+-]*$/) print "checked\t" w[i + 2] "\t" file ":" $1
        next
      }
      if (w[i] ~ /^[A-Za-z][A-Za-z0-9._+-]*$/) print "called\t" w[i] "\t" file ":" $1
    }'
  # for tool in A B:pkg; do command -v "$tool" (or "${tool%%:*}") within
  # the loop's first lines
  awk -v file="$1" '
    { line[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        if (line[i] !~ /^[ \t]*for [A-Za-z_]+ in [^;]*; do/) continue
        var = line[i]; sub(/^[ \t]*for /, "", var); sub(/ .*/, "", var)
        words = line[i]; sub(/^[ \t]*for [A-Za-z_]+ in /, "", words); sub(/;.*/, "", words)
        body = line[i] "\n" line[i + 1] "\n" line[i + 2] "\n" line[i + 3]
        if (!index(body, "command -v \"$" var "\"") && !index(body, "command -v \"${" var "%%:*}\""))
          continue
        n = split(words, w, /[ \t]+/)
        for (j = 1; j <= n; j++) {
          prog = w[j]; pkg = ""
          if (index(prog, ":")) {
            pkg = substr(prog, index(prog, ":") + 1); prog = substr(prog, 1, index(prog, ":") - 1)
          }
          if (prog ~ /^[A-Za-z][A-Za-z0-9._+-]*$/) print "checked\t" prog "\t" file ":" i "\t" pkg
        }
      }
    }' "$1"
}

# The shell scripts: autogen.sh, scripts/*, and under tests/ what is sh or
# bash (not the guest's busybox init).
is_shell() {
  case "$1" in *.sh) return 0 ;; esac
  head -n 1 "$1" 2>/dev/null | grep -qxE '#! ?(/bin/(ba)?sh|/usr/bin/env (ba)?sh)'
}
find autogen.sh scripts tests -type f -not -path 'tests/fuzz/corpus/*' | sort |
  while IFS= read -r f; do
    [ "$f" != tests/build/test-programs.sh ] && is_shell "$f" && echo "$f"
  done >"$tmp/scripts"
: >"$tmp/found"
while IFS= read -r f; do
  sh_programs "$f" >>"$tmp/found"
done <"$tmp/scripts"
# Functions the scripts define are not programs.
tr '\n' '\0' <"$tmp/scripts" |
  xargs -0 sed -nE 's/^[[:space:]]*(function[[:space:]]+)?([A-Za-z_][A-Za-z0-9_-]*)[[:space:]]*\(\).*/\2/p' |
  sort -u >"$tmp/functions"

# configure.ac: SGL_REQUIRE_PROG([VAR], [PROGRAM], [PACKAGE]), AC_PATH_PROG,
# pkg-config.
sed -nE 's/^SGL_REQUIRE_PROG\(\[[A-Z_]+\], *\[([^]$]+)\], *\[([^]$]+)\]\).*/checked\t\1\tconfigure.ac\t\2/p' \
  configure.ac >>"$tmp/found"
sed -nE 's/^AC_PATH_PROGS?\(\[[A-Z_]+\], *\[([^]$]+)\].*/\1/p' configure.ac | tr ' ' '\n' |
  sed '/^$/d; s/$/\tconfigure.ac/; s/^/checked\t/' >>"$tmp/found"
grep -q '^PKG_PROG_PKG_CONFIG' configure.ac &&
  printf 'checked\tpkg-config\tconfigure.ac\n' >>"$tmp/found"

# The C tests and clients: {"NAME", ...} as an argv, a program variable's
# literal default (qemu = "NAME", qemu ? qemu : "NAME"), and a program
# g_subprocess_new() starts (its first string after the error pointer).
name='"[A-Za-z][A-Za-z0-9._+-]*"' var='(qemu|prog|program|viewer)[A-Za-z_]*'
spawned="(argv|wrapper|cmd)[A-Za-z_]*\\[\\] *= *\\{ *$name|$var *= *$name *;|\\? *$var *: *$name"
spawned+="|g_subprocess_new\\([^,]*, *&[a-z_]+, *$name"
find tests client-test -name '*.c' | sort | while IFS= read -r f; do
  grep -noE "$spawned" "$f" | sed -nE "s|^([0-9]+):.*\"([^\"]+)\".*|checked\t\2\t$f:\1|p"
done >>"$tmp/found"

for e in "${listed[@]}"; do
  read -r prog where <<<"$e"
  printf 'checked\t%s\t%s\n' "$prog" "$where" >>"$tmp/found"
done

# One line a program: PROGRAM|checked or called|WHERE (and how many
# more)|PACKAGE A SOURCE NAMES. Checked wins: it must be installed.
builtins=" $(compgen -b | tr '\n' ' ') $(compgen -k | tr '\n' ' ') "
awk -F '\t' -v builtins="$builtins" -v fnfile="$tmp/functions" '
  BEGIN { while ((getline f < fnfile) > 0) fn[f] = 1 }
  index(builtins, " " $2 " ") || ($2 in fn) { next }
  {
    p = $2
    if (!(p in kind) || $1 == "checked" && kind[p] == "called") {
      kind[p] = $1; where[p] = $3; more[p] = 0
    } else more[p]++
    if ($4 != "" && !(p in pkg)) pkg[p] = $4
  }
  END {
    for (p in kind)
      printf "%s|%s|%s%s|%s\n", p, kind[p], where[p], more[p] ? " and " more[p] " more" : "", pkg[p]
  }' "$tmp/found" | sort >"$tmp/programs"

# Where each is: anywhere on PATH (and the sbin directories) if it must be
# installed; only in the system's directories otherwise.
locate() { # PROGRAM KIND
  local d
  if [ "$2" = checked ]; then
    PATH="$PATH:/usr/sbin:/sbin" type -P "$1" && return 0
  fi
  for d in /usr/bin /usr/sbin /bin /sbin; do
    [ -x "$d/$1" ] && [ -f "$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}
# A path and what dpkg may know it as: its target, and /bin or /usr/bin
# (one is a link to the other since usrmerge, and dpkg knows only one).
variants() { # PATH
  local p r
  r=$(readlink -f "$1")
  for p in "$1" "$r"; do
    echo "$p"
    case "$p" in
      /usr/bin/* | /usr/sbin/*) echo "${p#/usr}" ;;
      /bin/* | /sbin/*) echo "/usr$p" ;;
    esac
  done | awk '!seen[$0]++'
}

: >"$tmp/located"
: >"$tmp/paths"
while IFS='|' read -r prog kind where pkg; do
  if path=$(locate "$prog" "$kind"); then
    printf '%s|%s|%s|%s|%s\n' "$prog" "$kind" "$where" "$pkg" "$path" >>"$tmp/located"
    variants "$path" >>"$tmp/paths"
  elif [ "$kind" = checked ]; then
    printf '%s|%s|%s|%s|\n' "$prog" "$kind" "$where" "$pkg" >>"$tmp/located"
  fi
done <"$tmp/programs"

# Owners of every path at once (dpkg -S is slow one by one): PATH<TAB>PKGS.
sort -u "$tmp/paths" | tr '\n' '\0' | xargs -0 -r dpkg -S 2>/dev/null |
  grep -v '^diversion by' | sed -nE 's/^(.+): (\/.*)$/\2\t\1/p' | sed -E 's/:[a-z0-9_]+(,|$)/\1/g' \
  >"$tmp/owners"
owner() { # PATH: the packages that ship it, by any of its names
  local v
  while IFS= read -r v; do
    awk -F '\t' -v p="$v" '
      $1 == p { gsub(/, /, " ", $2); print $2; found = 1; exit }
      END { exit !found }' "$tmp/owners" && return 0
  done < <(variants "$1")
  return 1
}

# What the setup packages pull in (setup installs without recommends).
cut -d ' ' -f 1 "$tmp/lists" | xargs apt-cache depends --recurse --installed --no-recommends \
  --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances 2>/dev/null |
  grep -v '^[ <]' | sed 's/:.*//' | sort -u >"$tmp/closure"

echo "# programs against $setup: $(grep -c . "$tmp/lists") packages in ${lists[*]}," \
  "$(grep -c . "$tmp/closure") with their dependencies"
echo "1..$(grep -c . "$tmp/located")"
n=0
while IFS='|' read -r prog kind where declared path; do
  n=$((n + 1))
  if [ -z "$path" ]; then
    echo "not ok $n - $prog: not installed (run by $where); scripts/setup must install" \
      "${declared:-its package}"
    continue
  fi
  if ! pkgs=$(owner "$path"); then
    if [[ "$unpackaged_ok" == *" $prog "* ]]; then
      echo "ok $n - $prog -> $path, from no package (scripts/setup leaves a sufficient one" \
        "alone) [$where]"
    else
      echo "not ok $n - $prog -> $path is from no Debian package, so scripts/setup cannot" \
        "install it (run by $where)"
    fi
    continue
  fi
  why="" pkg=""
  for p in $pkgs; do
    pkg=$p
    l=$(awk -v p="$p" '$1 == p { print $2; exit }' "$tmp/lists")
    if [ -n "$l" ]; then why="in $l"; break; fi
    read -r prio ess < <(dpkg-query -W -f='${Priority} ${Essential}\n' "$p" 2>/dev/null)
    if [ "${ess:-}" = yes ]; then why="Essential: the base system"; break; fi
    if [ "${prio:-}" = required ]; then why="Priority required: the base system"; break; fi
    if grep -qxF "$p" "$tmp/closure"; then why="a dependency of the setup packages"; break; fi
  done
  if [ -n "$declared" ] && [[ " $pkgs " != *" $declared "* ]]; then
    echo "not ok $n - $prog -> $pkgs, but $where names $declared"
  elif [ -n "$why" ]; then
    echo "ok $n - $prog -> $pkg ($why) [$where]"
  else
    echo "not ok $n - $prog -> $pkgs: not installed by scripts/setup (run by $where);" \
      "add $pkg to RUN_PKGS in scripts/setup"
  fi
done <"$tmp/located"
