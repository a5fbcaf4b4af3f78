#!/bin/bash
# Evidence on the vtpm platform (docs/PROTOCOL.md "Evidence"): with no SNP device, what
# ATTESTATION_REPORT, KEY_ATTEST, FLEET_ENROLL, a BYOK exchange key and a BYOK backup carry is
# the vTPM's Azure HCL report, fresh for the request, whose claims' user-data is the binding D
# of that use (recomputed here from the file), with a certificate table built from vhsmd's
# collateral cache. A second request gets a fresh report. Also: collateral fetch takes the chip
# and TCB from the SNP report inside, and platform/status show the AK digest a customer pins.
# Refusals: a paravisor that does not answer gives a timeout naming the vTPM, and no exchange
# key is left without evidence; a report naming another AK gives no evidence.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"
command -v python3 >/dev/null || skip "python3 not installed"

make_cvm a milan
swtpm_start tpm-a
"$CTL" collateral import --dir "$WORK/cache" "$WORK"/a-certs/*.pem >/dev/null ||
	fail "collateral import"
mkdir -p "$STATE"

# hcl_check FILE: the HCL report in FILE verifies whole (layout, claims binding, the SNP report
# and its chain from the cache); prints the claims' user-data.
hcl_check() {
	[ "$(head -c 4 "$1")" = HCLA ] || fail "$1 is not an HCL report"
	"$CTL" --json attestation hcl --file "$1" --collateral-dir "$WORK/cache" \
		--trust-root "$WORK/a-certs/ark.pem" >"$WORK/hcl.json" ||
		fail "the HCL report in $1 does not verify: $(cat "$WORK/hcl.json")"
	jq -r .claims.user_data "$WORK/hcl.json"
}
# b64_member JSON FILTER OUT: the base64 member decoded into OUT.
b64_member() { jq -r "$2" "$1" | base64 -d >"$3" || fail "$2 of $1 is not base64"; }
# certs_check TABLE: a GHCB certificate table holding the VCEK, the ASK and the ARK.
certs_check() {
	python3 - "$1" <<'PY' || fail "certificate table $1: $(od -An -tx1 -N72 "$1")"
import sys, uuid
b = open(sys.argv[1], "rb").read()
want = {"63da758d-e664-4564-adc5-f4b93be8accd", "4ab7b379-bbac-4fe4-a02f-05aef327c782",
        "c0b406a4-a803-4952-9743-3fb6014cd0ae"}
seen = set()
for i in range(0, len(b), 24):
    e = b[i:i + 24]
    if e == bytes(24):
        break
    seen.add(str(uuid.UUID(bytes=e[:16])))
sys.exit(0 if want <= seen else 1)
PY
}
# d KIND ARGS...: the binding D (hex) of each use, recomputed as a verifier does.
d() {
	python3 - "$@" <<'PY'
import base64, hashlib, json, struct, sys, subprocess
kind, a = sys.argv[1], sys.argv[2:]
sha256 = lambda b: hashlib.sha256(b).digest()
if kind == "nonce":
    msg = bytes.fromhex(a[0])
elif kind == "key":
    j = json.load(open(a[0]))
    msg = b"vhsm-key-attest-v1\0" + sha256(base64.b64decode(j["spki"])) + bytes.fromhex(j["nonce"])
elif kind == "fleet":
    j = json.load(open(a[0]))
    spki = subprocess.run(["openssl", "req", "-pubkey", "-noout"], input=j["csr"].encode(),
                          capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=spki,
                         capture_output=True, check=True).stdout
    n = bytes.fromhex(j["nonce"])
    msg = b"vhsm-fleet-enroll-v1\0" + sha256(der) + bytes([len(n)]) + n + struct.pack(">Q", j["expires"])
elif kind == "exchange":
    j = json.load(open(a[0]))
    k = j["kek"].encode()
    msg = (b"vhsm-exchange-key-v1\0" + sha256(base64.b64decode(j["public_key"])) +
           bytes.fromhex(j["nonce"]) + struct.pack("<Q", j["expires"]) + bytes([len(k)]) + k)
elif kind == "backup":
    j = json.load(open(a[0]))
    ct, kid, k = j["ciphertext"], j["header"]["kid"].encode(), j["vhsm"]["kek"].encode()
    ct = base64.urlsafe_b64decode(ct + "=" * (-len(ct) % 4))
    msg = b"vhsm-backup-v1\0" + sha256(ct) + bytes([len(kid)]) + kid + bytes([len(k)]) + k
print(hashlib.sha512(msg).hexdigest())
PY
}

# ---- collateral fetch on the vtpm platform: chip and TCB from the SNP report in the HCL report ----
# vhsmd starts with an empty collateral cache: the gate fails (no VCEK), reports still come.
watch_start a tpm-a
vd tpm-a --platform vtpm
expect_exit 1 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = false ] || fail "a gate without a VCEK passed"
expect_exit 0 ctl attestation report --out "$WORK/r0"
[ "$(head -c 4 "$WORK/r0")" = HCLA ] || fail "not an HCL report"
HWID=$(xxd -p -s $((0x20 + 0x1A0)) -l 64 "$WORK/r0" | tr -d '\n')
[ "$HWID" = "$(jq -r .chip_id "$WORK/a.json")" ] || fail "the inner report's chip id is not the CVM's"
KDS=$WORK/kds
mkdir -p "$KDS/vcek/v1/Milan"
cat "$WORK/a-certs/ask.pem" "$WORK/a-certs/ark.pem" >"$KDS/vcek/v1/Milan/cert_chain"
cp "$WORK/a-certs/vcek.der" "$KDS/vcek/v1/Milan/$HWID"
make_crl a "$KDS/vcek/v1/Milan/crl"
python3 "$top/tests/integration/kds-server.py" "$KDS" "$WORK/port" "$WORK/kds.log" &
SERVER=$!
on_exit "kill $SERVER 2>/dev/null"
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || fail "the KDS stand-in did not start"
expect_exit 0 ctl collateral fetch --dir "$STATE/collateral" --kds-url "http://127.0.0.1:$(cat "$WORK/port")"
expect_out '1 VCEK, 1 ASK, 0 ASVK, 1 ARK, 1 CRL'
grep -q "^/vcek/v1/Milan/$HWID?blSPL=[0-9]*&teeSPL=[0-9]*&snpSPL=[0-9]*&ucodeSPL=[0-9]* " \
	"$WORK/kds.log" || { cat "$WORK/kds.log" >&2; fail "VCEK URL"; }
# An HCL report file works as --report too; a file that is neither report is refused.
expect_exit 0 ctl collateral fetch --dir "$WORK/cache2" --report "$WORK/r0" \
	--kds-url "http://127.0.0.1:$(cat "$WORK/port")"
expect_out '1 VCEK, 1 ASK, 0 ASVK, 1 ARK, 1 CRL'
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
printf 'HCLA but not one' >"$WORK/bad.rep"
expect_exit 2 ctl collateral fetch --dir "$WORK/cache2" --report "$WORK/bad.rep"
expect_out 'neither a 1184-byte SNP report nor an Azure HCL report'
stop_daemon
vd tpm-a --platform vtpm
expect_exit 0 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = true ] || fail "gate: $(cat "$WORK/out")"
ok "collateral fetch on the vtpm platform: the VCEK for the chip and TCB of the HCL report's SNP report"

# ---- the AK digest a customer pins: platform and status, text and JSON ----
"$CTL" --json attestation hcl --tcti "$(tcti tpm-a)" --collateral-dir "$WORK/cache" \
	--trust-root "$WORK/a-certs/ark.pem" >"$WORK/hcl-tpm.json" || fail "attestation hcl --tcti"
AK=$(jq -r .claims.ak_sha256 "$WORK/hcl-tpm.json")
[ "$(jq -r '.checks[] | select(.name == "ak_match") | .result' "$WORK/hcl-tpm.json")" = pass ] ||
	fail "the claims' AK is not the vTPM's: $(cat "$WORK/hcl-tpm.json")"
[[ $AK =~ ^[0-9a-f]{64}$ ]] || fail "no AK digest: $AK"
expect_exit 0 ctl --json platform
[ "$(jq -r .vtpm_ak_sha256 "$WORK/out")" = "$AK" ] || fail "platform --json: $(cat "$WORK/out")"
expect_exit 0 ctl --json status
[ "$(jq -r .platform.vtpm_ak_sha256 "$WORK/out")" = "$AK" ] || fail "status --json"
expect_exit 0 ctl platform
expect_out "^vTPM AK \(SHA-256\): $AK\$"
expect_out 'give it to the customer for their policy.s "vtpm_ak_digests"'
expect_exit 0 ctl status
expect_out "^vTPM AK \(SHA-256\): $AK\$"
ok "platform and status show the vTPM AK's SHA-256 (the claims' AK, this vTPM's) to pin"

# ---- ATTESTATION_REPORT: the HCL report over SHA-512(nonce), fresh each time ----
N1=$(printf '11%.0s' $(seq 32)) N2=$(printf '22%.0s' $(seq 32))
expect_exit 0 ctl --json attestation report --nonce "$N1" --out "$WORK/r1" --certs-out "$WORK/c1"
[ "$(jq -r .format "$WORK/out")" = hcl ] || fail "attestation report --json: $(cat "$WORK/out")"
[ "$(hcl_check "$WORK/r1")" = "$(d nonce "$N1")" ] || fail "report 1: user-data is not SHA-512(nonce)"
certs_check "$WORK/c1"
expect_exit 0 ctl attestation report --nonce "$N2" --out "$WORK/r2"
[ "$(hcl_check "$WORK/r2")" = "$(d nonce "$N2")" ] || fail "report 2: user-data is not SHA-512(nonce)"
cmp -s "$WORK/r1" "$WORK/r2" && fail "the same report for two nonces"
ok "attestation report: an HCL report binding SHA-512(nonce), verified with the cache's chain; fresh per nonce"

# ---- KEY_ATTEST ----
expect_exit 0 ctl key create kp --alg ec-p256 --usage sign
expect_exit 0 ctl key attest kp --nonce "$N1" --out "$WORK/ka1.json"
b64_member "$WORK/ka1.json" .report "$WORK/ka1.rep"
[ "$(hcl_check "$WORK/ka1.rep")" = "$(d key "$WORK/ka1.json")" ] || fail "key attest: wrong binding"
b64_member "$WORK/ka1.json" .certs "$WORK/ka1.certs"
certs_check "$WORK/ka1.certs"
expect_exit 0 ctl key attest kp --nonce "$N2" --out "$WORK/ka2.json"
b64_member "$WORK/ka2.json" .report "$WORK/ka2.rep"
[ "$(hcl_check "$WORK/ka2.rep")" = "$(d key "$WORK/ka2.json")" ] || fail "key attest 2: wrong binding"
[ "$(d key "$WORK/ka1.json")" != "$(d key "$WORK/ka2.json")" ] || fail "two nonces, one binding"
ok "key attest: the HCL report's user-data binds the key pair and the nonce; fresh per request"

# ---- FLEET_ENROLL ----
expect_exit 0 ctl fleet enroll --name cvm-a --nonce "$N1" --out "$WORK/fe1.json"
b64_member "$WORK/fe1.json" .report "$WORK/fe1.rep"
[ "$(hcl_check "$WORK/fe1.rep")" = "$(d fleet "$WORK/fe1.json")" ] || fail "fleet enroll: wrong binding"
expect_exit 0 ctl fleet enroll --nonce "$N2" --out "$WORK/fe2.json"
b64_member "$WORK/fe2.json" .report "$WORK/fe2.rep"
[ "$(hcl_check "$WORK/fe2.rep")" = "$(d fleet "$WORK/fe2.json")" ] || fail "fleet enroll 2: wrong binding"
cmp -s "$WORK/fe1.rep" "$WORK/fe2.rep" && fail "the same enrollment report twice"
ok "fleet enroll: the HCL report's user-data binds the CSR's key, the nonce and the expiry"

# ---- BYOK exchange key and backup ----
expect_exit 0 ctl kek export-exchange-key kb --out "$WORK/xb.json"
b64_member "$WORK/xb.json" .report "$WORK/xb.rep"
[ "$(hcl_check "$WORK/xb.rep")" = "$(d exchange "$WORK/xb.json")" ] || fail "exchange key: wrong binding"
b64_member "$WORK/xb.json" .certificates "$WORK/xb.certs"
certs_check "$WORK/xb.certs"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/cust.key" 2>/dev/null
openssl pkey -in "$WORK/cust.key" -pubout -out "$WORK/cust.pub"
expect_exit 0 ctl kek create kx --exportable
expect_exit 0 ctl kek backup kx --to "$WORK/cust.pub" --out "$WORK/bk1.json"
b64_member "$WORK/bk1.json" .vhsm.report "$WORK/bk1.rep"
[ "$(hcl_check "$WORK/bk1.rep")" = "$(d backup "$WORK/bk1.json")" ] || fail "backup: wrong binding"
b64_member "$WORK/bk1.json" .vhsm.certificates "$WORK/bk1.certs"
certs_check "$WORK/bk1.certs"
expect_exit 0 ctl kek backup kx --to "$WORK/cust.pub" --out "$WORK/bk2.json"
b64_member "$WORK/bk2.json" .vhsm.report "$WORK/bk2.rep"
[ "$(hcl_check "$WORK/bk2.rep")" = "$(d backup "$WORK/bk2.json")" ] || fail "backup 2: wrong binding"
cmp -s "$WORK/bk1.rep" "$WORK/bk2.rep" && fail "the same backup report twice"
ok "BYOK: exchange key and backup carry HCL reports binding them, with the cache's certificates"

# ---- a paravisor that does not answer: a timeout naming the vTPM, nothing half-made ----
watch_stop
expect_exit 3 ctl kek export-exchange-key kt --out "$WORK/xt.json"
expect_out "gave no HCL report for this request within [0-9]+ s: the paravisor did not answer"
expect_out "the vTPM at $(tcti tpm-a) "
[ ! -e "$WORK/xt.json" ] || fail "a bundle was written without evidence"
[ ! -e "$STATE/exchange/kt.sealed" ] || fail "an exchange key was left without evidence"
expect_exit 3 ctl attestation report --nonce "$N1" --out "$WORK/rt"
expect_out "gave no HCL report for this request"
[ ! -e "$WORK/rt" ] || fail "a report file was written"
expect_exit 3 ctl kek backup kx --to "$WORK/cust.pub" --out "$WORK/bkt.json"
expect_out "no evidence for the backup: .*gave no HCL report"
[ ! -e "$WORK/bkt.json" ] || fail "a backup was written without evidence"
ok "a silent paravisor: a timeout naming the vTPM; no bundle, exchange key, report or backup left"

# ---- a paravisor whose claims name another AK (another VM's report): refused, nothing written ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/other.key" 2>/dev/null
openssl pkey -in "$WORK/other.key" -pubout -out "$WORK/other.pub"
watch_start a tpm-a --ak-pub "$WORK/other.pub"
expect_exit 1 ctl attestation report --nonce "$N1" --out "$WORK/ro"
expect_out "names another attestation key than this vTPM.s"
[ ! -e "$WORK/ro" ] || fail "a report naming another AK was written"
# Behind the gate (passed before, still fresh) the evidence is checked on its own too.
expect_exit 1 ctl key attest kp --out "$WORK/kao.json"
expect_out "names another attestation key"
[ ! -e "$WORK/kao.json" ] || fail "a key attestation naming another AK was written"
watch_stop
ok "an HCL report whose claims name another AK: no evidence, nothing written"

stop_daemon
echo "$_checks checks passed"
