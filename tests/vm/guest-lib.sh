# The helpers every check script inside the test VM starts with (sourced by guest-check.sh and
# guest-upgrade.sh; installed next to them by tests/vm/run.sh): the work directory $T, the
# results, and run_check, which runs one check and records "ok N - NAME" or
# "not ok N - NAME: REASON". A script that defines guest_check_recorded NAME has it called
# after each result is recorded.
# shellcheck shell=bash

T=/run/vhsm-vm
mkdir -p "$T" && chmod 0700 "$T"
WHY=$T/why
results=()
n=0
nfailed=0
first_failure=

say() { printf 'VHSM-VM: %s\n' "$*"; }
# why REASON: records why the running check fails; use as `cond || { why ...; return 1; }`.
why() { printf '%s' "$*" | tr '\n' ' ' | cut -c1-300 >"$WHY"; }

run_check() {
	local name=$1 fn=$2 line
	n=$((n + 1))
	: >"$WHY"
	if "$fn"; then
		line="ok $n - $name"
	else
		[ -s "$WHY" ] || echo "no reason recorded" >"$WHY"
		line="not ok $n - $name: $(cat "$WHY")"
		nfailed=$((nfailed + 1))
		[ -n "$first_failure" ] || first_failure="$name: $(cat "$WHY")"
	fi
	results+=("$line")
	say "$line"
	if declare -F guest_check_recorded >/dev/null; then
		guest_check_recorded "$name"
	fi
}
