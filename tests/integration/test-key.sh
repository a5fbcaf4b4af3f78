#!/bin/bash
# Key pairs in vhsmd (vhsmctl key create|list|show): each algorithm, the usage, KEY_ID as OpenSC
# computes it, the self-signed certificate with its attestation binding extension, sealed
# storage under the store manifest, the per-key ACL and its one refusal, and the audit records.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"
nb() { as_user nobody "$CTL" --socket "$SOCK" "$@"; }
NB=$(id -u nobody)

make_cvm cvm genoa
start_daemon cvm
OID_ARC=$(sed -n 's/^#define KEY_ATTEST_ARC "\(.*\)"/\1/p' "$top/lib/keyattest.h")
[ -n "$OID_ARC" ] || fail "no KEY_ATTEST_ARC in lib/keyattest.h"

# ---- every algorithm: public key, KEY_ID, certificate ----
for alg in rsa2048 rsa3072 rsa4096 ec-p256 ec-p384; do
	usage=sign
	case $alg in rsa*) usage=sign,decrypt ;; esac
	expect_exit 0 ctl key create "k-$alg" --alg "$alg" --usage "$usage" \
		--cert-out "$WORK/$alg.crt" --pubkey-out "$WORK/$alg.spki" --json
	jq -e --arg a "$alg" '.alg == $a and .state == "enabled"' "$WORK/out" >/dev/null ||
		fail "$alg: create result: $(cat "$WORK/out")"
	id=$(jq -r .id "$WORK/out")
	# OpenSC's CKA_ID: SHA-1 of the RSA modulus (unsigned big-endian) or of the EC point.
	if [[ $alg == rsa* ]]; then
		bits=$(openssl rsa -pubin -inform DER -in "$WORK/$alg.spki" -noout -modulus |
			sed 's/^Modulus=//' | xxd -r -p | sha1sum | cut -c1-40)
		openssl x509 -inform DER -in "$WORK/$alg.crt" -noout -text >"$WORK/crt.txt"
		grep -q "Key Encipherment" "$WORK/crt.txt" || fail "$alg: no keyEncipherment"
	else
		# the point is the BIT STRING at the end of the SPKI
		n=$( [ $alg = ec-p256 ] && echo 65 || echo 97 )
		bits=$(tail -c "$n" "$WORK/$alg.spki" | sha1sum | cut -c1-40)
		openssl x509 -inform DER -in "$WORK/$alg.crt" -noout -text >"$WORK/crt.txt"
		grep -q "Key Encipherment" "$WORK/crt.txt" && fail "$alg: keyEncipherment on a sign key"
	fi
	[ "$id" = "$bits" ] || fail "$alg: KEY_ID $id is not SHA-1 of the public key bits ($bits)"
	grep -q "Digital Signature" "$WORK/crt.txt" || fail "$alg: no digitalSignature"
	grep -q "Subject: CN = k-$alg" "$WORK/crt.txt" || fail "$alg: subject"
	grep -q "Issuer: CN = k-$alg" "$WORK/crt.txt" || fail "$alg: issuer"
	grep -q "$OID_ARC.1:" "$WORK/crt.txt" || fail "$alg: no attestation binding extension"
	# self-signed by the key itself
	openssl x509 -inform DER -in "$WORK/$alg.crt" -out "$WORK/$alg.pem"
	openssl verify -partial_chain -check_ss_sig -CAfile "$WORK/$alg.pem" "$WORK/$alg.pem" \
		>/dev/null 2>&1 || fail "$alg: certificate signature does not verify"
	cmp -s <(openssl x509 -in "$WORK/$alg.pem" -noout -pubkey | openssl pkey -pubin -outform DER) \
		"$WORK/$alg.spki" || fail "$alg: certificate key is not the key pair's"
done
ok "RSA 2048/3072/4096 and EC P-256/P-384: KEY_ID = SHA-1 of the public key bits, self-signed certificate with keyUsage and the binding extension"

# The binding extension: DER SEQUENCE { 1, SHA-256(SPKI), report } with REPORT_DATA =
# SHA-512(label || 0 || SHA-256(SPKI)).
openssl asn1parse -inform DER -in "$WORK/ec-p256.crt" >"$WORK/asn1" 2>&1
off=$(grep -A1 "$OID_ARC.1" "$WORK/asn1" | tail -n1 | sed 's/^ *\([0-9]*\):.*/\1/')
openssl asn1parse -inform DER -in "$WORK/ec-p256.crt" -strparse "$off" -noout -out "$WORK/binding"
[ "$(stat -c %s "$WORK/binding")" -eq 1229 ] || fail "binding is $(stat -c %s "$WORK/binding") bytes"
spki_hash=$(sha256sum <"$WORK/ec-p256.spki" | cut -c1-64)
[ "$(tail -c +10 "$WORK/binding" | head -c 32 | xxd -p -c 64)" = "$spki_hash" ] ||
	fail "binding does not carry SHA-256 of the SPKI"
