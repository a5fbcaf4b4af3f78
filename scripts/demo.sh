#!/bin/bash
# End-to-end demonstration on the built-in SNP simulator (no SEV-SNP hardware needed):
# a simulated confidential VM produces an attestation report through the same device layer
# vhsmd uses, and vhsmctl verifies it - once trusting the simulator's root explicitly, once
# without (which must fail: simulated evidence never passes as AMD's).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${VHSM_BUILDDIR:-$top/build}
export VHSM_SNP_SIM_MODULE=${VHSM_SNP_SIM_MODULE:-$B/vhsm-snp-sim.so}
work=$(mktemp -d /tmp/vhsm-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
sim=$B/vhsm-snp-sim
ctl=$B/vhsmctl

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Launch a simulated Genoa CVM (measurement and TCB chosen by the 'host')"
"$sim" init "$work/cvm.json" --product genoa \
	--measurement "$(printf 'a5%.0s' $(seq 48))" \
	--tcb bl=10,tee=0,snp=25,ucode=84
"$sim" show "$work/cvm.json"

step "2. The guest asks for an attestation report (SNP_GET_EXT_REPORT via the simulator)"
nonce=$(od -An -tx1 -N64 /dev/urandom | tr -d ' \n')
"$sim" report "$work/cvm.json" --report-data "$nonce" --out "$work/report.bin" \
	--certs-dir "$work/certs"
"$ctl" attestation show --report "$work/report.bin" | head -n 12

step "3. A verifier checks it, trusting the simulator's ARK explicitly"
"$ctl" attestation verify --report "$work/report.bin" --certs "$work/certs" \
	--trust-root "$work/certs/ark.pem" --policy default

step "4. Without --trust-root the same evidence is rejected (only AMD roots are trusted)"
if "$ctl" attestation verify --report "$work/report.bin" --certs "$work/certs" >"$work/out" 2>&1; then
	cat "$work/out"; echo "demo: simulated evidence verified without --trust-root" >&2; exit 1
fi
grep -E 'fail|result' "$work/out"

step "5. A genuine AMD-signed report (if ../shared/vectors is present)"
vec=${VHSM_VECTORS:-$top/../shared/vectors}
if [ -d "$vec/genoa-v5-oak" ]; then
	"$ctl" attestation verify --report "$vec/genoa-v5-oak/report.bin" \
		--certs "$vec/genoa-v5-oak" --policy default | tail -n 4
else
	echo "(vectors not found; skipped)"
fi
printf '\ndemo: OK\n'
