#!/bin/bash
# vhsmd + vhsmctl: every verb round trip, refusals, ACLs, lifecycle (disable, soft delete,
# recover, purge with purge protection), audit chain, malformed requests.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
start_daemon cvm --attest-fresh-ms 10 # "each use" of attest-each-use KEKs: see below

expect_exit 0 ctl status
expect_out 'attestation: PASSED'
expect_out 'SIMULATED'
expect_exit 0 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = true ] || fail "status json"
ok "status shows a passing attestation on the simulated device"

# create / list / show
expect_exit 0 ctl kek create db-kek
expect_exit 1 ctl kek create db-kek
expect_out 'already exists'
expect_exit 0 ctl kek create prot-kek --purge-protection --retention-days 7
expect_exit 2 ctl kek create bad/name
expect_exit 1 ctl kek create .hidden
expect_out "invalid KEK name '.hidden': names are 1-64 characters of A-Z a-z 0-9 _ . -, not starting with '.' or '-'"
# one message for every refused name, the name escaped: a bidi override, an over-long name
expect_exit 1 ctl kek create "$(printf 'ab\xe2\x80\xaecd')"
# (vhsmctl escapes daemon text once more: the backslash of \xNN may show doubled)
expect_out "invalid KEK name 'ab(\\\\)+xe2(\\\\)+x80(\\\\)+xaecd': names are 1-64"
! grep -q "$(printf '\xe2\x80\xae')" "$WORK/out" || fail "a bidi override reached the terminal"
expect_exit 1 ctl kek create "$(printf 'k%.0s' {1..65})"
expect_out "invalid name 'k{64}\\.\\.\\.': names are 1-64"
expect_exit 1 ctl kek show "$(printf 'k%.0s' {1..65})"
expect_out "invalid name 'k{64}\\.\\.\\.': names are 1-64"
expect_exit 1 ctl kek create x --profile nonsense
expect_exit 1 ctl kek create x --retention-days 3
expect_out 'retention'
expect_exit 0 ctl --json kek list
[ "$(jq -r '[.[].kek.name] | join(",")' "$WORK/out")" = db-kek,prot-kek ] || fail "list: $(cat "$WORK/out")"
expect_exit 0 ctl kek show db-kek
expect_out '^state: +enabled'
expect_out '^profile: +strict'
expect_out '^version 1 '
ok "create, list, show"

# wrap / unwrap round trip with binary data and a context
head -c 64 /dev/urandom >"$WORK/dek"
ctl wrap --kek db-kek --context vol1 <"$WORK/dek" >"$WORK/dek.wrapped" || fail "wrap"
ctl unwrap --context vol1 <"$WORK/dek.wrapped" >"$WORK/dek.out" || fail "unwrap"
cmp -s "$WORK/dek" "$WORK/dek.out" || fail "unwrap returned other bytes"
expect_exit 1 ctl unwrap --context vol2 <"$WORK/dek.wrapped"
expect_exit 1 ctl unwrap <"$WORK/dek.wrapped"
printf 'x' | cat "$WORK/dek.wrapped" - >"$WORK/dek.bad"
expect_exit 1 ctl unwrap --context vol1 <"$WORK/dek.bad"
expect_exit 2 ctl wrap <"$WORK/dek"
expect_exit 2 ctl wrap --kek db-kek </dev/null
ok "wrap/unwrap round trip; wrong context and modified input refused"

# rotate: old wrapped keys still unwrap; rewrap moves them to the newest version
expect_exit 0 ctl kek rotate db-kek
expect_out '^KEK db-kek rotated: version 2 wraps from now on$'
ctl unwrap --context vol1 <"$WORK/dek.wrapped" | cmp -s - "$WORK/dek" || fail "v1 unwrap after rotate"
ctl rewrap --context vol1 <"$WORK/dek.wrapped" >"$WORK/dek.v2" || fail "rewrap"
ctl unwrap --context vol1 <"$WORK/dek.v2" | cmp -s - "$WORK/dek" || fail "v2 unwrap"
ctl --json kek show db-kek >"$WORK/show.json"
[ "$(jq '.kek.versions | length' "$WORK/show.json")" = 2 ] || fail "two versions"
ok "rotate keeps old versions; rewrap moves to the newest"

