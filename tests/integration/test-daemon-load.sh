#!/bin/bash
# 64 concurrent clients doing wrap/unwrap for a bounded time: every reply correct, no leaked
# file descriptors, bounded memory. (The SANITIZE=1 run adds ASan/LSan on the daemon.)
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
CLIENTS=${VHSM_LOAD_CLIENTS:-64}
SECONDS_LIMIT=${VHSM_LOAD_SECONDS:-10}

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create load
ctl status >/dev/null
pid=$(pgrep -f -- "--state-dir $STATE" | head -n 1)
[ -n "$pid" ] || fail "no daemon process"
fds_before=$(ls /proc/"$pid"/fd | wc -l)

client() { # N: wrap/unwrap its own random DEKs until the deadline; prints its op count
	local n=$1 end=$((SECONDS + SECONDS_LIMIT)) ops=0 d=$WORK/c$1
	mkdir -p "$d"
	while [ $SECONDS -lt $end ]; do
		head -c 64 /dev/urandom >"$d/k"
		ctl wrap --kek load --context "client$n" <"$d/k" >"$d/w" || { echo "ERR wrap $n"; return; }
		ctl unwrap --context "client$n" <"$d/w" >"$d/u" || { echo "ERR unwrap $n"; return; }
		cmp -s "$d/k" "$d/u" || { echo "ERR mismatch $n"; return; }
		ops=$((ops + 2))
	done
	echo "OK $ops"
}
pids=()
for n in $(seq "$CLIENTS"); do
	client "$n" >"$WORK/client-$n.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}" # not a plain wait: the daemon is a child of this shell too
total=0
for n in $(seq "$CLIENTS"); do
	read -r st cnt <"$WORK/client-$n.out" || fail "client $n printed nothing"
	[ "$st" = OK ] || fail "client $n: $(cat "$WORK/client-$n.out")"
	total=$((total + cnt))
done
ok "$CLIENTS clients, $total operations, every reply correct"

sleep 0.2
fds_after=$(ls /proc/"$pid"/fd | wc -l)
[ "$fds_after" -le "$fds_before" ] || fail "fd leak: $fds_before before, $fds_after after"
rss=$(awk '/VmRSS/{print $2}' /proc/"$pid"/status)
expect_exit 0 ctl status
ok "no fd growth ($fds_before -> $fds_after), daemon RSS ${rss} kB"
stop_daemon
if grep -q "ERROR: \(Address\|Leak\)Sanitizer" "$WORK/daemon.log"; then
	cat "$WORK/daemon.log" >&2; fail "sanitizer report from vhsmd"
fi
ok "clean shutdown"
echo "$_checks checks passed"
