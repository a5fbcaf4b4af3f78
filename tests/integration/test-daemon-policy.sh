#!/bin/bash
# A broken attestation policy file: vhsmd stays up, fails closed (releases nothing, says
# "policy file invalid: <path>: <error>" in every refusal, status and the log) and picks up
# the corrected file without a restart: on the next request after the file changed, and on
# SIGHUP (systemctl reload). vhsmctl policy check FILE and policy show.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"

make_cvm cvm genoa
P=$WORK/policy.json
good='{"min_tcb": {"snp": 1}}'
typo='{"min_tcb": {"snp": 1}, "allow_debg": false}'
typo_err='allow_debg: unknown member'

# ---- vhsmctl policy check: offline ----
echo "$good" >"$P"
expect_exit 0 ctl policy check "$P"
expect_out "^policy $P: valid \(sha256 [0-9a-f]{64}\)"
expect_out '"allow_debug":false' # defaults are spelled out
expect_out '"snp":1'
expect_exit 0 ctl --json policy check "$P"
[ "$(jq -r .valid "$WORK/out")" = true ] || fail "check --json: not valid: $(cat "$WORK/out")"
[ "$(jq -r .policy.min_tcb.snp "$WORK/out")" = 1 ] || fail "check --json: effective policy"
echo "$typo" >"$WORK/typo.json"
expect_exit 1 ctl policy check "$WORK/typo.json"
expect_out "^vhsmctl: policy $WORK/typo.json: $typo_err$"
expect_exit 1 ctl --json policy check "$WORK/typo.json"
[ "$(jq -r .error "$WORK/out")" = "$typo_err" ] || fail "check --json error: $(cat "$WORK/out")"
[ "$(jq -r .valid "$WORK/out")" = false ] || fail "check --json: a typo is valid"
printf '{"min_tcb": {"snp": 1}' >"$WORK/cut.json"
expect_exit 1 ctl policy check "$WORK/cut.json"
expect_out "policy $WORK/cut.json: .+"
expect_exit 3 ctl policy check "$WORK/absent.json"
expect_out "policy $WORK/absent.json: cannot read: No such file or directory"
expect_exit 2 ctl policy check
expect_exit 2 ctl policy check "$P" "$P"
expect_exit 0 ctl policy check --help
ok "policy check: valid (effective policy printed), typo named (exit 1), unreadable (exit 3)"

# ---- a running daemon whose file breaks ----
start_daemon cvm --policy "$P"
pid=$DAEMON_PID
expect_exit 0 ctl kek create k
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k --context pol <"$WORK/dek" >"$WORK/w1" || fail "wrap under a good policy"
expect_exit 0 ctl policy show
expect_out "^policy in force: file $P$"
expect_exit 0 ctl --json policy show
[ "$(jq -r .source "$WORK/out")" = file ] || fail "policy show source: $(cat "$WORK/out")"
[ "$(jq -r .effective.min_tcb.snp "$WORK/out")" = 1 ] || fail "policy show: effective policy"

# An admin's typo, saved in place: the next request notices the change and refuses.
echo "$typo" >"$P"
expect_exit 1 ctl wrap --kek k --context pol <"$WORK/dek"
expect_out "policy file invalid: $P: $typo_err"
not_out "$(od -An -tx1 "$WORK/dek" | tr -d ' \n' | head -c 16)"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $P: $typo_err"
[ "$(wc -c <"$WORK/out")" -lt 400 ] || fail "refused unwrap printed more than a message"
expect_exit 1 ctl kek create k2
expect_out "policy file invalid: $P: $typo_err"
kill -0 "$pid" || fail "vhsmd exited on a broken policy"
expect_exit 1 ctl status
expect_out "^policy INVALID: $P: $typo_err$"
expect_out "attestation: FAILED"
expect_exit 1 ctl --json status
[ "$(jq -r .policy_valid "$WORK/out")" = false ] || fail "status: policy_valid"
[ "$(jq -r .policy_error "$WORK/out")" = "$P: $typo_err" ] || fail "status: policy_error"
expect_exit 1 ctl policy show
expect_out "INVALID"
expect_out "$typo_err"
grep -q "policy file invalid: $P: $typo_err; nothing is released" "$WORK/daemon.log" ||
	fail "the daemon's log does not name the error: $(cat "$WORK/daemon.log")"
ok "broken policy: daemon up, wrap/unwrap/create refused with the exact error, status exit 1"

