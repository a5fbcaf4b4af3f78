#!/bin/bash
# An unprivileged local user must not be able to drive vhsmd into firmware requests, flood the
# chained audit log, take every connection slot or spam attestation reports.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create k1
expect_exit 0 ctl kek create k2 --attest-each-use
attestations() { grep -c '"event":"attestation"' "$STATE/audit.log"; }
records() { wc -l <"$STATE/audit.log"; }

# A raw protocol client: python3 wire.py SOCK COUNT OP [NAME]
cat >"$WORK/wire.py" <<'PY'
import socket, struct, sys
sock, count, op = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
name = sys.argv[4].encode() if len(sys.argv) > 4 else None
def field(tag, val):
    pad = (4 - len(val) % 4) % 4
    return struct.pack("<HHI", tag, 0, len(val)) + val + b"\0" * pad
body = field(3, name) if name else b""
if op == 2:
    body = field(8, b"\x01" * 16)
msg = struct.pack("<IHHII", 0x4d534856, 1, op, 1, 16 + len(body)) + body
if op == 0:
    msg = b"VHSMgarbage-garbage"
errs = {}
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sock)
for i in range(count):
    s.send(msg); r = s.recv(70000)
    e = 0
    if len(r) >= 24 and struct.unpack("<H", r[16:18])[0] == 1:
        e = struct.unpack("<i", r[24:28])[0]
    errs[e] = errs.get(e, 0) + 1
print(" ".join("%d:%d" % kv for kv in sorted(errs.items())))
PY
nobody() { as_user nobody /usr/bin/python3 "$WORK/wire.py" "$SOCK" "$@"; }

a0=$(attestations)
r0=$(records)
out=$(nobody 50 21 k1); [ "$out" = "1:50" ] || fail "reseal by nobody: $out"       # EPERM
out=$(nobody 50 21 nosuch); [ "$out" = "1:50" ] || fail "reseal of nosuch: $out"   # EPERM: no oracle
out=$(nobody 50 19 k2); [ "$out" = "1:50" ] || fail "show of attest-each-use KEK: $out"
out=$(nobody 50 33 k1); [ "$out" = "74:50" ] || fail "unwrap without data: $out"   # EBADMSG
[ "$(attestations)" -eq "$a0" ] || fail "unauthorized requests caused $(( $(attestations) - a0 )) attestations"
ok "unauthorized callers cause no firmware requests"

# Those 200 refusals are audited in the chain, at most 60 per uid and minute (twice that, plus
# a summary, if a minute boundary fell inside).
grown=$(( $(records) - r0 ))
[ "$grown" -ge 60 ] && [ "$grown" -le 121 ] || fail "200 refusals added $grown chained records"
grep -q '"uid":65534.*"result":"refused"' "$STATE/audit.log" || fail "refusals of nobody not audited"
r1=$(records)
out=$(nobody 300 0); [[ $out =~ ^[1-9][0-9]*:300$ ]] || fail "malformed: $out"    # an error each
out=$(nobody 300 1); [ "$out" = "0:300" ] || fail "status: $out"
[ "$(records)" -eq "$r1" ] || fail "malformed/status requests grew the chained log"
expect_exit 0 ctl audit --verify
ok "malformed and read-only requests stay out of the chain; refusals are capped per uid"

# KEYRING_REQUEST refusals come from the root helper but are the requester's: a flood of them
# for one uid is charged to that uid (recorded as "uid", the helper as "via_uid"/"via_pid")
# and capped like that uid's own refusals; the helper's root identity does not lift the cap.
HELPER=$B/vhsm-request-key
r2=$(records)
for i in $(seq 100); do
	"$HELPER" --debug --socket "$SOCK" --description "vhsm:nosuch$i" 77 4242 4242 -3 \
		>/dev/null 2>&1 && fail "keyring request $i for uid 4242 served"
