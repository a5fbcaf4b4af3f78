#!/bin/bash
# Faults: SNP device errors injected in the simulator (throttling, firmware status, VMPCK
# lockout, transport error), a full state file system during writes, a read-only state
# directory. Each gives a clear error and loses nothing: every KEK still unwraps what it
# wrapped before, and the audit chain verifies. Runs in a private mount namespace (tmpfs).
if [ -z "${VHSM_FAULTS_NS:-}" ]; then
	command -v unshare >/dev/null || { echo "unshare (util-linux) not installed"; exit 77; }
	VHSM_FAULTS_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
mkdir -p "$STATE"
mount -t tmpfs -o size=1m,mode=0700 vhsm-faults "$STATE" || skip "cannot mount a tmpfs"
on_exit "umount -l '$STATE'"
start_daemon cvm
for k in a b; do
	expect_exit 0 ctl kek create "$k"
	head -c 64 /dev/urandom >"$WORK/dek-$k"
	ctl wrap --kek "$k" --context faults <"$WORK/dek-$k" >"$WORK/wrapped-$k" || fail "wrap $k"
done

# nothing_lost WHEN: every KEK unwraps its DEK, and the audit chain is whole.
nothing_lost() {
	local k
	for k in a b; do
		ctl unwrap --context faults <"$WORK/wrapped-$k" >"$WORK/u" 2>&1 ||
			fail "$1: KEK $k no longer unwraps: $(cat "$WORK/u")"
		cmp -s "$WORK/u" "$WORK/dek-$k" || fail "$1: KEK $k unwrapped other bytes"
	done
	expect_exit 0 ctl audit --verify
}
restart() { stop_daemon; start_daemon cvm; }
fault() { "$SIM" fault "$WORK/cvm.json" "$@" >/dev/null; }
# eventually IN CMD...: CMD <IN succeeds within a few tries (vhsmd retries a failed
# attestation at most every 2 s; this polls, it does not time anything).
eventually() {
	local in=$1 i; shift
	for i in $(seq 40); do "$@" <"$in" >/dev/null 2>&1 && return 0; sleep 0.25; done
	"$@" <"$in" || fail "still failing: $*"
}
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
refused_clearly() { # REGEX: the last command failed with that message and printed no key
	local out k
	expect_out "$1"
	out=$(hex "$WORK/out")
	for k in a b; do
		[[ $out != *"$(hex "$WORK/dek-$k")"* ]] || fail "refusal output carries DEK $k"
	done
}

# ---- SNP device errors: each on a fresh daemon, whose first use needs the firmware ----
restart
fault --busy 3
expect_exit 0 ctl unwrap --context faults <"$WORK/wrapped-a"
cmp -s "$WORK/out" "$WORK/dek-a" || fail "unwrap after 3 BUSY answers returned other bytes"
ok "throttling (3 BUSY answers): retried, the request succeeds"

restart
fault --busy 1000
expect_exit 3 ctl unwrap --context faults <"$WORK/wrapped-a"
refused_clearly "attestation failed: report request failed: Device or resource busy"
expect_exit 3 ctl kek create c
expect_out "busy"
fault --clear
eventually "$WORK/wrapped-a" ctl unwrap --context faults
nothing_lost "after throttling"
[ ! -e "$STATE/kek/c.sealed" ] || fail "a KEK was created without the firmware"
ok "persistent throttling: clear error, nothing created, everything back after it ends"

restart
fault --fail-status 0x16
expect_exit 1 ctl unwrap --context faults <"$WORK/wrapped-a"
refused_clearly "firmware status INVALID_PARAM, 0x16"
eventually "$WORK/wrapped-a" ctl unwrap --context faults
nothing_lost "after a firmware error status"
ok "bad firmware status: named in the refusal, the next attempt succeeds"

