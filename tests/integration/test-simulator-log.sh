#!/bin/bash
# The simulator module links its own copy of libvhsm: its debug messages reach vhsmd's, under
# --debug only, at start-up (opening the state file) and in a running daemon (a request that
# finds the state file changed).
. "$(dirname "$0")/lib.sh"

make_cvm cvm
cp "$WORK/cvm.json" "$WORK/good.json"
# A member the simulator does not know: it names it in a debug message and refuses the file.
sed 's/^{/{"bogus_member": 1, /' "$WORK/good.json" >"$WORK/bad.json"
grep -q '"bogus_member"' "$WORK/bad.json" || fail "could not make the damaged state file"

run_daemon() {
	local rc=0
	"$DAEMON" --snp-device "sim:$WORK/bad.json" --trust-root "$WORK/cvm-certs/ark.pem" \
		--state-dir "$WORK/state0" --socket "$WORK/s0.sock" --idle-timeout 1 "$@" \
		>"$WORK/out" 2>&1 </dev/null || rc=$?
	[ "$rc" -ne 0 ] || fail "vhsmd started on a damaged simulator state"
}

run_daemon --debug
expect_out 'debug: sim: state: bogus_member: unknown member'
expect_out "debug: sim: cannot load $WORK/bad\.json: Bad message"
expect_out "cannot open SNP device sim:$WORK/bad\.json: Bad message"
ok "--debug: the module's messages at start-up appear with vhsmd's"

run_daemon
not_out 'sim:.*bogus_member|debug:'
expect_out "cannot open SNP device sim:$WORK/bad\.json: Bad message"
ok "without --debug: none of the module's debug messages"

# A running daemon: the state file is replaced by the damaged one between requests; the next
# request's reload fails (the old state is kept) and says so under --debug.
start_daemon cvm --debug
expect_exit 0 ctl attestation report --nonce 00112233 --out "$WORK/r1.bin"
cp "$WORK/bad.json" "$WORK/cvm.json.new"
mv "$WORK/cvm.json.new" "$WORK/cvm.json"
expect_exit 0 ctl attestation report --nonce 00112234 --out "$WORK/r2.bin"
grep -q "debug: sim: $WORK/cvm\.json changed but cannot be loaded (Bad message); keeping the old state" \
	"$WORK/daemon.log" || { cat "$WORK/daemon.log" >&2; fail "no module message from a request"; }
grep -q 'debug: sim: state: bogus_member: unknown member' "$WORK/daemon.log" ||
	{ cat "$WORK/daemon.log" >&2; fail "the module's parser message is missing"; }
ok "--debug: the module's messages during requests appear with vhsmd's"
stop_daemon
