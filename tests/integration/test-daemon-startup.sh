#!/bin/bash
# vhsmd started without journald (stderr to a file, as in a container or a test): every
# startup failure prints the path and the reason on stderr and exits non-zero; a vhsmd in the
# build tree finds the simulator module built beside it.
. "$(dirname "$0")/lib.sh"

make_cvm cvm
# No VHSMD_LOG_STDERR: the daemon itself must notice that no journal is reachable.
unset VHSMD_LOG_STDERR
if [ -S /run/systemd/journal/socket ]; then
	journal=1
else
	journal=0
fi

# run_daemon ARGS...: vhsmd with stderr to a file (not a terminal), stdout too.
run_daemon() {
	local rc=0
	"$DAEMON" --snp-device "sim:$WORK/cvm.json" --trust-root "$WORK/cvm-certs/ark.pem" \
		--idle-timeout 1 "$@" >"$WORK/out" 2>&1 </dev/null || rc=$?
	echo "$rc" >"$WORK/rc"
}

# Forced to stderr (as tests and hand-started daemons do), the messages name the path.
export VHSMD_LOG_STDERR=1
run_daemon --state-dir "$WORK/state" --socket /nodir/x.sock
[ "$(cat "$WORK/rc")" -ne 0 ] || fail "vhsmd with an unbindable socket exited 0"
expect_out '^vhsmd: cannot listen on /nodir/x\.sock: No such file or directory$'
ok "unbindable socket: path and reason on stderr, non-zero exit"

: >"$WORK/notadir"
run_daemon --state-dir "$WORK/notadir/state" --socket "$WORK/s.sock"
[ "$(cat "$WORK/rc")" -ne 0 ] || fail "vhsmd with a bad state dir exited 0"
expect_out "cannot open state directory $WORK/notadir/state: Not a directory"
ok "bad state directory: path and reason on stderr, non-zero exit"

run_daemon --state-dir "$WORK/state" --socket "$WORK/s.sock" --trust-root "$WORK/nothere.pem"
[ "$(cat "$WORK/rc")" -ne 0 ] || fail "vhsmd with a missing trust root exited 0"
expect_out "--trust-root $WORK/nothere\.pem: "
ok "missing trust root: path on stderr, non-zero exit"
unset VHSMD_LOG_STDERR

# Without the override: stderr unless journald is there (then the journal has it).
if [ "$journal" = 0 ]; then
	run_daemon --state-dir "$WORK/state" --socket /nodir/x.sock
	[ "$(cat "$WORK/rc")" -ne 0 ] || fail "vhsmd with an unbindable socket exited 0"
	expect_out '^vhsmd: cannot listen on /nodir/x\.sock: No such file or directory$'
	ok "no journald: messages go to stderr on their own"
else
	echo "# journald is running here: the no-journal fallback is not observable"
fi

# The simulator module is found beside a build-tree vhsmd, without VHSM_SNP_SIM_MODULE.
mkdir -p "$WORK/state2"
(
	unset VHSM_SNP_SIM_MODULE
	export VHSMD_LOG_STDERR=1
	run_daemon --state-dir "$WORK/state2" --socket "$WORK/s2.sock" &
	for i in $(seq 200); do [ -S "$WORK/s2.sock" ] && break; sleep 0.05; done
	wait
)
[ "$(cat "$WORK/rc")" -eq 0 ] || fail "build-tree vhsmd without VHSM_SNP_SIM_MODULE: exit $(cat "$WORK/rc")"
not_out 'not installed'
expect_out 'SIMULATED SNP device'
ok "build-tree vhsmd loads the simulator built beside it"

# And a module that is not there is still reported as such.
(
	export VHSM_SNP_SIM_MODULE=$WORK/no-such-sim.so VHSMD_LOG_STDERR=1
	run_daemon --state-dir "$WORK/state2" --socket "$WORK/s3.sock"
)
[ "$(cat "$WORK/rc")" -ne 0 ] || fail "vhsmd with a missing simulator module exited 0"
expect_out "cannot open SNP device sim:$WORK/cvm\.json: .*simulator module is not installed"
ok "an explicit VHSM_SNP_SIM_MODULE is kept and a missing one named"
