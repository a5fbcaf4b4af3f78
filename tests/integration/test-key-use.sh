#!/bin/bash
# KEY_SIGN / KEY_DECRYPT (vhsmctl key sign|decrypt): every mechanism of the contract, checked
# with OpenSSL and the public key; RSA PKCS#1 v1.5 decryption with implicit rejection (a bad
# padding gives a synthetic message, not an error); and the refusals: wrong mechanism, usage
# not allowed, ACL (audited), disabled and deleted key pairs, oversize input, bad parameters.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"
NB=$(id -u nobody)
nb() { as_user nobody "$CTL" --socket "$SOCK" "$@"; }

make_cvm cvm genoa
start_daemon cvm
for k in rsa3072:sign,decrypt ec-p256:sign ec-p384:sign rsa2048:decrypt; do
	alg=${k%%:*}
	expect_exit 0 ctl key create "$alg" --alg "$alg" --usage "${k#*:}" --pubkey-out "$WORK/$alg.der"
	openssl pkey -pubin -inform DER -in "$WORK/$alg.der" -out "$WORK/$alg.pem"
done
head -c 1000 /dev/urandom >"$WORK/msg"
openssl dgst -sha256 -binary "$WORK/msg" >"$WORK/msg.sha256"
openssl dgst -sha384 -binary "$WORK/msg" >"$WORK/msg.sha384"

# ---- RSA signatures ----
for h in sha256 sha384 sha512; do
	ctl key sign rsa3072 --mech "$h-rsa-pkcs" <"$WORK/msg" >"$WORK/sig" || fail "$h-rsa-pkcs"
	openssl dgst -"$h" -verify "$WORK/rsa3072.pem" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
		fail "$h-rsa-pkcs signature does not verify"
	ctl key sign rsa3072 --mech "$h-rsa-pkcs-pss" --hash "$h" <"$WORK/msg" >"$WORK/sig" ||
		fail "$h-rsa-pkcs-pss"
	openssl dgst -"$h" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
		-verify "$WORK/rsa3072.pem" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
		fail "$h-rsa-pkcs-pss signature does not verify"
done
# CKM_RSA_PKCS over a DigestInfo the caller made
(printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'
	cat "$WORK/msg.sha256") >"$WORK/di"
ctl key sign rsa3072 --mech rsa-pkcs <"$WORK/di" >"$WORK/sig" || fail "rsa-pkcs"
openssl dgst -sha256 -verify "$WORK/rsa3072.pem" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
	fail "rsa-pkcs over a DigestInfo does not verify"
# CKM_RSA_PKCS_PSS over a hash
ctl key sign rsa3072 --mech rsa-pkcs-pss --hash sha256 --salt-len 32 <"$WORK/msg.sha256" >"$WORK/sig" ||
	fail "rsa-pkcs-pss"
openssl pkeyutl -verify -pubin -inkey "$WORK/rsa3072.pem" -in "$WORK/msg.sha256" -sigfile "$WORK/sig" \
	-pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 >/dev/null ||
	fail "rsa-pkcs-pss over a hash does not verify"
# and a signature of other data does not verify (the check can fail)
printf x >>"$WORK/msg.other"; cat "$WORK/msg" >>"$WORK/msg.other"
ctl key sign rsa3072 --mech sha256-rsa-pkcs <"$WORK/msg.other" >"$WORK/sig"
openssl dgst -sha256 -verify "$WORK/rsa3072.pem" -signature "$WORK/sig" "$WORK/msg" >/dev/null 2>&1 &&
	fail "a signature of other data verifies"
ok "RSA: PKCS#1 v1.5 and PSS, combined SHA-2 and over a hash or DigestInfo, verify with OpenSSL"

