#!/bin/bash
# BYOK with simulated CVMs: the customer verifies the exchange-key evidence and wraps a KEK
# (vhsm-byok), vhsmd imports it; tampered evidence, a wrong measurement and a debug CVM are
# refused before anything is wrapped; replay, another exchange key's file and an expired
# exchange key are refused on import; escrow backup of an exportable KEK and its re-import
# into a second CVM (other chip, other measurement) after verifying that CVM's evidence.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
BYOK=$B/vhsm-byok

M1=$(printf 'a1%.0s' $(seq 48)); M2=$(printf 'b2%.0s' $(seq 48)); M3=$(printf 'e3%.0s' $(seq 48))
H_A=$(printf 'c4%.0s' $(seq 32)); H_B=$(printf 'd5%.0s' $(seq 32)) # customer's HOST_DATA values
make_cvm a genoa --measurement "$M1" --host-data "$H_A"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol-a.json"
printf '{"version":1,"measurements":["%s"]}\n' "$M2" >"$WORK/pol-b.json"
TR_A=(--trust-root "$WORK/a-certs/ark.pem")
start_daemon a

# byok_wrap BUNDLE KEYFILE OUT [more vhsm-byok options]
byok_wrap() {
	local b=$1 k=$2 o=$3; shift 3
	"$BYOK" wrap --bundle "$b" --policy "$WORK/pol-a.json" "${TR_A[@]}" --allow-test-root \
		--key-file "$k" --out "$o" "$@"
}

# ---- argument handling ----
expect_exit 2 "$BYOK"
expect_exit 2 "$BYOK" frobnicate
expect_exit 2 "$BYOK" verify
expect_out 'required'
expect_exit 2 "$BYOK" wrap --bundle x --policy y
expect_exit 0 "$BYOK" --help
expect_out 'rewrap'
expect_exit 2 ctl kek export-exchange-key
expect_exit 2 ctl kek export-exchange-key a b
expect_exit 2 ctl kek export-exchange-key k --ttl 0
expect_exit 2 ctl kek export-exchange-key k --nonce 00
expect_exit 2 ctl kek import k1
expect_out 'byok'
expect_exit 2 ctl kek backup k1
expect_out '--to'
ok "usage errors of vhsm-byok and the vhsmctl BYOK verbs"

# ---- 1. the full loop: export, verify, wrap, (daemon restart), import, use ----
NONCE=$(printf '5a%.0s' $(seq 32))
expect_exit 0 ctl kek export-exchange-key k1 --nonce "$NONCE" --out "$WORK/b1.json"
expect_exit 0 "$BYOK" verify "$WORK/b1.json" --policy "$WORK/pol-a.json" "${TR_A[@]}" \
	--nonce "$NONCE"
for c in bundle_parse report_sig vek_by_ask policy report_data kid key lifetime nonce; do
	expect_out "pass +$c"
done
expect_out 'NOT an AMD root'
expect_out 'result: VERIFIED'
ctl kek export-exchange-key k0 >"$WORK/b0.json" || fail "bundle on standard output"
expect_exit 0 "$BYOK" verify "$WORK/b0.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
ok "verify prints every check and passes a good bundle (from a file or standard output)"

# The private key is never on disk in clear: its modulus is not in any state file.
python3 - "$WORK/b1.json" "$STATE" <<'EOF' || fail "exchange key modulus found in the state directory"
import base64, json, os, sys
spki = base64.b64decode(json.load(open(sys.argv[1]))["public_key"])
mod = spki[40:80]  # 40 bytes from inside the modulus
for d, _, fs in os.walk(sys.argv[2]):
    for f in fs:
        if mod in open(os.path.join(d, f), "rb").read():
            sys.exit(1)
EOF
ok "the exchange key is sealed at rest"

head -c 32 /dev/urandom >"$WORK/kek1"
expect_exit 0 byok_wrap "$WORK/b1.json" "$WORK/kek1" "$WORK/k1.byok"
jq -e '.schema_version == "1.0.0" and .header.alg == "dir" and
       .header.enc == "RSA_AES_KEY_WRAP_256" and (.header.kid | startswith("vhsm-xk-")) and
       (.ciphertext | test("^[A-Za-z0-9_-]+$"))' "$WORK/k1.byok" >/dev/null ||
	fail "BYOK file shape"
