#!/bin/bash
# The collateral cache: a bare-metal host sends no certificates, so vhsmd's gate refuses until
# `vhsmctl collateral fetch` has cached the VCEK, the chain and the ARK's CRL from AMD KDS
# (recorded answers served on 127.0.0.1); after that attestation needs no network. A CRL that
# revokes the ASK refuses the gate and vhsm-byok; require_crl makes a missing CRL refuse.
# Wrong answers (another chip's VCEK, HTTP 429, an oversize body, THIM JSON) are handled.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v python3 >/dev/null || skip "python3 not installed"
BYOK=$B/vhsm-byok
CACHE=$WORK/collateral

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1" --host-certs none
printf '{"measurements":["%s"]}\n' "$M1" >"$WORK/pol.json"
printf '{"measurements":["%s"],"require_crl":true}\n' "$M1" >"$WORK/pol-crl.json"

# ---- argument handling ----
expect_exit 2 ctl collateral
expect_exit 2 ctl collateral frob
expect_exit 2 ctl collateral import
expect_exit 2 ctl collateral list extra
expect_exit 2 ctl collateral fetch --product sparc
expect_exit 0 ctl collateral fetch --help
expect_out 'KDS'
expect_exit 0 ctl collateral list --dir "$WORK/nothing"
expect_out 'no collateral cached'
expect_exit 2 "$BYOK" fetch-collateral
expect_out 'collateral-dir'
ok "usage errors of the collateral verbs"

# ---- a bare-metal host: no certificates with the report, nothing cached: refused ----
start_daemon a --policy "$WORK/pol.json" --collateral-dir "$CACHE"
expect_exit 1 ctl status
expect_out 'no_vcek'
expect_out 'vhsmctl collateral fetch'
expect_exit 1 ctl kek create k1
ok "without certificates from the host or the cache the gate refuses and says what to run"

# ---- recorded KDS answers ----
ctl attestation report --out "$WORK/r.bin" --certs-out "$WORK/r-certs.bin" >/dev/null
HWID=$(xxd -p -s $((0x1A0)) -l 64 "$WORK/r.bin" | tr -d '\n')
[ "$(tr -d '\0' <"$WORK/r-certs.bin" | wc -c)" -eq 0 ] || fail "the host sent certificates"
KDS=$WORK/kds
mkdir -p "$KDS/vcek/v1/Genoa" "$KDS/bad/vcek/v1/Genoa" "$KDS/busy/vcek/v1/Genoa" \
	"$KDS/big/vcek/v1/Genoa" "$KDS/metadata/THIM/amd"
cat "$WORK/a-certs/ask.pem" "$WORK/a-certs/ark.pem" >"$KDS/vcek/v1/Genoa/cert_chain"
cp "$WORK/a-certs/vcek.der" "$KDS/vcek/v1/Genoa/$HWID"

make_crl a "$KDS/vcek/v1/Genoa/crl"
make_crl a "$WORK/crl-revoked.der" "$WORK/a-certs/ask.pem"

# Another chip's VCEK under this chip's hwID, HTTP 429, and a body past the size cap.
make_cvm other genoa
cp "$KDS/vcek/v1/Genoa/cert_chain" "$KDS/vcek/v1/Genoa/crl" "$KDS/bad/vcek/v1/Genoa/"
cp "$WORK/other-certs/vcek.der" "$KDS/bad/vcek/v1/Genoa/$HWID"
echo 429 >"$KDS/busy/vcek/v1/Genoa/cert_chain.status"
head -c $((2 * 1024 * 1024)) /dev/zero >"$KDS/big/vcek/v1/Genoa/cert_chain"

python3 "$top/tests/integration/kds-server.py" "$KDS" "$WORK/port" "$WORK/kds.log" &
SERVER=$!
on_exit "kill $SERVER 2>/dev/null"
for _ in $(seq 200); do [ -s "$WORK/port" ] && break; sleep 0.05; done
[ -s "$WORK/port" ] || fail "the KDS stand-in did not start"
URL=http://127.0.0.1:$(cat "$WORK/port")

expect_exit 1 ctl collateral fetch --dir "$CACHE" --kds-url "$URL/bad"
expect_out 'another chip or TCB'
expect_exit 3 ctl collateral fetch --dir "$CACHE" --kds-url "$URL/busy"
expect_out 'HTTP status 429 \(rate-limited'
expect_exit 3 ctl collateral fetch --dir "$CACHE" --kds-url "$URL/big"
expect_out 'too large'
expect_exit 3 ctl collateral fetch --dir "$CACHE" --kds-url "$URL/missing"
expect_out 'HTTP status 404'
expect_exit 2 ctl collateral fetch --dir "$CACHE" --kds-url "file:///etc" --report "$WORK/nothing"
expect_exit 3 ctl collateral fetch --dir "$CACHE" --kds-url "file:///etc"
expect_out 'only http:// and https://'
ok "KDS answers for another chip, rate limits, oversize bodies and other URLs are refused"

rm -rf "$CACHE"
expect_exit 0 ctl collateral fetch --dir "$CACHE" --kds-url "$URL"
expect_out '1 VCEK, 1 ASK, 0 ASVK, 1 ARK, 1 CRL'
grep -q "^/vcek/v1/Genoa/$HWID?blSPL=[0-9]*&teeSPL=[0-9]*&snpSPL=[0-9]*&ucodeSPL=[0-9]* " \
	"$WORK/kds.log" || { cat "$WORK/kds.log" >&2; fail "VCEK URL"; }
expect_exit 0 ctl --json collateral list --dir "$CACHE"
jq -e '[.[].kind] | sort == ["ark", "ask", "crl", "vcek"]' "$WORK/out" >/dev/null ||
	fail "collateral list --json"
