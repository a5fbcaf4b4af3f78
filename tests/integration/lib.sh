# Shared helpers for integration tests (sourced). Each test is a bash script that exits 0 on
# success, 77 when it must be skipped (with the reason as its last line), anything else on
# failure. Run through tests/check.sh, which sets VHSM_BUILDDIR and VHSM_VECTORS.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${VHSM_BUILDDIR:-$top/build}
VEC=${VHSM_VECTORS:-$top/../shared/vectors}
export VHSM_SNP_SIM_MODULE=${VHSM_SNP_SIM_MODULE:-$B/vhsm-snp-sim.so}
CTL=$B/vhsmctl
SIM=$B/vhsm-snp-sim
WORK=$(mktemp -d /tmp/vhsm-it.XXXXXX)
_cleanups=()
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" || true; done
	rm -rf "$WORK"
}
trap _run_cleanups EXIT
on_exit() { _cleanups+=("$*"); }

_checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
ok() { _checks=$((_checks + 1)); echo "ok $_checks - $*"; }

# expect_exit CODE CMD...: runs CMD, stdout+stderr to $WORK/out, asserts its exit status.
expect_exit() {
	local want=$1 rc=0; shift
	"$@" >"$WORK/out" 2>&1 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		cat "$WORK/out" >&2
		fail "expected exit $want, got $rc: $*"
	fi
}

# expect_out REGEX: the last command's output matches REGEX (grep -E).
expect_out() {
	grep -qE -- "$1" "$WORK/out" || { cat "$WORK/out" >&2; fail "output lacks /$1/"; }
}

# not_out REGEX: the last command's output does not match.
not_out() {
	if grep -qE -- "$1" "$WORK/out"; then cat "$WORK/out" >&2; fail "output has /$1/"; fi
}