[ "$(jq -r .header.kid "$WORK/k1.byok")" = "$(jq -r .kid "$WORK/b1.json")" ] || fail "kid"
stop_daemon
start_daemon a # the pending exchange key survives a restart (sealed)
expect_exit 0 ctl kek import k1 --byok "$WORK/k1.byok"
expect_out 'imported KEK k1'
[ ! -e "$STATE/exchange/k1.sealed" ] || fail "exchange key not destroyed"
[ -e "$STATE/exchange/k0.sealed" ] || fail "another KEK's pending exchange key went too"
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k1 <"$WORK/dek" >"$WORK/w1" || fail "wrap under the imported KEK"
ctl unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "unwrap under the imported KEK"
ctl --json kek show k1 | jq -e '.kek.imported == true and .kek.exportable == false' \
	>/dev/null || fail "imported KEK metadata"
ok "customer -> CVM: wrapped KEK imported across a daemon restart, DEKs wrap and unwrap"

# ---- 2. import refusals ----
expect_exit 1 ctl kek import k1 --byok "$WORK/k1.byok"
expect_out 'is spent \(used\): exchange keys are single-use'
expect_exit 1 ctl kek import k1-again --byok "$WORK/k1.byok"
expect_out 'is for KEK k1'
ok "replay of an imported file refused"

expect_exit 0 ctl kek export-exchange-key k2 --out "$WORK/b2a.json"
expect_exit 0 ctl kek export-exchange-key k2 --out "$WORK/b2b.json" # replaces the first
expect_exit 0 byok_wrap "$WORK/b2a.json" "$WORK/kek1" "$WORK/k2a.byok"
expect_exit 1 ctl kek import k2 --byok "$WORK/k2a.byok"
expect_out "is for exchange key $(jq -r .kid "$WORK/b2a.json")"
expect_exit 0 ctl kek export-exchange-key k3 --out "$WORK/b3.json"
expect_exit 0 byok_wrap "$WORK/b3.json" "$WORK/kek1" "$WORK/k3.byok"
jq 'del(.vhsm)' "$WORK/k3.byok" >"$WORK/k3-azure.byok" # Azure's shape has no "vhsm" member
expect_exit 1 ctl kek import k2 --byok "$WORK/k3-azure.byok"
expect_out 'is for exchange key'
ok "a file for another exchange key is refused"

# A modified ciphertext does not unwrap, and burns the exchange key (no oracle).
python3 - "$WORK/k3-azure.byok" "$WORK/k3-bad.byok" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); c = d["ciphertext"]
i = len(c) - 5; d["ciphertext"] = c[:i] + ("A" if c[i] != "A" else "B") + c[i + 1:]
json.dump(d, open(sys.argv[2], "w"))
EOF
expect_exit 1 ctl kek import k3 --byok "$WORK/k3-bad.byok"
expect_out 'does not unwrap'
expect_exit 1 ctl kek import k3 --byok "$WORK/k3-azure.byok"
expect_out 'spent'
ok "a modified BYOK file is refused and its exchange key destroyed"

# The file must be wrapped while the key is valid (a loaded machine may take seconds for
# that), then imported after its expiry: wait for the bundle's own "expires", not a guess.
expect_exit 0 ctl kek export-exchange-key k4 --ttl 30 --out "$WORK/b4.json"
expect_exit 0 byok_wrap "$WORK/b4.json" "$WORK/kek1" "$WORK/k4.byok"
exp4=$(jq .expires "$WORK/b4.json")
while [ "$(date +%s)" -le "$exp4" ]; do sleep 1; done
expect_exit 1 ctl kek import k4 --byok "$WORK/k4.byok"
expect_out 'expired at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z'
expect_exit 1 ctl kek import k4 --byok "$WORK/k4.byok"
expect_out 'spent \(expired\)'
expect_exit 1 "$BYOK" verify "$WORK/b4.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +lifetime'
ok "an expired exchange key is refused (by vhsmd and by verify)"

expect_exit 1 ctl kek import k5 --byok "$WORK/k3.byok"
expect_out 'is for KEK k3'
printf '{"schema_version":"1.0.0"}' >"$WORK/junk.byok"
expect_exit 1 ctl kek import k5 --byok "$WORK/junk.byok"
expect_out 'invalid BYOK file: header: missing'
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" kek export-exchange-key k6
expect_out 'requires root'
ok "malformed files, a mismatched KEK name and non-admin callers refused"

