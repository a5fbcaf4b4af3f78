#!/bin/bash
# vhsmctl attestation verify/show on the genuine AMD vectors, the tampered ones and bad input.
source "$(dirname "$0")/lib.sh"
[ -d "$VEC" ] || skip "vectors not found at $VEC"

leaf_of() { # DIR -> path of its VCEK/VLEK
	local f
	for f in vcek.der vcek.pem vlek.pem vlek.der; do
		[ -f "$1/$f" ] && { echo "$1/$f"; return; }
	done
}
# A time inside the leaf's validity (VLEKs are valid for one year and all have expired).
valid_at() {
	local nb
	nb=$(openssl x509 -in "$1" -inform "$([[ $1 == *.der ]] && echo DER || echo PEM)" \
		-noout -startdate | cut -d= -f2)
	echo "@$(($(date -d "$nb" +%s) + 86400))"
}

genuine=(genoa-v3-azure-trustee genoa-v3-siena-trustee genoa-v5-oak milan-v2-azure-constellation
	milan-v2-azure-hcl-trustee milan-v2-debug-gsg milan-v2-trustee milan-v2-virtee
	milan-v2-vlek-aws-constellation milan-v3-azure-trustee milan-v3-oak
	milan-v3-vlek-aws-constellation turin-v5-oak)
for v in "${genuine[@]}"; do
	d=$VEC/$v
	leaf=$(leaf_of "$d")
	at=$(valid_at "$leaf")
	expect_exit 0 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" --at "$at"
	expect_out '^result: VERIFIED'
	not_out '^  fail'
	# The explicit-file form, and the pinned ASK/ARK when none is given.
	expect_exit 0 "$CTL" attestation verify --report "$d/report.bin" --vcek "$leaf" --at "$at"
	ok "$v verifies (certs dir and pinned chain)"
done

# The same VCEK fetched from Azure's THIM works too.
d=$VEC/milan-v2-azure-constellation
expect_exit 0 "$CTL" attestation verify --report "$d/report.bin" --vcek "$d/vcek-thim.pem" \
	--ask "$d/ask.pem" --ark "$d/ark.pem"
ok "THIM copy of a VCEK"

# VLEK at the current time: expired, and nothing else is wrong.
d=$VEC/milan-v2-vlek-aws-constellation
expect_exit 1 "$CTL" --json attestation verify --report "$d/report.bin" --certs "$d"
[ "$(jq -r '[.checks[] | select(.result=="fail") | .name] | join(",")' "$WORK/out")" = cert_validity ] ||
	fail "expired VLEK should fail cert_validity only: $(cat "$WORK/out")"
[ "$(jq -r .signing_key "$WORK/out")" = vlek ] || fail "signing key not reported as vlek"
ok "expired VLEK fails cert_validity only (JSON)"

# Debug-enabled guest: cryptographically fine, refused by the default policy on "debug".
d=$VEC/milan-v2-debug-gsg
expect_exit 0 "$CTL" attestation verify --report "$d/report.bin" --certs "$d"
expect_out 'policy: none given'
expect_exit 1 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" --policy default
expect_out '^  fail +debug'
expect_exit 1 "$CTL" --json attestation verify --report "$d/report.bin" --certs "$d" --policy default
[ "$(jq -r '[.policy.violations[].rule] | join(",")' "$WORK/out")" = debug ] || fail "violations != debug"
[ "$(jq -r '[.checks[] | select(.result=="fail")] | length' "$WORK/out")" = 0 ] || fail "crypto check failed"
ok "debug guest fails the default policy on debug only"

# A genuine report passes the default policy.
d=$VEC/genoa-v5-oak
expect_exit 0 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" --policy default
ok "genuine report passes the default policy"