# ACL: another uid is refused until granted, and only what is granted
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" unwrap --context vol1 <"$WORK/dek.wrapped"
expect_out 'may not unwrap'
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" kek create nobodys
expect_out 'requires root'
expect_exit 0 ctl kek acl db-kek "user:nobody:unwrap"
as_user nobody "$CTL" --socket "$SOCK" unwrap --context vol1 <"$WORK/dek.wrapped" |
	cmp -s - "$WORK/dek" || fail "granted unwrap"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" wrap --kek db-kek <"$WORK/dek"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" kek rotate db-kek
expect_exit 0 ctl kek acl db-kek
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" unwrap --context vol1 <"$WORK/dek.wrapped"
ok "ACL: refused by default, granted op only, revocable"

# disable / enable
expect_exit 0 ctl kek disable db-kek
expect_exit 1 ctl unwrap --context vol1 <"$WORK/dek.wrapped"
expect_out 'disabled'
expect_exit 0 ctl kek disable db-kek
expect_out '^KEK db-kek is already disabled$'
expect_exit 0 ctl kek enable db-kek
ctl unwrap --context vol1 <"$WORK/dek.wrapped" | cmp -s - "$WORK/dek" || fail "unwrap after enable"
ok "disabled KEK does not unwrap; enable restores"

# soft delete / recover / purge
expect_exit 0 ctl kek delete db-kek
expect_out '^KEK db-kek deleted; vhsmctl kek recover can undo this until '
expect_exit 1 ctl unwrap --context vol1 <"$WORK/dek.wrapped"
expect_exit 0 ctl kek recover db-kek
ctl unwrap --context vol1 <"$WORK/dek.wrapped" | cmp -s - "$WORK/dek" || fail "unwrap after recover"
expect_exit 1 ctl kek purge db-kek
expect_out 'must be deleted'
expect_exit 0 ctl kek delete db-kek
expect_exit 0 ctl kek purge db-kek
expect_exit 1 ctl kek show db-kek
expect_out 'no KEK'
ok "soft delete, recover, purge"

# purge protection: refused before the retention has passed; retention cannot be shortened
expect_exit 1 ctl kek delete prot-kek --retention-days 3
expect_exit 0 ctl kek delete prot-kek
expect_exit 1 ctl kek purge prot-kek
expect_out 'purge protection'
expect_exit 0 ctl kek recover prot-kek
expect_exit 0 ctl --json kek show prot-kek
[ "$(jq -r .kek.purge_protection "$WORK/out")" = true ] || fail "purge protection lost"
ok "purge protection"

# per-KEK policy: a fresh attestation for every use (one made during the request or no older
# than --attest-fresh-ms, 10 ms here: the uses are 20 ms apart); others use the interval
expect_exit 0 ctl kek create fresh-kek --attest-each-use
ctl wrap --kek fresh-kek <"$WORK/dek" >"$WORK/w-fresh" || fail "wrap fresh"
n0=$(grep -c '"event":"attestation"' "$STATE/audit.log")
for _ in 1 2 3; do
	sleep 0.02
	ctl unwrap <"$WORK/w-fresh" | cmp -s - "$WORK/dek" || fail "unwrap fresh"
done
n1=$(grep -c '"event":"attestation"' "$STATE/audit.log")
[ $((n1 - n0)) -eq 3 ] || fail "attest-each-use: $((n1 - n0)) attestations for 3 uses"
ctl wrap --kek prot-kek <"$WORK/dek" >/dev/null || fail "wrap prot"
n2=$(grep -c '"event":"attestation"' "$STATE/audit.log")
[ "$n2" -eq "$n1" ] || fail "a KEK without attest-each-use attested again"
expect_exit 0 ctl --json kek show fresh-kek
[ "$(jq -r .kek.attest_each_use "$WORK/out")" = true ] || fail "attest_each_use not shown"
pd=$(jq -r .policy_digest "$WORK/out")
expect_exit 0 ctl --json status
[ "$pd" = "$(jq -r .policy_digest "$WORK/out")" ] || fail "kek show policy digest != policy in force"
ok "attest-each-use KEK re-attests on every use; show names the sealing policy digest"

