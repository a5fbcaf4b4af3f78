#!/bin/bash
# BYOK from a PKCS#11 token: SoftHSM2 stands in for the customer's on-premises HSM. The KEK is
# generated inside the token as sensitive (its value cannot be read out) and wrapped for the
# CVM's verified exchange key by the token itself (C_WrapKey), then imported by vhsmd.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
MOD=${VHSM_TEST_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
[ -f "$MOD" ] || skip "SoftHSM2 not installed (scripts/install-deps.sh installs softhsm2)"
BYOK=$B/vhsm-byok
P11=$B/test-p11-setup

mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$WORK" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
# PINs live in files (pin-source), never on a command line.
(umask 077; echo 8765-so >"$WORK/so-pin"; echo 1234-user >"$WORK/pin"; echo wrong >"$WORK/bad-pin")
"$P11" "$MOD" init byok "$WORK/so-pin" "$WORK/pin" || fail "token init"
"$P11" "$MOD" genkey byok "$WORK/pin" cust-kek >"$WORK/out" || fail "key generation"
expect_out 'value not readable'
"$P11" "$MOD" mechs byok >"$WORK/mechs"
cat "$WORK/mechs"
ok "token with a sensitive AES-256 key (the plaintext never leaves the token)"

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol.json"
start_daemon a
expect_exit 0 ctl kek export-exchange-key tok --out "$WORK/b.json"
URI="pkcs11:token=byok;object=cust-kek?module-path=$MOD&pin-source=file:$WORK/pin"
WRAP=(wrap --verbose --bundle "$WORK/b.json" --policy "$WORK/pol.json"
	--trust-root "$WORK/a-certs/ark.pem" --allow-test-root --out "$WORK/tok.byok")

# URI errors, wrong PIN, missing object.
expect_exit 2 "$BYOK" "${WRAP[@]}" --pkcs11-uri "pkcs11:token=byok;bogus=1"
expect_out "path attribute 'bogus': not supported"
expect_exit 2 "$BYOK" "${WRAP[@]}" --pkcs11-uri "file:///x"
expect_exit 1 "$BYOK" "${WRAP[@]}" \
	--pkcs11-uri "pkcs11:token=byok;object=cust-kek?module-path=$MOD&pin-source=file:$WORK/bad-pin"
expect_out 'C_Login failed'
expect_exit 3 "$BYOK" "${WRAP[@]}" \
	--pkcs11-uri "pkcs11:token=byok;object=nope?module-path=$MOD&pin-source=file:$WORK/pin"
expect_out 'no secret key matches'
# module-name is part of RFC 7512 but has no search path here: refused, never ignored.
expect_exit 2 "$BYOK" "${WRAP[@]}" \
	--pkcs11-uri "pkcs11:token=byok;object=cust-kek?module-name=softhsm2&pin-source=file:$WORK/pin"
expect_out 'module-name=softhsm2 is not supported'
# The token wraps the bare key: no customer flags can travel with it.
expect_exit 2 "$BYOK" "${WRAP[@]}" --pkcs11-uri "$URI" --exportable
expect_out 'cannot travel with --pkcs11-uri'
[ ! -e "$WORK/tok.byok" ] || fail "output written on failure"
ok "PKCS#11 URI (module-name refused), PIN, object and flag errors refused"

if grep -q 'CKM_RSA_AES_KEY_WRAP .*wrap' "$WORK/mechs"; then
	expect_exit 0 "$BYOK" "${WRAP[@]}" --pkcs11-uri "$URI"
	expect_out 'offers CKM_RSA_AES_KEY_WRAP'
else
	# SoftHSM2 2.6: no CKM_RSA_AES_KEY_WRAP and only SHA-1 OAEP. Without --oaep-sha1 the
	# tool refuses rather than silently weakening the scheme.
	expect_exit 1 "$BYOK" "${WRAP[@]}" --pkcs11-uri "$URI"
	expect_out 'cannot wrap with RSA-OAEP SHA-256'
	[ ! -e "$WORK/tok.byok" ] || fail "output written on refusal"
	expect_exit 0 "$BYOK" "${WRAP[@]}" --pkcs11-uri "$URI" --oaep-sha1
	expect_out 'in-token composition'
	jq -e '.header.enc == "CKM_RSA_AES_KEY_WRAP"' "$WORK/tok.byok" >/dev/null ||
		fail "enc of the SHA-1 variant"
fi
ok "the token wrapped its key for the verified exchange key"

# A bare key carries no customer decision: it never imports as exportable.
expect_exit 1 ctl kek import tok --byok "$WORK/tok.byok" --exportable
expect_out 'imports only as not exportable'
expect_exit 0 ctl kek import tok --byok "$WORK/tok.byok"
ctl --json kek show tok | jq -e '.kek.exportable == false' >/dev/null || fail "exportable"
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek tok <"$WORK/dek" >"$WORK/w" || fail "wrap"
ctl unwrap <"$WORK/w" | cmp -s - "$WORK/dek" || fail "unwrap"
ok "vhsmd imported the token-wrapped KEK (RFC 5649 and OAEP bytes as CKM_RSA_AES_KEY_WRAP)"