# Tampered vectors fail with the expected checks named.
check_fails() { # DIR CHECK...
	local d=$VEC/$1; shift
	expect_exit 1 "$CTL" --json attestation verify --report "$d/report.bin" --certs "$d"
	local failed; failed=$(jq -r '[.checks[] | select(.result=="fail") | .name] | join(",")' "$WORK/out")
	for c in "$@"; do [[ ",$failed," == *",$c,"* ]] || fail "$d: $c not failed (failed: $failed)"; done
	[ "$(jq -r .verified "$WORK/out")" = false ] || fail "$d: verified"
}
check_fails neg-derived/sig-r-bitflip report_sig
check_fails neg-derived/turin-measurement-bitflip report_sig
check_fails neg-derived/reported-tcb-raised report_sig tcb_match
expect_exit 1 "$CTL" attestation verify --report "$VEC/neg-derived/truncated-1183/report.bin" \
	--vcek "$VEC/neg-derived/truncated-1183/vcek.pem"
expect_out 'fail +report_parse'
ok "tampered vectors rejected with the right checks"

# Edit in the unsigned tail (0x330-0x49F): the signature still verifies, mbz_fields must not.
cp "$VEC/milan-v3-oak/report.bin" "$WORK/tail.bin"
printf '\x01' | dd of="$WORK/tail.bin" bs=1 seek=$((0x400)) conv=notrunc status=none
expect_exit 1 "$CTL" attestation verify --report "$WORK/tail.bin" --certs "$VEC/milan-v3-oak"
expect_out 'fail +mbz_fields'
ok "edit in the unsigned tail rejected"

# Wrong product root, VLEK through the ASK, another chip's VCEK.
d=$VEC/milan-v2-virtee
expect_exit 1 "$CTL" attestation verify --report "$d/report.bin" --vcek "$d/vcek.der" \
	--ark "$VEC/amd-roots/genoa/ark.pem"
expect_out 'fail +ark_pinned'
d=$VEC/milan-v2-vlek-aws-constellation
expect_exit 1 "$CTL" attestation verify --report "$d/report.bin" --vlek "$d/vlek.pem" \
	--ask "$VEC/amd-roots/milan/ask.pem" --at 2024-01-01
expect_out 'fail +ask_by_ark'
expect_exit 1 "$CTL" attestation verify --report "$VEC/milan-v2-virtee/report.bin" \
	--vcek "$VEC/milan-v2-trustee/vcek.der"
expect_out 'fail +report_sig'
expect_out 'fail +hwid_match'
ok "wrong ARK, VLEK via ASK and another chip's VCEK rejected"

# A GHCB certificate table (SNP_GET_EXT_REPORT buffer) as --certs.
expect_exit 0 "$CTL" attestation verify --report "$VEC/turin-v5-oak/report.bin" \
	--certs "$VEC/certtable-synthetic-turin/certs.bin"
ok "certificate table input"

# Validity time injection.
d=$VEC/genoa-v5-oak
expect_exit 1 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" --at 2060-01-01
expect_out 'fail +cert_validity'
ok "--at outside validity rejected"

# The report's SIGNING_KEY picks the leaf and intermediate when the evidence offers both kinds.
vl=$VEC/milan-v3-vlek-aws-constellation; vc=$VEC/milan-v3-oak
vat=$(valid_at "$vl/vlek.pem")
expect_exit 0 "$CTL" attestation verify --report "$vl/report.bin" --vlek "$vl/vlek.pem" \
	--certs "$VEC/amd-roots/milan" --at "$vat"
mkdir -p "$WORK/both"
cp "$vc/vcek.der" "$vl/vlek.pem" "$VEC/amd-roots/milan/"{ask,asvk,ark}.pem "$WORK/both/"
expect_exit 0 "$CTL" attestation verify --report "$vc/report.bin" --certs "$WORK/both"
expect_exit 0 "$CTL" attestation verify --report "$vl/report.bin" --certs "$WORK/both" --at "$vat"
python3 - "$WORK/both" "$WORK/both.bin" <<'PY2'
import sys, subprocess
d, out = sys.argv[1], sys.argv[2]
def der(f, pem):
    return subprocess.run(["openssl", "x509", "-outform", "DER", "-in", f] + ([] if pem else ["-inform", "DER"]),
                          check=True, capture_output=True).stdout
