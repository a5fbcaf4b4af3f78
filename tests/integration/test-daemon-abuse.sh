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

# A raw protocol client: python3 wire.py SOCK COUNT OP [NAME]; prints ERRNO:COUNT pairs, where
# an EAGAIN (11) without the busy marker (tag 25 = 1: declined by a limit) counts as 1011.
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
    if e == 11 and struct.pack("<HHII", 25, 0, 4, 1) not in r[16:]:
        e = 1011
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
# vhsmd's windows are minutes of CLOCK_MONOTONIC: on a loaded machine 100 helper starts may
# span two of them, each with its own cap and no suppression needed.
mono_minute() { /usr/bin/python3 -c 'import time; print(int(time.monotonic() // 60))'; }
m0=$(mono_minute)
for i in $(seq 100); do
	"$HELPER" --debug --socket "$SOCK" --description "vhsm:nosuch$i" 77 4242 4242 -3 \
		>/dev/null 2>&1 && fail "keyring request $i for uid 4242 served"
done
kr=$(grep -c '"event":"keyring.request"' "$STATE/audit.log")
[ "$kr" -ge 60 ] && [ "$kr" -le 100 ] || fail "$kr chained keyring refusals"
mine=$(grep '"event":"keyring.request"' "$STATE/audit.log" | grep -c '"uid":4242,"gid":4242,.*"via_uid":0,')
[ "$mine" -eq "$kr" ] || fail "keyring refusals recorded for another uid: $(grep '"event":"keyring.request"' "$STATE/audit.log" | grep -v '"uid":4242' | head -n 1)"
grown=$(( $(records) - r2 ))
m1=$(mono_minute)
[ "$grown" -le 62 ] || [ "$m1" -ne "$m0" ] ||
	[ "$(grep -c '"event":"audit.suppressed"' "$STATE/audit.log")" -ge 1 ] ||
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

# Colliding uids (equal modulo any table size) keep their own refusal windows: B's refusal
# must not reset A's full window. Retried with fresh uids if a minute boundary fell inside.
as_uid() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
chained_of() { grep -c "\"uid\":$1[,}].*\"result\":\"refused\"" "$STATE/audit.log" || true; }
mono_minute() { /usr/bin/python3 -c 'import time; print(int(time.clock_gettime(time.CLOCK_MONOTONIC) // 60))'; }
for try in 1 2 3; do
	a=$((300000 + try * 4096)) b=$((300000 + try * 4096 + 64))
	m0=$(mono_minute)
	out=$(as_uid "$a" /usr/bin/python3 "$WORK/wire.py" "$SOCK" 70 21 k1); [ "$out" = "1:70" ] || fail "A: $out"
	first=$(chained_of "$a")
	out=$(as_uid "$b" /usr/bin/python3 "$WORK/wire.py" "$SOCK" 1 21 k1); [ "$out" = "1:1" ] || fail "B: $out"
	out=$(as_uid "$a" /usr/bin/python3 "$WORK/wire.py" "$SOCK" 30 21 k1); [ "$out" = "1:30" ] || fail "A: $out"
	second=$(chained_of "$a")
	[ "$(mono_minute)" = "$m0" ] && break
	echo "# a minute boundary fell inside the refusal-window check: again with other uids"
done
[ "$first" -eq 60 ] || fail "uid $a: $first of 70 refusals chained (cap 60)"
[ "$second" -eq 60 ] || fail "uid $b's refusal reset uid $a's window: $second chained"
[ "$(chained_of "$b")" -eq 1 ] || fail "uid $b's refusal not chained"
expect_exit 0 ctl audit --verify
ok "colliding uids keep their own refusal windows ($second chained for $a, 1 for $b)"

# A connection holder: python3 hold.py SOCK COUNT STOPFILE opens COUNT connections, keeps
# those that get a status reply and prints "held declined other" at once; a declined one must
# be answered with EAGAIN (11), the busy marker, request id 0 and a message naming the limit (the last one is
# printed on a second line), then closed. Holds until STOPFILE exists (at most 120 s).
cat >"$WORK/hold.py" <<'PY'
import os, socket, struct, sys, time
held, declined, other, why = [], 0, 0, ""
status = struct.pack("<IHHII", 0x4d534856, 1, 1, 7, 16)
def closed(s): # after the reply: end of file (not a reset, which would hide the reply)
    return s.recv(70000) == b""
