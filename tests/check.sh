#!/bin/bash
# Runs the test tiers and ends with one line "N passed, N failed[, N skipped]".
#   tests/check.sh [unit|fuzz|integration]...   (default: all three)
# Expects VHSM_BUILDDIR (set by `make check`).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${VHSM_BUILDDIR:-$top/build}
export VHSM_BUILDDIR=$B
export VHSM_SNP_SIM_MODULE=${VHSM_SNP_SIM_MODULE:-$B/vhsm-snp-sim.so}
export VHSM_VECTORS=${VHSM_VECTORS:-$top/tests/vectors}
tiers=${*:-unit fuzz integration}
passed=0 failed=0 skipped=0
failures=()

count_unit() {
	local out line p f
	out=$("$B/test-unit" 2>&1)
	printf '%s\n' "$out" | grep -v '^PASS ' # failures and their details only
	line=$(printf '%s\n' "$out" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
		passed=$((passed + p)) failed=$((failed + f))
		[ "$f" -eq 0 ] || failures+=("unit: $f failed")
	else
		failed=$((failed + 1)); failures+=("unit runner crashed")
	fi
}

count_fuzz() {
	local t name
	for t in "$B"/fuzz-replay-*; do
		[ -x "$t" ] || continue
		name=${t##*/fuzz-replay-}
		if "$t" "tests/fuzz/corpus/$name" >/dev/null 2>"$B/fuzz-replay-$name.log"; then
			echo "PASS fuzz-corpus/$name"; passed=$((passed + 1))
		else
			echo "FAIL fuzz-corpus/$name"; cat "$B/fuzz-replay-$name.log"
			failed=$((failed + 1)); failures+=("fuzz-corpus/$name")
		fi
	done
}

count_integration() {
	local t name rc log
	for t in tests/integration/test-*.sh; do
		[ -f "$t" ] || continue
		name=${t##*/}; name=${name%.sh}
		log="$B/integration-$name.log"
		timeout --kill-after=10 600 bash "$t" >"$log" 2>&1
		rc=$?
		case $rc in
		0) echo "PASS $name"; passed=$((passed + 1)) ;;
		77) echo "SKIP $name: $(tail -n 1 "$log")"; skipped=$((skipped + 1)) ;;
		*) echo "FAIL $name (exit $rc)"; tail -n 30 "$log" | sed 's/^/    /'
		   failed=$((failed + 1)); failures+=("$name") ;;
		esac
	done
}

for tier in $tiers; do
	case $tier in
	unit) echo "== unit"; count_unit ;;
	fuzz) echo "== fuzz corpus replay"; count_fuzz ;;
	integration) echo "== integration"; count_integration ;;
	*) echo "unknown tier $tier" >&2; exit 2 ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