tail -c 1184 "$WORK/binding" >"$WORK/binding.report"
want=$( (printf 'vhsm-key-attest-v1\0'; xxd -r -p <<<"$spki_hash") | sha512sum | cut -c1-128)
[ "$(dd if="$WORK/binding.report" bs=1 skip=80 count=64 2>/dev/null | xxd -p -c 64)" = "$want" ] ||
	fail "the binding's report does not bind the public key"
ok "certificate extension carries SHA-256(SPKI) and a report whose REPORT_DATA binds it"

# ---- invalid requests ----
expect_exit 1 ctl key create bad --alg rsa1024 --usage sign
expect_out "rsa2048, rsa3072, rsa4096"
expect_exit 1 ctl key create bad --alg ec-p256 --usage decrypt
expect_out "cannot decrypt \(RSA only\)"
expect_exit 2 ctl key create bad --alg ec-p256
expect_out "--usage"
expect_exit 2 ctl key create "bad/name" --alg ec-p256 --usage sign
expect_out "without '/'"
expect_exit 1 ctl key create bad --alg ec-p256 --usage sign --acl "uid:1:wrap"
expect_out "invalid ACL"
expect_exit 1 ctl key create k-ec-p256 --alg ec-p256 --usage sign
expect_out "already exists"
expect_exit 2 ctl key create bad --alg ec-p256 --usage verify
expect_out "unknown usage"
ok "bad algorithm, usage, name, ACL and an existing name are refused with the cause"

# ---- listing, ACL, the one refusal ----
expect_exit 0 ctl key list --json
[ "$(jq length "$WORK/out")" -eq 5 ] || fail "admin lists $(jq length "$WORK/out") key pairs"
jq -e 'all(has("spki") | not)' "$WORK/out" >/dev/null || fail "listing carries public keys"
expect_exit 0 nb key list --json
[ "$(jq length "$WORK/out")" -eq 0 ] || fail "nobody sees key pairs without an ACL"
expect_exit 1 nb key show k-ec-p256
expect_out "uid $NB may not read key pair k-ec-p256"
expect_exit 1 nb key show no-such-key
expect_out "uid $NB may not read key pair no-such-key"
expect_exit 1 ctl key show no-such-key
expect_out "no key pair named no-such-key"
expect_exit 0 ctl key acl k-ec-p256 "uid:$NB:sign"
expect_exit 0 nb key list --json
[ "$(jq -r '.[].name' "$WORK/out")" = k-ec-p256 ] || fail "nobody does not see its key pair"
mkdir -m 0777 "$WORK/nb"
expect_exit 0 nb key show k-ec-p256 --json --pubkey-out "$WORK/nb/nb.spki"
cmp -s "$WORK/nb/nb.spki" "$WORK/ec-p256.spki" || fail "key show public key differs"
jq -e '.acl == "uid:'"$NB"':sign"' "$WORK/out" >/dev/null || fail "ACL not shown: $(cat "$WORK/out")"
expect_exit 1 nb key create nbkey --alg ec-p256 --usage sign
expect_out "requires root or the vhsm group"
expect_exit 1 nb key disable k-ec-p256
expect_out "uid $NB may not admin key pair k-ec-p256"
ok "listing and show follow the key ACL; one refusal for absent and forbidden key pairs"

grep -q '"event":"key.create"' "$STATE/audit.log" || fail "no key.create audit record"
tail -n 20 "$STATE/audit.log" | jq -se --argjson u "$NB" \
	'any(.event == "key.disable" and .uid == $u and .result != "ok")' >/dev/null ||
	fail "the refused disable is not audited"
ok "creation and refusals are in the audit chain"

# ---- sealed at rest, under the manifest ----
[ -f "$STATE/keypair/k-ec-p256.sealed" ] || fail "no sealed file"
grep -qa "PRIVATE" "$STATE/keypair/k-ec-p256.sealed" && fail "sealed file holds a PEM key"
head -n 1 "$STATE/store.manifest" | jq -e 'any(.files[]; .file == "keypair/k-ec-p256.sealed")' \
	>/dev/null || fail "the store manifest does not list the key pair"
cp "$STATE/keypair/k-ec-p256.sealed" "$WORK/old.sealed"
expect_exit 0 ctl key acl k-ec-p256 ""
cp "$WORK/old.sealed" "$STATE/keypair/k-ec-p256.sealed"
expect_exit 1 nb key show k-ec-p256
expect_exit 1 ctl key show k-ec-p256
expect_out "rolled back|not the sealed file"
ok "an older sealed file put back (undoing an ACL change) is refused as rolled back"

# ---- every verb: no arguments, a bad option, --help ----
for v in create list show sign decrypt disable enable delete recover purge acl cert attest; do
	if [ $v != list ]; then
		expect_exit 2 ctl key $v </dev/null
	fi
	expect_exit 2 ctl key $v --bogus </dev/null
	expect_exit 0 ctl key $v --help
	expect_out "Usage: vhsmctl key"
done
expect_exit 2 ctl key list extra
expect_exit 0 ctl key --help
expect_out "attest"
expect_exit 2 ctl key sign k-ec-p256 </dev/null
expect_out "--mech is required"
expect_exit 2 ctl key sign k-ec-p256 --mech nope </dev/null
expect_out "unknown mechanism"
ok "every key verb: usage errors exit 2, --help exits 0"
