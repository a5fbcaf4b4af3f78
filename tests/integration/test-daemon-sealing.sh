#!/bin/bash
# Sealing and the attestation gate with simulated CVMs: tampered blob, blob moved to another
# measurement or chip, debug-policy VM, TCB below policy, the author profile across a
# re-measured image, reseal after a firmware update and a rollback that cannot unseal.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

M1=$(printf 'a1%.0s' $(seq 48)); M2=$(printf 'b2%.0s' $(seq 48))
FAM=$(printf 'f0%.0s' $(seq 16)); IMG=$(printf 'e1%.0s' $(seq 16))
make_cvm a genoa --measurement "$M1" --family-id "$FAM" --image-id "$IMG" \
	--tcb bl=10,tee=0,snp=25,ucode=84
start_daemon a
expect_exit 0 ctl kek create strict-kek
not_out 'warning'
expect_exit 0 ctl kek create author-kek --profile author
expect_out "^vhsmctl: warning: profile 'author' protects the KEK only against use on another chip"
expect_out 'pinning ID or author key digests in the policy does not help'
expect_exit 0 ctl --json kek create author-json --profile author
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["kek"]=="author-json" and o["version"]==1 and "only against use on another chip" in o["warning"], o' "$WORK/out" \
	|| fail "kek create --json --profile author: no warning member"
expect_exit 0 ctl --json kek create strict-json --profile strict
not_out 'warning'
expect_exit 0 ctl kek delete author-json
expect_exit 0 ctl kek delete strict-json
ok "kek create --profile author warns (stderr; --json: warning member); strict does not"
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek strict-kek <"$WORK/dek" >"$WORK/w-strict" || fail "wrap strict"
ctl wrap --kek author-kek <"$WORK/dek" >"$WORK/w-author" || fail "wrap author"
stop_daemon
cp -a "$STATE" "$WORK/state.good"
ok "two KEKs sealed on CVM a"

# 1. Tampered sealed file: refused with a clear reason, and the file is left untouched.
f=$STATE/kek/strict-kek.sealed
python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=1; open(p,"wb").write(b)' "$f"
cp "$f" "$WORK/tampered"
start_daemon a
expect_exit 1 ctl unwrap <"$WORK/w-strict"
expect_out 'modified|damaged'
expect_exit 1 ctl kek show strict-kek
ctl unwrap <"$WORK/w-author" | cmp -s - "$WORK/dek" || fail "other KEK affected by tampering"
stop_daemon
cmp -s "$f" "$WORK/tampered" || fail "the tampered file was changed"
rm -rf "$STATE"; cp -a "$WORK/state.good" "$STATE"
ok "tampered blob refused, file untouched, other KEKs unaffected"

# 2. Same chip, re-measured image with the same ID-block author: strict refuses with the
#    measurement named, author still unseals.
cp "$WORK/a.json" "$WORK/b.json"; cp -r "$WORK/a-certs" "$WORK/b-certs"
"$SIM" set "$WORK/b.json" --measurement "$M2" >/dev/null
start_daemon b
expect_exit 1 ctl unwrap <"$WORK/w-strict"
expect_out 'measurement'
ctl unwrap <"$WORK/w-author" | cmp -s - "$WORK/dek" || fail "author profile lost across re-measurement"
stop_daemon
ok "strict refuses another measurement; author survives it"

# 3. Another chip (host change): nothing unseals, and the reason says so.
make_cvm c genoa --measurement "$M1" --family-id "$FAM" --image-id "$IMG" \
	--tcb bl=10,tee=0,snp=25,ucode=84
start_daemon c
expect_exit 1 ctl unwrap <"$WORK/w-strict"
expect_out 'chip'
expect_exit 1 ctl unwrap <"$WORK/w-author"
expect_out 'chip'
stop_daemon
ok "blobs from another chip refused"

# 4. Debug-policy VM: the attestation gate fails, nothing is released or created.
cp "$WORK/a.json" "$WORK/d.json"; cp -r "$WORK/a-certs" "$WORK/d-certs"
"$SIM" set "$WORK/d.json" --policy 0xb0000 >/dev/null
start_daemon d
expect_exit 1 ctl status
expect_out 'attestation: FAILED'
expect_out 'fail +debug +POLICY.DEBUG=1'
expect_exit 1 ctl unwrap <"$WORK/w-author"
expect_out 'attestation failed: .*debug'
expect_exit 1 ctl kek create new-kek
stop_daemon
ok "debug-policy VM refused by the gate"

# 5. TCB below the policy's minimum.
echo '{"min_tcb": {"snp": 26}}' >"$WORK/policy.json"
start_daemon a --policy "$WORK/policy.json"
expect_exit 1 ctl unwrap <"$WORK/w-strict"
expect_out 'min_tcb.snp'
expect_exit 1 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = false ] || fail "gate passed below min TCB"
[ "$(jq -r '.attestation.findings[0].check' "$WORK/out")" = min_tcb.snp ] ||
	fail "status does not name the failed rule: $(cat "$WORK/out")"
stop_daemon
ok "TCB below policy refused"

# 6. Firmware update: still unseals (sealed at an older TCB); reseal pins the new TCB; a
#    rollback of the firmware can then no longer unseal the resealed KEK.
cp "$WORK/a.json" "$WORK/e.json"; cp -r "$WORK/a-certs" "$WORK/e-certs"
"$SIM" set "$WORK/e.json" --tcb snp=26 >/dev/null
start_daemon e
ctl unwrap <"$WORK/w-strict" | cmp -s - "$WORK/dek" || fail "unseal after a TCB upgrade"
expect_exit 0 ctl --json kek show strict-kek
# Legacy TCB layout: bl=10 (byte 0), snp (byte 6), ucode=84 (byte 7).
[ "$(jq -r .sealed_tcb "$WORK/out")" = 0x541900000000000a ] || fail "sealed TCB before reseal"
expect_exit 0 ctl --json kek reseal strict-kek
sealed_tcb=$(jq -r .sealed_tcb "$WORK/out")
[ "$sealed_tcb" = 0x541a00000000000a ] || fail "reseal did not pin snp=26: $sealed_tcb"
ctl unwrap <"$WORK/w-strict" | cmp -s - "$WORK/dek" || fail "unwrap after reseal"
stop_daemon
"$SIM" set "$WORK/e.json" --tcb snp=25 >/dev/null
start_daemon e
expect_exit 1 ctl unwrap <"$WORK/w-strict"
expect_out 'rollback|TCB'
ctl unwrap <"$WORK/w-author" | cmp -s - "$WORK/dek" || fail "non-resealed KEK lost on rollback"
stop_daemon
[ "$sealed_tcb" != null ] || fail "no sealed_tcb in kek show"
ok "reseal after a TCB upgrade; rollback cannot unseal (sealed TCB $sealed_tcb)"
echo "$_checks checks passed"
