#!/bin/bash
# Long libFuzzer campaigns: every harness tests/fuzz/fuzz-NAME.c for a fixed number of
# executions, then a minimized corpus.
#   tests/fuzz/campaign.sh [--runs N] [--update-corpus] [--stagger S] [NAME...]
# NAME defaults to every harness (a new fuzz-NAME.c is picked up by its file name; its seed
# corpus is tests/fuzz/corpus/NAME). Runs one target at a time under `nice -n 19`, prints
# libFuzzer's progress lines to stderr every --pulse seconds and one summary line per target
# on stdout:  campaign NAME: EXECS executions in SECONDS s, EXECS/s, N crashes, N inputs added
# With --update-corpus the inputs that add coverage (libFuzzer -merge=1) are added to
# tests/fuzz/corpus/NAME, which `make check` replays.
# Expects the harnesses built by `make fuzz-campaign` in $FUZZ_B (default build/fuzz).
# Exits 1 if any target crashed (the reproducer is kept in $FUZZ_B/campaign/NAME/crashes/).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
FUZZ_B=${FUZZ_B:-build/fuzz}
runs=10000000 update=0 stagger=0 pulse=30 targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--update-corpus) update=1; shift ;;
	--stagger) stagger=$2; shift 2 ;;
	--pulse) pulse=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "campaign: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "campaign: --runs wants a positive count" >&2; exit 2; }
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz-*.c; do
		t=${f#tests/fuzz/fuzz-}; t=${t%.c}
		[ "$t" = main ] || targets+=("$t")
	done
fi

failed=0
for t in "${targets[@]}"; do
	bin=$FUZZ_B/fuzz-$t
	[ -x "$bin" ] || { echo "campaign: $bin missing (make fuzz-campaign builds it)" >&2; exit 1; }
	w=$FUZZ_B/campaign/$t
	rm -rf "$w"
	mkdir -p "$w/corpus" "$w/crashes" "tests/fuzz/corpus/$t"
	echo "campaign $t: $runs executions (progress: $w/log)" >&2
	start=$(date +%s)
	rc=0
	# -max_len bounds inputs like the daemon's largest message; -rss_limit_mb catches leaks
	# that grow per input; -timeout is generous because the campaign runs at nice 19 on a
	# shared machine (a 14 s stall in mmap/mlock under load once looked like a hang); the
	# seed corpus is read-only (new inputs go to $w/corpus).
	nice -n 19 "$bin" -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -timeout=60 \
		-print_final_stats=1 -print_pcs=0 -reload=0 -artifact_prefix="$w/crashes/" \
		"$w/corpus" "tests/fuzz/corpus/$t" >"$w/log" 2>&1 &
	fz=$!
	while kill -0 "$fz" 2>/dev/null; do
		for ((i = 0; i < pulse; i++)); do
			kill -0 "$fz" 2>/dev/null || break
			sleep 1
		done
		line=$(grep -E '^#[0-9]+' "$w/log" | tail -n 1 || true)
		[ -n "$line" ] && echo "  $t: $line" >&2
	done
	wait "$fz" || rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -n 1)
	# Crashes, leaks, timeouts and out-of-memory fail the campaign; a "slow unit" (over 10 s
	# once, usually a loaded machine) is reported but does not.
	ncrash=$(find "$w/crashes" -type f ! -name 'slow-unit-*' | wc -l)
	nslow=$(find "$w/crashes" -type f -name 'slow-unit-*' | wc -l)
	[ "$nslow" -eq 0 ] || echo "campaign $t: $nslow slow inputs kept in $w/crashes" >&2
	if [ "$rc" -ne 0 ] || [ "$ncrash" -ne 0 ]; then
		tail -n 40 "$w/log" >&2
		echo "campaign $t: FAILED (exit $rc), reproducers in $w/crashes" >&2
		failed=1
	fi
	# Minimize: of the campaign's inputs, keep only those that add coverage to the committed
	# corpus (libFuzzer -merge=1 into it); the committed, named seeds all stay.
	nmin=0
	if [ "$update" -eq 1 ] && [ "$ncrash" -eq 0 ]; then
		before=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
		nice -n 19 "$bin" -merge=1 -max_len=65536 "tests/fuzz/corpus/$t" "$w/corpus" \
			>"$w/merge.log" 2>&1 || { tail "$w/merge.log" >&2; failed=1; }
		nmin=$(($(find "tests/fuzz/corpus/$t" -type f | wc -l) - before))
	fi
	printf 'campaign %s: %s executions in %s s, %s/s, %s crashes, %s inputs added\n' "$t" \
		"${execs:-0}" "$secs" "$((${execs:-0} / (secs > 0 ? secs : 1)))" "$ncrash" "$nmin"
	[ "$stagger" -gt 0 ] && sleep "$stagger"
done
exit "$failed"