# ---- 3. the customer refuses bad evidence: nothing is wrapped ----
expect_exit 0 ctl kek export-exchange-key k7 --out "$WORK/b7.json"
# 3a. tampered report (one bit inside the signed part)
python3 - "$WORK/b7.json" "$WORK/b7-report.json" report 100 <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1])); k = sys.argv[3]; i = int(sys.argv[4])
b = bytearray(base64.b64decode(d[k])); b[i] ^= 1
d[k] = base64.b64encode(bytes(b)).decode(); json.dump(d, open(sys.argv[2], "w"))
EOF
expect_exit 1 "$BYOK" verify "$WORK/b7-report.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +report_sig'
expect_exit 1 byok_wrap "$WORK/b7-report.json" "$WORK/kek1" "$WORK/out.byok"
[ ! -e "$WORK/out.byok" ] || fail "wrapped despite a tampered report"
# 3b. another public key put into a genuine bundle (the attacker's key)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/evil.pem" 2>/dev/null
openssl pkey -in "$WORK/evil.pem" -pubout -outform DER -out "$WORK/evil.der"
python3 - "$WORK/b7.json" "$WORK/b7-key.json" "$WORK/evil.der" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))
d["public_key"] = base64.b64encode(open(sys.argv[3], "rb").read()).decode()
json.dump(d, open(sys.argv[2], "w"))
EOF
expect_exit 1 "$BYOK" verify "$WORK/b7-key.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +report_data'
expect_exit 1 byok_wrap "$WORK/b7-key.json" "$WORK/kek1" "$WORK/out.byok"
[ ! -e "$WORK/out.byok" ] || fail "wrapped for a substituted key"
# 3c. a later expiry claimed in the bundle
jq '.expires += 86400' "$WORK/b7.json" >"$WORK/b7-exp.json"
expect_exit 1 "$BYOK" verify "$WORK/b7-exp.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +report_data'
# 3d. malformed bundle members
jq '.public_key = "!!"' "$WORK/b7.json" >"$WORK/b7-b64.json"
expect_exit 1 "$BYOK" verify "$WORK/b7-b64.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +bundle_parse +public_key'
jq '.key_size = "3072"' "$WORK/b7.json" >"$WORK/b7-ks.json"
expect_exit 1 "$BYOK" verify "$WORK/b7-ks.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +bundle_parse +key_size: expected an integer'
# a bundle cut short (a partial download) names the offset where it ends
head -c 200 "$WORK/b7.json" >"$WORK/b7-cut.json"
expect_exit 1 "$BYOK" verify "$WORK/b7-cut.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +bundle_parse +truncated or malformed JSON at offset 200'
# 3e. no trust root: simulated evidence is not AMD's
expect_exit 1 "$BYOK" verify "$WORK/b7.json" --policy "$WORK/pol-a.json"
expect_out 'fail +ark_pinned'
ok "tampered bundles (report, key, expiry, encoding) and untrusted roots refused"

# 3f. the customer's policy pins another measurement
expect_exit 1 "$BYOK" verify "$WORK/b7.json" --policy "$WORK/pol-b.json" "${TR_A[@]}"
expect_out 'fail +measurement'
expect_exit 1 "$BYOK" wrap --bundle "$WORK/b7.json" --policy "$WORK/pol-b.json" "${TR_A[@]}" \
	--allow-test-root --key-file "$WORK/kek1" --out "$WORK/out.byok"
[ ! -e "$WORK/out.byok" ] || fail "wrapped for a wrong measurement"
ok "wrong measurement in the customer's policy refused by verify and wrap"

# ---- 3g. issue 20: attacks on what a successful wrap means ----
W7=(--bundle "$WORK/b7.json" "${TR_A[@]}" --key-file "$WORK/kek1" --out "$WORK/out.byok")
# 1. An unpinned policy ({} = any SNP guest running anyone's code): wrap refuses, verify warns.
echo '{}' >"$WORK/pol-any.json"
expect_exit 1 "$BYOK" wrap --policy "$WORK/pol-any.json" --allow-test-root "${W7[@]}"
expect_out 'fail +pinning'
expect_out 'pins no guest code'
[ ! -e "$WORK/out.byok" ] || fail "wrapped under an unpinned policy"
expect_exit 0 "$BYOK" verify "$WORK/b7.json" --policy "$WORK/pol-any.json" "${TR_A[@]}"
expect_out 'warn +pinning'
"$BYOK" wrap --quiet --policy "$WORK/pol-any.json" --allow-test-root --accept-any-guest \
	"${W7[@]}" >"$WORK/o" 2>"$WORK/e" || fail "--accept-any-guest"
