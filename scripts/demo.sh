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

step "5. A genuine AMD-signed report (tests/vectors)"
vec=${VHSM_VECTORS:-$top/tests/vectors}
"$ctl" attestation verify --report "$vec/genoa-v5-oak/report.bin" \
	--certs "$vec/genoa-v5-oak" --policy default | tail -n 4
step "6. vhsmd on the simulated CVM: attestation gate, a sealed KEK, wrap and unwrap a DEK"
"$B/vhsmd" --socket "$work/vhsmd.sock" --state-dir "$work/state" \
	--snp-device "sim:$work/cvm.json" --trust-root "$work/certs/ark.pem" --idle-timeout 0 \
	2>"$work/vhsmd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -S "$work/vhsmd.sock" ] && break; sleep 0.05; done
c() { "$ctl" --socket "$work/vhsmd.sock" "$@"; }
c status
c kek create payroll --purge-protection
head -c 64 /dev/urandom >"$work/dek"
c wrap --kek payroll --context volume-1 <"$work/dek" >"$work/dek.wrapped"
echo "wrapped a 64-byte DEK: $(stat -c %s "$work/dek.wrapped") bytes, names its KEK and version"
c unwrap --context volume-1 <"$work/dek.wrapped" | cmp - "$work/dek" && echo "unwrapped: identical"
c kek rotate payroll >/dev/null && echo "rotated payroll to version 2; the old wrapped DEK still unwraps:"
c unwrap --context volume-1 <"$work/dek.wrapped" | cmp - "$work/dek" && echo "  identical"
c kek list
c audit --verify

step "7. The same sealed KEK on a CVM with another measurement: refused, with the reason"
kill "$daemon"; wait "$daemon" 2>/dev/null || true
cp "$work/cvm.json" "$work/cvm2.json"
"$sim" set "$work/cvm2.json" --measurement "$(printf 'b6%.0s' $(seq 48))" >/dev/null
"$B/vhsmd" --socket "$work/vhsmd.sock" --state-dir "$work/state" \
	--snp-device "sim:$work/cvm2.json" --trust-root "$work/certs/ark.pem" --idle-timeout 0 \
	2>>"$work/vhsmd.log" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/vhsmd.sock" ] && [ -n "$(c status 2>/dev/null)" ] && break; sleep 0.05; done
if c unwrap --context volume-1 <"$work/dek.wrapped" >/dev/null; then
	echo "demo: a KEK unsealed under another measurement" >&2; exit 1
fi
printf '\ndemo: OK\n'
