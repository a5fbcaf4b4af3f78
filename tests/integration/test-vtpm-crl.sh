#!/bin/bash
# The ARK's CRL on the vtpm platform, as on SNP: vhsmd's gate from a fresh HCL report checks the
# CRL in the collateral cache. A policy with require_crl refuses while no CRL is cached and
# passes once a current one is; a CRL that revokes the ASK refuses the gate whatever the policy.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a milan --measurement "$M1"
swtpm_start tpm-a
"$CTL" collateral import --dir "$WORK/cache" "$WORK"/a-certs/*.pem >/dev/null ||
	fail "collateral import"
make_crl a "$WORK/crl.der"
make_crl a "$WORK/crl-revoked.der" "$WORK/a-certs/ask.pem"
printf '{"measurements":["%s"],"require_crl":true}\n' "$M1" >"$WORK/pol-crl.json"
printf '{"measurements":["%s"]}\n' "$M1" >"$WORK/pol.json"
watch_start a tpm-a

# gate POLICY: a fresh vhsmd (same store) under POLICY, asked for its status.
gate() {
	stop_daemon
	vd tpm-a --policy "$1"
	ctl --json status >"$WORK/out" 2>&1 || true
}
passed() { [ "$(jq -r .attestation.passed "$WORK/out")" = "$1" ] || fail "gate not $1: $(cat "$WORK/out")"; }

# ---- require_crl, no CRL cached: refused, the cause named ----
mkdir -p "$STATE"
cp -a "$WORK/cache" "$STATE/collateral"
gate "$WORK/pol-crl.json"
passed false
expect_out 'crl'
expect_exit 1 ctl kek create k1
[ ! -e "$STATE/platform-root.vtpm" ] || fail "a root was made behind a refused gate"
ok "require_crl with no CRL cached: the vtpm gate refuses, names the CRL, makes no root"

# ---- a current CRL cached: passes; the root is made ----
"$CTL" collateral import --dir "$STATE/collateral" "$WORK/crl.der" >/dev/null ||
	fail "CRL import"
gate "$WORK/pol-crl.json"
passed true
expect_exit 0 ctl kek create k1
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k1 <"$WORK/dek" >"$WORK/w1" || fail "wrap"
ctl unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "unwrap"
[ -s "$STATE/platform-root.vtpm" ] || fail "no root after a passing gate"
ok "require_crl with a current CRL cached: the vtpm gate passes"

# ---- a CRL revoking the ASK: refused, also without require_crl ----
"$CTL" collateral import --dir "$STATE/collateral" "$WORK/crl-revoked.der" >/dev/null ||
	fail "revoking CRL import"
gate "$WORK/pol.json"
passed false
expect_out 'crl'
expect_exit 1 ctl unwrap <"$WORK/w1"
not_out "$(od -An -tx1 "$WORK/dek" | tr -d ' \n')"
ok "a cached CRL that revokes the ASK closes the vtpm gate"
