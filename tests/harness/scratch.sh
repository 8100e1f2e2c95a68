# Sourced by the shell tests that start VMs and daemons: tmp, a scratch
# directory, and pids, the processes the test started (append to it). On
# exit each of them is killed, then anything still running from $tmp (a
# daemon a launcher started), and $tmp is removed.
tmp=$(mktemp -d)
pids=()
scratch_cleanup() {
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  pkill -9 -f "$tmp/" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap scratch_cleanup EXIT
