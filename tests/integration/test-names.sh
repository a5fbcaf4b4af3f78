#!/bin/bash
# Names as seen by callers and by the records:
#  - a non-administrator gets one refusal for "no such KEK/DEK" and "may not": same message
#    (but for the name), same status, same audit reason, and status shows no KEK count;
#  - a name with U+202E (right-to-left override) or control bytes is refused as invalid, and
#    the audit log, the daemon's log and the reply carry it escaped only, never raw.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"

make_cvm cvm genoa
start_daemon cvm
NB=$(id -u nobody)
nb() { as_user nobody "$CTL" --socket "$SOCK" "$@"; }

expect_exit 0 ctl kek create secret-kek
expect_exit 0 ctl kek create shared-kek
expect_exit 0 ctl kek acl shared-kek "uid:$NB:wrap,unwrap"
expect_exit 0 ctl dek create secret-dek --kek secret-kek
head -c 32 /dev/urandom >"$WORK/key"

# same_refusal NAME_A NAME_B CMD... (NAME in CMD as @; standard input from $IN): exit code
# and output equal but for the names; both refused.
IN=/dev/null
same_refusal() {
	local a=$1 b=$2 rc_a=0 rc_b=0; shift 2
	nb "${@//@/$a}" <"$IN" >"$WORK/ra" 2>&1 || rc_a=$?
	nb "${@//@/$b}" <"$IN" >"$WORK/rb" 2>&1 || rc_b=$?
	[ "$rc_a" -ne 0 ] || fail "$* for $a was not refused: $(cat "$WORK/ra")"
	[ "$rc_a" = "$rc_b" ] || fail "$*: exit $rc_a for $a, $rc_b for $b"
	[ "$(sed "s/$a/NAME/g" "$WORK/ra")" = "$(sed "s/$b/NAME/g" "$WORK/rb")" ] ||
		fail "$*: '$(cat "$WORK/ra")' vs '$(cat "$WORK/rb")'"
}
for v in "kek show @" "kek rotate @" "kek disable @" "kek delete @" "kek acl @ uid:1:wrap"; do
	read -ra argv <<<"$v"
	same_refusal secret-kek no-such-kek "${argv[@]}"
done
IN=$WORK/key same_refusal secret-kek no-such-kek wrap --kek @
same_refusal secret-dek no-such-dek dek load @
same_refusal secret-dek no-such-dek dek drop @
# the audit records of both refusals: same errno and reason class
for n in secret-kek no-such-kek; do
	jq -c "select(.event==\"kek.show\" and .key==\"$n\" and .uid==$NB) | [.result, .errno, (.reason | sub(\"$n\"; \"NAME\"))]" \
		"$STATE/audit.log" | sort -u >"$WORK/audit-$n"
done
[ -s "$WORK/audit-secret-kek" ] && cmp -s "$WORK/audit-secret-kek" "$WORK/audit-no-such-kek" ||
	fail "audit records differ: $(cat "$WORK/audit-secret-kek") vs $(cat "$WORK/audit-no-such-kek")"
# UNWRAP of a blob naming a KEK that does not exist vs one the caller may not use
ctl wrap --kek secret-kek <"$WORK/key" >"$WORK/w-secret" || fail "wrap"
python3 - "$WORK/w-secret" "$WORK/w-none" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
assert b[:4] == b"VHW2" and b[7:7 + b[6]] == b"secret-kek", b[:20]
b[7:17] = b"nosuch-kek"
open(sys.argv[2], "wb").write(b)
PY
rc_a=0 rc_b=0
nb unwrap <"$WORK/w-secret" >"$WORK/ra" 2>&1 || rc_a=$?
nb unwrap <"$WORK/w-none" >"$WORK/rb" 2>&1 || rc_b=$?
[ "$rc_a" -ne 0 ] && [ "$rc_a" = "$rc_b" ] || fail "unwrap exit $rc_a vs $rc_b"
[ "$(sed 's/secret-kek/NAME/g' "$WORK/ra")" = "$(sed 's/nosuch-kek/NAME/g' "$WORK/rb")" ] ||
	fail "unwrap: '$(cat "$WORK/ra")' vs '$(cat "$WORK/rb")'"
# administrators still learn that a name does not exist
expect_exit 1 ctl kek show no-such-kek
expect_out 'no KEK named no-such-kek'
expect_exit 1 ctl dek load no-such-dek
expect_out 'no DEK named no-such-dek'
ok "non-administrators: one refusal for a missing and a forbidden KEK or DEK (message, exit, audit)"