ok "collateral fetch caches the VCEK for this chip and TCB, the chain and the CRL"

# ---- boot without the network: the cache is enough ----
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
stop_daemon
start_daemon a --policy "$WORK/pol.json" --collateral-dir "$CACHE"
expect_exit 0 ctl status
expect_out 'certificates: VCEK from the collateral cache, ASK from the collateral cache; AMD CRL from the collateral cache'
expect_exit 0 ctl --json status
jq -e '.attestation.passed and (.attestation.collateral | test("AMD CRL from the collateral cache"))' \
	"$WORK/out" >/dev/null || fail "status --json collateral"
expect_exit 0 ctl kek create k1
ok "with the cache, vhsmd attests and releases without any network"

# ---- the ARK's CRL revokes the ASK: the gate refuses ----
expect_exit 0 ctl collateral import --dir "$CACHE" "$WORK/crl-revoked.der"
stop_daemon
start_daemon a --policy "$WORK/pol.json" --collateral-dir "$CACHE"
expect_exit 1 ctl status
expect_out 'fail +crl +the ARK.s CRL revokes this ASK'
head -c 32 /dev/urandom >"$WORK/dek"
expect_exit 1 ctl wrap --kek k1 <"$WORK/dek"
expect_out 'crl'

ok "a cached CRL that revokes the ASK refuses vhsmd's gate"

# ---- no CRL: the policy decides ----
rm "$CACHE/genoa/crl.der"
stop_daemon
start_daemon a --policy "$WORK/pol.json" --collateral-dir "$CACHE"
expect_exit 0 ctl status
expect_out 'no AMD CRL cached'
stop_daemon
start_daemon a --policy "$WORK/pol-crl.json" --collateral-dir "$CACHE"
expect_exit 1 ctl status
expect_out 'fail +crl +no CRL given, and one is required'
ok "without a CRL the gate passes and says so, or refuses when the policy requires one"

# ---- THIM JSON (Azure) through --thim, with the Metadata header ----
python3 - "$WORK" "$KDS/metadata/THIM/amd/certification" <<'EOF'
import json, sys
w = sys.argv[1]
json.dump({"vcekCert": open(w + "/a-certs/vcek.pem").read(), "tcbm": "0",
           "certificateChain": open(w + "/a-certs/ask.pem").read() + open(w + "/a-certs/ark.pem").read(),
           "cacheControl": "86400"}, open(sys.argv[2], "w"))
EOF
python3 "$top/tests/integration/kds-server.py" "$KDS" "$WORK/port2" "$WORK/kds.log" &
SERVER=$!
on_exit "kill $SERVER 2>/dev/null"
for _ in $(seq 200); do [ -s "$WORK/port2" ] && break; sleep 0.05; done
URL=http://127.0.0.1:$(cat "$WORK/port2")
expect_exit 0 ctl collateral fetch --dir "$WORK/thim" --thim="$URL/metadata/THIM/amd/certification"
expect_out '1 VCEK, 1 ASK, 0 ASVK, 1 ARK, 0 CRL'
grep -q '^/metadata/THIM/amd/certification? metadata=true$' "$WORK/kds.log" ||
	fail "THIM request without Metadata: true"
base64 -w 76 "$KDS/metadata/THIM/amd/certification" >"$WORK/host-amd-cert-base64"
expect_exit 0 ctl collateral import --dir "$WORK/aci" "$WORK/host-amd-cert-base64"
expect_out '1 VCEK, 1 ASK, 0 ASVK, 1 ARK, 0 CRL'
printf 'garbage' >"$WORK/garbage"
expect_exit 1 ctl collateral import --dir "$WORK/aci" "$WORK/garbage"
expect_out 'not a certificate, CRL, THIM JSON'
ok "THIM JSON (fetched with Metadata: true) and ACI's host-amd-cert-base64 fill the cache"

# ---- vhsm-byok: the customer's cache supplies the CRL ----
stop_daemon
start_daemon a --policy "$WORK/pol.json" --collateral-dir "$CACHE"
ctl collateral import --dir "$CACHE" "$KDS/vcek/v1/Genoa/crl" >/dev/null
ctl kek export-exchange-key k2 --out "$WORK/b.json" || fail "export-exchange-key"
expect_exit 0 "$BYOK" fetch-collateral "$WORK/b.json" --collateral-dir "$WORK/cust" \
	--kds-url "$URL"
expect_out 'cached: 1 VCEK, 1 ASK, 0 ASVK, 1 ARK, 1 CRL'
V=(verify "$WORK/b.json" --policy "$WORK/pol.json" --trust-root "$WORK/a-certs/ark.pem")
expect_exit 1 "$BYOK" "${V[@]}"
expect_out 'no VCEK/VLEK in the certificate table'
expect_exit 0 "$BYOK" "${V[@]}" --collateral-dir "$WORK/cust" --require-crl
expect_out 'pass +crl +ASK not revoked'
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
cp "$WORK/crl-revoked.der" "$WORK/cust/genoa/crl.der"
expect_exit 1 "$BYOK" "${V[@]}" --collateral-dir "$WORK/cust"
expect_out 'fail +crl +the ARK.s CRL revokes this ASK'
head -c 32 /dev/urandom >"$WORK/kek"
expect_exit 1 "$BYOK" wrap --bundle "$WORK/b.json" --policy "$WORK/pol.json" \
	--trust-root "$WORK/a-certs/ark.pem" --allow-test-root --collateral-dir "$WORK/cust" \
	--key-file "$WORK/kek" --out "$WORK/k.byok"
[ ! -e "$WORK/k.byok" ] || fail "wrapped under a revoked ASK"
ok "vhsm-byok fetches the customer's collateral once and refuses a revoked ASK from the cache"