done
kr=$(grep -c '"event":"keyring.request"' "$STATE/audit.log")
[ "$kr" -ge 60 ] && [ "$kr" -le 100 ] || fail "$kr chained keyring refusals"
mine=$(grep '"event":"keyring.request"' "$STATE/audit.log" | grep -c '"uid":4242,"gid":4242,.*"via_uid":0,')
[ "$mine" -eq "$kr" ] || fail "keyring refusals recorded for another uid: $(grep '"event":"keyring.request"' "$STATE/audit.log" | grep -v '"uid":4242' | head -n 1)"
grown=$(( $(records) - r2 ))
[ "$grown" -le 62 ] || [ "$(grep -c '"event":"audit.suppressed"' "$STATE/audit.log")" -ge 1 ] ||
	fail "100 keyring refusals for one uid added $grown chained records"
[ "$grown" -le 122 ] || fail "100 keyring refusals for one uid added $grown chained records"
expect_exit 0 ctl audit --verify
ok "keyring refusals charged to the requester's uid and capped ($grown records for 100)"

# Read-only successes (kek show, dek load) do not add one chained record each: per uid, event
# and key one record a minute, with the count of the ones in between. (uid 4243: a caller
# whose refusals are not yet capped this minute.)
reader() { setpriv --reuid=4243 --regid=4243 --clear-groups /usr/bin/python3 "$WORK/wire.py" "$SOCK" "$@"; }
expect_exit 0 ctl kek acl k1 "uid:4243:read"
r3=$(records)
out=$(reader 100 19 k1); [ "$out" = "0:100" ] || fail "kek show by uid 4243: $out"
grown=$(( $(records) - r3 ))
[ "$grown" -ge 1 ] && [ "$grown" -le 2 ] || fail "100 kek show added $grown chained records"
grep '"event":"kek.show"' "$STATE/audit.log" | grep -q '"uid":4243' || fail "kek show not in the chain"
expect_exit 0 ctl kek acl k1 ""
shown_refused() { grep '"event":"kek.show","key":"k1"' "$STATE/audit.log" | grep '"uid":4243' | grep -c '"result":"refused"' || true; }
out=$(reader 3 19 k1); [ "$out" = "1:3" ] || fail "kek show after the ACL was removed: $out"
[ "$(shown_refused)" -eq 3 ] || fail "kek show refusals were coalesced"
expect_exit 0 ctl audit --verify
ok "read-only successes coalesced ($grown records for 100); their refusals are not"

# Connection slots: nobody holds as many connections as it can; root still gets served.
as_user nobody /usr/bin/python3 - "$SOCK" >"$WORK/held" 2>&1 <<'PY' &
import socket, struct, sys, time
held, refused = [], 0
status = struct.pack("<IHHII", 0x4d534856, 1, 1, 1, 16)
for i in range(300):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1]); s.settimeout(2)
    try:
        s.send(status)
        if s.recv(70000): held.append(s); continue
    except OSError: pass
    refused += 1
print(len(held), refused, flush=True)
time.sleep(5)
PY
holder=$!
for _ in $(seq 50); do [ -s "$WORK/held" ] && break; sleep 0.1; done
read -r held refused <"$WORK/held"
[ "$held" -eq 8 ] || fail "nobody holds $held connections (cap 8)"
expect_exit 0 ctl status
ok "per-uid connection cap ($held held, $refused refused); root still served"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
for _ in $(seq 50); do nobody 1 1 >/dev/null 2>&1 && break; sleep 0.1; done # slots freed

# Attestation reports for unprivileged callers are rate-limited; root's are not.
out=$(nobody 20 2); case $out in 0:*" 16:"*) ;; *) fail "report rate limit: $out" ;; esac
for _ in 1 2 3 4 5 6 7; do ctl attestation report --out "$WORK/r.bin" || fail "root report"; done
ok "report rate limit for unprivileged callers ($out)"
# The successes counted in the open window are written when vhsmd stops.
stop_daemon
grep '"event":"kek.show"' "$STATE/audit.log" | grep '"uid":4243' | grep -v refused | tail -n 1 |
	grep -q '"count":99,' || fail "the counted kek show successes were not written at stop: $(grep '"event":"kek.show"' "$STATE/audit.log" | tail -n 2)"
ok "counted read-only successes written at stop"
echo "$_checks checks passed"