grep -q 'WARNING: --accept-any-guest' "$WORK/e" || fail "--accept-any-guest is not loud under --quiet"
rm -f "$WORK/out.byok"
# ... and a measurement the provider owns (AWS, GCP firmware) does not pin vhsmd either.
printf '{"measurements":["%s"],"measurement_owner":"provider"}\n' "$M1" >"$WORK/pol-prov.json"
expect_exit 1 "$BYOK" wrap --policy "$WORK/pol-prov.json" --allow-test-root "${W7[@]}"
expect_out 'measurement_owner is "provider"'
[ ! -e "$WORK/out.byok" ] || fail "wrapped under a provider-owned measurement"
ok "an unpinned or provider-measured policy: wrap refuses, verify warns, the override is loud"

# 7. A chain that ends in a --trust-root (not AMD): wrap needs --allow-test-root, loudly.
expect_exit 1 "$BYOK" wrap --policy "$WORK/pol-a.json" "${W7[@]}"
expect_out 'fail +trust_root'
[ ! -e "$WORK/out.byok" ] || fail "wrapped under a test root without --allow-test-root"
"$BYOK" wrap --quiet --policy "$WORK/pol-a.json" --allow-test-root "${W7[@]}" >"$WORK/o" \
	2>"$WORK/e" || fail "wrap with --allow-test-root"
grep -q 'WARNING: --allow-test-root' "$WORK/e" || fail "--allow-test-root is not loud under --quiet"
[ ! -s "$WORK/o" ] || fail "--quiet printed to stdout"
rm -f "$WORK/out.byok"
ok "wrap under a non-AMD root needs --allow-test-root and says so even with --quiet"

# 3. VMPL: a guest OS at VMPL 2 (under an SVSM or paravisor) binds its own key.
mkbundle() { # mkbundle VMPL OUT: b7 with the attacker's key, in a report from that VMPL
	python3 - "$WORK/b7.json" "$WORK/evil.der" "$WORK/rd" <<'EOF'
import hashlib, json, struct, sys
d = json.load(open(sys.argv[1])); spki = open(sys.argv[2], "rb").read()
kek = d["kek"].encode()
m = (b"vhsm-exchange-key-v1\0" + hashlib.sha256(spki).digest() + bytes.fromhex(d["nonce"])
     + struct.pack("<Q", d["expires"]) + bytes([len(kek)]) + kek)
open(sys.argv[3], "w").write(hashlib.sha512(m).hexdigest())
EOF
	"$SIM" report "$WORK/a.json" --out "$WORK/rep.bin" --report-data "$(cat "$WORK/rd")" \
		--vmpl "$1" >/dev/null || fail "simulator report at VMPL $1"
	python3 - "$WORK/b7.json" "$WORK/evil.der" "$WORK/rep.bin" "$2" <<'EOF'
import base64, hashlib, json, sys
d = json.load(open(sys.argv[1])); spki = open(sys.argv[2], "rb").read()
d["public_key"] = base64.b64encode(spki).decode()
d["kid"] = "vhsm-xk-" + hashlib.sha256(spki).hexdigest()[:32]
d["report"] = base64.b64encode(open(sys.argv[3], "rb").read()).decode()
json.dump(d, open(sys.argv[4], "w"))
EOF
}
mkbundle 2 "$WORK/b-vmpl2.json"
expect_exit 1 "$BYOK" verify "$WORK/b-vmpl2.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
expect_out 'fail +vmpl +report from VMPL 2, vhsmd runs at VMPL 0'
expect_out 'pass +report_data'
expect_exit 1 "$BYOK" wrap --bundle "$WORK/b-vmpl2.json" --policy "$WORK/pol-a.json" \
	"${TR_A[@]}" --allow-test-root --key-file "$WORK/kek1" --out "$WORK/out.byok"
[ ! -e "$WORK/out.byok" ] || fail "wrapped for a VMPL 2 key"
# The crafted bundle is otherwise genuine: at VMPL 0 the same construction verifies, and a
# policy that documents vhsmd at VMPL 2 (an SVSM platform) accepts the VMPL 2 report.
mkbundle 0 "$WORK/b-vmpl0.json"
expect_exit 0 "$BYOK" verify "$WORK/b-vmpl0.json" --policy "$WORK/pol-a.json" "${TR_A[@]}"
printf '{"measurements":["%s"],"vmpl":2}\n' "$M1" >"$WORK/pol-vmpl2.json"
expect_exit 0 "$BYOK" verify "$WORK/b-vmpl2.json" --policy "$WORK/pol-vmpl2.json" "${TR_A[@]}"
ok "a report from another VMPL than vhsmd's is refused (VMPL 2 attack; policy vmpl for SVSM)"