# vhsmd keeps the signing context of a key's last mechanism over a hash: a change of mechanism
# or of the PSS parameters between calls must take effect (each signature verifies with its
# own salt length and not with the one before), and the first parameters again must too.
prev=
for salt in 32 0 20 rsa-pkcs 32 32; do
	if [ $salt = rsa-pkcs ]; then
		ctl key sign rsa3072 --mech rsa-pkcs <"$WORK/di" >"$WORK/sig" || fail "rsa-pkcs (kept)"
		openssl dgst -sha256 -verify "$WORK/rsa3072.pem" -signature "$WORK/sig" "$WORK/msg" \
			>/dev/null || fail "rsa-pkcs after PSS does not verify"
		prev=
		continue
	fi
	ctl key sign rsa3072 --mech rsa-pkcs-pss --hash sha256 --salt-len $salt <"$WORK/msg.sha256" \
		>"$WORK/sig" || fail "rsa-pkcs-pss salt $salt"
	openssl pkeyutl -verify -pubin -inkey "$WORK/rsa3072.pem" -in "$WORK/msg.sha256" \
		-sigfile "$WORK/sig" -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 \
		-pkeyopt rsa_pss_saltlen:$salt >/dev/null || fail "PSS salt $salt (after ${prev:-none})"
	if [ -n "$prev" ] && [ "$prev" != $salt ]; then
		openssl pkeyutl -verify -pubin -inkey "$WORK/rsa3072.pem" -in "$WORK/msg.sha256" \
			-sigfile "$WORK/sig" -pkeyopt rsa_padding_mode:pss -pkeyopt digest:sha256 \
			-pkeyopt rsa_pss_saltlen:$prev >/dev/null 2>&1 &&
			fail "a PSS signature asked with salt $salt has the salt length $prev of the call before"
	fi
	prev=$salt
done
ok "kept signing context: PSS salt lengths 32, 0, 20, PKCS#1 v1.5, 32 again, each as asked"

# ---- ECDSA: r || s ----
rs_to_der() {
	python3 -c '
import sys
b = open(sys.argv[1], "rb").read(); n = len(b) // 2
def i(x):
    x = x.lstrip(b"\0") or b"\0"
    if x[0] & 0x80: x = b"\0" + x
    return b"\x02" + bytes([len(x)]) + x
s = i(b[:n]) + i(b[n:])
sys.stdout.buffer.write(b"\x30" + bytes([len(s)]) + s)' "$1"
}
for k in ec-p256:sha256:64 ec-p384:sha384:96; do
	IFS=: read -r alg h n <<<"$k"
	ctl key sign "$alg" --mech "ecdsa-$h" <"$WORK/msg" >"$WORK/sig" || fail "ecdsa-$h"
	[ "$(stat -c %s "$WORK/sig")" -eq "$n" ] || fail "$alg: signature is not r||s of $n bytes"
	rs_to_der "$WORK/sig" >"$WORK/sig.der"
	openssl dgst -"$h" -verify "$WORK/$alg.pem" -signature "$WORK/sig.der" "$WORK/msg" >/dev/null ||
		fail "ecdsa-$h signature does not verify"
	ctl key sign "$alg" --mech ecdsa <"$WORK/msg.$h" >"$WORK/sig" || fail "ecdsa ($alg)"
	rs_to_der "$WORK/sig" >"$WORK/sig.der"
	openssl dgst -"$h" -verify "$WORK/$alg.pem" -signature "$WORK/sig.der" "$WORK/msg" >/dev/null ||
		fail "ecdsa over a hash ($alg) does not verify"
done
ok "ECDSA P-256/P-384: raw r||s over a message or a hash, verify with OpenSSL"

# ---- RSA decryption ----
head -c 32 /dev/urandom >"$WORK/secret"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -in "$WORK/secret" -out "$WORK/ct"
ctl key decrypt rsa2048 --mech rsa-pkcs <"$WORK/ct" >"$WORK/pt" || fail "rsa-pkcs decrypt"
cmp -s "$WORK/pt" "$WORK/secret" || fail "rsa-pkcs decrypts to other data"
for h in sha1 sha256 sha384 sha512; do
	openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa3072.pem" -in "$WORK/secret" -out "$WORK/ct" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:$h -pkeyopt rsa_mgf1_md:$h \
		-pkeyopt rsa_oaep_label:6c6162656c
	ctl key decrypt rsa3072 --mech rsa-pkcs-oaep --hash $h --label label <"$WORK/ct" >"$WORK/pt" ||
		fail "oaep $h decrypt"
	cmp -s "$WORK/pt" "$WORK/secret" || fail "oaep $h decrypts to other data"