# The fix, written by an editor's rename: picked up on the next request, same daemon.
echo "$good" >"$P.tmp" && mv "$P.tmp" "$P"
ctl unwrap --context pol <"$WORK/w1" >"$WORK/u1" || fail "unwrap after the fix"
cmp -s "$WORK/u1" "$WORK/dek" || fail "unwrap after the fix returned other bytes"
ctl wrap --kek k --context pol <"$WORK/dek" >"$WORK/w2" || fail "wrap after the fix"
expect_exit 0 ctl status
[ "$DAEMON_PID" = "$pid" ] && kill -0 "$pid" || fail "the daemon was restarted"
ok "fixed file picked up on the next request without a restart"

# vhsmd watches the file's directory instead of a stat per request: an edit is seen by the
# very next request however soon it comes, in place or by rename, again and again.
for i in 1 2 3 4 5; do
	echo "$typo" >"$P"
	expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
	expect_out "policy file invalid: $P: $typo_err"
	echo "$good" >"$P.tmp" && mv "$P.tmp" "$P"
	expect_exit 0 ctl unwrap --context pol <"$WORK/w1"
done
echo "$typo" >"$P.tmp" && mv "$P.tmp" "$P"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
rm "$P"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $P: cannot open: No such file or directory"
echo "$good" >"$P"
expect_exit 0 ctl unwrap --context pol <"$WORK/w1"
ok "every edit (in place, rename, removal) is seen by the next request"

# SIGHUP (ExecReload) reloads at once, before any request: break it, reload, see it logged.
echo "$typo" >"$P"
n=$(grep -c "policy file invalid" "$WORK/daemon.log")
kill -HUP "$pid"
for i in $(seq 200); do
	[ "$(grep -c "policy file invalid" "$WORK/daemon.log")" -gt "$n" ] && break
	sleep 0.05
done
[ "$(grep -c "policy file invalid" "$WORK/daemon.log")" -gt "$n" ] || fail "SIGHUP did not reload"
echo "$good" >"$P"
n=$(grep -c "policy $P in force" "$WORK/daemon.log")
kill -HUP "$pid"
for i in $(seq 200); do
	[ "$(grep -c "policy $P in force" "$WORK/daemon.log")" -gt "$n" ] && break
	sleep 0.05
done
[ "$(grep -c "policy $P in force" "$WORK/daemon.log")" -gt "$n" ] || fail "SIGHUP: fix not loaded"
expect_exit 0 ctl unwrap --context pol <"$WORK/w2"
kill -0 "$pid" || fail "vhsmd exited on SIGHUP"
ok "SIGHUP reloads the file; the daemon stays up"

# A policy that is valid but stricter: the gate names reported vs required values.
echo '{"min_tcb": {"snp": 200}}' >"$P"
expect_exit 1 ctl unwrap --context pol <"$WORK/w2"
expect_out 'min_tcb.snp'
expect_exit 1 ctl status
expect_out 'fail +min_tcb\.snp +REPORTED_TCB snp=[0-9]+ < 200'
expect_exit 1 ctl --json status
jq -e '.attestation.findings[] | select(.check == "min_tcb.snp") | .detail | test("< 200")' \
	"$WORK/out" >/dev/null || fail "status --json lacks the finding: $(cat "$WORK/out")"
echo "$good" >"$P"
expect_exit 0 ctl status
expect_out 'attestation: PASSED'
ok "status exits 1 on a failing gate and shows reported vs required values"
stop_daemon

# ---- a daemon started with a broken or missing --policy file stays up ----
rm -f "$P"
start_daemon cvm --policy "$P"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $P: cannot open: No such file or directory"
expect_exit 1 ctl status
echo "$good" >"$P"
expect_exit 0 ctl unwrap --context pol <"$WORK/w1"
stop_daemon
echo "$typo" >"$P"
start_daemon cvm --policy "$P"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $P: $typo_err"
echo "$good" >"$P"
expect_exit 0 ctl unwrap --context pol <"$WORK/w1"
stop_daemon
ok "started with a missing or broken file: up, refusing, then serving once it is fixed"

# A --policy file whose directories do not exist yet: created, it is seen by the next request.
D=$WORK/etc-new/vhsm
start_daemon cvm --policy "$D/policy.json"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $D/policy.json: cannot open: No such file or directory"
mkdir -p "$D"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
echo "$good" >"$D/policy.json"
expect_exit 0 ctl unwrap --context pol <"$WORK/w1"
echo "$typo" >"$D/policy.json"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $D/policy.json: $typo_err"
rm -rf "$WORK/etc-new"
expect_exit 1 ctl unwrap --context pol <"$WORK/w1"
expect_out "policy file invalid: $D/policy.json: cannot open: No such file or directory"
mkdir -p "$D" && echo "$good" >"$D/policy.json"
expect_exit 0 ctl unwrap --context pol <"$WORK/w1"
stop_daemon
ok "a policy file in directories created (and removed) later is seen by the next request"