# the keyring request speaks for a non-administrator uid as well (root helper, --debug)
for d in secret-dek no-such-dek; do
	"$B/vhsm-request-key" --debug --socket "$SOCK" --description "vhsm:$d" 77 4242 4242 -3 \
		>"$WORK/k-$d" 2>&1 && fail "keyring request for $d served"
	sed -i "s/$d/NAME/g" "$WORK/k-$d"
done
cmp -s "$WORK/k-secret-dek" "$WORK/k-no-such-dek" ||
	fail "keyring refusals differ: $(cat "$WORK/k-secret-dek") vs $(cat "$WORK/k-no-such-dek")"
grep -q "may not load DEK NAME" "$WORK/k-secret-dek" || fail "keyring refusal: $(cat "$WORK/k-secret-dek")"
ok "keyring requests of a non-administrator: one refusal for a missing and a forbidden DEK"

expect_exit 0 nb --json status
[ "$(jq 'has("keks")' "$WORK/out")" = false ] || fail "status shows nobody a KEK count"
[ "$(jq 'has("audit")' "$WORK/out")" = false ] || fail "status shows nobody the audit log's counts"
expect_exit 0 nb status
not_out 'KEKs'
expect_exit 0 ctl --json status
[ "$(jq .keks "$WORK/out")" = 2 ] || fail "status shows root no KEK count"
[ "$(jq 'has("audit")' "$WORK/out")" = true ] || fail "status shows root no audit counts"
ok "status: KEK count and audit counts for administrators only"

# ---- invalid names in requests: refused, recorded escaped only ----
# A raw client (vhsmctl refuses some of these itself): OP NAME-HEX -> "errno message".
cat >"$WORK/wire.py" <<'PY'
import socket, struct, sys
sock, op, name = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])
def field(tag, val):
    return struct.pack("<HHI", tag, 0, len(val)) + val + b"\0" * ((4 - len(val) % 4) % 4)
body = field(3, name)
if op == 32:
    body += field(5, b"k" * 32)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sock)
s.send(struct.pack("<IHHII", 0x4d534856, 1, op, 7, 16 + len(body)) + body)
r = s.recv(70000); off = 16; err = None; msg = b""
while off + 8 <= len(r):
    tag, _, ln = struct.unpack("<HHI", r[off:off + 8]); v = r[off + 8:off + 8 + ln]
    if tag == 1: err = struct.unpack("<i", v)[0]
    if tag == 2: msg = v
    off += 8 + ln + (4 - ln % 4) % 4
sys.stdout.buffer.write(b"%d %s\n" % (err, msg))
PY
raw() { as_user nobody /usr/bin/python3 "$WORK/wire.py" "$SOCK" "$@"; }
rlo=$(printf 'evil\xe2\x80\xaegpj' | od -An -tx1 | tr -d ' \n')    # U+202E
ctlb=$(printf 'bad\x1b[31mname' | od -An -tx1 | tr -d ' \n')       # ESC
for op in 19 32 49 51; do                                            # kek show, wrap, dek load, drop
	out=$(raw $op "$rlo")
	[[ $out == "22 invalid "[KD]"EK name 'evil\\xe2\\x80\\xaegpj'"* ]] || fail "op $op with U+202E: $out"
	out=$(raw $op "$ctlb")
	[[ $out =~ ^(22|74)\  ]] || fail "op $op with ESC accepted: $out"
	grep -q $'\x1b' <<<"$out" && fail "op $op: raw ESC in the reply: $out"
done
expect_exit 1 ctl kek show $'\u202eevil'
expect_out '^vhsmctl: kek show: invalid KEK name .(\\)+xe2(\\)+x80(\\)+xaeevil.'
if grep -qaP '\xe2\x80\xae|\x1b' "$STATE/audit.log" "$WORK/daemon.log"; then
	fail "raw U+202E or ESC in the audit log or daemon log"
fi
grep -qF "name 'evil\\\\xe2\\\\x80\\\\xaegpj'" "$STATE/audit.log" ||
	fail "escaped name not in the audit log: $(grep -a 'invalid name' "$STATE/audit.log" | head -2)"
[ "$(jq -r 'select(.reason != null and (.reason | test("^invalid [KD]EK name"))) | .key // "none"' \
	"$STATE/audit.log" | sort -u)" = none ] || fail "an invalid name recorded as a key: $(grep -a "invalid [KD]EK name" "$STATE/audit.log" | grep "\"key\"")"
if command -v journalctl >/dev/null && [ -S /run/systemd/journal/socket ]; then
	journalctl -q -o export --since "-10min" 2>/dev/null | grep -aP '\xe2\x80\xae|\x1b\[31m' &&
		fail "raw U+202E or ESC in the journal"
fi
expect_exit 0 ctl audit --verify
ok "names with U+202E or control bytes: refused as invalid, escaped in reply, audit log and logs"
echo "$_checks checks"
