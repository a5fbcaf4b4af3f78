#!/bin/bash
# vhsm benchmarks: prints "name: value unit" lines on stdout (progress on stderr).
#   bench/run.sh [--quick]      (make bench runs it without --quick; see docs/performance.md)
# Uses the binaries in $VHSM_BUILDDIR (default build/) and the genuine Genoa report in
# $VHSM_VECTORS/genoa-v5-oak (default ../shared/vectors). Starts its own vhsmd on a simulated
# CVM in a temporary directory, exactly like tests/integration/lib.sh, and stops it on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${VHSM_BUILDDIR:-$top/build}
VEC=${VHSM_VECTORS:-$(cd "$top/.." && pwd)/shared/vectors}
export VHSM_SNP_SIM_MODULE=${VHSM_SNP_SIM_MODULE:-$B/vhsm-snp-sim.so}
export VHSMD_LOG_STDERR=1
LIMIT=${VHSM_BENCH_TIMEOUT:-150} # seconds for the whole benchmark binary

quick=()
case ${1:-} in
--quick) quick=(--quick) ;;
"") ;;
-h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

for f in vhsm-bench vhsmd vhsmctl vhsm-snp-sim vhsm-snp-sim.so; do
	[ -e "$B/$f" ] || { echo "bench: $B/$f is missing; run make bench" >&2; exit 1; }
done
vec=$VEC/genoa-v5-oak
[ -f "$vec/report.bin" ] || { echo "bench: no test vector in $vec (set VHSM_VECTORS)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/vhsm-bench.XXXXXX)
SOCK=$WORK/vhsmd.sock
DAEMON_PID=
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}
cleanup() {
	stop_daemon
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (numbers are noisy when" \
	"the machine is busy); simulated CVM and vhsmd in $WORK" >&2
"$B/vhsm-snp-sim" init "$WORK/cvm.json" --product genoa >/dev/null
"$B/vhsm-snp-sim" certs "$WORK/cvm.json" "$WORK/certs" >/dev/null
mkdir -p "$WORK/state"
daemon_args=(--state-dir "$WORK/state" --snp-device "sim:$WORK/cvm.json"
	--trust-root "$WORK/certs/ark.pem" --idle-timeout 0)
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate --seqpacket -l "$SOCK" -E VHSMD_LOG_STDERR=1 \
		-E VHSM_SNP_SIM_MODULE="$VHSM_SNP_SIM_MODULE" -E ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		-- "$B/vhsmd" "${daemon_args[@]}" >>"$WORK/daemon.log" 2>&1 &
else
	"$B/vhsmd" --socket "$SOCK" "${daemon_args[@]}" >>"$WORK/daemon.log" 2>&1 &
fi
DAEMON_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$WORK/daemon.log" >&2; echo "bench: vhsmd did not start" >&2; exit 1; }

ctl() { "$B/vhsmctl" --socket "$SOCK" "$@"; }
ctl kek create bench-kek >/dev/null
head -c 64 /dev/urandom >"$WORK/dek"
ctl wrap --kek bench-kek --context bench-volume <"$WORK/dek" >"$WORK/dek.wrapped"

rc=0
timeout --kill-after=5 "$LIMIT" "$B/vhsm-bench" "${quick[@]}" --vectors "$vec" \
	--sim-state "$WORK/cvm.json" --socket "$SOCK" --wrapped "$WORK/dek.wrapped" \
	--dek "$WORK/dek" --context bench-volume --vhsmctl "$B/vhsmctl" || rc=$?
if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
	tail -n 20 "$WORK/daemon.log" >&2
	echo "bench: vhsmd died during the benchmark" >&2
	rc=1
fi
stop_daemon
if grep -q "ERROR: \(Address\|Leak\)Sanitizer" "$WORK/daemon.log"; then
	cat "$WORK/daemon.log" >&2
	echo "bench: sanitizer report from vhsmd" >&2
	rc=1
fi
[ "$rc" -eq 0 ] || { echo "bench: FAILED (exit $rc)" >&2; exit "$rc"; }
