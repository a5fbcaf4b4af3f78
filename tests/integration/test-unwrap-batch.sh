#!/bin/bash
# UNWRAP_BATCH (vhsmctl unwrap-batch): every item checked and audited (consecutive releases
# under one KEK version share a record with "count", a refusal has its own); a bad item fails
# only itself, a malformed batch fails as a whole; refusals per item for ACL and state; KEKs
# that attest at every use share one fresh attestation per request.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create a-kek
expect_exit 0 ctl kek create b-kek

for i in 1 2 3; do
	head -c 64 /dev/urandom >"$WORK/dek$i"
done
ctl wrap --kek a-kek --context vol <"$WORK/dek1" >"$WORK/w1" || fail "wrap 1"
ctl wrap --kek b-kek --context vol <"$WORK/dek2" >"$WORK/w2" || fail "wrap 2"
ctl wrap --kek a-kek --context other <"$WORK/dek3" >"$WORK/w3" || fail "wrap 3"
records() { wc -l <"$STATE/audit.log"; }

mkdir -p "$WORK/out1"
before=$(records)
expect_exit 0 ctl unwrap-batch --out-dir "$WORK/out1" --context vol "$WORK/w1" "$WORK/w2" "$WORK/w1"
expect_out "^1 $WORK/w1 ok$"
expect_out "^2 $WORK/w2 ok$"
expect_out "^3 $WORK/w1 ok$"
cmp -s "$WORK/out1/1.key" "$WORK/dek1" || fail "item 1 is not dek1"
cmp -s "$WORK/out1/2.key" "$WORK/dek2" || fail "item 2 is not dek2"
cmp -s "$WORK/out1/3.key" "$WORK/dek1" || fail "item 3 is not dek1"
[ "$(stat -c %a "$WORK/out1/1.key")" = 600 ] || fail "key file mode"
[ $(($(records) - before)) -eq 3 ] || fail "expected 3 chained records, got $(($(records) - before))"
[ "$(tail -n 3 "$STATE/audit.log" | jq -r '.event + ":" + .key + ":" + .result' | sort | uniq -c |
	awk '{ print $1 " " $2 }' | sort | tr '\n' ' ')" = "1 unwrap:b-kek:ok 2 unwrap:a-kek:ok " ] ||
	fail "audit records: $(tail -n 3 "$STATE/audit.log")"
ok "three items under two KEKs, alternating, unwrap: one chained unwrap record each"

# The keys go into --out-dir itself: a missing directory or a file in its place is named, and
# no key is written anywhere else (not through a path the directory's name would build).
expect_exit 3 ctl unwrap-batch --out-dir "$WORK/absent" --context vol "$WORK/w1"
expect_out "writing key 1 to $WORK/absent: No such file or directory"
[ ! -e "$WORK/absent" ] || fail "unwrap-batch created its missing --out-dir"
: >"$WORK/plain"
expect_exit 3 ctl unwrap-batch --out-dir "$WORK/plain" --context vol "$WORK/w1"
expect_out "writing key 1 to $WORK/plain: Not a directory"
[ ! -s "$WORK/plain" ] || fail "a key was written into the file given as --out-dir"
ok "a missing --out-dir or a file in its place: refused by name, no key written"

# Consecutive releases under the same KEK version share one record that counts them.
mkdir -p "$WORK/out1b"
before=$(records)
expect_exit 0 ctl unwrap-batch --out-dir "$WORK/out1b" --context vol "$WORK/w1" "$WORK/w1" "$WORK/w1" "$WORK/w2" "$WORK/w1"
for i in 1 2 3 5; do cmp -s "$WORK/out1b/$i.key" "$WORK/dek1" || fail "item $i is not dek1"; done
cmp -s "$WORK/out1b/4.key" "$WORK/dek2" || fail "item 4 is not dek2"
[ $(($(records) - before)) -eq 3 ] || fail "expected 3 chained records, got $(($(records) - before))"
got=$(tail -n 3 "$STATE/audit.log" | jq -r '[.event, .key, (.version|tostring), (.count // 1 | tostring), .result, .reason] | join(":")' | tr '\n' '|')
[ "$got" = "unwrap:a-kek:1:3:ok:batch items 1-3 of 5|unwrap:b-kek:1:1:ok:batch item 4 of 5|unwrap:a-kek:1:1:ok:batch item 5 of 5|" ] ||
	fail "aggregated audit records: $got"