# AMD CRL: the ARK's CRL revoking the ASK (made here with the simulator's ARK key, as AMD's
# KDS serves /vcek/v1/{product}/crl signed by the ARK) refuses the chain.
mkcrl() { # mkcrl OUT [CERT-TO-REVOKE] [KEY CERT [openssl ca options]]: a CRL for a's ARK,
	# RSA-PSS like AMD's
	local d=$WORK/ca.$RANDOM key=${3:-$WORK/ark.key} cert=${4:-$WORK/a-certs/ark.pem}
	local more=("${@:5}")
	mkdir -p "$d"; : >"$d/index.txt"; echo 01 >"$d/crlnumber"
	printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = sha384\ndefault_crl_days = 30\n' \
		"$d" "$d" >"$d/ca.cnf"
	if [ -n "${2:-}" ]; then
		openssl ca -batch -config "$d/ca.cnf" -keyfile "$key" -cert "$cert" \
			-revoke "$2" >/dev/null 2>&1 || fail "openssl ca -revoke"
	fi
	openssl ca -batch -config "$d/ca.cnf" -keyfile "$key" -cert "$cert" -gencrl \
		-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 ${more[@]+"${more[@]}"} \
		-out "$1" >/dev/null 2>&1 ||
		fail "openssl ca -gencrl"
}
jq -r .ark_key "$WORK/a.json" >"$WORK/ark.key"
jq -r .ask_key "$WORK/a.json" >"$WORK/ask.key"
mkcrl "$WORK/crl-ok.pem"
mkcrl "$WORK/crl-revoked.pem" "$WORK/a-certs/ask.pem"
# A CRL in the ARK's name signed by another key (a certificate with the ARK's subject).
openssl req -new -x509 -key "$WORK/ask.key" -days 30 -out "$WORK/fake-ark.pem" -subj \
	"$(openssl x509 -in "$WORK/a-certs/ark.pem" -noout -subject -nameopt compat | sed 's/^subject=//')"
mkcrl "$WORK/crl-forged.pem" "" "$WORK/ask.key" "$WORK/fake-ark.pem"
V7=(verify "$WORK/b7.json" --policy "$WORK/pol-a.json" "${TR_A[@]}")
expect_exit 0 "$BYOK" "${V7[@]}" --crl "$WORK/crl-ok.pem" --require-crl
expect_out 'pass +crl +ASK not revoked \(0 CRL entries\)'
expect_exit 1 "$BYOK" "${V7[@]}" --crl "$WORK/crl-revoked.pem"
expect_out 'fail +crl +the ARK.s CRL revokes this ASK'
expect_exit 1 "$BYOK" wrap --bundle "$WORK/b7.json" --policy "$WORK/pol-a.json" "${TR_A[@]}" \
	--allow-test-root --crl "$WORK/crl-revoked.pem" --key-file "$WORK/kek1" --out "$WORK/out.byok"
[ ! -e "$WORK/out.byok" ] || fail "wrapped under a revoked ASK"
expect_exit 1 "$BYOK" "${V7[@]}" --crl "$WORK/crl-forged.pem"
expect_out 'fail +crl +the CRL.s signature does not verify with the ARK'
mkcrl "$WORK/crl-old.pem" "" "$WORK/ark.key" "$WORK/a-certs/ark.pem" \
	-crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z
expect_exit 1 "$BYOK" "${V7[@]}" --crl "$WORK/crl-old.pem"
expect_out 'fail +crl +the CRL is out of date'
openssl crl -in "$WORK/crl-ok.pem" -outform DER -out "$WORK/crl-ok.der"
expect_exit 0 "$BYOK" "${V7[@]}" --crl "$WORK/crl-ok.der"
head -c 100 "$WORK/crl-ok.der" >"$WORK/crl-cut.der"
expect_exit 1 "$BYOK" "${V7[@]}" --crl "$WORK/crl-cut.der"
expect_out 'fail +crl +the CRL does not parse'
expect_exit 1 "$BYOK" "${V7[@]}" --require-crl
expect_out 'fail +crl +no CRL given, and one is required'
expect_exit 0 "$BYOK" "${V7[@]}"
expect_out 'n/a +crl +no CRL given'
ok "AMD CRL: a revoked ASK is refused; forged, stale, truncated and missing (when required) CRLs too"

# 5. Terminal control sequences in untrusted names are escaped in every message.
jq '. + {"\r\u001b[2Kresult: VERIFIED\u001b[8m": 1}' "$WORK/b7.json" >"$WORK/b-esc.json"
"$BYOK" verify "$WORK/b-esc.json" --policy "$WORK/pol-a.json" "${TR_A[@]}" >"$WORK/out" 2>&1 &&
	fail "a bundle with an unknown member verified"
