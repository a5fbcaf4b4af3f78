#!/bin/bash
# A KEK whose sealed file is damaged while vhsmd holds it in memory: new wraps (wrap, rewrap,
# dek create) are refused, since a restart could not unwrap them; blobs wrapped before still
# unwrap from memory; the refusal, the log and status name the file and the recovery.
# Recovery by `kek reseal` (rewrites the file from memory) and by restoring an identical copy.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"

make_cvm cvm genoa
start_daemon cvm
F=$STATE/kek/k.sealed
expect_exit 0 ctl kek create k
expect_exit 0 ctl kek create other
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k --context dmg <"$WORK/dek" >"$WORK/w1" || fail "wrap before the damage"
ctl wrap --kek k --context dmg <"$WORK/dek" >/dev/null || fail "second wrap before the damage"
cp "$F" "$WORK/k.backup"
expect_exit 0 ctl status
not_out DAMAGED
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

# damage_check WHAT: the KEK's file is damaged (WHAT says how); every new wrap is refused with
# the file and the recovery named, the old blob still unwraps, another KEK is unaffected.
damage_check() {
	expect_exit 1 ctl wrap --kek k --context dmg <"$WORK/dek"
	expect_out "sealed file $F of KEK k is damaged"
	expect_out "new wraps are refused"
	expect_out "vhsmctl kek reseal k"
	expect_out "backup"
	expect_out "BYOK"
	[[ $(hex "$WORK/out") != *"$(hex "$WORK/dek")"* ]] || fail "$1: refusal carries the key"
	expect_exit 1 ctl rewrap --context dmg <"$WORK/w1"
	expect_out "sealed file $F of KEK k is damaged"
	expect_exit 1 ctl dek create d1 --kek k
	expect_out "sealed file $F of KEK k is damaged"
	ctl unwrap --context dmg <"$WORK/w1" >"$WORK/u" 2>&1 || fail "$1: unwrap from memory: $(cat "$WORK/u")"
	cmp -s "$WORK/u" "$WORK/dek" || fail "$1: unwrap returned other bytes"
	ctl wrap --kek other --context dmg <"$WORK/dek" >/dev/null || fail "$1: another KEK refused"
	expect_exit 0 ctl status
	expect_out "^DAMAGED KEK k: sealed file $F"
	expect_exit 0 ctl --json status
	[ "$(jq -r '.damaged_keks | map(.name) | join(",")' "$WORK/out")" = k ] ||
		fail "$1: status --json damaged_keks: $(cat "$WORK/out")"
	[ "$(jq -r '.damaged_keks[0].in_memory' "$WORK/out")" = true ] || fail "$1: in_memory"
	# Non-administrators do not learn KEK names from status.
	expect_exit 0 as_user nobody "$CTL" --socket "$SOCK" --json status
	[ "$(jq -r 'has("damaged_keks")' "$WORK/out")" = false ] || fail "status leaks KEK names"
}

# 1. A byte flipped inside the ciphertext (the header still parses: kek list would not see it).
python3 - "$F" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[len(b) - 20] ^= 0x01
open(p, 'wb').write(b)
PY
damage_check "bit flip"
[ "$(grep -c "sealed file $F of KEK k is damaged" "$WORK/daemon.log")" = 1 ] ||
	fail "the damage is not logged exactly once: $(cat "$WORK/daemon.log")"
ok "bit flip: wraps refused naming the file and the recovery, unwrap from memory, status, log"

# Recovery while vhsmd runs: reseal writes the KEK from memory; a restart then proves the file.
expect_exit 0 ctl kek reseal k
ctl wrap --kek k --context dmg <"$WORK/dek" >"$WORK/w2" || fail "wrap after reseal"
expect_exit 0 ctl status
not_out DAMAGED
stop_daemon
start_daemon cvm
for w in w1 w2; do
	ctl unwrap --context dmg <"$WORK/$w" >"$WORK/u" || fail "$w after restart"
	cmp -s "$WORK/u" "$WORK/dek" || fail "$w after restart: other bytes"
done
ok "kek reseal rewrites the file from memory; after a restart old and new wraps unwrap"

# 2. Truncated, 3. removed: the same refusal. An identical copy put back clears it.
ctl wrap --kek k --context dmg <"$WORK/dek" >/dev/null || fail "wrap after restart"
cp "$F" "$WORK/k.good"
truncate -s 100 "$F"
damage_check "truncated"
rm -f "$F"
expect_exit 1 ctl wrap --kek k --context dmg <"$WORK/dek"
expect_out "sealed file $F of KEK k is damaged \(No such file or directory\)"
ctl unwrap --context dmg <"$WORK/w1" >/dev/null || fail "unwrap from memory with the file gone"
cp "$WORK/k.good" "$F"
ctl wrap --kek k --context dmg <"$WORK/dek" >/dev/null || fail "wrap after restoring the file"
expect_exit 0 ctl status
not_out DAMAGED
ok "truncated or removed file refused the same way; an identical copy restored clears it"

# 4. An older copy of the file (a rollback, or a stale backup) is not the KEK in memory.
cp "$WORK/k.backup" "$F"
expect_exit 1 ctl wrap --kek k --context dmg <"$WORK/dek"
expect_out "it no longer holds the KEK in use"
cp "$WORK/k.good" "$F"
expect_exit 0 ctl wrap --kek k --context dmg <"$WORK/dek"
ok "an older copy of the file is refused as not the KEK in use"
