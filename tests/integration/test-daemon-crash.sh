#!/bin/bash
# kill -9 of vhsmd at random points during every mutating operation (KEK create, rotate,
# reseal, disable, enable, delete, recover, purge, acl; wrap, unwrap and rewrap, which append
# to the audit chain): after a restart every KEK is in its old or its new state, never lost
# or corrupt (atomic, durable writes), every DEK wrapped before still unwraps, and the audit
# chain still verifies.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
ITER=${VHSM_CRASH_ITERATIONS:-40}

make_cvm cvm genoa
start_daemon cvm
for k in a b c; do
	expect_exit 0 ctl kek create "$k"
	head -c 32 /dev/urandom >"$WORK/dek-$k"
	ctl wrap --kek "$k" <"$WORK/dek-$k" >"$WORK/wrapped-$k" || fail "wrap $k"
done
stop_daemon

daemon_pid() { # the vhsmd process (systemd-socket-activate execs it in place on first connect)
	pgrep -f -- "--state-dir $STATE" | head -n 1
}

ops=("kek rotate a" "kek disable b" "kek enable b" "kek delete c" "kek recover c"
	"kek create d" "kek delete d" "kek purge d" "kek rotate b" "kek acl a uid:65534:unwrap"
	"kek reseal a" "kek reseal c" "kek acl b" "wrap" "unwrap" "rewrap")
# Every operation is hit at least once: the first iterations walk the list in order.
[ "$ITER" -ge ${#ops[@]} ] || ITER=${#ops[@]}
for i in $(seq "$ITER"); do
	start_daemon cvm
	ctl status >/dev/null || fail "daemon not answering before iteration $i"
	if [ "$i" -le ${#ops[@]} ]; then op=${ops[$((i - 1))]}; else op=${ops[$((RANDOM % ${#ops[@]}))]}; fi
	case $op in
	wrap) ctl wrap --kek a <"$WORK/dek-a" >/dev/null 2>&1 & ;;
	unwrap) ctl unwrap <"$WORK/wrapped-b" >/dev/null 2>&1 & ;;
	rewrap) ctl rewrap <"$WORK/wrapped-a" >/dev/null 2>&1 & ;;
	# shellcheck disable=SC2086
	*) ctl $op >/dev/null 2>&1 & ;;
	esac
	client=$!
	sleep "0.0$((RANDOM % 4))$((RANDOM % 10))" # 0-39 ms: before, during or after the request
	pid=$(daemon_pid)
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
	wait "$client" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=

	# Every KEK file must be whole: unseal and show it, and old wrapped DEKs still unwrap.
	start_daemon cvm
	for k in a b c; do
		ctl --json kek show "$k" >"$WORK/show" 2>&1 ||
			fail "iteration $i ($op): KEK $k lost or corrupt: $(cat "$WORK/show")"
		state=$(jq -r .kek.state "$WORK/show")
		if [ "$state" = enabled ]; then
			ctl unwrap <"$WORK/wrapped-$k" | cmp -s - "$WORK/dek-$k" ||
				fail "iteration $i ($op): wrapped DEK under $k no longer unwraps"
		fi
	done
	if [ -f "$STATE/kek/d.sealed" ]; then
		ctl kek show d >/dev/null 2>&1 || fail "iteration $i ($op): KEK d corrupt"
	fi
	ctl audit --verify >"$WORK/audit" 2>&1 ||
		fail "iteration $i ($op): audit chain broken: $(tail -n 3 "$WORK/audit")"
	stop_daemon
done
ok "$ITER kill -9 iterations over ${#ops[@]} operations: every KEK old or new, never lost or corrupt, audit chain intact"
echo "$_checks checks passed"