grep -q '^  fail     bundle_parse .*result: VERIFIED.*unknown member' "$WORK/out" ||
	{ cat "$WORK/out"; fail "the member name is not reported"; }
! grep -q $'\x1b' "$WORK/out" || fail "an escape character reached the terminal"
! grep -q $'\r' "$WORK/out" || fail "a carriage return reached the terminal"
grep -q '^result: REJECTED' "$WORK/out" || fail "no REJECTED result line"
"$BYOK" verify --json "$WORK/b-esc.json" --policy "$WORK/pol-a.json" "${TR_A[@]}" \
	>"$WORK/out.json" 2>/dev/null && fail "verify --json of a bad bundle succeeded"
jq -e '.result == "refused" and .exit == 1 and
       (.checks[0].detail | contains("result: VERIFIED"))' "$WORK/out.json" >/dev/null ||
	fail "--json: the refusal, with the name as data"
# Raw bytes in a message (a file name here) come out as escapes, never as control.
"$BYOK" verify "$WORK/b7.json" --policy $'/nonexistent\r\e[2Kresult: VERIFIED\e[8m' \
	>"$WORK/out" 2>&1 && fail "a missing policy verified"
grep -qF '/nonexistent\r\x1b[2Kresult: VERIFIED\x1b[8m: No such file' "$WORK/out" ||
	{ cat "$WORK/out"; fail "vhsm-byok: the file name is not shown escaped"; }
! grep -q $'\x1b' "$WORK/out" || fail "vhsm-byok: an escape character reached the terminal"
# vhsmctl too: a file name (or any daemon or report text) quoted in a message.
expect_exit 3 ctl attestation verify --report $'/nonexistent\r\e[2Kresult: VERIFIED'
expect_out 'nonexistent\\r\\x1b\[2Kresult: VERIFIED: No such file'
! grep -q $'\x1b' "$WORK/out" || fail "vhsmctl: an escape character reached the terminal"
ok "control sequences in a member name or a file name never reach the terminal as control"

# --json on success and usage errors, --expect-name, ISO dates.
"$BYOK" verify --json "$WORK/b7.json" --policy "$WORK/pol-a.json" "${TR_A[@]}" \
	--expect-name k7 >"$WORK/out.json" 2>/dev/null || fail "verify --json"
