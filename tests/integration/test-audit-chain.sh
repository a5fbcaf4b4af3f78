#!/bin/bash
# The keyed audit chain and its retention: records carry a MAC under a key only this CVM can
# derive, so a log rewritten with rebuilt seq/prev/hash fails `audit --verify` (while vhsmd
# runs) or is set aside with an "audit.reset" record (when vhsmd starts); an unkeyed log from
# an older version continues with an "audit.keyed" record; the log's segments are pruned
# oldest first within a disk budget, and --verify starts from the recorded anchor, while a
# segment deleted or edited outside the policy fails it.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

# rewrite.py LOG MODE: deletes record 3 and rebuilds seq, prev and hash of every later record
# (the attack); MODE keep = leave each MAC as it was, strip = drop MACs and key ids.
cat >"$WORK/rewrite.py" <<'PY'
import hashlib, re, sys
path, mode = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()
out, prev = [], None
for i, line in enumerate(lines):
    rec = line[:line.index(',"hash":"')] + "}"
    mac = re.search(r',"mac":"([0-9a-f]{64})"}$', line)
    if i == 2:
        continue
    if prev is None:
        prev = re.search(r'"prev":"([0-9a-f]{64})"', rec).group(1)
    if i > 2:
        rec = re.sub(r'^\{"seq":(\d+)', lambda m: '{"seq":%d' % (int(m.group(1)) - 1), rec)
    if mode == "strip":
        rec = re.sub(r',"kid":"[0-9a-f]{16}"', "", rec)
    rec = re.sub(r'"prev":"[0-9a-f]{64}"', '"prev":"%s"' % prev, rec)
    h = hashlib.sha256((prev + "\n" + rec).encode()).hexdigest()
    tail = ',"hash":"%s"' % h + (',"mac":"%s"' % mac.group(1) if mac and mode == "keep" else "")
    out.append(rec[:-1] + tail + "}")
    prev = h
f = open(path, "r+")  # in place: the running daemon appends to the same file
f.write("\n".join(out) + "\n"); f.truncate(); f.close()
PY
# records.py SOCK COUNT: COUNT refused requests as root (reseal of a missing KEK), each chained.
cat >"$WORK/records.py" <<'PY'
import socket, struct, sys
name = b"nosuch"
body = struct.pack("<HHI", 3, 0, len(name)) + name + b"\0" * ((4 - len(name) % 4) % 4)
msg = struct.pack("<IHHII", 0x4d534856, 1, 21, 1, 16 + len(body)) + body
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
for i in range(int(sys.argv[2])):
    s.send(msg); s.recv(70000)
PY
disk_use() { cat "$STATE"/audit.log "$STATE"/audit.log.[0-9]* 2>/dev/null | wc -c; }

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create k1
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k1 <"$WORK/dek" >"$WORK/w" || fail "wrap"
ctl unwrap <"$WORK/w" >/dev/null || fail "unwrap"
expect_exit 0 ctl audit --verify
expect_out "every record keyed by this CVM"
head -n 1 "$STATE/audit.log" | grep -q '"event":"audit.keyed".*"kid":"[0-9a-f]\{16\}".*"mac":"[0-9a-f]\{64\}"}$' ||
	fail "a new log does not start keyed: $(head -n 1 "$STATE/audit.log")"