for f in --disable-vmpck --transport-error; do
	restart
	fault "$f"
	expect_exit 1 ctl unwrap --context faults <"$WORK/wrapped-b"
	refused_clearly "disabled the VMPCK: no request works until the VM reboots"
	expect_exit 1 ctl --json status # the gate cannot pass while locked out
	[ "$(jq -r .locked_out "$WORK/out")" = true ] ||
		fail "$f: status does not report the lockout: $(cat "$WORK/out")"
	expect_exit 1 ctl kek rotate a
	expect_out "disabled the VMPCK"
	# A lockout lasts until the VM reboots: a reboot clears it in the simulator, and a new
	# vhsmd (a new boot) works again with every key.
	"$SIM" reboot "$WORK/cvm.json" >/dev/null
	restart
	nothing_lost "after $f and a reboot"
	ok "$f: lockout reported in the refusal and in status, keys intact after a reboot"
done

# ---- disk full during writes ----
dd if=/dev/zero of="$STATE/filler" bs=4k 2>/dev/null || true
expect_exit 3 ctl kek create c
refused_clearly "cannot (write c|update the store manifest): No space left on device"
expect_exit 3 ctl kek rotate a
refused_clearly "cannot (write a|update the store manifest): No space left on device"
# Audited requests fail once the audit log cannot grow (its last page may still have room).
audit_full=0
for _ in $(seq 64); do
	rc=0
	ctl unwrap --context faults <"$WORK/wrapped-a" >"$WORK/out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then audit_full=1; break; fi
	cmp -s "$WORK/out" "$WORK/dek-a" || fail "unwrap on a full disk returned other bytes"
done
[ "$audit_full" -eq 1 ] || fail "the audit log never filled the file system"
[ "$rc" -eq 3 ] || fail "unaudited unwrap: exit $rc, want 3"
refused_clearly "audit log write failed: No space left on device"
# A batch whose records cannot be written releases none of its items.
mkdir -p "$WORK/bout"
expect_exit 3 ctl unwrap-batch --out-dir "$WORK/bout" --context faults "$WORK/wrapped-a" "$WORK/wrapped-a"
refused_clearly "audit log write failed: No space left on device"
[ -z "$(ls -A "$WORK/bout")" ] || fail "an unaudited batch released keys: $(ls "$WORK/bout")"
[ -z "$(find "$STATE" -name '*.tmp*' -o -name '.#*' -o -name '*~')" ] ||
	fail "temporary files left behind: $(find "$STATE" -newer "$WORK/dek-a")"
rm -f "$STATE/filler"
expect_exit 0 ctl kek create c
nothing_lost "after the disk was full"
restart
nothing_lost "after the disk was full and a restart"
[ "$(ctl --json kek show a | jq '.kek.versions | length')" = 1 ] ||
	fail "the failed rotation left a version behind"
ok "disk full: clear errors (KEK writes and unaudited requests refused), nothing lost or half-written"

# ---- read-only state directory ----
# While vhsmd runs: the key store becomes read-only (its audit log stays open).
mount --bind -o ro "$STATE/kek" "$STATE/kek"
expect_exit 3 ctl kek create d
refused_clearly "cannot write d: Read-only file system"
expect_exit 3 ctl kek disable b
refused_clearly "Read-only file system"
nothing_lost "with a read-only key store"
umount "$STATE/kek"
expect_exit 0 ctl --json kek show b
[ "$(jq -r .kek.state "$WORK/out")" = enabled ] || fail "a refused disable changed the state"
ok "read-only key store: writes refused with EROFS, reads and unwraps work, state unchanged"

# At start: vhsmd refuses to run without a writable audit log, and says why.
stop_daemon
mount -o remount,ro "$STATE"
start_daemon cvm
expect_exit 3 ctl status
wait "$DAEMON_PID" 2>/dev/null && fail "vhsmd ran on a read-only state directory"
DAEMON_PID=
grep -q "cannot open the audit log in $STATE: Read-only file system" "$WORK/daemon.log" ||
	fail "no clear start-up error: $(tail -n 3 "$WORK/daemon.log")"
mount -o remount,rw "$STATE"
start_daemon cvm
nothing_lost "after a read-only start"
ok "read-only state directory at start: vhsmd exits with a clear error, starts once writable"
stop_daemon
if grep -q "ERROR: \(Address\|Leak\)Sanitizer" "$WORK/daemon.log"; then
	cat "$WORK/daemon.log" >&2; fail "sanitizer report from vhsmd"
fi
echo "$_checks checks passed"