jq -e '.result == "ok" and .bundle.kek == "k7" and
       (.bundle.expires | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and
       ([.checks[] | select(.state == "fail")] | length) == 0 and
       ([.checks[] | select(.check == "kek_name" and .state == "pass")] | length) == 1' \
	"$WORK/out.json" >/dev/null || fail "verify --json result"
expect_exit 1 "$BYOK" verify "$WORK/b7.json" --policy "$WORK/pol-a.json" "${TR_A[@]}" \
	--expect-name k8
expect_out 'fail +kek_name +the exchange key imports KEK k7, not --expect-name k8'
expect_out 'expires [0-9]{4}-[0-9]{2}-[0-9]{2}T'
rc=0; "$BYOK" wrap --json --bogus >"$WORK/out.json" 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "usage error exit $rc"
jq -e '.result == "usage" and (.errors[0] | contains("--bogus"))' "$WORK/out.json" >/dev/null ||
	fail "--json usage error"
"$BYOK" --version --json | jq -e '.version' >/dev/null || fail "--version --json"
"$BYOK" --help | grep -q -- '--nonce HEX' || fail "--nonce not in --help"
ok "--json for results and errors, --expect-name, ISO 8601 lifetimes, --nonce in --help"

# 2. The customer's flags travel in the payload and win over the import options.
expect_exit 0 ctl kek export-exchange-key k9 --out "$WORK/b9.json"
expect_exit 0 byok_wrap "$WORK/b9.json" "$WORK/kek1" "$WORK/k9.byok"
expect_out 'KEK k9: not exportable'
expect_exit 1 ctl kek import k9 --byok "$WORK/k9.byok" --exportable
expect_out 'the customer wrapped KEK k9 as not exportable'
expect_exit 0 ctl kek import k9 --byok "$WORK/k9.byok" # the refusal did not spend the key
ctl --json kek show k9 | jq -e '.kek.exportable == false' >/dev/null || fail "k9 exportable"
expect_exit 0 ctl kek export-exchange-key k10 --out "$WORK/b10.json"
expect_exit 0 byok_wrap "$WORK/b10.json" "$WORK/kek1" "$WORK/k10.byok" --exportable \
	--purge-protection
expect_exit 0 ctl kek import k10 --byok "$WORK/k10.byok"
ctl --json kek show k10 | jq -e '.kek.exportable == true and .kek.purge_protection == true' \
	>/dev/null || fail "the customer's flags were not applied"
ok "the customer's flags (not exportable unless --exportable) win over kek import --exportable"

# 2. Binding to one CVM instance: the customer's HOST_DATA at launch, pinned in the policy.
printf '{"measurements":["%s"],"host_data":["%s"]}\n' "$M1" "$H_A" >"$WORK/pol-inst.json"
printf '{"measurements":["%s"],"host_data":["%s"]}\n' "$M1" "$H_B" >"$WORK/pol-other.json"
expect_exit 0 "$BYOK" verify "$WORK/b7.json" --policy "$WORK/pol-inst.json" "${TR_A[@]}"
expect_out "note +instance +chip_id [0-9a-f]{32}\.\.\. host_data $H_A"
expect_exit 1 "$BYOK" verify "$WORK/b7.json" --policy "$WORK/pol-other.json" "${TR_A[@]}"
expect_out 'fail +host_data'
ok "a policy pinning the customer's HOST_DATA refuses another instance of the same image"

# ---- 4. escrow: backup of an exportable KEK, re-import into another CVM ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/cust.pem" 2>/dev/null
openssl pkey -in "$WORK/cust.pem" -pubout -out "$WORK/cust.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/small.pem" 2>/dev/null
openssl pkey -in "$WORK/small.pem" -pubout -out "$WORK/small.pub"
expect_exit 0 ctl kek create plain
expect_exit 1 ctl kek backup plain --to "$WORK/cust.pub" --out "$WORK/plain.bak"
expect_out 'not created exportable'
[ ! -e "$WORK/plain.bak" ] || fail "a non-exportable KEK left the CVM"
ok "a non-exportable KEK cannot be backed up"

expect_exit 0 ctl kek create esc --exportable --retention-days 30
ctl wrap --kek esc --context vol1 <"$WORK/dek" >"$WORK/w-v1" || fail "wrap v1"
expect_exit 0 ctl kek rotate esc
ctl wrap --kek esc <"$WORK/dek" >"$WORK/w-v2" || fail "wrap v2"
expect_exit 1 ctl kek backup esc --to "$WORK/small.pub"
expect_out 'at least 3072'
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" kek backup esc --to "$WORK/cust.pub"
expect_exit 0 ctl kek disable esc
expect_exit 1 ctl kek backup esc --to "$WORK/cust.pub" --out "$WORK/esc-off.bak"
expect_out 'only an enabled KEK is backed up'
[ ! -e "$WORK/esc-off.bak" ] || fail "a disabled KEK was backed up"
expect_exit 0 ctl kek enable esc
expect_exit 0 ctl kek backup esc --to "$WORK/cust.pub" --out "$WORK/esc.bak"
jq -e '.vhsm.kind == "backup" and .vhsm.kek == "esc" and
       (.header.kid | startswith("vhsm-bk-"))' "$WORK/esc.bak" >/dev/null || fail "backup shape"
expect_exit 1 ctl kek import esc2 --byok "$WORK/esc.bak"
expect_out 'backup wrapped to the customer'
ok "exportable KEK backed up to the customer's key (all versions)"

stop_daemon
rm -rf "$STATE"
# 4. A forged backup: anyone with the customer's public escrow key (not secret) can make a
# key set of their own keys, here with their own vhsmd in any SNP guest (measurement M3).
make_cvm e genoa --measurement "$M3"
start_daemon e
expect_exit 0 ctl kek create esc --exportable
expect_exit 0 ctl kek backup esc --to "$WORK/cust.pub" --out "$WORK/forged.bak"
stop_daemon
rm -rf "$STATE"
make_cvm c genoa --measurement "$M2" # another chip (host change) and another measurement
start_daemon c
expect_exit 1 ctl unwrap <"$WORK/w-v1"
expect_exit 0 ctl kek export-exchange-key esc --out "$WORK/bc.json"
REWRAP=(rewrap --backup "$WORK/esc.bak" --private-key "$WORK/cust.pem" --bundle "$WORK/bc.json"
	--trust-root "$WORK/c-certs/ark.pem" --allow-test-root --backup-policy "$WORK/pol-a.json")
expect_exit 1 "$BYOK" "${REWRAP[@]}" --policy "$WORK/pol-a.json" --out "$WORK/esc.byok"
expect_out 'fail +measurement'
expect_exit 1 "$BYOK" rewrap --backup "$WORK/esc.bak" --private-key "$WORK/evil.pem" \
	--bundle "$WORK/bc.json" --trust-root "$WORK/c-certs/ark.pem" --allow-test-root \
	--policy "$WORK/pol-b.json" --out "$WORK/esc.byok"
expect_out 'not to this private key'
[ ! -e "$WORK/esc.byok" ] || fail "re-wrapped despite a refusal"
REWRAP_F=(rewrap --backup "$WORK/forged.bak" --private-key "$WORK/cust.pem"
	--bundle "$WORK/bc.json" --trust-root "$WORK/c-certs/ark.pem" --trust-root
	"$WORK/e-certs/ark.pem" --allow-test-root --backup-policy "$WORK/pol-a.json")
expect_exit 1 "$BYOK" "${REWRAP_F[@]}" --policy "$WORK/pol-b.json" --out "$WORK/esc.byok"
expect_out 'fail +measurement'
expect_out 'not authenticated by a CVM the policy accepts'
jq 'del(.vhsm.report, .vhsm.certificates)' "$WORK/forged.bak" >"$WORK/forged-bare.bak"
REWRAP_F[2]=$WORK/forged-bare.bak
expect_exit 1 "$BYOK" "${REWRAP_F[@]}" --policy "$WORK/pol-b.json" --out "$WORK/esc.byok"
expect_out 'is not authenticated: anyone with the escrow public key'
jq --slurpfile g "$WORK/esc.bak" '.vhsm.report = $g[0].vhsm.report |
	.vhsm.certificates = $g[0].vhsm.certificates' "$WORK/forged.bak" >"$WORK/forged-tr.bak"
REWRAP_F[2]=$WORK/forged-tr.bak
expect_exit 1 "$BYOK" "${REWRAP_F[@]}" --policy "$WORK/pol-b.json" --out "$WORK/esc.byok"
expect_out 'fail +backup_binding'
[ ! -e "$WORK/esc.byok" ] || fail "re-wrapped a forged backup"
REWRAP_F[2]=$WORK/forged-bare.bak
"$BYOK" "${REWRAP_F[@]}" --policy "$WORK/pol-b.json" --out "$WORK/esc-legacy.byok" --quiet \
	--accept-unauthenticated-backup 2>"$WORK/e" >/dev/null || fail "legacy backup override"
grep -q 'WARNING: --accept-unauthenticated-backup' "$WORK/e" || fail "override not loud"
rm -f "$WORK/esc-legacy.byok"
ok "forged backups (other guest, no evidence, transplanted evidence) are refused by rewrap"
expect_exit 0 "$BYOK" "${REWRAP[@]}" --policy "$WORK/pol-b.json" --out "$WORK/esc.byok"
expect_out 'restores KEK esc: 2 version\(s\), exportable, retention 30 days'
expect_out 'version 2 created [0-9]{4}-'
expect_out 'pass +backup_binding'
expect_exit 0 ctl kek import esc --byok "$WORK/esc.byok"
ctl unwrap --context vol1 <"$WORK/w-v1" | cmp -s - "$WORK/dek" || fail "v1 DEK after restore"
ctl unwrap <"$WORK/w-v2" | cmp -s - "$WORK/dek" || fail "v2 DEK after restore"
ctl --json kek show esc | jq -e '(.kek.versions | length) == 2 and .kek.exportable == true and
	.kek.retention_days == 30' >/dev/null || fail "restored metadata"
ok "backup re-imported into a second CVM (other chip and measurement): old DEKs unwrap"

# ---- 5. a debug-enabled CVM: the customer's policy refuses it ----
stop_daemon
rm -rf "$STATE"
make_cvm d genoa --measurement "$M1" --policy 0xb0000
printf '{"version":1,"allow_debug":true}\n' >"$WORK/allow-debug.json"
start_daemon d --policy "$WORK/allow-debug.json" # a host that lets vhsmd run anyway
expect_exit 0 ctl kek export-exchange-key k8 --out "$WORK/b8.json"
expect_exit 1 "$BYOK" verify "$WORK/b8.json" --policy "$WORK/pol-a.json" \
	--trust-root "$WORK/d-certs/ark.pem"
expect_out 'fail +debug'
expect_exit 1 "$BYOK" wrap --bundle "$WORK/b8.json" --policy "$WORK/pol-a.json" \
	--trust-root "$WORK/d-certs/ark.pem" --allow-test-root --key-file "$WORK/kek1" \
	--out "$WORK/out.byok"
[ ! -e "$WORK/out.byok" ] || fail "wrapped for a debug CVM"
ok "a debug-enabled CVM is refused by verify and wrap"