def fields(r):
    off, out = 16, {}
    while off + 8 <= len(r):
        tag, _, n = struct.unpack("<HHI", r[off:off + 8])
        out[tag] = r[off + 8:off + 8 + n]
        off += 8 + n + (4 - n % 4) % 4
    return out
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1]); s.settimeout(10)
    try:
        s.send(status)
    except OSError:
        pass # a declined connection may be closed already; its reply is still queued
    try:
        r = s.recv(70000)
    except OSError:
        r = b""
    f = fields(r)
    e = struct.unpack("<i", f[1])[0] if 1 in f else -1
    rid = struct.unpack("<I", r[8:12])[0] if len(r) >= 16 else -1
    if e == 0 and rid == 7:
        held.append(s)
    elif e == 11 and rid == 0 and f.get(25) == struct.pack("<I", 1) and closed(s):
        declined += 1; why = f.get(2, b"").decode()
    else:
        other += 1
print(len(held), declined, other, flush=True)
print(why, flush=True)
for _ in range(1200):
    if os.path.exists(sys.argv[3]): break
    time.sleep(0.1)
PY
# hold OUT USER-OR-UID [LOGINUID]: a holder of 30 connections in the background, as that uid
# (and login uid), until release_holders; waits for its counts in OUT.
hold() {
	local out=$1 u=$2 login=${3:-}
	rm -f "$out" "$WORK/release"
	if [ -n "$login" ]; then
		as_login "$login" "$u" /usr/bin/python3 "$WORK/hold.py" "$SOCK" 30 "$WORK/release" >"$out" 2>&1 &
	else
		as_user "$u" /usr/bin/python3 "$WORK/hold.py" "$SOCK" 30 "$WORK/release" >"$out" 2>&1 &
	fi
	holders+=($!)
	local i
	for i in $(seq 300); do [ -f "$out" ] && [ "$(wc -l <"$out")" -ge 2 ] && return; sleep 0.1; done
	fail "connection holder $u printed nothing: $(cat "$out")"
}
release_holders() {
	touch "$WORK/release"
	wait "${holders[@]}" 2>/dev/null || true
	holders=()
	for _ in $(seq 50); do nobody 1 1 >/dev/null 2>&1 && break; sleep 0.1; done # slots freed
}
# as_login LOGINUID UID CMD...: CMD as UID in a login session of LOGINUID (as pam_loginuid
# sets it), like every process a user starts, subordinate uids included.
as_login() {
	local l=$1 u=$2; shift 2
	sh -c 'echo "$1" >/proc/self/loginuid && shift && exec "$@"' sh "$l" \
		setpriv --reuid="$u" --regid="$u" --clear-groups "$@"
}
holders=()

# Connection slots: nobody holds as many connections as it can; the rest are declined with
# EAGAIN and a reason; root still gets served.
hold "$WORK/held" nobody
read -r held declined other <"$WORK/held"
[ "$held" -eq 8 ] || fail "nobody holds $held connections (cap 8)"
[ "$declined" -eq 22 ] && [ "$other" -eq 0 ] ||
	fail "declined connections: $declined told EAGAIN, $other otherwise (want 22, 0)"
grep -q "uid 65534 holds 8 connections" "$WORK/held" || fail "decline names no limit: $(tail -n 1 "$WORK/held")"
expect_exit 0 ctl status
ok "per-uid connection cap ($held held, $declined declined with EAGAIN naming the limit); root still served"
release_holders

# Subordinate uids: one login's many uids (as newuidmap grants them) hold 8 connections in
# all, not 8 each, and another user still connects. Needs a settable login uid.
if sh -c 'echo 4242 >/proc/self/loginuid' 2>/dev/null; then
	total=0
	for u in $(seq 200001 200030); do
		hold "$WORK/held-$u" "$u" 4242
		read -r held declined other <"$WORK/held-$u"
		[ "$other" -eq 0 ] || fail "uid $u: $other connections neither held nor told EAGAIN"
		total=$((total + held))
	done
	[ "$total" -eq 8 ] || fail "30 uids of one login hold $total connections (cap 8 per login)"
	grep -q "login uid 4242 holds 8 connections" "$WORK/held-200030" ||
		fail "decline names no login limit: $(tail -n 1 "$WORK/held-200030")"
	hold "$WORK/held-other" 200100 4343
	read -r held declined other <"$WORK/held-other"
	[ "$held" -eq 8 ] || fail "another login got $held connections next to the subordinate uids"
	expect_exit 0 ctl status
	ok "30 uids of one login hold $total connections in all; another login still gets $held"
	release_holders
