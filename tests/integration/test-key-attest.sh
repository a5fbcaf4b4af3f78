#!/bin/bash
# Key attestation: `vhsmctl key attest` gives a fresh report whose REPORT_DATA binds the key
# pair's public key and the nonce; `vhsm-byok verify-key` on "another machine" (nothing but
# the file, the policy and the trust root) accepts it, and refuses a tampered binding, another
# key, a stale nonce, a wrong measurement in the policy and an unpinned policy.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"
BYOK=$B/vhsm-byok
NB=$(id -u nobody)

M1=$(printf 'a1%.0s' $(seq 48)); M2=$(printf 'b2%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol-a.json"
printf '{"version":1,"measurements":["%s"]}\n' "$M2" >"$WORK/pol-b.json"
echo '{}' >"$WORK/pol-any.json"
TR=(--trust-root "$WORK/a-certs/ark.pem" --allow-test-root)
start_daemon a
verify() { "$BYOK" verify-key "$@" "${TR[@]}"; }

expect_exit 0 ctl key create tls --alg ec-p256 --usage sign --pubkey-out "$WORK/tls.der" \
	--cert-out "$WORK/tls.crt"
expect_exit 0 ctl key create other --alg rsa2048 --usage decrypt --pubkey-out "$WORK/other.der"
NONCE=$(printf '7e%.0s' $(seq 32))
expect_exit 0 ctl key attest tls --nonce "$NONCE" --out "$WORK/att.json"
jq -e '.format == "vhsm-key-attestation-v1" and .name == "tls"' "$WORK/att.json" >/dev/null ||
	fail "attestation file: $(cat "$WORK/att.json")"
expect_exit 0 verify "$WORK/att.json" --policy "$WORK/pol-a.json" --nonce "$NONCE" \
	--expect-key "$WORK/tls.der"
expect_out "pass.*key_binding"
expect_out "pass.*freshness"
expect_out "pass.*key_match"
expect_out "generated in and is held by a vhsmd"
expect_exit 0 verify "$WORK/att.json" --policy "$WORK/pol-a.json" --nonce "$NONCE" \
	--expect-key "$WORK/tls.crt"
ok "key attest + vhsm-byok verify-key: report, chain, policy, binding, nonce, key (SPKI or certificate)"

# ---- refusals ----
expect_exit 1 verify "$WORK/att.json" --policy "$WORK/pol-a.json" --nonce "$NONCE" \
	--expect-key "$WORK/other.der"
expect_out "fail.*key_match"
expect_exit 1 verify "$WORK/att.json" --policy "$WORK/pol-a.json" \
	--nonce "$(printf '11%.0s' $(seq 32))"
expect_out "fail.*freshness"
# another key's SPKI put into the file: the report does not bind it
jq --arg s "$(base64 -w0 <"$WORK/other.der")" '.spki = $s' "$WORK/att.json" >"$WORK/swap.json"
expect_exit 1 verify "$WORK/swap.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
expect_out "fail.*key_binding"
# the nonce in the file changed to match another verifier's
jq --arg n "$(printf '11%.0s' $(seq 32))" '.nonce = $n' "$WORK/att.json" >"$WORK/nonce.json"
expect_exit 1 verify "$WORK/nonce.json" --policy "$WORK/pol-a.json" --nonce "$(printf '11%.0s' $(seq 32))"
expect_out "fail.*key_binding"
# a flipped bit in the report's REPORT_DATA: the signature fails
python3 - "$WORK/att.json" "$WORK/flip.json" <<'PY'
import base64, json, sys
a = json.load(open(sys.argv[1])); r = bytearray(base64.b64decode(a["report"])); r[0x50] ^= 1
a["report"] = base64.b64encode(bytes(r)).decode(); json.dump(a, open(sys.argv[2], "w"))
PY
expect_exit 1 verify "$WORK/flip.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
expect_out "fail.*report_sig"
expect_exit 1 verify "$WORK/att.json" --policy "$WORK/pol-b.json" --nonce "$NONCE"
expect_out "fail.*measurement"
expect_exit 1 verify "$WORK/att.json" --policy "$WORK/pol-any.json" --nonce "$NONCE"
expect_out "fail.*pinning"
expect_exit 1 "$BYOK" verify-key "$WORK/att.json" --policy "$WORK/pol-a.json" --nonce "$NONCE"
expect_out "trust_root|vek_by_ask|ark"
echo '{"format":"other"}' >"$WORK/junk.json"
expect_exit 1 verify "$WORK/junk.json" --policy "$WORK/pol-a.json"
expect_exit 2 "$BYOK" verify-key "$WORK/att.json"
ok "refused: another key, a stale nonce, a swapped SPKI, a changed nonce, a modified report, a wrong measurement, an unpinned policy, no trusted root, junk"

# ---- who may attest ----
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" key attest tls --out /dev/null
expect_out "uid $NB may not read key pair tls"
expect_exit 0 ctl key acl tls "uid:$NB:sign"
mkdir -m 0777 "$WORK/nb"
expect_exit 0 as_user nobody "$CTL" --socket "$SOCK" key attest tls --out "$WORK/nb/att.json"
expect_exit 0 verify "$WORK/nb/att.json" --policy "$WORK/pol-a.json" --expect-key "$WORK/tls.der"
expect_out "warn.*freshness"
expect_exit 2 ctl key attest tls
expect_out "--out"
expect_exit 2 ctl key attest tls --nonce zz --out "$WORK/x"
ok "key attest follows the key ACL; without a nonce verify-key warns about freshness"
