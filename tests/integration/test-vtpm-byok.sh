#!/bin/bash
# vhsm-byok with HCL-bound evidence (the vtpm platform: an Azure paravisor CVM): the report
# member is the paravisor's HCL report, whose claims' user-data is the binding and whose SNP
# report binds the claims. The simulator in the paravisor's place writes HCL reports into swtpm
# for the bindings of real evidence files from a simulated vhsmd (exchange-key bundle, key
# attestation, backup, fleet enrollment), and vhsm-byok verifies them: accepted only when the
# policy pins the VM's vTPM attestation key; refused without that pin, for another AK, for a
# report made for other evidence, for altered claims and for another paravisor's measurement.
# Then end to end: vhsmd on the vtpm platform makes the evidence (bundle, key attestation,
# enrollment, backup), vhsm-byok verifies it with the AK the admin reads inside the CVM, and
# the wrapped keys import and work.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v tpm2_nvdefine >/dev/null || skip "tpm2_nvdefine not installed (scripts/install-deps.sh)"
BYOK=$B/vhsm-byok

M1=$(printf 'a1%.0s' $(seq 48)); M2=$(printf 'b2%.0s' $(seq 48))
make_cvm a milan --measurement "$M1"
TR=(--trust-root "$WORK/a-certs/ark.pem" --allow-test-root)
start_daemon a
# vtpm_start NAME: the CVM's vTPM, with the paravisor's user-data index.
vtpm_start() {
	swtpm_start "$1"
	tpm2_nvdefine -T "$(tcti "$1")" -C o -s 64 -a "ownerread|ownerwrite" 0x01400002 \
		>/dev/null || fail "tpm2_nvdefine 0x01400002"
}
vtpm_start tpm-a
CVM=a # the simulated chip and vTPM the paravisor stand-in reports for

# hcl_for FILE MEMBER OUT: the paravisor's HCL report (read back from the vTPM, zero-padded to
# the index size) whose user-data is the binding of FILE's report member (its REPORT_DATA).
hcl_for() {
	jq -r "$2" "$1" | base64 -d | dd bs=1 skip=80 count=64 status=none >"$WORK/ud.bin"
	[ "$(stat -c %s "$WORK/ud.bin")" = 64 ] || fail "no REPORT_DATA in $1"
	tpm2_nvwrite -T "$(tcti "tpm-$CVM")" -C o -i "$WORK/ud.bin" 0x01400002 >/dev/null 2>&1 ||
		fail "tpm2_nvwrite user data"
	"$SIM" hcl "$WORK/$CVM.json" --tcti "$(tcti "tpm-$CVM")" >/dev/null || fail "sim hcl"
	tpm2_nvread -T "$(tcti "tpm-$CVM")" -C o 0x01400001 -o "$3" >/dev/null 2>&1 ||
		fail "tpm2_nvread"
}
# with_report FILE MEMBER REPORT OUT: FILE with its report member replaced by REPORT.
with_report() {
	jq --arg r "$(base64 -w0 "$3")" "$2 = \$r" "$1" >"$4" || fail "jq $1"
}
# jexit CODE CMD...: as expect_exit, with only standard output (the JSON) in $WORK/out.
jexit() {
	local want=$1 rc=0; shift
	"$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
	[ "$rc" -eq "$want" ] ||
		{ cat "$WORK/out" "$WORK/err" >&2; fail "expected exit $want, got $rc: $*"; }
}
check() { jq -r --arg n "$1" '[.checks[] | select(.check == $n) | .state] | first' "$WORK/out"; }
expect_check() {
	[ "$(check "$1")" = "$2" ] || { cat "$WORK/out" >&2; fail "check $1 is not $2"; }
}
pol() { # pol NAME MEASUREMENT [AK...]: a policy pinning the measurement and the AKs
	local n=$1 m=$2; shift 2
	jq -n --arg m "$m" --args '{version: 1, measurements: [$m]} +
		(if $ARGS.positional | length > 0 then {vtpm_ak_digests: $ARGS.positional} else {} end)' \
		"$@" >"$WORK/$n.json"
}

