#!/bin/bash
# vhsm key pairs through PKCS#11 with the real clients: pkcs11-tool (--keypairgen,
# --write-object --type cert, --delete-object, sign/decrypt), p11tool --list-all, OpenSSH
# (ssh-keygen -D, ssh-agent + ssh-add -s, ssh-keygen -Y sign/verify with RSA and EC keys) and
# OpenSSL through the libp11 engine (pkeyutl -sign/-decrypt, checked with the public key).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pkcs11-lib.sh"
for c in openssl ssh-keygen ssh-agent ssh-add p11tool; do
	command -v $c >/dev/null || skip "$c not installed (scripts/install-deps.sh)"
done
ENGINE=$(find /usr/lib/*/engines-3 -name pkcs11.so -print -quit 2>/dev/null || true)
[ -n "$ENGINE" ] || skip "libengine-pkcs11-openssl not installed"

make_cvm a
start_daemon a
export VHSM_SOCKET=$SOCK

# ---- pkcs11-tool: key pairs made in vhsmd (the caller is root: an administrator) ----
expect_exit 0 p11 --login --keypairgen --key-type rsa:2048 --label rsa1
expect_out 'Private Key Object; RSA'
expect_exit 0 p11 --login --keypairgen --key-type EC:prime256v1 --label ec1
expect_out 'Private Key Object; EC'
expect_exit 0 p11 --login -O
for o in 'Private Key Object; RSA' 'Public Key Object; RSA 2048 bits' 'Certificate Object; type = X.509' \
	'Private Key Object; EC' 'Public Key Object; EC'; do
	grep -qF "$o" "$WORK/out" || { cat "$WORK/out"; fail "no '$o' listed"; }
done
expect_out 'Access: +sensitive, always sensitive, never extractable, local'
not_out 'Access:.*(: |, )extractable'
ok "pkcs11-tool --keypairgen: RSA and EC key pairs in vhsmd, each with a public key and a certificate"

# The private key's CKA_ID and label are the certificate's (systemd and OpenSSH pair them so).
expect_exit 0 p11 --login -O
ids() { awk -v l="$1" '$1 == "label:" { cur = $2 } $1 == "ID:" && cur == l { print $2 }' "$WORK/out"; }
[ "$(ids rsa1 | wc -l)" -eq 3 ] && [ "$(ids rsa1 | sort -u | wc -l)" -eq 1 ] ||
	{ cat "$WORK/out"; fail "rsa1's three objects do not share one ID"; }
[ "$(ids rsa1)" != "$(ids ec1)" ] || fail "rsa1 and ec1 share an ID"
RSA_ID=$(ids rsa1 | head -1) EC_ID=$(ids ec1 | head -1) # pkcs11-tool picks keys by --id
ok "private key, public key and certificate share CKA_ID and CKA_LABEL"

# Without login the private keys are hidden; the public objects are not.
expect_exit 0 p11 -O
not_out 'Private Key Object'
expect_out 'Public Key Object'
ok "private keys only after C_Login"

# A refused template: an extractable private key cannot exist in vhsm.
expect_exit 1 p11 --login --keypairgen --key-type rsa:2048 --label rsa-bad --extractable
expect_out 'CKR_ATTRIBUTE_VALUE_INVALID'
expect_exit 1 p11 --login --keypairgen --key-type rsa:1024 --label rsa-small
expect_out 'CKR_KEY_SIZE_RANGE|CKR_ATTRIBUTE_VALUE_INVALID'
ok "an extractable private key and RSA-1024 are refused"

# Public keys for the clients: the RSA one as a public-key object, the EC one from its
# certificate (pkcs11-tool 0.23 cannot rebuild an EC public key with OpenSSL 3, for SoftHSM2
# keys too), and both must be the key the certificate names.
expect_exit 0 p11 --read-object --type pubkey --label rsa1 -o "$WORK/rsa1.der"
openssl pkey -pubin -inform DER -in "$WORK/rsa1.der" -out "$WORK/rsa1.pem"
for k in rsa1 ec1; do
	expect_exit 0 p11 --read-object --type cert --label $k -o "$WORK/$k.cert.der"
	openssl x509 -inform DER -in "$WORK/$k.cert.der" -pubkey -noout >"$WORK/$k.cert.pem"
done
cmp -s "$WORK/rsa1.pem" "$WORK/rsa1.cert.pem" || fail "rsa1's certificate names another key"
cp "$WORK/ec1.cert.pem" "$WORK/ec1.pem"

# ---- sign and decrypt with pkcs11-tool, checked by openssl with the public key ----
head -c 100 /dev/urandom >"$WORK/msg"
expect_exit 0 p11 --login --sign --mechanism SHA256-RSA-PKCS-PSS --id "$RSA_ID" -i "$WORK/msg" -o "$WORK/sig"
openssl dgst -sha256 -verify "$WORK/rsa1.pem" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
	-signature "$WORK/sig" "$WORK/msg" >/dev/null || fail "PSS signature does not verify"
expect_exit 0 p11 --login --sign --mechanism ECDSA-SHA256 --signature-format openssl --id "$EC_ID" \
	-i "$WORK/msg" -o "$WORK/sig"
openssl dgst -sha256 -verify "$WORK/ec1.pem" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
	fail "ECDSA signature does not verify"
head -c 32 /dev/urandom >"$WORK/pt"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa1.pem" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$WORK/pt" -out "$WORK/ct"
expect_exit 0 p11 --login --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm SHA256 \
	--mgf MGF1-SHA256 --id "$RSA_ID" -i "$WORK/ct" -o "$WORK/pt2"
cmp -s "$WORK/pt" "$WORK/pt2" || fail "OAEP decryption differs"
ok "RSA-PSS and ECDSA signatures verify with the public key; OAEP-SHA256 decrypts"

# ---- OpenSSL through the libp11 engine ----
cat >"$WORK/openssl.cnf" <<CNF
openssl_conf = init
[init]
engines = engines
[engines]
pkcs11 = pkcs11
[pkcs11]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MOD
PIN = ""
init = 0
CNF
ossl() { OPENSSL_CONF=$WORK/openssl.cnf openssl "$@"; }
openssl dgst -sha256 -binary "$WORK/msg" >"$WORK/dgst"
expect_exit 0 ossl pkeyutl -engine pkcs11 -keyform engine -inkey "pkcs11:token=vhsm;object=rsa1;type=private" \
	-sign -pkeyopt digest:sha256 -in "$WORK/dgst" -out "$WORK/sig"
openssl pkeyutl -verify -pubin -inkey "$WORK/rsa1.pem" -pkeyopt digest:sha256 -in "$WORK/dgst" \
	-sigfile "$WORK/sig" >/dev/null || fail "engine RSA signature does not verify"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa1.pem" -in "$WORK/pt" -out "$WORK/ct"
expect_exit 0 ossl pkeyutl -engine pkcs11 -keyform engine -inkey "pkcs11:token=vhsm;object=rsa1;type=private" \
	-decrypt -in "$WORK/ct" -out "$WORK/pt2"
cmp -s "$WORK/pt" "$WORK/pt2" || fail "engine RSA decryption differs"
expect_exit 0 ossl pkeyutl -engine pkcs11 -keyform engine -inkey "pkcs11:token=vhsm;object=ec1;type=private" \
	-sign -in "$WORK/dgst" -out "$WORK/sig"
openssl pkeyutl -verify -pubin -inkey "$WORK/ec1.pem" -in "$WORK/dgst" -sigfile "$WORK/sig" >/dev/null ||
	fail "engine ECDSA signature does not verify"
# A tampered ciphertext does not decrypt to the plaintext.
printf '\x01' | dd of="$WORK/ct" bs=1 seek=100 conv=notrunc 2>/dev/null
if ossl pkeyutl -engine pkcs11 -keyform engine -inkey "pkcs11:token=vhsm;object=rsa1;type=private" \
	-decrypt -in "$WORK/ct" -out "$WORK/pt2" 2>/dev/null && cmp -s "$WORK/pt" "$WORK/pt2"; then
	fail "a tampered ciphertext decrypted to the plaintext"
fi
ok "OpenSSL engine: pkeyutl -sign (RSA, ECDSA) and -decrypt, checked with the public key"

# ---- a certificate made with the engine, stored with pkcs11-tool --write-object ----
expect_exit 0 ossl req -new -x509 -engine pkcs11 -keyform engine -key "pkcs11:token=vhsm;object=rsa1;type=private" \
	-subj "/CN=vhsm test rsa1" -days 30 -sha256 -outform DER -out "$WORK/rsa1.crt"
expect_exit 0 p11 --login --write-object "$WORK/rsa1.crt" --type cert --label rsa1 --id "$RSA_ID"
expect_exit 0 p11 --read-object --type cert --label rsa1 -o "$WORK/back.crt"
cmp -s "$WORK/rsa1.crt" "$WORK/back.crt" || fail "the stored certificate is not the written one"
# A certificate for a key pair vhsm does not hold is refused.
openssl req -new -x509 -newkey rsa:2048 -nodes -keyout "$WORK/other.key" -subj "/CN=other" \
	-outform DER -out "$WORK/other.crt" 2>/dev/null
expect_exit 1 p11 --login --write-object "$WORK/other.crt" --type cert --label other
expect_out 'CKR_ATTRIBUTE_VALUE_INVALID'
ok "--write-object --type cert replaces the key pair's certificate; a foreign one is refused"

# ---- p11tool (GnuTLS, through p11-kit) ----
p11kit_ns_setup
expect_exit 0 p11kit_ns p11tool --list-all --login --set-pin= "pkcs11:token=vhsm"
expect_out 'Type: Private key \(RSA-2048\)'
expect_out 'Type: Private key \(EC/ECDSA'
expect_out 'Type: X.509 Certificate'
expect_out 'Label: rsa1'
ok "p11tool --list-all lists the key pairs and certificates"

# ---- OpenSSH ----
expect_exit 0 ssh-keygen -D "$MOD"
expect_out '^ssh-rsa '
expect_out '^ecdsa-sha2-nistp256 '
grep -E '^(ssh-rsa|ecdsa)' "$WORK/out" >"$WORK/keys.pub"
ok "ssh-keygen -D lists the RSA and EC public keys"

# OpenSSH 9.2's agent refuses an empty PIN for any token with CKF_LOGIN_REQUIRED (its helper is
# never interactive, so the protected authentication path does not help there); vhsm ignores
# the PIN, so any non-empty one does. First the empty one, refused by ssh-pkcs11-helper itself.
printf '#!/bin/sh\necho\n' >"$WORK/askpass-empty" && chmod +x "$WORK/askpass-empty"
printf '#!/bin/sh\necho any\n' >"$WORK/askpass" && chmod +x "$WORK/askpass"
eval "$(ssh-agent -s -a "$WORK/agent.sock" -P "$(readlink -f "$MOD")")" >/dev/null
on_exit "kill $SSH_AGENT_PID"
expect_exit 1 env SSH_ASKPASS="$WORK/askpass-empty" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh-add -s "$MOD"
expect_exit 0 env SSH_ASKPASS="$WORK/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh-add -s "$MOD"
expect_exit 0 ssh-add -L
expect_out '^ssh-rsa '
expect_out '^ecdsa-sha2-nistp256 '
echo "data to sign $RANDOM" >"$WORK/doc"
for kind in ssh-rsa ecdsa-sha2-nistp256; do
	grep "^$kind " "$WORK/keys.pub" | head -1 >"$WORK/k.pub"
	rm -f "$WORK/doc.sig"
	expect_exit 0 ssh-keygen -Y sign -f "$WORK/k.pub" -n file "$WORK/doc"
	echo "tester $(cat "$WORK/k.pub")" >"$WORK/allowed"
	expect_exit 0 ssh-keygen -Y verify -f "$WORK/allowed" -I tester -n file -s "$WORK/doc.sig" <"$WORK/doc"
	expect_out 'Good "file" signature for tester'
	echo tampered >>"$WORK/doc"
	expect_exit 255 ssh-keygen -Y verify -f "$WORK/allowed" -I tester -n file -s "$WORK/doc.sig" <"$WORK/doc"
	echo "data to sign $RANDOM" >"$WORK/doc"
done
ok "ssh-agent + ssh-add -s (any non-empty PIN); ssh-keygen -Y sign/verify with the RSA and EC keys"

# ---- --delete-object: the key pair goes (soft delete) ----
expect_exit 0 p11 --login --delete-object --type privkey --id "$EC_ID"
expect_exit 0 p11 --login -O
not_out 'label: +ec1'
expect_exit 1 p11 --login --delete-object --type cert --id "$RSA_ID"
expect_out 'CKR_ACTION_PROHIBITED|\(0x1b\)'  # CKR_ACTION_PROHIBITED: pkcs11-tool 0.23 has no name for it
ok "--delete-object removes a key pair; its certificate alone cannot be deleted"