[ "$(grep -c '"mac":"' "$STATE/audit.log")" -eq "$(wc -l <"$STATE/audit.log")" ] || fail "unkeyed records"
expect_exit 0 ctl --json status
[ "$(jq -r .audit.keyed "$WORK/out")" = true ] || fail "status: audit log not keyed"
ok "a new log is keyed: every record has a MAC, verify passes"

# The attack from the issue, on the running daemon's log: one record deleted, seq/prev/hash
# of the rest rebuilt. With the old MACs, and with MACs and key ids stripped.
cp "$STATE/audit.log" "$WORK/good.log"
python3 "$WORK/rewrite.py" "$STATE/audit.log" keep
expect_exit 1 ctl audit --verify
expect_out "record 3: MAC mismatch"
cp "$WORK/good.log" "$STATE/audit.log"
python3 "$WORK/rewrite.py" "$STATE/audit.log" strip
expect_exit 1 ctl audit --verify
expect_out "not keyed with this CVM's audit key|unkeyed record inside the keyed chain"
cp "$WORK/good.log" "$STATE/audit.log"
expect_exit 0 ctl audit --verify
ok "a rewritten log with rebuilt seq/prev/hash fails verification (MACs kept or stripped)"

# The same while vhsmd is stopped: the next start keeps the log aside and says why. (The
# restores above left a gap where the running daemon had appended; start over.)
stop_daemon
rm -rf "$STATE"
start_daemon cvm
expect_exit 0 ctl kek create k1
ctl wrap --kek k1 <"$WORK/dek" >"$WORK/w" || fail "wrap"
ctl unwrap <"$WORK/w" >/dev/null || fail "unwrap"
stop_daemon
python3 "$WORK/rewrite.py" "$STATE/audit.log" strip
start_daemon cvm
expect_exit 0 ctl audit --verify
expect_out "chain was restarted at record 1"
head -n 1 "$STATE/audit.log" | grep -q '"event":"audit.reset".*no longer ends with records keyed by this CVM' ||
	fail "no reset record: $(head -n 1 "$STATE/audit.log")"
ls "$STATE"/audit.log.broken.* >/dev/null 2>&1 || fail "the rewritten log was not kept"
ctl unwrap <"$WORK/w" | cmp -s - "$WORK/dek" || fail "keys affected by the reset"
ok "a log rewritten while vhsmd was stopped is set aside at start, named in the reset record"
stop_daemon

# Migration: a log from a version without keys continues with a keyed start record; the old
# records verify by their structure only, the new ones by their MACs.
rm -rf "$STATE"; mkdir -p "$STATE"
python3 - "$STATE/audit.log" <<'PY'
import hashlib, sys
prev, out = "0" * 64, []
for i in range(1, 4):
    rec = '{"seq":%d,"time":1,"event":"kek.create","key":"old%d","result":"ok","prev":"%s"}' % (i, i, prev)
    h = hashlib.sha256((prev + "\n" + rec).encode()).hexdigest()
    out.append(rec[:-1] + ',"hash":"%s"}' % h); prev = h
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
start_daemon cvm
expect_exit 0 ctl audit --verify
expect_out "records 1..3 verified by their structure only"
sed -n 4p "$STATE/audit.log" | grep -q '"seq":4,.*"event":"audit.keyed".*up to 3 are unkeyed' ||
	fail "no keyed start record: $(sed -n 4p "$STATE/audit.log")"
stop_daemon
sed -i '2s/old2/OLD2/' "$STATE/audit.log"
start_daemon cvm
expect_exit 0 ctl audit --verify
expect_out "chain was restarted at record 1"
head -n 1 "$STATE/audit.log" | grep -q '"event":"audit.reset".*record 2: hash mismatch' ||
	fail "an edited unkeyed part was accepted: $(head -n 1 "$STATE/audit.log")"
ok "an unkeyed log continues keyed; its old part still protected by the chain"
stop_daemon

# Retention: a 64 KiB budget (16 KiB segments) and 700 chained refusals.
rm -rf "$STATE"
start_daemon cvm --audit-max-bytes 65536
python3 "$WORK/records.py" "$SOCK" 700
use=$(disk_use)
[ "$use" -le $((65536 + 4200)) ] || fail "the audit log uses $use bytes, budget 65536"
grep -q '"event":"audit.pruned"' "$STATE/audit.log"* || fail "nothing pruned"
expect_exit 0 ctl audit --verify
expect_out "pruned by the retention policy"
first=$(jq -r .first_seq < <(ctl --json audit --verify))
[ "$first" -gt 1 ] || fail "verify starts at $first"
expect_exit 0 ctl --json status
[ "$(jq -r .audit.alert "$WORK/out")" = true ] || fail "no budget alert in status: $(cat "$WORK/out")"
[ "$(jq -r .audit.budget "$WORK/out")" -eq 65536 ] || fail "status: budget"
expect_exit 0 ctl status
expect_out "ALERT: near the budget"
stop_daemon
start_daemon cvm --audit-max-bytes 65536
python3 "$WORK/records.py" "$SOCK" 200
expect_exit 0 ctl audit --verify
expect_out "pruned by the retention policy"
[ "$(disk_use)" -le $((65536 + 4200)) ] || fail "the audit log uses $(disk_use) bytes after a restart"
ok "retention keeps the log within its budget ($use bytes), alerts, and verifies from the anchor (from $first)"

# Pruned, then tampered: the oldest kept segment deleted, or one of its records edited.
oldest=$(ls "$STATE"/audit.log.[0-9]* | awk -F. '{ print $NF, $0 }' | sort -n | head -n 1 | cut -d' ' -f2-)
cp "$oldest" "$WORK/oldest"
rm "$oldest"
expect_exit 1 ctl audit --verify
expect_out "are missing and no pruning by the retention policy is recorded"
cp "$WORK/oldest" "$oldest"
expect_exit 0 ctl audit --verify
sed -i '0,/"key":"nosuch"/s//"key":"nosucx"/' "$oldest"
cmp -s "$oldest" "$WORK/oldest" && fail "the edit did not change the segment"
expect_exit 1 ctl audit --verify
expect_out "hash mismatch"
cp "$WORK/oldest" "$oldest"
expect_exit 0 ctl audit --verify
ok "a pruned log with a segment deleted or edited outside the policy fails verification"
stop_daemon
echo "$_checks checks passed"