tail -n 3 "$STATE/audit.log" | jq -se '[.[] | select(.count != null)] | length == 1 and .[0].uid == 0 and .[0].pid > 0' >/dev/null ||
	fail "a counted record lacks the caller: $(tail -n 3 "$STATE/audit.log")"
ok "consecutive releases under one KEK version: one record with count 3; the others their own"

# A bad item fails only itself: wrong context, modified blob, not a wrapped key.
cp "$WORK/w1" "$WORK/w1.bad"
printf '\x01' | dd of="$WORK/w1.bad" bs=1 seek=$(($(stat -c %s "$WORK/w1") - 3)) conv=notrunc 2>/dev/null
head -c 100 /dev/urandom >"$WORK/junk"
mkdir -p "$WORK/out2"
before=$(records)
expect_exit 1 ctl unwrap-batch --out-dir "$WORK/out2" --context vol "$WORK/w3" "$WORK/w1.bad" "$WORK/w2" "$WORK/junk"
expect_out "^1 $WORK/w3 refused: Key was rejected by service$"
expect_out "^2 $WORK/w1.bad refused: Key was rejected by service$"
expect_out "^3 $WORK/w2 ok$"
expect_out "^4 $WORK/junk refused: Bad message$"
cmp -s "$WORK/out2/3.key" "$WORK/dek2" || fail "good item among bad ones"
for i in 1 2 4; do [ ! -e "$WORK/out2/$i.key" ] || fail "refused item $i has a key file"; done
[ $(($(records) - before)) -eq 4 ] || fail "expected 4 chained records, got $(($(records) - before))"
[ "$(tail -n 4 "$STATE/audit.log" | jq -r .result | sort | uniq -c | awk '{ print $1 $2 }' | tr '\n' ' ')" = "1ok 3refused " ] ||
	fail "audit results: $(tail -n 4 "$STATE/audit.log")"
got=$(tail -n 4 "$STATE/audit.log" | jq -r '.result + ":" + (.reason | split(":")[0])' | tr '\n' '|')
[ "$got" = "refused:batch item 1 of 4|refused:batch item 2 of 4|ok:batch item 3 of 4|refused:batch item 4 of 4|" ] ||
	fail "records not in item order or without the item: $got"
ok "wrong context, modified and junk items are refused alone and audited; the good one is released"

# ACL and state are checked per item.
expect_exit 0 ctl kek acl b-kek "user:nobody:unwrap"
mkdir -p "$WORK/out3" && chmod 777 "$WORK/out3"
chmod 644 "$WORK/w1" "$WORK/w2"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" unwrap-batch --out-dir "$WORK/out3" --context vol "$WORK/w1" "$WORK/w2"
expect_out "^1 $WORK/w1 refused: Operation not permitted$"
expect_out "^2 $WORK/w2 ok$"
cmp -s "$WORK/out3/2.key" "$WORK/dek2" || fail "allowed item for nobody"
[ ! -e "$WORK/out3/1.key" ] || fail "item under a KEK nobody may not use was released"
expect_exit 0 ctl kek disable b-kek
expect_exit 1 ctl unwrap-batch --out-dir "$WORK/out3" --context vol "$WORK/w1" "$WORK/w2"
expect_out "^1 $WORK/w1 ok$"
expect_out "^2 $WORK/w2 refused: Key has been revoked$"
expect_exit 0 ctl kek enable b-kek
ok "ACL and KEK state are checked for every item"

# "Each use" of an attest-each-use KEK means an attestation made during the request (or no
# older than --attest-fresh-ms): one firmware report serves every item of a batch, also 128
# items alternating between two such KEKs, and the audit records still count every item.
expect_exit 0 ctl kek create fresh-kek --attest-each-use
expect_exit 0 ctl kek create fresh-kek2 --attest-each-use
ctl wrap --kek fresh-kek --context vol <"$WORK/dek3" >"$WORK/wf" || fail "wrap fresh"
ctl wrap --kek fresh-kek2 --context vol <"$WORK/dek2" >"$WORK/wf2" || fail "wrap fresh2"
reports() { ctl --json status | jq -er .report_requests; }
mkdir -p "$WORK/out4"
n0=$(reports)
expect_exit 0 ctl unwrap-batch --out-dir "$WORK/out4" --context vol "$WORK/wf" "$WORK/w1" "$WORK/wf" "$WORK/wf"
for i in 1 3 4; do cmp -s "$WORK/out4/$i.key" "$WORK/dek3" || fail "fresh item $i"; done
n1=$(reports)
[ $((n1 - n0)) -le 1 ] || fail "attest-each-use in a batch: $((n1 - n0)) report requests for 3 items"
items=()
for _ in $(seq 64); do items+=("$WORK/wf" "$WORK/wf2"); done
mkdir -p "$WORK/out5"
before=$(records)
n0=$(reports)
expect_exit 0 ctl unwrap-batch --out-dir "$WORK/out5" --context vol "${items[@]}"
n1=$(reports)
[ $((n1 - n0)) -le 1 ] ||
	fail "128 items under two attest-each-use KEKs: $((n1 - n0)) report requests (one per request)"
