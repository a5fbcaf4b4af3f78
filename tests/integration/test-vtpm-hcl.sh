#!/bin/bash
# The Azure vTPM profile's attestation: the simulator in the paravisor's place writes HCL reports
# into swtpm's NV indices, and vhsmctl attestation hcl verifies them through the production path
# (ESAPI): claims binding, SNP report and chain from the collateral cache, the vTPM's AK, a fresh
# nonce through NV 0x01400002, tpm-persisted. Every forgery is refused, naming the check.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"

# hcl NAME [options]: vhsmctl attestation hcl against swtpm NAME, trusting the simulated ARK.
hcl() {
	local n=$1; shift
	"$CTL" --json attestation hcl --tcti "$(tcti "$n")" --collateral-dir "$WORK/cache" \
		--trust-root "$WORK/a-certs/ark.pem" "$@"
}
check() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .result' "$WORK/out"; }
expect_check() {
	[ "$(check "$1")" = "$2" ] || { cat "$WORK/out" >&2; fail "check $1 is not $2"; }
}

# Two simulated CVMs on two chips of one product (one simulated AMD root), each with its vTPM.
make_cvm a milan
make_cvm b milan
"$CTL" collateral import --dir "$WORK/cache" "$WORK"/a-certs/*.pem "$WORK"/b-certs/vcek.der \
	>/dev/null
swtpm_start tpm-a
swtpm_start tpm-b

# A vTPM without the paravisor's index: no HCL report, said so.
expect_exit 3 "$CTL" attestation hcl --tcti "$(tcti tpm-a)" --collateral-dir "$WORK/cache"
expect_out '0x01400001 is not defined'
ok "a TPM without an HCL report is named as such"

# The paravisor's report verifies whole: layout, binding, chain, this vTPM's AK.
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)"
expect_exit 0 hcl tpm-a
[ "$(jq -r .verified "$WORK/out")" = true ] || fail "not verified"
for c in hcl_parse claims claims_binding snp_report ak_match; do expect_check $c pass; done
expect_check user_data n/a
[ "$(jq -r .claims.tpm_persisted "$WORK/out")" = yes ] || fail "tpm_persisted"
ak_a=$(jq -r .claims.ak_sha256 "$WORK/out")
expect_exit 0 hcl tpm-a --require-persisted
expect_check tpm_persisted pass
ok "HCL report from swtpm verifies with the vTPM's AK"

# Without the simulated root trusted, the chain is refused (no AMD root signs it).
expect_exit 1 "$CTL" --json attestation hcl --tcti "$(tcti tpm-a)" --collateral-dir "$WORK/cache"
expect_check snp_report fail
ok "the simulated chain is not trusted by default"

# Fresh: the nonce written to NV 0x01400002 comes back in the paravisor's new report.
watch_start a tpm-a
expect_exit 0 hcl tpm-a --fresh --wait 60
expect_check user_data pass
expect_exit 0 hcl tpm-a --fresh --wait 60
expect_check user_data pass
watch_stop
ok "fresh report carries the nonce"
# No paravisor regenerating: the report still carries the previous nonce, refused as stale.
expect_exit 1 hcl tpm-a --fresh --wait 1
expect_check user_data fail
jq -r '.checks[] | select(.name == "user_data") | .detail' "$WORK/out" | grep -q stale ||
	fail "no stale reason"
ok "stale report refused for a new nonce"

# Claims changed after the fact (vmUniqueId, one character): the binding fails.
tpm2_nvread -T "$(tcti tpm-a)" -C o 0x01400001 -o "$WORK/nv.bin" >/dev/null 2>&1 ||
	fail "tpm2_nvread"
cp "$WORK/nv.bin" "$WORK/nv.orig"
off=$(grep -abo 'CAFE' "$WORK/nv.bin" | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "vmUniqueId not found"
printf 'BEEF' | dd of="$WORK/nv.bin" bs=1 seek="$off" conv=notrunc status=none
tpm2_nvwrite -T "$(tcti tpm-a)" -C o 0x01400001 -i "$WORK/nv.bin" >/dev/null 2>&1 ||
	fail "tpm2_nvwrite"
expect_exit 1 hcl tpm-a
expect_check claims_binding fail
expect_check snp_report not-run
ok "claims hash mismatch refused"

# Garbage in the index: refused at the layout.
head -c 2048 /dev/urandom >"$WORK/junk.bin"
tpm2_nvwrite -T "$(tcti tpm-a)" -C o 0x01400001 -i "$WORK/junk.bin" >/dev/null 2>&1 ||
	fail "tpm2_nvwrite junk"
expect_exit 1 hcl tpm-a
expect_check hcl_parse fail
ok "malformed HCL report refused"

# tpm-persisted: false (ConfidentialVM_NonPersistedTPM): reported, refused where required.
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --tpm-persisted no
expect_exit 0 hcl tpm-a
[ "$(jq -r .claims.tpm_persisted "$WORK/out")" = no ] || fail "tpm_persisted no"
expect_exit 1 hcl tpm-a --require-persisted
expect_check tpm_persisted fail
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --tpm-persisted absent
expect_exit 1 hcl tpm-a --require-persisted
expect_check tpm_persisted fail
ok "tpm-persisted false or absent refused where required"

# Claims naming another key than this vTPM's AK, correctly bound and signed: not this VM.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/other.key" 2>/dev/null
openssl pkey -in "$WORK/other.key" -pubout -out "$WORK/other.pub"
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --ak-pub "$WORK/other.pub"
expect_exit 1 hcl tpm-a
expect_check claims_binding pass
expect_check snp_report pass
expect_check ak_match fail
ok "wrong AK refused"

# Another VM's genuine report (another chip, another vTPM) replayed into this vTPM.
expect_exit 0 "$SIM" hcl "$WORK/b.json" --tcti "$(tcti tpm-b)"
expect_exit 0 hcl tpm-b
ak_b=$(jq -r .claims.ak_sha256 "$WORK/out")
[ "$ak_a" != "$ak_b" ] || fail "the two vTPMs share an AK"
tpm2_nvread -T "$(tcti tpm-b)" -C o 0x01400001 -o "$WORK/nv-b.bin" >/dev/null 2>&1 ||
	fail "tpm2_nvread b"
tpm2_nvwrite -T "$(tcti tpm-a)" -C o 0x01400001 -i "$WORK/nv-b.bin" >/dev/null 2>&1 ||
	fail "tpm2_nvwrite b"
expect_exit 1 hcl tpm-a
expect_check snp_report pass
expect_check ak_match fail
ok "report from another VM refused"

# The genuine Azure report among the vectors, with its VCEK from THIM JSON (offline).
hv=$VEC/milan-v2-azure-hcl-trustee
jq -n --rawfile v "$hv/vcek.pem" --rawfile a "$hv/ask.pem" --rawfile r "$hv/ark.pem" \
	'{vcekCert: $v, tcbm: "DB18000000000003", certificateChain: ($a + $r)}' >"$WORK/thim.json"
expect_exit 0 "$CTL" collateral import --dir "$WORK/azure" "$WORK/thim.json"
expect_exit 0 "$CTL" --json attestation hcl --file "$hv/orig/hcl-report.bin" \
	--collateral-dir "$WORK/azure"
expect_check snp_report pass
expect_check ak_match n/a
[ "$(jq -r .claims.vm_unique_id "$WORK/out")" = 911B0EF8-9DBA-48B0-B275-4E4DF2D39252 ] ||
	fail "genuine vmUniqueId"
expect_exit 1 "$CTL" attestation hcl --file "$hv/orig/hcl-report.bin" \
	--collateral-dir "$WORK/azure" --require-persisted
expect_out 'no tpm-persisted'
expect_exit 1 "$CTL" attestation hcl --file "$hv/orig/hcl-report.bin" --collateral-dir "$WORK/none"
expect_out 'no VCEK'
ok "genuine Azure HCL report verifies with THIM collateral"

# vhsmctl platform: vhsmd reports whether its vTPM holds an HCL report, not only that a vTPM
# exists: present (and what it says), malformed, absent; not probed without a vTPM.
if command -v systemd-socket-activate >/dev/null; then
	expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --tpm-persisted yes
	start_daemon a --tcti "$(tcti tpm-a)"
	expect_exit 0 ctl --json platform
	jq -e '.hcl_report.state == "present" and .hcl_report.tpm_persisted == "yes"' \
		"$WORK/out" >/dev/null || { cat "$WORK/out" >&2; fail "platform: present"; }
	expect_exit 0 ctl platform
	expect_out '^HCL report: +present, claims bound, tpm-persisted: yes'
	tpm2_nvwrite -T "$(tcti tpm-a)" -C o 0x01400001 -i "$WORK/junk.bin" >/dev/null 2>&1 ||
		fail "tpm2_nvwrite junk"
	expect_exit 0 ctl platform
	expect_out '^HCL report: +malformed \(NV index 0x01400001 holds no HCL report\)'
	stop_daemon
	swtpm_start tpm-c
	start_daemon a --tcti "$(tcti tpm-c)"
	expect_exit 0 ctl --json platform
	jq -e '.hcl_report.state == "absent" and .hcl_report.tpm_persisted == null' \
		"$WORK/out" >/dev/null || { cat "$WORK/out" >&2; fail "platform: absent"; }
	stop_daemon
	if [ ! -e /dev/tpmrm0 ]; then
		start_daemon a
		expect_exit 0 ctl --json platform
		jq -e '.hcl_report == null' "$WORK/out" >/dev/null || fail "platform: probed"
		expect_exit 0 ctl platform
		expect_out '^HCL report: +not probed'
		stop_daemon
	fi
	ok "vhsmctl platform reports the HCL report's presence"
fi

# Usage errors.
expect_exit 2 "$CTL" attestation hcl --file "$hv/orig/hcl-report.bin" --fresh
expect_exit 2 "$CTL" attestation hcl --wait 0
expect_exit 3 "$CTL" attestation hcl --tcti "swtpm:path=$WORK/none.sock"
expect_out 'no TPM'
ok "usage errors"
echo "$_checks checks passed"
