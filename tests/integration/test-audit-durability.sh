#!/bin/bash
# When a release's audit record becomes durable (vhsmd --audit-durability): in "group" mode
# (the default) the reply does not wait for the disk and a separate thread's shared fdatasync
# follows; in "sync" mode the record is fdatasync'ed before the reply. Either way the record is
# written and chained before the reply, a chain written in either mode verifies, a kill -9
# loses no record whose reply was sent, and a torn tail is detected at the next start.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

status_audit() { ctl --json status >"$WORK/st" || fail "status"; jq -r ".audit.$1" "$WORK/st"; }
# Until every record is durable: the group commit follows the reply, it does not precede it.
wait_durable() {
	local i
	for i in $(seq 400); do
		[ "$(status_audit durable_seq)" = "$(status_audit seq)" ] && return 0
		sleep 0.05
	done
	fail "records not durable: seq $(status_audit seq), durable $(status_audit durable_seq)"
}

make_cvm cvm genoa
head -c 64 /dev/urandom >"$WORK/dek"

expect_exit 1 "$DAEMON" --audit-durability later --state-dir "$WORK/none"
expect_out "invalid --audit-durability 'later' \(group or sync\)"
ok "an unknown --audit-durability is refused, naming the allowed values"

# Group mode (default): releases are chained before the reply and synced after it.
start_daemon cvm
expect_exit 0 ctl kek create k1
ctl wrap --kek k1 --context vol <"$WORK/dek" >"$WORK/w" || fail "wrap"
[ "$(status_audit durability)" = group ] || fail "default durability is not group"
for i in 1 2 3; do ctl unwrap --context vol <"$WORK/w" | cmp -s - "$WORK/dek" || fail "unwrap $i"; done
mkdir "$WORK/b1" "$WORK/b2"
expect_exit 0 ctl unwrap-batch --out-dir "$WORK/b1" --context vol "$WORK/w" "$WORK/w" "$WORK/w"
[ "$(grep -c '"event":"unwrap"' "$STATE/audit.log")" -eq 4 ] ||
	fail "expected 3 unwrap records and one batch record: $(grep -c '"event":"unwrap"' "$STATE/audit.log")"
wait_durable
expect_exit 0 ctl audit --verify
expect_exit 0 ctl status
expect_out "durability group, synced to $(status_audit seq)$"
ok "group mode: every release chained before its reply, all durable after the group commit, chain verifies"

# kill -9 right after the replies: the records were written before them, nothing is lost.
seq_before=$(status_audit seq)
for i in 1 2 3 4 5; do ctl unwrap --context vol <"$WORK/w" >/dev/null || fail "unwrap $i"; done
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true; DAEMON_PID=
last=$(tail -n 1 "$STATE/audit.log")
[[ $last == *'"event":"unwrap"'* ]] || fail "last record is not the last unwrap: $last"
[[ $last == '{"seq":'$((seq_before + 5))','* ]] || fail "records lost by kill -9: $last"
start_daemon cvm
expect_exit 0 ctl audit --verify
ctl unwrap --context vol <"$WORK/w" | cmp -s - "$WORK/dek" || fail "unwrap after kill -9"
ok "group mode: kill -9 after the replies loses no record, the chain continues"

# A torn tail (a power cut in the middle of a record's write) is detected at the next start:
# the log is kept aside and the new chain's first record names the defect.
stop_daemon
truncate -s -40 "$STATE/audit.log"
start_daemon cvm
# The keyed log is taken over at the first record after vhsmd's first attestation.
ctl unwrap --context vol <"$WORK/w" | cmp -s - "$WORK/dek" || fail "keys affected by the torn tail"
head -n 1 "$STATE/audit.log" | grep -q '"event":"audit.reset".*truncated line' ||
	fail "torn tail not detected: $(head -n 1 "$STATE/audit.log")"
ls "$STATE"/audit.log.broken.* >/dev/null 2>&1 || fail "the torn log was not kept"
expect_exit 0 ctl audit --verify
expect_out "chain was restarted at record 1"
ok "a torn tail is detected at start, kept aside and named; keys unaffected"
stop_daemon

# Sync mode: durable before the reply, so status sees it at once after every release.
start_daemon cvm --audit-durability sync
[ "$(status_audit durability)" = sync ] || fail "durability is not sync"
for i in 1 2 3; do
	ctl unwrap --context vol <"$WORK/w" >/dev/null || fail "unwrap $i"
	[ "$(status_audit durable_seq)" = "$(status_audit seq)" ] ||
		fail "sync mode: unwrap $i replied before its record was durable"
done
expect_exit 0 ctl unwrap-batch --out-dir "$WORK/b2" --context vol "$WORK/w" "$WORK/w"
[ "$(status_audit durable_seq)" = "$(status_audit seq)" ] || fail "sync mode: batch not durable at reply"
expect_exit 0 ctl audit --verify
ok "sync mode: each release and each batch durable before its reply, chain verifies"
stop_daemon

# Which thread syncs, seen by strace (-D: vhsmd keeps the pid that the socket activation names):
# the event loop between an unwrap's record and its reply (sync mode), another thread after the
# reply (group mode). Ordering only, no timing.
command -v strace >/dev/null || skip "strace not installed (the modes' other checks passed)"
cat >"$WORK/traced-vhsmd" <<SH
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0" exec strace -D -f -qq -s 100 \
	-o "$WORK/trace" -e trace=write,fdatasync,sendto "$B/vhsmd" "\$@"
SH
chmod +x "$WORK/traced-vhsmd"
# trace_check MODE: the main thread's calls from the last unwrap record to its reply.
trace_check() {
	python3 - "$WORK/trace" "$1" <<'PY'
import re, sys
lines = [l.split(None, 1) for l in open(sys.argv[1]) if l[:1].isdigit()]
main = lines[0][0]
at = max(i for i, (p, c) in enumerate(lines) if p == main and c.startswith("write(") and '\\"event\\":\\"unwrap\\"' in c)
between = []
for p, c in lines[at + 1:]:
    if p != main:
        continue
    if c.startswith("sendto("):
        break
    between.append(c.split("(")[0])
else:
    sys.exit("no reply after the unwrap record")
others = [c for p, c in lines if p != main and c.startswith("fdatasync(")]
if sys.argv[2] == "sync":
    sys.exit(0 if "fdatasync" in between else "no fdatasync before the reply: %s" % between)
if "fdatasync" in between:
    sys.exit("group mode synced before the reply")
sys.exit(0 if others else "no group commit fdatasync in another thread")
PY
}
rm -rf "$STATE"
DAEMON=$WORK/traced-vhsmd start_daemon cvm --audit-durability sync
expect_exit 0 ctl kek create k1
ctl wrap --kek k1 --context vol <"$WORK/dek" >"$WORK/w" || fail "wrap"
ctl unwrap --context vol <"$WORK/w" >/dev/null || fail "unwrap (sync, traced)"
stop_daemon
trace_check sync || fail "sync mode trace"
rm -rf "$STATE"
DAEMON=$WORK/traced-vhsmd start_daemon cvm
expect_exit 0 ctl kek create k1
ctl wrap --kek k1 --context vol <"$WORK/dek" >"$WORK/w" || fail "wrap"
ctl unwrap --context vol <"$WORK/w" >/dev/null || fail "unwrap (group, traced)"
wait_durable
stop_daemon
trace_check group || fail "group mode trace"
ok "strace: sync mode syncs on the event loop before the reply; group mode in another thread, not before it"
echo "$_checks checks passed"