done
expect_exit 1 ctl key decrypt rsa3072 --mech rsa-pkcs-oaep --hash sha512 --label other <"$WORK/ct"
expect_out "OAEP decryption failed"
ok "RSA decryption: PKCS#1 v1.5 and OAEP (SHA-1/256/384/512, label) of OpenSSL ciphertexts"

# Implicit rejection: a ciphertext whose padding is wrong decrypts, to a synthetic message
# that depends on the ciphertext only (the same twice), never to an error.
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -in "$WORK/secret" -out "$WORK/ct"
head -c 255 /dev/urandom | (printf '\x00'; cat) >"$WORK/raw"  # not a PKCS#1 block: 00 xx ...
python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[1]=1; open(sys.argv[1],"wb").write(b)' "$WORK/raw"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -pkeyopt rsa_padding_mode:none \
	-in "$WORK/raw" -out "$WORK/ct.bad"
ctl key decrypt rsa2048 --mech rsa-pkcs <"$WORK/ct.bad" >"$WORK/pt1" ||
	fail "a bad padding is an error (a padding oracle)"
ctl key decrypt rsa2048 --mech rsa-pkcs <"$WORK/ct.bad" >"$WORK/pt2" || fail "second decrypt"
cmp -s "$WORK/pt1" "$WORK/pt2" || fail "the synthetic message is not deterministic"
cmp -s "$WORK/pt1" "$WORK/secret" && fail "synthetic message equals the secret"
[ "$(stat -c %s "$WORK/pt1")" -le 245 ] || fail "synthetic message longer than k-11"
ok "PKCS#1 v1.5 with a wrong padding: a deterministic synthetic message, no error (implicit rejection)"

# vhsmd keeps the raw RSA context and the implicit-rejection key with the cached private key:
# after a wrong padding the same key still decrypts a good ciphertext, OAEP (a context of its
# own per call) still works with the key whose PKCS#1 state is kept, and a fresh vhsmd, which
# derives the key again, gives the same synthetic message as the kept key did.
ctl key decrypt rsa2048 --mech rsa-pkcs <"$WORK/ct" >"$WORK/pt" || fail "decrypt after a bad padding"
cmp -s "$WORK/pt" "$WORK/secret" || fail "the kept state decrypts to other data"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa3072.pem" -in "$WORK/secret" -out "$WORK/ct3"
ctl key decrypt rsa3072 --mech rsa-pkcs <"$WORK/ct3" >"$WORK/pt" || fail "rsa3072 rsa-pkcs"
cmp -s "$WORK/pt" "$WORK/secret" || fail "rsa3072 rsa-pkcs decrypts to other data"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa3072.pem" -in "$WORK/secret" -out "$WORK/ct3o" \
	-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
ctl key decrypt rsa3072 --mech rsa-pkcs-oaep --hash sha256 <"$WORK/ct3o" >"$WORK/pt" ||
	fail "OAEP after PKCS#1 v1.5 with the same key"
cmp -s "$WORK/pt" "$WORK/secret" || fail "OAEP after PKCS#1 v1.5 decrypts to other data"
stop_daemon
start_daemon cvm
ctl key decrypt rsa2048 --mech rsa-pkcs <"$WORK/ct.bad" >"$WORK/pt3" || fail "decrypt after restart"
cmp -s "$WORK/pt1" "$WORK/pt3" || fail "a fresh vhsmd gives another synthetic message than the kept key"
ok "kept decryption state: good after bad, OAEP beside PKCS#1, the same synthetic message after a restart"

