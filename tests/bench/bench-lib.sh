# Sourced by the benchmark scripts: a scratch directory and background
# processes cleaned up at exit, and a free TCP port on 127.0.0.1.
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { # [base]
  local base=${1:-21000}
  for p in $(seq $((base + $$ % 20000)) $((base + 100 + $$ % 20000))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}
# A number member of a probe's JSON: its first occurrence, the top level's
# (a nested object such as "sound" comes after and may reuse the name).
field() { grep -o "\"$1\":[-0-9.e]*" <<<"$2" | head -n 1 | cut -d: -f2; }
# Waits up to 3 minutes for text in file while process pid lives.
wait_for() { # file text pid
  for _ in $(seq 1800); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  echo "$(basename "$0" .sh): no '$2' in $1" >&2
  tail -n 20 "$1" >&2
  return 1
}
