#!/bin/bash
# The fleet enrollment row of `make bench`, called by bench/run.sh with vhsmd already listening
# on a simulated CVM:
#   bench/fleet-enroll.sh BUILDDIR WORKDIR VHSMD-SOCKET TRUST-ROOT [--quick]
# One enrollment end to end per CVM, as an operator runs it: `vhsmctl fleet enroll` (CSR and a
# fresh report from vhsmd), `vhsm-byok fleet-sign` (report, chain, policy, freshness, CSR and
# binding verified, certificate issued) and `vhsmctl fleet install-cert` (checked, stored).
# The fleet key is made once (the first enrollment, untimed); renewals keep it, as in service.
set -euo pipefail
B=$1 WORK=$2/fleet SOCK=$3 ROOT=$4
REPS=20
[ "${5:-}" = --quick ] && REPS=5
mkdir -p "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench fleet CA" \
	-addext basicConstraints=critical,CA:TRUE -days 2 -keyout "$WORK/ca.key" \
	-out "$WORK/ca.pem" 2>/dev/null
chmod 0600 "$WORK/ca.key"
echo '{}' >"$WORK/policy.json" # the simulated CVM's measurement is not pinned: --accept-any-guest
ctl() { "$B/vhsmctl" --socket "$SOCK" "$@"; }
enroll_once() {
	ctl fleet enroll --name bench-cvm --out "$WORK/e.json" >/dev/null &&
		"$B/vhsm-byok" fleet-sign "$WORK/e.json" --policy "$WORK/policy.json" \
			--accept-any-guest --trust-root "$ROOT" --allow-test-root \
			--ca-cert "$WORK/ca.pem" --ca-key "$WORK/ca.key" --out "$WORK/c.pem" \
			--quiet 2>/dev/null &&
		ctl fleet install-cert "$WORK/c.pem" >/dev/null
}
enroll_once || { echo "fleet_enroll_ms_median: failed (the first enrollment)"; exit 1; }
us=()
for ((i = 0; i < REPS; i++)); do
	t0=${EPOCHREALTIME/./}
	enroll_once || { echo "fleet_enroll_ms_median: failed (enrollment $i)"; exit 1; }
	t1=${EPOCHREALTIME/./}
	us+=($((t1 - t0)))
done
printf '%s\n' "${us[@]}" | sort -n | awk -v n="$REPS" '{ a[NR] = $1 } END {
	m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
	printf "fleet_enroll_ms_median: %.2f ms per CVM (enroll + report + verify + sign + install;" \
		" %d runs, min %.2f, max %.2f)\n", m / 1000, n, a[1] / 1000, a[NR] / 1000 }'
