#!/bin/bash
# A silent paravisor on the vtpm platform: vhsmd waits up to ATTEST_HCL_WAIT_MS (10 s) for the
# HCL report answering a request, and answers nobody else meanwhile. The report budgets count
# requests, not time: without more, one unprivileged ATTESTATION_REPORT every 10 s (well inside
# its budget) keeps vhsmd busy for every caller. After one wait ran out, a non-administrator's
# request is refused at once for a minute; an administrator's still waits.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"

make_cvm a milan
swtpm_start tpm-a
mkdir -p "$STATE"
for d in "$WORK/cache" "$STATE/collateral"; do
	"$CTL" collateral import --dir "$d" "$WORK"/a-certs/*.pem >/dev/null || fail "collateral import"
done
watch_start a tpm-a
vd tpm-a --platform vtpm
N1=$(printf '11%.0s' $(seq 32))
expect_exit 0 ctl attestation report --nonce "$N1" --out "$WORK/r0"
ok "a paravisor that answers: evidence"

watch_stop
# ms CMD...: runs CMD, prints how long it took in milliseconds.
ms() { local t=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - t) / 1000000)); }
nb_report() { as_user nobody "$CTL" --socket "$SOCK" attestation report --out /dev/null; }
t=$(ms nb_report)
[ "$t" -ge 5000 ] || fail "the first request did not wait for the paravisor ($t ms)"
for i in 1 2 3; do
	t=$(ms nb_report)
	[ "$t" -lt 3000 ] || fail "request $i after a silent paravisor held vhsmd for $t ms"
done
t=$(ms ctl kek list)
[ "$t" -lt 3000 ] || fail "an administrator waited $t ms"
expect_exit 3 as_user nobody "$CTL" --socket "$SOCK" attestation report --out /dev/null
expect_out "does not wait for it again for a non-administrator"
t=$(ms ctl attestation report --out /dev/null)
[ "$t" -ge 5000 ] || fail "an administrator's request did not wait for the paravisor ($t ms)"
ok "after one wait ran out, unprivileged requests do not hold vhsmd for the paravisor again"