certs = [("63da758de6644564adc5f4b93be8accd", der(d + "/vcek.der", False)),
         ("a8074bc2a25a483eaae639c045a0b8a1", der(d + "/vlek.pem", True)),
         ("4ab7b379bbac4fe4a02f05aef327c782", der(d + "/ask.pem", True)),
         ("c0b406a4a8034952974 33fb6014cd0ae".replace(" ", ""), der(d + "/ark.pem", True))]
table, off = b"", 24 * (len(certs) + 1)
for g, c in certs:
    table += bytes.fromhex(g) + off.to_bytes(4, "little") + len(c).to_bytes(4, "little"); off += len(c)
blob = table + bytes(24) + b"".join(c for _, c in certs)
blob += bytes(-len(blob) % 4096)
open(out, "wb").write(blob)
PY2
expect_exit 0 "$CTL" attestation verify --report "$vc/report.bin" --certs "$WORK/both.bin"
expect_exit 0 "$CTL" attestation verify --report "$vl/report.bin" --certs "$WORK/both.bin" --at "$vat"
ok "VCEK and VLEK offered together: the report's signing key decides"

# PEM bundles: the certificate in the role asked for is taken from a chain file.
expect_exit 0 "$CTL" attestation verify --report "$vc/report.bin" --vcek "$vc/vcek.der" \
	--ask "$VEC/amd-roots/milan/cert_chain_vcek.pem" --ark "$VEC/amd-roots/milan/cert_chain_vcek.pem"
openssl x509 -inform DER -in "$vc/vcek.der" >"$WORK/vcek.pem"
cat "$VEC/amd-roots/milan/cert_chain_vcek.pem" "$WORK/vcek.pem" >"$WORK/bundle.pem"
expect_exit 0 "$CTL" attestation verify --report "$vc/report.bin" --vcek "$WORK/bundle.pem"
expect_exit 2 "$CTL" attestation verify --report "$vc/report.bin" --certs "$vc" --at 1970-01-01
expect_exit 2 "$CTL" attestation verify --report "$vc/report.bin" --certs "$vc" --at @0
ok "PEM bundles by role; the epoch is refused as a check time"

# show
expect_exit 0 "$CTL" attestation show --report "$VEC/turin-v5-oak/report.bin"
expect_out '^product +turin'
expect_out '^reported_tcb +fmc=0 bl=1 tee=0 snp=2 ucode=71'
expect_exit 0 "$CTL" --json attestation show --report "$VEC/milan-v2-debug-gsg/report.bin"
[ "$(jq -r .version "$WORK/out")" = 2 ] || fail "show --json version"
[ "$(jq -r '.policy' "$WORK/out")" = $((0xb0000)) ] || fail "show --json policy"
expect_exit 1 "$CTL" attestation show --report "$VEC/neg-derived/truncated-1183/report.bin"
expect_out 'exactly 1184'
ok "attestation show"

# Command-line errors: no args, bad args, unreadable input, bad policy.
expect_exit 2 "$CTL"
expect_exit 2 "$CTL" nonsense verb
expect_exit 2 "$CTL" attestation verify
expect_out 'report FILE is required'
expect_exit 2 "$CTL" attestation verify --report "$d/report.bin"
expect_out 'no VCEK'
expect_exit 2 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" --at yesterday
expect_exit 2 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" extra
expect_exit 3 "$CTL" attestation verify --report /nonexistent --certs "$d"
expect_exit 3 "$CTL" attestation verify --report "$d/report.bin" --vcek "$d/report.bin"
expect_out 'not an X.509 certificate'
echo '{"allow_debug": "yes"}' >"$WORK/bad.json"
expect_exit 3 "$CTL" attestation verify --report "$d/report.bin" --certs "$d" --policy "$WORK/bad.json"
expect_out 'allow_debug'
expect_exit 0 "$CTL" attestation verify --help
expect_exit 0 "$CTL" --help
ok "command-line errors"
echo "$_checks checks passed"