else
	echo "# login uid not settable here (immutable): subordinate-uid slot check skipped"
fi

# Attestation reports for unprivileged callers are rate-limited; root's are not.
out=$(nobody 20 2); case $out in 0:*" 11:"*) ;; *) fail "report rate limit: $out" ;; esac
for _ in 1 2 3 4 5 6 7; do ctl attestation report --out "$WORK/r.bin" || fail "root report"; done
ok "report rate limit for unprivileged callers ($out)"
# nobody's flood leaves another user's budget whole (per principal, under a global cap).
out=$(as_uid 300777 /usr/bin/python3 "$WORK/wire.py" "$SOCK" 5 2)
[ "$out" = "0:5" ] || fail "another uid's reports after nobody's flood: $out"
ok "a flood of reports by one uid does not starve another ($out)"

# The fresh attestations of an attest-each-use KEK come from the same budget: nobody, allowed
# to unwrap with k2, floods UNWRAP, each request older than --attest-fresh-ms after the last
# (so each needs a fresh attestation); what is over the budget is told EAGAIN before any
# report is requested, and at most one report is requested per release.
stop_daemon
start_daemon cvm --attest-fresh-ms 10
expect_exit 0 ctl kek acl k2 uid:65534:unwrap
head -c 32 /dev/urandom | ctl wrap --kek k2 >"$WORK/w-k2" || fail "wrap under k2"
chmod 0644 "$WORK/w-k2"
reports() { ctl --json status | jq -er .report_requests; }
n0=$(reports)
out=$(as_user nobody /usr/bin/python3 - "$SOCK" "$WORK/w-k2" <<'PY'
import socket, struct, sys, time
blob = open(sys.argv[2], "rb").read()
body = struct.pack("<HHI", 5, 0, len(blob)) + blob + b"\0" * ((4 - len(blob) % 4) % 4)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
errs, why = {}, ""
for i in range(30):
    s.send(struct.pack("<IHHII", 0x4d534856, 1, 33, i + 1, 16 + len(body)) + body)
    r = s.recv(70000)
    e = struct.unpack("<i", r[24:28])[0]
    if e == 11 and struct.pack("<HHII", 25, 0, 4, 1) not in r[16:]:
        e = 1011 # EAGAIN without the busy marker
    errs[e] = errs.get(e, 0) + 1
    if e == 11:
        n = struct.unpack("<I", r[32:36])[0]
        why = r[36:36 + n].decode()
    time.sleep(0.02) # past --attest-fresh-ms: the next request needs its own attestation
print(" ".join("%d:%d" % kv for kv in sorted(errs.items())) + "|" + why)
PY
)
n1=$(reports)
counts=${out%%|*} why=${out#*|}
released=$(echo "$counts" | tr ' ' '\n' | awk -F: '$1 == 0 { print $2 }')
[[ $counts =~ ^(0:[0-9]+ )?11:[0-9]+$ ]] || fail "UNWRAP flood of an attest-each-use KEK: $counts"
[ $((n1 - n0)) -le "${released:-0}" ] || fail "$((n1 - n0)) report requests for ${released:-0} releases"
[[ $why == *"report budget of uid 65534 exhausted"* ]] || fail "EAGAIN names no budget: $why"
ok "fresh attestations are charged to the caller's report budget ($counts; $((n1 - n0)) reports)"
# The successes counted in the open window are written when vhsmd stops.
stop_daemon
grep '"event":"kek.show"' "$STATE/audit.log" | grep '"uid":4243' | grep -v refused | tail -n 1 |
	grep -q '"count":99,' || fail "the counted kek show successes were not written at stop: $(grep '"event":"kek.show"' "$STATE/audit.log" | tail -n 2)"
ok "counted read-only successes written at stop"
echo "$_checks checks passed"
