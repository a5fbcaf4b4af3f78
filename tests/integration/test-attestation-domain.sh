#!/bin/bash
# Domain separation of the evidence bindings: ATTESTATION_REPORT binds SHA-512(nonce) for any
# uid that may connect, and the key attestation and fleet enrollment bindings are SHA-512 of
# messages short enough to be such a nonce ("vhsm-key-attest-v1\0" + SHA-256(SPKI) is 51
# bytes, the enrollment message without a nonce 62). An unprivileged caller must not get a
# report whose binding a verifier takes as a key attestation of, or a fleet enrollment for,
# a key pair the caller made outside vhsmd: vhsmd refuses a nonce in the bindings' namespace.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"
BYOK=$B/vhsm-byok

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol-a.json"
TR=(--trust-root "$WORK/a-certs/ark.pem" --allow-test-root)
start_daemon a
mkdir -m 0777 "$WORK/nb"

# The caller's own key pair, made outside vhsmd (its private key is the caller's).
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/nb/own.key" 2>/dev/null
openssl pkey -in "$WORK/nb/own.key" -pubout -outform DER -out "$WORK/nb/own.der"
chmod 0644 "$WORK/nb/own.key"

# report_as_nobody HEX OUT: an unprivileged ATTESTATION_REPORT for the nonce HEX.
report_as_nobody() {
	as_user nobody "$CTL" --socket "$SOCK" attestation report --nonce "$1" \
		--out "$2.report" --certs-out "$2.certs" >"$WORK/out" 2>&1
}

# ---- a key attestation of the caller's own key ----
KMSG=$(python3 - "$WORK/nb/own.der" <<'PY'
import hashlib, sys
print((b"vhsm-key-attest-v1\0" + hashlib.sha256(open(sys.argv[1], "rb").read()).digest()).hex())
PY
)
if report_as_nobody "$KMSG" "$WORK/nb/k"; then
	jq -n --arg s "$(base64 -w0 <"$WORK/nb/own.der")" \
		--arg r "$(base64 -w0 <"$WORK/nb/k.report")" \
		--arg c "$(base64 -w0 <"$WORK/nb/k.certs")" \
		'{format:"vhsm-key-attestation-v1", name:"tls", nonce:"", spki:$s, report:$r,
		  certs:$c}' >"$WORK/forged-att.json"
	"$BYOK" verify-key "$WORK/forged-att.json" --policy "$WORK/pol-a.json" \
		--expect-key "$WORK/nb/own.der" "${TR[@]}" >"$WORK/vk" 2>&1 && st=0 || st=$?
	fail "an unprivileged ATTESTATION_REPORT bound a key attestation message (verify-key" \
		"of the caller's own key exits $st: $(grep -E 'key_binding|held by' "$WORK/vk")"
fi
grep -q "reserved" "$WORK/out" || fail "refusal does not say why: $(cat "$WORK/out")"
ok "ATTESTATION_REPORT refuses a nonce that is a key attestation message"

# ---- a fleet enrollment of the caller's own key ----
EXP=$(($(date +%s) + 3600))
FMSG=$(python3 - "$WORK/nb/own.der" "$EXP" <<'PY'
import hashlib, sys
spki = open(sys.argv[1], "rb").read()
m = (b"vhsm-fleet-enroll-v1\0" + hashlib.sha256(spki).digest() + b"\0" +
     int(sys.argv[2]).to_bytes(8, "big"))
print(m.hex())
PY
)
if report_as_nobody "$FMSG" "$WORK/nb/f"; then
	openssl req -new -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$WORK/ca.key" -out "$WORK/ca.pem" -subj /CN=fleet-ca -days 2 2>/dev/null
	chmod 0600 "$WORK/ca.key"
	openssl req -new -key "$WORK/nb/own.key" -subj /CN=cvm-a -out "$WORK/own.csr"
	jq -n --rawfile csr "$WORK/own.csr" --argjson e "$EXP" \
		--arg r "$(base64 -w0 <"$WORK/nb/f.report")" \
		--arg c "$(base64 -w0 <"$WORK/nb/f.certs")" \
		'{format:"vhsm-fleet-enrollment-v1", name:"cvm-a", key_alg:"ec-p256", nonce:"",
		  expires:$e, csr:$csr, report:$r, certs:$c}' >"$WORK/forged-enroll.json"
	"$BYOK" fleet-sign "$WORK/forged-enroll.json" --policy "$WORK/pol-a.json" \
		--ca-cert "$WORK/ca.pem" --ca-key "$WORK/ca.key" --out "$WORK/forged.pem" \
		"${TR[@]}" >"$WORK/fs" 2>&1 && st=0 || st=$?
	fail "an unprivileged ATTESTATION_REPORT bound a fleet enrollment message (fleet-sign" \
		"of the caller's own key exits $st$([ -s "$WORK/forged.pem" ] && echo ", issued")"
fi
grep -q "reserved" "$WORK/out" || fail "refusal does not say why: $(cat "$WORK/out")"
ok "ATTESTATION_REPORT refuses a nonce that is a fleet enrollment message"

# ---- ordinary nonces still work ----
expect_exit 0 as_user nobody "$CTL" --socket "$SOCK" attestation report \
	--nonce "$(printf '7e%.0s' $(seq 64))" --out "$WORK/nb/ok.report"
expect_exit 0 as_user nobody "$CTL" --socket "$SOCK" attestation report \
	--nonce "$(printf 'vhsm' | od -An -tx1 | tr -d ' \n')" --out "$WORK/nb/ok2.report"
ok "random and other nonces (even one starting \"vhsm\") still get a report"