# ---- the exchange-key bundle as the vtpm platform makes it ----
NONCE=$(printf '5a%.0s' $(seq 32))
expect_exit 0 ctl kek export-exchange-key k1 --nonce "$NONCE" --out "$WORK/b1.json"
hcl_for "$WORK/b1.json" .report "$WORK/h1.bin"
head -c 4 "$WORK/h1.bin" | grep -q HCLA || fail "no HCL report in the vTPM"
with_report "$WORK/b1.json" .report "$WORK/h1.bin" "$WORK/hb1.json"
pol pol-snp "$M1"

# The SNP bundle still verifies as before; a vTPM AK pin changes nothing for it.
jexit 0 "$BYOK" verify --json "$WORK/b1.json" --policy "$WORK/pol-snp.json" "${TR[@]}"
expect_check report_data pass
[ "$(check hcl_parse)" = null ] || fail "HCL checks on an SNP report"
[ "$(jq -r .instance.evidence "$WORK/out")" = snp ] || fail "instance evidence snp"
ok "an SNP-only bundle verifies as before"

# First contact: no AK pinned. verify and wrap both refuse, naming the AK digest to pin and
# where the admin reads it; the bundle's HCL checks and binding pass.
jexit 1 "$BYOK" verify --json "$WORK/hb1.json" --policy "$WORK/pol-snp.json" "${TR[@]}"
for c in hcl_parse claims claims_binding user_data report_sig policy report_data; do
	expect_check "$c" pass
done
expect_check vtpm_ak fail
expect_check paravisor note
AK=$(jq -r .instance.vtpm_ak_sha256 "$WORK/out")
[[ $AK =~ ^[0-9a-f]{64}$ ]] || fail "no AK digest in the instance: $AK"
[ "$(jq -r .instance.evidence "$WORK/out")" = hcl ] || fail "instance evidence hcl"
[ "$(jq -r .instance.vm_unique_id "$WORK/out")" != "" ] || fail "no vmUniqueId"
jq -r '.errors[]' "$WORK/out" | grep -q "vtpm_ak_digests" || fail "no advice to pin the AK"
jq -r '.errors[]' "$WORK/out" | grep -q "vhsmctl platform" || fail "no pointer to vhsmctl platform"
jq -r '.errors[]' "$WORK/out" | grep -q "$AK" || fail "the refusal does not name the AK"
expect_exit 1 "$BYOK" verify "$WORK/hb1.json" --policy "$WORK/pol-snp.json" "${TR[@]}"
expect_out "fail +vtpm_ak"
expect_out "note +paravisor .*provider's paravisor, not the guest OS"
expect_out "note +vtpm_instance +vTPM AK sha256 $AK"
expect_out 'result: REJECTED'
head -c 32 /dev/urandom >"$WORK/kek1"
expect_exit 1 "$BYOK" wrap --bundle "$WORK/hb1.json" --policy "$WORK/pol-snp.json" "${TR[@]}" \
	--key-file "$WORK/kek1" --out "$WORK/k1.byok"
expect_out "verify sha256 $AK out of band"
[ ! -e "$WORK/k1.byok" ] || fail "wrapped for an unpinned vTPM"
# --accept-any-guest does not waive it.
expect_exit 1 "$BYOK" wrap --bundle "$WORK/hb1.json" --policy "$WORK/pol-snp.json" "${TR[@]}" \
	--accept-any-guest --key-file "$WORK/kek1" --out "$WORK/k1.byok"
[ ! -e "$WORK/k1.byok" ] || fail "wrapped for an unpinned vTPM with --accept-any-guest"
ok "HCL evidence without a pinned vTPM AK: verify and wrap refused, naming the digest to pin"