# malformed and oversized requests get an error reply; the daemon keeps serving
python3 - "$SOCK" <<'PY' || fail "malformed request handling"
import socket, struct, sys
def call(payload):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
    s.send(payload); r = s.recv(70000); s.close(); return r
for bad in [b"", b"VHSM", b"XXXX" + bytes(12), struct.pack("<IHHII", 0x4d534856, 9, 1, 1, 16),
            struct.pack("<IHHII", 0x4d534856, 1, 1, 1, 17) + b"\0", b"\xff" * 70000]:
    if not bad: continue
    r = call(bad)
    assert r[:4] == b"VHSM" and len(r) >= 16, r
ok = call(struct.pack("<IHHII", 0x4d534856, 1, 1, 7, 16))
assert ok[:4] == b"VHSM"
PY
expect_exit 0 ctl status
ok "malformed requests answered, daemon still serving"

# audit chain verifies; an edited, deleted or reordered record is detected
expect_exit 0 ctl --json audit --verify
[ "$(jq -r .ok "$WORK/out")" = true ] || fail "audit verify"
n=$(jq -r .records "$WORK/out")
[ "$n" -gt 20 ] || fail "too few audit records: $n"
grep -q '"event":"unwrap".*"result":"refused"' "$STATE/audit.log" || fail "refusal not audited"
grep -q '"event":"kek.purge".*"key":"db-kek".*"result":"ok"' "$STATE/audit.log" || fail "purge not audited"
! grep -q "$(xxd -p "$WORK/dek" | tr -d '\n' | head -c 32)" "$STATE/audit.log" || fail "key bytes in audit log"
cp "$STATE/audit.log" "$WORK/audit.orig"
sed -i '3s/"result":"ok"/"result":"OK"/' "$STATE/audit.log"
expect_exit 1 ctl audit --verify
expect_out 'record 3'
cp "$WORK/audit.orig" "$STATE/audit.log"; sed -i '4d' "$STATE/audit.log"
expect_exit 1 ctl audit --verify
expect_out 'record 4'
cp "$WORK/audit.orig" "$STATE/audit.log"; sed -i '5{h;d};6G' "$STATE/audit.log"
expect_exit 1 ctl audit --verify
expect_out 'record 5'
cp "$WORK/audit.orig" "$STATE/audit.log"
expect_exit 0 ctl audit --verify
expect_out "records [0-9]+\.\.[0-9]+, hash chain intact"
ok "audit chain detects edit, deletion and reordering"

# attestation report through the daemon verifies like any other evidence
expect_exit 0 ctl attestation report --nonce 00112233 --out "$WORK/r.bin" --certs-out "$WORK/c.bin"
expect_exit 0 "$CTL" attestation verify --report "$WORK/r.bin" --certs "$WORK/c.bin" \
	--trust-root "$WORK/cvm-certs/ark.pem" --policy default
want=$(printf '\x00\x11\x22\x33' | openssl dgst -sha512 -binary | xxd -p | tr -d '\n')
expect_exit 0 "$CTL" --json attestation show --report "$WORK/r.bin"
[ "$(jq -r .report_data "$WORK/out")" = "$want" ] || fail "REPORT_DATA != SHA-512(nonce)"
ok "attestation report binds the nonce"

# usage errors of daemon verbs
expect_exit 2 ctl kek
expect_exit 2 ctl kek show
expect_exit 2 ctl kek show a b
expect_exit 2 ctl audit
expect_exit 3 "$CTL" --socket "$WORK/nonexistent.sock" status
expect_out 'cannot connect'
ok "usage errors"
stop_daemon
echo "$_checks checks passed"
