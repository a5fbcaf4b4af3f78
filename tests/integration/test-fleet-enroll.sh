#!/bin/bash
# Attested fleet enrollment (docs/fleet.md "Enrollment"): vhsmd makes the fleet TLS key sealed
# in the CVM and returns a CSR with a fresh report binding its public key, a nonce and an
# expiry; vhsm-byok fleet-sign (the same verifier and policy engine as vhsm-byok verify) issues
# a short-lived clientAuth certificate only when report, AMD chain, policy, freshness, the
# CSR's signature and the binding all pass; vhsmctl fleet install-cert checks and installs it;
# the identity then opens a mutual-TLS KMIP connection to a real pykmip-server. Refusals: a
# debug guest, another measurement, a stale report (expiry, nonce), a report not binding the
# CSR, a tampered CSR, a CA key others can read, a certificate for another key, without
# clientAuth or from another CA, an unenrolled or expired identity, a rolled-back key file.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"
source "$top/tests/integration/kmip-lib.sh"
BYOK=$B/vhsm-byok

M1=$(printf 'a1%.0s' $(seq 48)); M2=$(printf 'b2%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol-a.json"
printf '{"version":1,"measurements":["%s"]}\n' "$M2" >"$WORK/pol-b.json"
echo '{}' >"$WORK/pol-any.json"
NOW=$(date +%s)
echo "$NOW" >"$WORK/now"
start_daemon a --test-clock "$WORK/now"
chmod 0600 "$PKI/ca.key"
CA=(--ca-cert "$PKI/ca.pem" --ca-key "$PKI/ca.key")
TR=(--trust-root "$WORK/a-certs/ark.pem" --allow-test-root)
sign() { "$BYOK" fleet-sign "$@" "${TR[@]}"; }
spki() { jq -r .csr "$1" | openssl req -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum; }

# ---- the verbs' arguments ----
expect_exit 0 ctl fleet enroll --help
expect_out "Usage: vhsmctl fleet enroll"
expect_exit 2 ctl fleet enroll
expect_out "--out FILE is required"
expect_exit 2 ctl fleet enroll --out "$WORK/x" --nonce zz
expect_out "nonce"
expect_exit 2 ctl fleet enroll --out "$WORK/x" --name -bad
expect_exit 2 ctl fleet enroll --out "$WORK/x" --key-alg rsa2048
expect_exit 2 ctl fleet enroll --out "$WORK/x" extra
expect_exit 2 ctl fleet install-cert
expect_exit 2 ctl fleet install-cert "$WORK/none.pem"
expect_exit 2 ctl fleet check --endpoint 127.0.0.1:1
expect_exit 2 ctl fleet show extra
expect_exit 0 "$BYOK" fleet-sign --help
expect_out "fleet-sign BUNDLE"
expect_exit 2 "$BYOK" fleet-sign "$WORK/x" --policy "$WORK/pol-a.json"
expect_out "--ca-cert PEM --ca-key PEM --out FILE is required"
expect_exit 2 "$BYOK" fleet-sign "$WORK/x" --days 31
expect_exit 2 "$BYOK" fleet-sign "$WORK/x" --hours 0
ok "fleet verbs: --help, missing and bad arguments"

# ---- who may enroll; nothing before the first enrollment ----
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" fleet enroll --name cvm-a --out /dev/null
expect_out "requires root or the vhsm group"
expect_exit 1 ctl fleet show
expect_out "no fleet identity"
expect_exit 1 ctl fleet enroll --out "$WORK/x"
expect_out "a name .* is required"
[ ! -e "$STATE/fleet/identity.sealed" ] || fail "an identity was made by a refused request"
ok "enrollment: administrators only; no identity before the first, which needs a name"

# ---- enroll, sign, install ----
NONCE=$(printf '5a%.0s' $(seq 32))
expect_exit 0 ctl fleet enroll --name cvm-a --nonce "$NONCE" --out "$WORK/e1.json"
expect_out "fleet identity cvm-a \(ec-p256, new key\)"
jq -e --arg n "$NONCE" '.format == "vhsm-fleet-enrollment-v1" and .name == "cvm-a" and
	.key_alg == "ec-p256" and .nonce == $n and (.csr | startswith("-----BEGIN CERTIFICATE REQUEST"))
	and .expires > now' "$WORK/e1.json" >/dev/null || fail "bundle: $(cat "$WORK/e1.json")"
jq -r .csr "$WORK/e1.json" | openssl req -verify -noout -subject 2>&1 | grep -q "CN *= *cvm-a" ||
	fail "the CSR does not verify or name cvm-a"
[ -s "$STATE/fleet/identity.sealed" ] || fail "no sealed identity"
grep -q "identity.sealed" "$STATE/store.manifest" || fail "the identity is not in the manifest"
expect_exit 0 ctl --json fleet show
jq -e '.enrolled == false and .name == "cvm-a" and .key_alg == "ec-p256" and .certificate == null
	and .renewal_due == true' "$WORK/out" >/dev/null || fail "show: $(cat "$WORK/out")"
chmod 0644 "$PKI/ca.key"
expect_exit 1 sign "$WORK/e1.json" --policy "$WORK/pol-a.json" --nonce "$NONCE" "${CA[@]}" \
	--out "$WORK/c1.pem"
expect_out "mode 0644: chmod 600"
[ ! -e "$WORK/c1.pem" ] || fail "signed with a CA key others can read"
chmod 0600 "$PKI/ca.key"
expect_exit 0 sign "$WORK/e1.json" --policy "$WORK/pol-a.json" --nonce "$NONCE" "${CA[@]}" \
	--hours 30 --out "$WORK/c1.pem"
for c in "pass.*report_sig" "pass.*policy" "pass.*expiry" "pass.*nonce" "pass.*csr_signature" \
	"pass.*binding" "issued"; do expect_out "$c"; done
openssl x509 -in "$WORK/c1.pem" -noout -text >"$WORK/c1.txt"
grep -q "TLS Web Client Authentication" "$WORK/c1.txt" || fail "no clientAuth"
grep -q "CA:FALSE" "$WORK/c1.txt" || fail "not CA:FALSE"
grep -q "Digital Signature" "$WORK/c1.txt" || fail "no digitalSignature"
[ "$(openssl x509 -in "$WORK/c1.pem" -noout -subject)" = "subject=CN = cvm-a" ] || fail "subject"
openssl verify -CAfile "$PKI/ca.pem" -purpose sslclient "$WORK/c1.pem" >/dev/null || fail "chain"
S1=$(openssl x509 -in "$WORK/c1.pem" -noout -serial)
expect_exit 0 sign "$WORK/e1.json" --policy "$WORK/pol-a.json" --nonce "$NONCE" "${CA[@]}" \
	--out "$WORK/c1b.pem"
[ "$S1" != "$(openssl x509 -in "$WORK/c1b.pem" -noout -serial)" ] || fail "serial not random"
[ "$(openssl x509 -in "$WORK/c1b.pem" -noout -enddate | cut -d= -f2 | date -f- +%s)" -le \
	$((NOW + 86400 + 600)) ] || fail "default lifetime is not one day"
ok "enroll + fleet-sign: report, chain, policy, freshness, CSR and binding checked; a short-lived clientAuth certificate with a random serial"

# ---- refusals by the signer, each naming its reason ----
refused() { # refused REASON-REGEX [fleet-sign args]
	local want=$1; shift
	rm -f "$WORK/cx.pem"
	expect_exit 1 sign "$@" "${CA[@]}" --out "$WORK/cx.pem"
	expect_out "refused: .*$want"
	[ ! -e "$WORK/cx.pem" ] || fail "a certificate was issued although: $want"
}
refused "measurement" "$WORK/e1.json" --policy "$WORK/pol-b.json" --nonce "$NONCE"
expect_out "fail.*measurement"
refused "stale report" "$WORK/e1.json" --policy "$WORK/pol-a.json" --nonce "$(printf '11%.0s' $(seq 32))"
expect_out "fail.*nonce.*stale report"
refused "pinning" "$WORK/e1.json" --policy "$WORK/pol-any.json"
rm -f "$WORK/cx.pem"
expect_exit 1 "$BYOK" fleet-sign "$WORK/e1.json" --policy "$WORK/pol-a.json" "${CA[@]}" \
	--out "$WORK/cx.pem"
expect_out "trust_root|ark"
# another key's CSR (same name) put into the bundle: the report does not bind it
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/other.key" 2>/dev/null
openssl req -new -key "$WORK/other.key" -subj /CN=cvm-a -out "$WORK/other.csr"
jq --rawfile c "$WORK/other.csr" '.csr = $c' "$WORK/e1.json" >"$WORK/swap.json"
refused "does not bind this CSR" "$WORK/swap.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
expect_out "fail.*binding"
# a later expiry written into the bundle: the report binds the original one
jq '.expires += 3600' "$WORK/e1.json" >"$WORK/later.json"
refused "does not bind this CSR" "$WORK/later.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
# the CSR's signature tampered with (its last byte): refused by name
python3 - "$WORK/e1.json" "$WORK/tamper.json" <<'PY'
import base64, json, sys
b = json.load(open(sys.argv[1])); lines = b["csr"].strip().split("\n")
der = bytearray(base64.b64decode("".join(lines[1:-1]))); der[-1] ^= 1
body = base64.b64encode(bytes(der)).decode()
b["csr"] = lines[0] + "\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + "\n" + lines[-1] + "\n"
json.dump(b, open(sys.argv[2], "w"))
PY
refused "CSR \(tampered" "$WORK/tamper.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
expect_out "fail.*csr_signature.*tampered"
# a stale report: made two hours ago (the CVM's clock), its expiry has passed
echo "$((NOW - 7200))" >"$WORK/now"
expect_exit 0 ctl fleet enroll --out "$WORK/old.json"
echo "$NOW" >"$WORK/now"
refused "stale report" "$WORK/old.json" --policy "$WORK/pol-a.json"
expect_out "fail.*expiry.*stale report: the enrollment expired"
# a modified report (REPORT_DATA): its signature fails
python3 - "$WORK/e1.json" "$WORK/flip.json" <<'PY'
import base64, json, sys
a = json.load(open(sys.argv[1])); r = bytearray(base64.b64decode(a["report"])); r[0x50] ^= 1
a["report"] = base64.b64encode(bytes(r)).decode(); json.dump(a, open(sys.argv[2], "w"))
PY
refused "report_sig" "$WORK/flip.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
echo '{"format":"other"}' >"$WORK/junk.json"
expect_exit 1 sign "$WORK/junk.json" --policy "$WORK/pol-a.json" "${CA[@]}" --out "$WORK/cx.pem"
expect_out "junk.json: (name: missing|format)"
ok "fleet-sign refuses another measurement, a stale nonce or expiry, an unpinned policy, an untrusted root, another CSR, a moved expiry, a tampered CSR, a modified report, junk"

# ---- install-cert ----
# tick: the CVM's clock at real time again (certificates just made are valid from now)
tick() { NOW=$(date +%s); echo "$NOW" >"$WORK/now"; }
leaf() { # leaf OUT CSR [extfile lines]: a certificate from the fleet CA for CSR
	printf '%s\n' "${@:3}" >"$WORK/ext.cnf"
	openssl x509 -req -in "$2" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 1 -extfile "$WORK/ext.cnf" -out "$1" 2>/dev/null
}
jq -r .csr "$WORK/e1.json" >"$WORK/e1.csr"
leaf "$WORK/no-eku.pem" "$WORK/e1.csr" "basicConstraints=CA:FALSE"
leaf "$WORK/other-key.pem" "$WORK/other.csr" "extendedKeyUsage=clientAuth"
openssl x509 -req -in "$WORK/e1.csr" -CA "$PKI/other-ca.pem" -CAkey "$PKI/other-ca.key" \
	-CAcreateserial -days 1 -extfile <(echo extendedKeyUsage=clientAuth) -out "$WORK/other-ca-leaf.pem" 2>/dev/null
openssl x509 -in "$WORK/c1.pem" >"$WORK/c1-leaf.pem"
sleep 1 && tick
expect_exit 1 ctl fleet install-cert "$WORK/other-key.pem" --ca "$PKI/ca.pem"
expect_out "another public key"
expect_exit 1 ctl fleet install-cert "$WORK/no-eku.pem" --ca "$PKI/ca.pem"
expect_out "lacks the clientAuth"
expect_exit 1 ctl fleet install-cert "$WORK/other-ca-leaf.pem" --ca "$PKI/ca.pem"
expect_out "does not chain to the fleet CA"
expect_exit 1 ctl fleet install-cert "$WORK/c1-leaf.pem" --ca "$PKI/other-ca.pem"
expect_out "does not chain to the fleet CA"
expect_exit 1 ctl fleet install-cert "$WORK/c1-leaf.pem"
expect_out "no CA to check"
expect_exit 1 ctl fleet install-cert "$PKI/ca.pem" --ca "$PKI/ca.pem"
expect_out "another public key|CA certificate"
echo "not a certificate" >"$WORK/junk.pem"
expect_exit 1 ctl fleet install-cert "$WORK/junk.pem"
expect_out "not a PEM certificate chain"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" fleet install-cert "$WORK/c1.pem"
[ ! -e "$STATE/fleet/identity.pem" ] || fail "a refused certificate was installed"
expect_exit 0 ctl fleet install-cert "$WORK/c1-leaf.pem" --ca "$PKI/ca.pem"
expect_out "subject: .*CN *= *cvm-a"
expect_exit 0 ctl fleet install-cert "$WORK/c1.pem"
expect_exit 0 ctl --json fleet show
jq -e '.enrolled == true and .certificate.expired == false and .renewal_due == false and
	(.certificate.subject | test("CN=cvm-a")) and (.certificate.issuer | test("fleet CA"))' \
	"$WORK/out" >/dev/null || fail "show: $(cat "$WORK/out")"
expect_exit 0 as_user nobody "$CTL" --socket "$SOCK" fleet show
expect_out "renewal due: no"
ok "install-cert refuses another key, no clientAuth, another CA, no CA, a CA certificate, junk and non-administrators; installs the signed chain"

# ---- KMIP: mutual TLS with the enrolled identity ----
start_kmip k
EP=127.0.0.1:$KMIP_PORT_k
expect_exit 0 ctl fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
expect_out "mutual TLS with the fleet identity and a KMIP Locate succeeded"
expect_exit 0 ctl --json fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
jq -e '.objects >= 0' "$WORK/out" >/dev/null || fail "check --json: $(cat "$WORK/out")"
expect_exit 1 ctl fleet check --endpoint "$EP" --server-ca "$PKI/other-ca.pem"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
ok "fleet check: a KMIP Locate over mutual TLS with the enrolled identity (and not with a wrong server CA)"

# A new store manifest (none on disk: trust on first use) adopts the sealed identity as it
# adopts KEKs; a manifest that did not list it would refuse it as "deleted or purged".
stop_daemon
rm "$STATE/store.manifest"
start_daemon a --test-clock "$WORK/now"
expect_exit 0 ctl fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
grep -q "identity.sealed" "$STATE/store.manifest" || fail "the identity is not adopted"
expect_exit 0 ctl fleet show
expect_out "renewal due: no"
ok "a new store manifest adopts the sealed fleet identity; it still opens mutual TLS"

# ---- renewal keeps the key; --new-key replaces it and the old certificate ----
K1=$(spki "$WORK/e1.json")
expect_exit 0 ctl fleet enroll --out "$WORK/e2.json"
expect_out "key kept"
[ "$(spki "$WORK/e2.json")" = "$K1" ] || fail "re-enrolling changed the key"
expect_exit 0 ctl --json fleet show
jq -e '.enrolled == true' "$WORK/out" >/dev/null || fail "renewal lost the certificate"
cp "$STATE/fleet/identity.sealed" "$WORK/identity-1.sealed"
expect_exit 1 ctl fleet enroll --key-alg rsa3072 --out "$WORK/x.json"
expect_out "give --new-key"
expect_exit 0 ctl fleet enroll --new-key --name cvm-a2 --out "$WORK/e3.json"
expect_out "cvm-a2 \(ec-p256, new key\)"
[ "$(spki "$WORK/e3.json")" != "$K1" ] || fail "--new-key kept the key"
expect_exit 0 ctl --json fleet show
jq -e '.enrolled == false and .name == "cvm-a2"' "$WORK/out" >/dev/null || fail "show: $(cat "$WORK/out")"
expect_exit 1 ctl fleet install-cert "$WORK/c1.pem"
expect_out "another public key"
expect_exit 1 ctl fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
expect_out "no fleet identity enrolled"
# the previous key's sealed file put back: refused by the store manifest
cp "$STATE/fleet/identity.sealed" "$WORK/identity-2.sealed"
cp "$WORK/identity-1.sealed" "$STATE/fleet/identity.sealed"
expect_exit 1 ctl fleet show
expect_out "rolled back"
cp "$WORK/identity-2.sealed" "$STATE/fleet/identity.sealed"
expect_exit 0 ctl fleet show
ok "renewal keeps the sealed key; --new-key replaces it and drops the old certificate; a rolled-back key file is refused"

# ---- an RSA-3072 identity, then expiry ----
tick
expect_exit 0 ctl fleet enroll --new-key --key-alg rsa3072 --out "$WORK/e4.json"
expect_out "rsa3072, new key"
expect_exit 0 sign "$WORK/e4.json" --policy "$WORK/pol-a.json" "${CA[@]}" --hours 2 --out "$WORK/c4.pem"
expect_exit 0 ctl fleet install-cert "$WORK/c4.pem"
expect_exit 0 ctl fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
# 90 minutes on: less than a third of the lifetime is left
echo "$((NOW + 5400))" >"$WORK/now"
expect_exit 0 ctl --json fleet show
jq -e '.renewal_due == true and .certificate.expired == false' "$WORK/out" >/dev/null ||
	fail "renewal not due: $(cat "$WORK/out")"
echo "$((NOW + 3 * 3600))" >"$WORK/now"
expect_exit 1 ctl fleet check --endpoint "$EP" --server-ca "$PKI/ca.pem"
expect_out "the fleet certificate has expired: enroll again"
expect_exit 0 ctl --json fleet show
jq -e '.certificate.expired == true and .renewal_due == true' "$WORK/out" >/dev/null ||
	fail "show: $(cat "$WORK/out")"
ok "an RSA-3072 identity works; renewal becomes due; an expired identity is refused before any connection"
stop_kmip k

# ---- a debug guest: its enrollment is refused by name ----
stop_daemon
rm -rf "$STATE"
make_cvm d genoa --measurement "$M1" --policy 0xb0000
printf '{"version":1,"allow_debug":true}\n' >"$WORK/allow-debug.json"
start_daemon d --policy "$WORK/allow-debug.json" # a host that lets vhsmd run anyway
expect_exit 0 ctl fleet enroll --name cvm-d --out "$WORK/ed.json"
rm -f "$WORK/cx.pem"
expect_exit 1 "$BYOK" fleet-sign "$WORK/ed.json" --policy "$WORK/pol-a.json" "${CA[@]}" \
	--trust-root "$WORK/d-certs/ark.pem" --allow-test-root --out "$WORK/cx.pem"
expect_out "fail +debug"
expect_out "refused: .*debug"
[ ! -e "$WORK/cx.pem" ] || fail "a certificate for a debug guest"
ok "a debug guest's enrollment is refused, naming debug"

# In the sanitizer build: nothing reported by either vhsmd (leaks are reported at exit).
stop_daemon
if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$WORK/daemon.log"; then
	cat "$WORK/daemon.log" >&2
	fail "sanitizer report from vhsmd"
fi