# The digest is the one vhsmctl attestation hcl reads from the same report.
"$CTL" collateral import --dir "$WORK/cache" "$WORK"/a-certs/*.pem >/dev/null
jexit 0 "$CTL" --json attestation hcl --file "$WORK/h1.bin" --collateral-dir "$WORK/cache" \
	--trust-root "$WORK/a-certs/ark.pem"
[ "$(jq -r .claims.ak_sha256 "$WORK/out")" = "$AK" ] || fail "vhsm-byok and vhsmctl disagree"
ok "the AK digest vhsm-byok names is the claims' AK as vhsmctl reads it"

# Pinned: verify passes, wrap wraps, the CVM imports and uses the key.
pol pol-hcl "$M1" "$AK"
jexit 0 "$BYOK" verify --json "$WORK/hb1.json" --policy "$WORK/pol-hcl.json" "${TR[@]}" \
	--nonce "$NONCE"
for c in hcl_parse claims_binding user_data vtpm_ak report_data nonce kid lifetime; do
	expect_check "$c" pass
done
expect_exit 0 "$BYOK" wrap --bundle "$WORK/hb1.json" --policy "$WORK/pol-hcl.json" "${TR[@]}" \
	--nonce "$NONCE" --key-file "$WORK/kek1" --out "$WORK/k1.byok"
expect_out "pass +vtpm_ak"
expect_out "the HCL claims' user-data binds the public key"
expect_exit 0 ctl kek import k1 --byok "$WORK/k1.byok"
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k1 <"$WORK/dek" >"$WORK/w1" || fail "wrap with the imported KEK"
ctl unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "unwrap with the imported KEK"
ok "HCL evidence with the vTPM AK pinned: verify, wrap, import, wrap/unwrap"

# A host that gives no certificates (an empty table): the customer's collateral cache supplies
# the VCEK of the chip inside the HCL report.
jq --arg c "$(head -c 24 /dev/zero | base64 -w0)" '.certificates = $c' "$WORK/hb1.json" \
	>"$WORK/hb1-nocerts.json"
expect_exit 1 "$BYOK" verify "$WORK/hb1-nocerts.json" --policy "$WORK/pol-hcl.json" "${TR[@]}"
expect_out "fail +certificates +no VCEK/VLEK in the certificate table"
jexit 0 "$BYOK" verify --json "$WORK/hb1-nocerts.json" --policy "$WORK/pol-hcl.json" "${TR[@]}" \
	--collateral-dir "$WORK/cache"
expect_check report_sig pass
expect_check vtpm_ak pass
ok "the collateral cache supplies the VCEK for the HCL report's chip"

# The measurement inside an HCL report is always the provider's paravisor: a policy that says
# so (measurement_owner "provider") is not refused for it, the AK pin names the VM; a policy
# pinning no paravisor measurement is refused (pinning) unless --accept-any-guest.
jq '. + {measurement_owner: "provider"}' "$WORK/pol-hcl.json" >"$WORK/pol-hcl-provider.json"
jexit 0 "$BYOK" verify --json "$WORK/hb1.json" --policy "$WORK/pol-hcl-provider.json" \
	"${TR[@]}" --nonce "$NONCE"
expect_check pinning pass
jq -n --arg ak "$AK" '{version: 1, vtpm_ak_digests: [$ak]}' >"$WORK/pol-ak-only.json"
expect_exit 1 "$BYOK" wrap --bundle "$WORK/hb1.json" --policy "$WORK/pol-ak-only.json" \
	"${TR[@]}" --key-file "$WORK/kek1" --out "$WORK/k1-akonly.byok"
expect_out "fail +pinning +the policy pins no paravisor measurement"
[ ! -e "$WORK/k1-akonly.byok" ] || fail "wrapped without a pinned paravisor measurement"
ok "HCL evidence: a provider-owned measurement is what it is; no paravisor measurement pinned: refused"

# Another VM's AK pinned (or only another's): refused.
OTHER=$(printf '%064d' 7)
pol pol-other "$M1" "$OTHER"
jexit 1 "$BYOK" wrap --json --bundle "$WORK/hb1.json" --policy "$WORK/pol-other.json" \
	"${TR[@]}" --key-file "$WORK/kek1" --out "$WORK/k1-other.byok"
expect_check vtpm_ak fail
jq -r '.checks[] | select(.check == "vtpm_ak") | .detail' "$WORK/out" | grep -q "another VM" ||
	fail "no reason for another AK"
[ ! -e "$WORK/k1-other.byok" ] || fail "wrapped for another VM's AK"
pol pol-both "$M1" "$OTHER" "$AK"
expect_exit 0 "$BYOK" verify "$WORK/hb1.json" --policy "$WORK/pol-both.json" "${TR[@]}"
ok "another VM's vTPM AK pinned: refused; a list with this one: accepted"

# Another paravisor's measurement: the policy's measurement rule refuses the inner SNP report.
pol pol-m2 "$M2" "$AK"
jexit 1 "$BYOK" verify --json "$WORK/hb1.json" --policy "$WORK/pol-m2.json" "${TR[@]}"
expect_check measurement fail
expect_check vtpm_ak pass
ok "another paravisor's measurement refused"

# A report made for other evidence (another exchange key's binding) in this bundle: refused.
expect_exit 0 ctl kek export-exchange-key k2 --out "$WORK/b2.json"
hcl_for "$WORK/b2.json" .report "$WORK/h2.bin"
with_report "$WORK/b1.json" .report "$WORK/h2.bin" "$WORK/hb1-h2.json"
jexit 1 "$BYOK" wrap --json --bundle "$WORK/hb1-h2.json" --policy "$WORK/pol-hcl.json" \
	"${TR[@]}" --key-file "$WORK/kek1" --out "$WORK/k1-h2.byok"
expect_check claims_binding pass
expect_check vtpm_ak pass
expect_check report_data fail
[ ! -e "$WORK/k1-h2.byok" ] || fail "wrapped with another binding's report"
# The user-data changed in the claims to this bundle's binding: the claims binding fails.
cp "$WORK/h2.bin" "$WORK/h2-forged.bin"
off=$(grep -abo '"user-data":"' "$WORK/h2-forged.bin" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "no user-data in the claims"
jq -r .report "$WORK/b1.json" | base64 -d | dd bs=1 skip=80 count=64 status=none | xxd -p -c 64 |
	tr -d '\n' | dd of="$WORK/h2-forged.bin" bs=1 seek=$((off + 13)) conv=notrunc status=none
with_report "$WORK/b1.json" .report "$WORK/h2-forged.bin" "$WORK/hb1-forged.json"
jexit 1 "$BYOK" verify --json "$WORK/hb1-forged.json" --policy "$WORK/pol-hcl.json" \
	"${TR[@]}"
expect_check claims_binding fail
[ "$(check report_data)" != pass ] || fail "forged user-data passed the binding"
ok "a report for other evidence refused; its user-data rewritten breaks the claims binding"

# Claims altered (vmUniqueId): the claims binding fails before anything else runs.
cp "$WORK/h1.bin" "$WORK/h1-alt.bin"
off=$(grep -abo '"vmUniqueId":"' "$WORK/h1-alt.bin" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "no vmUniqueId in the claims"
printf 'Z' | dd of="$WORK/h1-alt.bin" bs=1 seek=$((off + 14)) conv=notrunc status=none
with_report "$WORK/b1.json" .report "$WORK/h1-alt.bin" "$WORK/hb1-alt.json"
jexit 1 "$BYOK" verify --json "$WORK/hb1-alt.json" --policy "$WORK/pol-hcl.json" "${TR[@]}"
expect_check hcl_parse pass
expect_check claims_binding fail
[ "$(check report_sig)" = null ] || fail "the chain ran on unbound claims"
# Not an HCL report, nor an SNP report: refused naming the format.
head -c 2000 /dev/urandom >"$WORK/junk.bin"
with_report "$WORK/b1.json" .report "$WORK/junk.bin" "$WORK/hb1-junk.json"
jexit 1 "$BYOK" verify --json "$WORK/hb1-junk.json" --policy "$WORK/pol-hcl.json" "${TR[@]}"
expect_check report_format fail
# Over the report limit: refused at the bundle's parse.
{ cat "$WORK/h1.bin"; head -c 65536 /dev/zero; } >"$WORK/big.bin"
with_report "$WORK/b1.json" .report "$WORK/big.bin" "$WORK/hb1-big.json"
expect_exit 1 "$BYOK" verify "$WORK/hb1-big.json" --policy "$WORK/pol-hcl.json" "${TR[@]}"
expect_out "fail +bundle_parse +report"
ok "altered claims, garbage and oversized reports refused, naming the check"

# ---- key attestation ----
expect_exit 0 ctl key create tls --alg ec-p256 --usage sign --pubkey-out "$WORK/tls.der"
KN=$(printf '7e%.0s' $(seq 32))
expect_exit 0 ctl key attest tls --nonce "$KN" --out "$WORK/att.json"
hcl_for "$WORK/att.json" .report "$WORK/ha.bin"
with_report "$WORK/att.json" .report "$WORK/ha.bin" "$WORK/hatt.json"
jexit 0 "$BYOK" verify-key --json "$WORK/hatt.json" --policy "$WORK/pol-hcl.json" \
	"${TR[@]}" --nonce "$KN" --expect-key "$WORK/tls.der"
for c in claims_binding user_data vtpm_ak key_binding freshness key_match; do
	expect_check "$c" pass
done
expect_exit 1 "$BYOK" verify-key "$WORK/hatt.json" --policy "$WORK/pol-snp.json" "${TR[@]}" \
	--nonce "$KN"
expect_out "fail +vtpm_ak"
expect_out "vtpm_ak_digests"
# The bundle's HCL report in the key attestation: binds another thing.
with_report "$WORK/att.json" .report "$WORK/h1.bin" "$WORK/hatt-h1.json"
jexit 1 "$BYOK" verify-key --json "$WORK/hatt-h1.json" --policy "$WORK/pol-hcl.json" \
	"${TR[@]}" --nonce "$KN"
expect_check key_binding fail
ok "verify-key: HCL key attestation accepted with the AK pinned, refused without or for another use"

# ---- backup and rewrap ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/cust.pem" 2>/dev/null
openssl pkey -in "$WORK/cust.pem" -pubout -out "$WORK/cust.pub"
expect_exit 0 ctl kek create esc --exportable
ctl wrap --kek esc <"$WORK/dek" >"$WORK/w-esc" || fail "wrap esc"
expect_exit 0 ctl kek backup esc --to "$WORK/cust.pub" --out "$WORK/esc.bak"
hcl_for "$WORK/esc.bak" .vhsm.report "$WORK/hk.bin"
with_report "$WORK/esc.bak" .vhsm.report "$WORK/hk.bin" "$WORK/hesc.bak"
# Restored into a second CVM (another chip, its own vTPM, the same paravisor).
stop_daemon
rm -rf "$STATE"
make_cvm c milan --measurement "$M1"
start_daemon c
vtpm_start tpm-c
CVM=c
expect_exit 0 ctl kek export-exchange-key esc --out "$WORK/b3.json"
hcl_for "$WORK/b3.json" .report "$WORK/h3.bin"
with_report "$WORK/b3.json" .report "$WORK/h3.bin" "$WORK/hb3.json"
jexit 1 "$BYOK" verify --json "$WORK/hb3.json" --policy "$WORK/pol-hcl.json" "${TR[@]}"
AKC=$(jq -r .instance.vtpm_ak_sha256 "$WORK/out")
[ "$AKC" != "$AK" ] || fail "the two vTPMs share an AK"
pol pol-c "$M1" "$AKC"
REWRAP=(rewrap --backup "$WORK/hesc.bak" --private-key "$WORK/cust.pem" --bundle "$WORK/hb3.json"
	"${TR[@]}")
expect_exit 1 "$BYOK" "${REWRAP[@]}" --policy "$WORK/pol-snp.json" --out "$WORK/esc.byok"
expect_out "fail +vtpm_ak"
[ ! -e "$WORK/esc.byok" ] || fail "rewrapped for a bundle without the AK pinned"
expect_exit 1 "$BYOK" "${REWRAP[@]}" --policy "$WORK/pol-c.json" \
	--backup-policy "$WORK/pol-snp.json" --out "$WORK/esc.byok"
expect_out "pass +vtpm_ak"
expect_out "fail +backup.vtpm_ak"
[ ! -e "$WORK/esc.byok" ] || fail "rewrapped a backup without the AK pinned"
# The backup's evidence checked against the new CVM's AK: the old VM's is not pinned there.
expect_exit 1 "$BYOK" "${REWRAP[@]}" --policy "$WORK/pol-c.json" --out "$WORK/esc.byok"
expect_out "fail +backup.vtpm_ak"
[ ! -e "$WORK/esc.byok" ] || fail "rewrapped a backup of an unpinned VM"
# The exchange bundle's report in the backup: no binding of this backup.
with_report "$WORK/esc.bak" .vhsm.report "$WORK/h3.bin" "$WORK/hesc-h3.bak"
expect_exit 1 "$BYOK" rewrap --backup "$WORK/hesc-h3.bak" --private-key "$WORK/cust.pem" \
	--bundle "$WORK/hb3.json" "${TR[@]}" --policy "$WORK/pol-c.json" \
	--backup-policy "$WORK/pol-hcl.json" --out "$WORK/esc.byok"
expect_out "fail +backup_binding"
[ ! -e "$WORK/esc.byok" ] || fail "rewrapped a backup with another evidence's report"
expect_exit 0 "$BYOK" "${REWRAP[@]}" --policy "$WORK/pol-c.json" \
	--backup-policy "$WORK/pol-hcl.json" --out "$WORK/esc.byok"
expect_out "pass +backup.vtpm_ak"
expect_out "pass +backup_binding"
expect_out "pass +vtpm_ak"
expect_exit 0 ctl kek import esc --byok "$WORK/esc.byok"
ctl unwrap <"$WORK/w-esc" | cmp -s - "$WORK/dek" || fail "the DEK does not unwrap after restore"
ok "rewrap: HCL backup and bundle accepted with both AKs pinned, refused without or transplanted"

# ---- fleet enrollment ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=fleet-ca \
	-keyout "$WORK/ca.key" -out "$WORK/ca.pem" -days 2 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign 2>/dev/null || fail "CA"
chmod 0600 "$WORK/ca.key"
expect_exit 0 ctl fleet enroll --name cvm-a --out "$WORK/e1.json"
hcl_for "$WORK/e1.json" .report "$WORK/he.bin"
with_report "$WORK/e1.json" .report "$WORK/he.bin" "$WORK/he1.json"
SIGN=(fleet-sign "$WORK/he1.json" --ca-cert "$WORK/ca.pem" --ca-key "$WORK/ca.key" "${TR[@]}")
expect_exit 1 "$BYOK" "${SIGN[@]}" --policy "$WORK/pol-snp.json" --out "$WORK/e1.pem"
expect_out "fail +vtpm_ak"
expect_out "refused: .*vtpm_ak"
[ ! -e "$WORK/e1.pem" ] || fail "signed for an unpinned vTPM"
expect_exit 1 "$BYOK" "${SIGN[@]}" --policy "$WORK/pol-hcl.json" --out "$WORK/e1.pem"
expect_out "fail +vtpm_ak"
[ ! -e "$WORK/e1.pem" ] || fail "signed for another VM's pinned AK"
expect_exit 0 "$BYOK" "${SIGN[@]}" --policy "$WORK/pol-c.json" --out "$WORK/e1.pem"
expect_out "pass +binding"
openssl x509 -in "$WORK/e1.pem" -noout -subject | grep -q "cvm-a" || fail "certificate subject"
ok "fleet-sign: HCL enrollment signed with the AK pinned, refused without"

# ---- end to end: vhsmd on the vtpm platform makes the evidence ----
stop_daemon
rm -rf "$STATE"
# vtpm_daemon TPM: a fresh vhsmd on the vtpm platform whose paravisor (chip a) reports into TPM;
# AKD is the vTPM AK's digest as the admin inside the CVM reads it.
vtpm_daemon() {
	watch_stop
	[ -z "$DAEMON_PID" ] || stop_daemon
	rm -rf "$STATE"
	mkdir -p "$STATE"
	cp -a "$WORK/cache" "$STATE/collateral"
	swtpm_start "$1"
	watch_start a "$1"
	vd "$1"
	# What the admin inside the CVM reads from the vTPM and hands to the customer.
	"$CTL" --json attestation hcl --tcti "$(tcti "$1")" --collateral-dir "$WORK/cache" \
		--trust-root "$WORK/a-certs/ark.pem" >"$WORK/admin.json" 2>/dev/null ||
		fail "vhsmctl attestation hcl on $1: $(cat "$WORK/admin.json")"
	AKD=$(jq -r .claims.ak_sha256 "$WORK/admin.json")
}
WATCH_PID=
vtpm_daemon tpm-v
AKV=$AKD
[[ $AKV =~ ^[0-9a-f]{64}$ ]] || fail "no AK digest for tpm-v: $AKV"
pol pol-v "$M1" "$AKV"
expect_exit 0 ctl kek export-exchange-key ek1 --nonce "$NONCE" --out "$WORK/vb1.json"
[ "$(jq -r .report "$WORK/vb1.json" | base64 -d | head -c 4)" = HCLA ] ||
	fail "the vtpm platform's bundle carries no HCL report"
expect_exit 1 "$BYOK" wrap --bundle "$WORK/vb1.json" --policy "$WORK/pol-snp.json" "${TR[@]}" \
	--nonce "$NONCE" --key-file "$WORK/kek1" --out "$WORK/ek1.byok"
expect_out "verify sha256 $AKV out of band"
[ ! -e "$WORK/ek1.byok" ] || fail "wrapped for an unpinned vTPM"
expect_exit 1 "$BYOK" wrap --bundle "$WORK/vb1.json" --policy "$WORK/pol-hcl.json" "${TR[@]}" \
	--nonce "$NONCE" --key-file "$WORK/kek1" --out "$WORK/ek1.byok"
expect_out "fail +vtpm_ak"
[ ! -e "$WORK/ek1.byok" ] || fail "wrapped for another VM's pinned AK"
jexit 0 "$BYOK" verify --json "$WORK/vb1.json" --policy "$WORK/pol-v.json" "${TR[@]}" \
	--nonce "$NONCE"
for c in hcl_parse claims_binding user_data report_sig vtpm_ak report_data nonce; do
	expect_check "$c" pass
done
[ "$(jq -r .instance.vtpm_ak_sha256 "$WORK/out")" = "$AKV" ] || fail "instance AK"
expect_exit 0 "$BYOK" wrap --bundle "$WORK/vb1.json" --policy "$WORK/pol-v.json" "${TR[@]}" \
	--nonce "$NONCE" --key-file "$WORK/kek1" --out "$WORK/ek1.byok"
expect_exit 0 ctl kek import ek1 --byok "$WORK/ek1.byok"
ctl wrap --kek ek1 <"$WORK/dek" >"$WORK/vw1" || fail "wrap with the imported KEK"
ctl unwrap <"$WORK/vw1" | cmp -s - "$WORK/dek" || fail "unwrap with the imported KEK"
ok "vtpm platform end to end: the bundle's HCL report verified with the AK pin; wrap, import, use"

expect_exit 0 ctl key create vk --alg ec-p256 --usage sign --pubkey-out "$WORK/vk.der"
expect_exit 0 ctl key attest vk --nonce "$KN" --out "$WORK/vatt.json"
[ "$(jq -r .report "$WORK/vatt.json" | base64 -d | head -c 4)" = HCLA ] ||
	fail "the vtpm platform's key attestation carries no HCL report"
jexit 0 "$BYOK" verify-key --json "$WORK/vatt.json" --policy "$WORK/pol-v.json" "${TR[@]}" \
	--nonce "$KN" --expect-key "$WORK/vk.der"
for c in claims_binding vtpm_ak key_binding freshness key_match; do expect_check "$c" pass; done
expect_exit 1 "$BYOK" verify-key "$WORK/vatt.json" --policy "$WORK/pol-snp.json" "${TR[@]}" \
	--nonce "$KN"
expect_out "fail +vtpm_ak"
ok "vtpm platform end to end: key attest verified by verify-key with the AK pin, refused without"

expect_exit 0 ctl fleet enroll --name cvm-v --out "$WORK/ve1.json"
VSIGN=(fleet-sign "$WORK/ve1.json" --ca-cert "$WORK/ca.pem" --ca-key "$WORK/ca.key" "${TR[@]}")
expect_exit 1 "$BYOK" "${VSIGN[@]}" --policy "$WORK/pol-snp.json" --out "$WORK/ve1.pem"
expect_out "fail +vtpm_ak"
[ ! -e "$WORK/ve1.pem" ] || fail "signed an enrollment of an unpinned vTPM"
expect_exit 0 "$BYOK" "${VSIGN[@]}" --policy "$WORK/pol-v.json" --out "$WORK/ve1.pem"
ok "vtpm platform end to end: fleet enrollment signed with the AK pin, refused without"

expect_exit 0 ctl kek create vesc --exportable
ctl wrap --kek vesc <"$WORK/dek" >"$WORK/w-vesc" || fail "wrap vesc"
expect_exit 0 ctl kek backup vesc --to "$WORK/cust.pub" --out "$WORK/vesc.bak"
[ "$(jq -r .vhsm.report "$WORK/vesc.bak" | base64 -d | head -c 4)" = HCLA ] ||
	fail "the vtpm platform's backup carries no HCL report"
# Restored into another CVM on the vtpm platform: another vTPM, another AK.
vtpm_daemon tpm-w
AKW=$AKD
[ "$AKW" != "$AKV" ] || fail "two vTPMs share an AK"
pol pol-w "$M1" "$AKW"
expect_exit 0 ctl kek export-exchange-key vesc --out "$WORK/vb2.json"
VREWRAP=(rewrap --backup "$WORK/vesc.bak" --private-key "$WORK/cust.pem" --bundle "$WORK/vb2.json"
	"${TR[@]}")
expect_exit 1 "$BYOK" "${VREWRAP[@]}" --policy "$WORK/pol-v.json" --out "$WORK/vesc.byok"
expect_out "fail +vtpm_ak"
[ ! -e "$WORK/vesc.byok" ] || fail "rewrapped for a bundle of an unpinned vTPM"
expect_exit 1 "$BYOK" "${VREWRAP[@]}" --policy "$WORK/pol-w.json" --out "$WORK/vesc.byok"
expect_out "fail +backup.vtpm_ak"
[ ! -e "$WORK/vesc.byok" ] || fail "rewrapped a backup of an unpinned vTPM"
expect_exit 0 "$BYOK" "${VREWRAP[@]}" --policy "$WORK/pol-w.json" \
	--backup-policy "$WORK/pol-v.json" --out "$WORK/vesc.byok"
expect_out "pass +backup_binding"
expect_exit 0 ctl kek import vesc --byok "$WORK/vesc.byok"
ctl unwrap <"$WORK/w-vesc" | cmp -s - "$WORK/dek" || fail "the DEK does not unwrap after restore"
ok "vtpm platform end to end: backup rewrapped into another vTPM CVM with both AKs pinned only"
