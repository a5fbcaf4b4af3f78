#!/bin/bash
# vhsmctl's command-line conventions: help by noun, "vhsmctl:" on every message, exit 2 with
# a pointer to the right --help for usage errors, and --json error objects on stdout.
source "$(dirname "$0")/lib.sh"

# expect_split WANT CMD...: like expect_exit, stdout and stderr kept apart.
expect_split() {
	local want=$1 rc=0; shift
	"$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		cat "$WORK/stdout" "$WORK/stderr" >&2
		fail "expected exit $want, got $rc: $*"
	fi
}
# every_line_prefixed FILE: each line of FILE starts with "vhsmctl: ".
every_line_prefixed() {
	[ -s "$1" ] || fail "no message on stderr"
	if grep -vq '^vhsmctl: ' "$1"; then cat "$1" >&2; fail "a message lacks the vhsmctl: prefix"; fi
}

# vhsmctl --help names each noun once
expect_split 0 "$CTL" --help
for noun in status kek dek luks wrap unwrap unwrap-batch rewrap audit attestation; do
	n=$(grep -cE "^  $noun( |$)" "$WORK/stdout" || true)
	[ "$n" = 1 ] || { cat "$WORK/stdout" >&2; fail "--help lists '$noun' $n times"; }
done
expect_split 0 "$CTL" help
grep -qE '^  kek +key-encryption keys' "$WORK/stdout" || fail "vhsmctl help lacks the nouns"
ok "vhsmctl --help and vhsmctl help list each noun once"

# a noun's verbs: NOUN --help, help NOUN (exit 0, stdout); NOUN alone is a usage error
for form in "kek --help" "help kek" "kek -h"; do
	# shellcheck disable=SC2086
	expect_split 0 "$CTL" $form
	for verb in create list show rotate reseal disable enable delete recover purge acl volumes \
		import backup export-exchange-key; do
		grep -qE "^  $verb +" "$WORK/stdout" || fail "'vhsmctl $form' lacks $verb"
	done
	grep -q 'vhsmctl kek VERB --help' "$WORK/stdout" || fail "'vhsmctl $form': no pointer"
done
expect_split 2 "$CTL" kek
grep -qE '^  create +generate' "$WORK/stderr" || fail "vhsmctl kek does not list its verbs"
grep -q '^vhsmctl: kek: a verb is needed (see vhsmctl kek --help)$' "$WORK/stderr" ||
	fail "vhsmctl kek: $(cat "$WORK/stderr")"
expect_split 0 "$CTL" help luks
grep -qE '^  enroll +' "$WORK/stdout" || fail "help luks"
expect_split 0 "$CTL" help kek create
grep -q '^Usage: vhsmctl kek create NAME' "$WORK/stdout" || fail "help kek create"
expect_split 0 "$CTL" help status
grep -q '^Usage: vhsmctl status' "$WORK/stdout" || fail "help status"
ok "kek --help, help kek, help kek create; bare 'kek' lists its verbs and exits 2"

# usage errors: exit 2, every line "vhsmctl: ", the right help named
expect_split 2 "$CTL" kek frobnicate
every_line_prefixed "$WORK/stderr"
grep -q "kek: unknown verb 'frobnicate' (see vhsmctl kek --help)" "$WORK/stderr" ||
	fail "unknown verb: $(cat "$WORK/stderr")"
expect_split 2 "$CTL" frobnicate
every_line_prefixed "$WORK/stderr"
grep -q "unknown command 'frobnicate' (see vhsmctl --help)" "$WORK/stderr" || fail "unknown noun"
expect_split 2 "$CTL" kek create --no-such-option x
every_line_prefixed "$WORK/stderr"
grep -q "unrecognized option '--no-such-option'" "$WORK/stderr" || fail "getopt message"
grep -q '^vhsmctl: see vhsmctl kek create --help$' "$WORK/stderr" || fail "no pointer to help"
expect_split 2 "$CTL" wrap --kek
every_line_prefixed "$WORK/stderr"
grep -q '^vhsmctl: see vhsmctl wrap --help$' "$WORK/stderr" || fail "wrap pointer"
expect_split 2 "$CTL" kek show
every_line_prefixed "$WORK/stderr"
grep -q 'kek show: expected 1 argument, got 0' "$WORK/stderr" || fail "operand count"
expect_split 2 "$CTL" dek load
every_line_prefixed "$WORK/stderr"
grep -q '^vhsmctl: see vhsmctl dek load --help$' "$WORK/stderr" || fail "dek pointer"
expect_split 2 "$CTL" help kek frobnicate
every_line_prefixed "$WORK/stderr"
ok "usage errors exit 2, start with vhsmctl: and name the verb's help"

# --json: a failure is an object on stdout, with the exit status kept
expect_split 2 "$CTL" --json kek show
jq -e '.error == "kek show: expected 1 argument, got 0" and .exit_status == 2' "$WORK/stdout" \
	>/dev/null || fail "json usage error: $(cat "$WORK/stdout")"
expect_split 2 "$CTL" kek create --json --bogus
jq -e '(.error | test("invalid option")) and .exit_status == 2' "$WORK/stdout" >/dev/null ||
	fail "json getopt error: $(cat "$WORK/stdout")"
expect_split 2 "$CTL" --json frobnicate
jq -e '(.error | test("unknown command")) and .exit_status == 2' "$WORK/stdout" >/dev/null ||
	fail "json unknown noun: $(cat "$WORK/stdout")"
expect_split 3 "$CTL" --socket "$WORK/absent.sock" --json kek list
jq -e '(.error | test("cannot connect to vhsmd at .*absent.sock")) and .exit_status == 3' \
	"$WORK/stdout" >/dev/null || fail "json connect error: $(cat "$WORK/stdout")"
every_line_prefixed "$WORK/stderr"
# without --json, stdout stays empty on failure
expect_split 3 "$CTL" --socket "$WORK/absent.sock" kek list
[ ! -s "$WORK/stdout" ] || fail "text-mode failure wrote to stdout"
ok "--json errors are one object on stdout with the exit status kept"

echo "$_checks checks passed"
