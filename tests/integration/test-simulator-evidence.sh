#!/bin/bash
# A simulated CVM's evidence verifies with --trust-root and never without it.
source "$(dirname "$0")/lib.sh"

for p in milan genoa turin; do
	expect_exit 0 "$SIM" init "$WORK/$p.json" --product "$p"
	nonce=$(od -An -tx1 -N64 /dev/urandom | tr -d ' \n')
	expect_exit 0 "$SIM" report "$WORK/$p.json" --report-data "$nonce" --out "$WORK/$p.bin" \
		--certs-dir "$WORK/$p-certs"
	expect_exit 0 "$CTL" --json attestation verify --report "$WORK/$p.bin" \
		--certs "$WORK/$p-certs" --trust-root "$WORK/$p-certs/ark.pem" --policy default
	[ "$(jq -r .product "$WORK/out")" = "$p" ] || fail "$p: product"
	[ "$(jq -r .trusted_by_extra_root "$WORK/out")" = true ] || fail "$p: not flagged as extra root"
	expect_exit 0 "$CTL" --json attestation show --report "$WORK/$p.bin"
	[ "$(jq -r .report_data "$WORK/out")" = "$nonce" ] || fail "$p: report_data"
	expect_exit 1 "$CTL" attestation verify --report "$WORK/$p.bin" --certs "$WORK/$p-certs"
	expect_out 'fail +(ark_pinned|ask_by_ark)'
	ok "$p: simulated evidence verifies only with --trust-root"
done

# The certificate table the simulator returned is accepted as --certs too.
expect_exit 0 "$CTL" attestation verify --report "$WORK/genoa.bin" \
	--certs "$WORK/genoa-certs/certs.bin" --trust-root "$WORK/genoa-certs/ark.pem"
ok "simulated certificate table"

# A debug-policy CVM is refused by the default policy.
# Same product: it shares the simulated ARK/ASK with milan.json, as real chips do.
expect_exit 0 "$SIM" init "$WORK/dbg.json" --product milan --policy 0xb0000 --ca "$WORK/milan.json"
expect_exit 0 "$SIM" report "$WORK/dbg.json" --out "$WORK/dbg.bin" --certs-dir "$WORK/dbg-certs"
expect_exit 1 "$CTL" attestation verify --report "$WORK/dbg.bin" --certs "$WORK/dbg-certs" \
	--trust-root "$WORK/dbg-certs/ark.pem" --policy default
expect_out 'fail +debug'
ok "debug CVM refused by policy"

# Evidence of one CVM does not verify with another CVM's VCEK.
expect_exit 1 "$CTL" attestation verify --report "$WORK/milan.bin" \
	--vcek "$WORK/dbg-certs/vcek.der" --ask "$WORK/dbg-certs/ask.pem" \
	--trust-root "$WORK/dbg-certs/ark.pem"
expect_out 'fail +report_sig'
ok "cross-CVM VCEK rejected"

# Bad usage of the simulator tool.
expect_exit 2 "$SIM"
expect_exit 1 "$SIM" init "$WORK/milan.json"
expect_out 'exists'
expect_exit 1 "$SIM" report /nonexistent.json --out "$WORK/x.bin"
echo "$_checks checks passed"