for i in 1 128; do [ -s "$WORK/out5/$i.key" ] || fail "item $i of 128 not released"; done
cmp -s "$WORK/out5/127.key" "$WORK/dek3" && cmp -s "$WORK/out5/128.key" "$WORK/dek2" ||
	fail "items 127/128 are not the fresh DEKs"
# One record per run (each item here) plus the attestation's own record.
grown=$(($(records) - before))
[ "$grown" -eq $((128 + n1 - n0)) ] ||
	fail "alternating items: $grown chained records, want 128 runs + $((n1 - n0)) attestation"
[ "$(tail -n "$grown" "$STATE/audit.log" | jq -s '[.[] | select(.event == "unwrap" and .result == "ok")] | length')" = 128 ] ||
	fail "the batch's records are not 128 released unwraps"
ok "attest-each-use KEKs in a batch: at most one report request per request ($((n1 - n0)) for 128 items)"
# Whole-batch failures: bad framing and too many items (raw request), bad argv.
expect_exit 2 ctl unwrap-batch --context vol "$WORK/w1"
expect_exit 2 ctl unwrap-batch --out-dir "$WORK/out3"
many=()
for _ in $(seq 129); do many+=("$WORK/w1"); done
expect_exit 2 ctl unwrap-batch --out-dir "$WORK/out3" --context vol "${many[@]}"
: >"$WORK/empty"
expect_exit 2 ctl unwrap-batch --out-dir "$WORK/out3" "$WORK/empty"
before=$(records)
python3 - "$SOCK" "$WORK/w1" >"$WORK/raw" <<'PY' || fail "raw batch client: $(cat "$WORK/raw")"
import socket, struct, sys
blob = open(sys.argv[2], "rb").read()
def field(tag, val):
    return struct.pack("<HHI", tag, 0, len(val)) + val + b"\0" * ((4 - len(val) % 4) % 4)
def item(b, ctx=b"vol"):
    return struct.pack("<H", len(b)) + b + struct.pack("<H", len(ctx)) + ctx
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
def call(body):
    s.send(struct.pack("<IHHII", 0x4d534856, 1, 96, 7, 16 + len(body)) + body)
    r = s.recv(70000)
    assert struct.unpack("<H", r[6:8])[0] == 96 | 0x8000 and struct.unpack("<H", r[16:18])[0] == 1
    return struct.unpack("<i", r[24:28])[0]
good = item(blob)
print("truncated", call(field(56, good + good[:-1])))
print("overlong-length", call(field(56, good + b"\xff\xff" + blob)))
print("too-many", call(field(56, good * 129)))
print("empty", call(field(56, b"")))
print("none", call(b""))
print("one", call(field(56, good)))
PY
grep -qx "truncated 74" "$WORK/raw" || fail "truncated batch: $(cat "$WORK/raw")"
grep -qx "overlong-length 74" "$WORK/raw" || fail "overlong item: $(cat "$WORK/raw")"
grep -qx "too-many 90" "$WORK/raw" || fail "129 items: $(cat "$WORK/raw")"
grep -qx "empty 22" "$WORK/raw" || fail "empty batch: $(cat "$WORK/raw")"
grep -qx "none 22" "$WORK/raw" || fail "no batch: $(cat "$WORK/raw")"
grep -qx "one 0" "$WORK/raw" || fail "one item: $(cat "$WORK/raw")"
[ $(($(records) - before)) -eq 1 ] ||
	fail "whole-batch failures must unwrap nothing: $(($(records) - before)) records"
ok "malformed, oversized and empty batches fail as a whole before any unwrap"

ok "bad argv refused before any request"

expect_exit 0 ctl audit --verify
ok "audit chain intact after batches"