# ---- refusals ----
expect_exit 3 ctl key sign ec-p256 --mech sha256-rsa-pkcs <"$WORK/msg"
expect_out "cannot sign with an EC key"
expect_exit 3 ctl key decrypt ec-p256 --mech rsa-pkcs <"$WORK/ct"
expect_out "not for decryption"
expect_exit 3 ctl key sign rsa2048 --mech sha256-rsa-pkcs <"$WORK/msg"
expect_out "not for signing"
expect_exit 1 ctl key sign rsa3072 --mech sha256-rsa-pkcs-pss --hash sha384 <"$WORK/msg"
expect_out "invalid PSS parameters"
head -c 400 /dev/urandom >"$WORK/big"
expect_exit 3 ctl key sign rsa3072 --mech rsa-pkcs <"$WORK/big"
expect_out "signs at most 373 bytes"
expect_exit 3 ctl key decrypt rsa2048 --mech rsa-pkcs <"$WORK/big"
expect_out "must be 256 bytes"
expect_exit 3 ctl key sign ec-p256 --mech ecdsa <"$WORK/big"
expect_out "hash \(1..64 bytes\)"
ok "wrong mechanism (ENOTSUP), usage not allowed, bad PSS parameters, oversize input: refused with the cause"

before=$(wc -l <"$STATE/audit.log")
expect_exit 1 nb key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "uid $NB may not sign key pair ec-p256"
tail -n +$((before + 1)) "$STATE/audit.log" | jq -se --argjson u "$NB" \
	'any(.event == "key.sign" and .key == "ec-p256" and .uid == $u and .result != "ok")' >/dev/null ||
	fail "the refused sign is not audited"
expect_exit 0 ctl key acl ec-p256 "uid:$NB:sign"
as_user nobody "$CTL" --socket "$SOCK" key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg" >"$WORK/sig" ||
	fail "nobody cannot sign with the ACL"
expect_exit 1 nb key decrypt rsa2048 --mech rsa-pkcs <"$WORK/ct"
expect_out "uid $NB may not decrypt key pair rsa2048"
tail -n 3 "$STATE/audit.log" | jq -se --argjson u "$NB" \
	'any(.event == "key.sign" and .key == "ec-p256" and .uid == $u and .result == "ok")' >/dev/null ||
	fail "the sign is not audited"
ok "ACL: refused without it (audited), signs with sign, still no decrypt; uses are audited"

# A use after a lifecycle change, with the key pair's unsealed key and metadata cached by the
# uses before: the ACL change takes effect at once, and the older sealed file put back (which
# still names nobody) is refused as rolled back, for nobody and for root.
cp "$STATE/keypair/ec-p256.sealed" "$WORK/ec-old.sealed"
as_user nobody "$CTL" --socket "$SOCK" key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg" >/dev/null ||
	fail "nobody cannot sign with the ACL"
expect_exit 0 ctl key acl ec-p256 ""
cp "$STATE/keypair/ec-p256.sealed" "$WORK/ec-new.sealed"
expect_exit 1 nb key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "uid $NB may not sign key pair ec-p256"
cp "$WORK/ec-old.sealed" "$STATE/keypair/ec-p256.sealed"
expect_exit 1 nb key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "uid $NB may not sign key pair ec-p256"
expect_exit 1 ctl key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "rolled back|not the sealed file"
expect_exit 1 ctl key acl ec-p256 "uid:$NB:sign"
expect_out "rolled back"
cp "$WORK/ec-new.sealed" "$STATE/keypair/ec-p256.sealed" # the current file back
expect_exit 0 ctl key acl ec-p256 "uid:$NB:sign"
as_user nobody "$CTL" --socket "$SOCK" key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg" >"$WORK/sig" ||
	fail "nobody cannot sign with the ACL set again"
rs_to_der "$WORK/sig" >"$WORK/sig.der"
openssl dgst -sha256 -verify "$WORK/ec-p256.pem" -signature "$WORK/sig.der" "$WORK/msg" >/dev/null ||
	fail "the signature after the rewrite does not verify"
ok "a warm key pair: an ACL change applies at once; the older file put back is refused as rolled back (sign, acl) until the current one is back"

expect_exit 0 ctl key disable ec-p256
expect_exit 1 ctl key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "key pair ec-p256 is disabled"
expect_exit 1 nb key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "is disabled"
expect_exit 0 ctl key enable ec-p256
ctl key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg" >/dev/null || fail "enabled key does not sign"
expect_exit 0 ctl key delete ec-p256
expect_exit 1 ctl key sign ec-p256 --mech ecdsa-sha256 <"$WORK/msg"
expect_out "is deleted"
ok "disabled and deleted key pairs are refused (EKEYREVOKED); enabled again they sign"
