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
for noun in status kek dek luks wrap unwrap unwrap-batch rewrap audit attestation policy; do
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
expect_split 0 "$CTL" dek --help
for verb in create list load drop recover purge; do
	grep -qE "^  $verb +" "$WORK/stdout" || fail "'vhsmctl dek --help' lacks $verb"
done
expect_split 0 "$CTL" help policy
for verb in check show; do
	grep -qE "^  $verb +" "$WORK/stdout" || fail "'vhsmctl help policy' lacks $verb"
done
expect_split 0 "$CTL" policy check --help
grep -q '^Usage: vhsmctl policy check' "$WORK/stdout" || fail "policy check --help"
expect_split 0 "$CTL" help dek purge
grep -q '^Usage: vhsmctl dek purge NAME' "$WORK/stdout" || fail "help dek purge"
expect_split 2 "$CTL" policy
grep -q '^vhsmctl: policy: a verb is needed (see vhsmctl policy --help)$' "$WORK/stderr" ||
	fail "vhsmctl policy: $(cat "$WORK/stderr")"
expect_split 2 "$CTL" dek recover
every_line_prefixed "$WORK/stderr"
grep -q '^vhsmctl: dek recover: expected 1 argument, got 0$' "$WORK/stderr" ||
	fail "dek recover operand count: $(cat "$WORK/stderr")"
grep -q '^vhsmctl: see vhsmctl dek recover --help$' "$WORK/stderr" || fail "dek recover pointer"
ok "kek --help, help kek, help kek create; bare 'kek' lists its verbs and exits 2; policy and dek recover/purge in the table"

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

# every binary: --version and --help, exit 0, on stdout
for bin in "$CTL" "$B/vhsmd" "$B/vhsm-byok" "$B/vhsm-fleet" "$SIM" "$B/vhsm-request-key" "$top/kmod-helpers/vhsm-kmod-check"; do
	name=${bin##*/}
	expect_split 0 "$bin" --version
	grep -qE "^$name [0-9]+\.[0-9]+" "$WORK/stdout" || fail "$name --version: $(cat "$WORK/stdout")"
	expect_split 0 "$bin" --help
	grep -q "^Usage: $name" "$WORK/stdout" || fail "$name --help: $(head -2 "$WORK/stdout")"
done
ok "--version and --help on every binary"

# vhsm-snp-sim --json: results and errors as one object, exit status kept
expect_split 0 "$SIM" --json init "$WORK/s.json" --product genoa
jq -e '.ok == true and .verb == "init"' "$WORK/stdout" >/dev/null || fail "sim init json"
expect_split 0 "$SIM" show "$WORK/s.json" --json
jq -e '.product == "Genoa" and (.guest_svn | type) == "number" and
	(.reported_tcb | test("^0x[0-9a-f]{16}$")) and .vmpck_disabled == false and
	(.ark_sha256 | length) == 64' "$WORK/stdout" >/dev/null || fail "sim show json: $(cat "$WORK/stdout")"
expect_split 0 "$SIM" show "$WORK/s.json"
grep -q '^product: ' "$WORK/stdout" || fail "sim show text"
expect_split 1 "$SIM" --json show "$WORK/absent.json"
jq -e '.exit_status == 1 and (.error | test("absent.json: No such file"))' "$WORK/stdout" \
	>/dev/null || fail "sim error json: $(cat "$WORK/stdout")"
expect_split 2 "$SIM" --json fault "$WORK/s.json"
jq -e '.exit_status == 2 and .error == "fault: no fault given"' "$WORK/stdout" >/dev/null ||
	fail "sim usage json: $(cat "$WORK/stdout")"
grep -q '^vhsm-snp-sim: fault: no fault given' "$WORK/stderr" || fail "sim usage text"
expect_split 2 "$SIM" --json unseal "$WORK/s.json" "$WORK/s.json"
jq -e '.error | test("key material")' "$WORK/stdout" >/dev/null || fail "sim unseal --json"
ok "vhsm-snp-sim --json: show, success and error objects; unseal refuses it"

# ---- with a daemon ----
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
make_cvm cvm genoa
start_daemon cvm

# lifecycle verbs: one line each; a state already reached is "already", exit 0
expect_split 0 ctl kek create life
grep -qx 'KEK life created (version 1)' "$WORK/stdout" || fail "create: $(cat "$WORK/stdout")"
expect_split 0 ctl kek enable life
grep -qx 'KEK life is already enabled' "$WORK/stdout" || fail "enable twice: $(cat "$WORK/stdout")"
expect_split 0 ctl --json kek enable life
jq -e '.name == "life" and .changed == false' "$WORK/stdout" >/dev/null || fail "json already"
expect_split 0 ctl kek rotate life
grep -qx 'KEK life rotated: version 2 wraps from now on' "$WORK/stdout" || fail "rotate"
expect_split 0 ctl kek disable life
grep -qx 'KEK life disabled' "$WORK/stdout" || fail "disable"
expect_split 0 ctl kek disable life
grep -qx 'KEK life is already disabled' "$WORK/stdout" || fail "disable twice"
expect_split 0 ctl --json kek enable life
jq -e '.kek.state == "enabled" and .changed == true' "$WORK/stdout" >/dev/null ||
	fail "json enable: $(cat "$WORK/stdout")"
expect_split 0 ctl kek recover life
grep -qx 'KEK life is not deleted: nothing to recover' "$WORK/stdout" || fail "recover"
expect_split 0 ctl kek delete life --retention-days 7
# the date the KEK can be recovered until: ISO 8601, 7 days after now (the minute may turn)
grep -qE '^KEK life deleted; vhsmctl kek recover can undo this until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
	"$WORK/stdout" || fail "delete: $(cat "$WORK/stdout")"
until_day=$(sed -E 's/.* until ([0-9-]+)T.*/\1/' "$WORK/stdout")
[ "$until_day" = "$(date -u -d '+7 days' +%F)" ] || [ "$until_day" = "$(date -u -d '+7 days -1 min' +%F)" ] ||
	fail "purge date $until_day is not 7 days from now"
expect_split 0 ctl kek delete life
grep -qx 'KEK life is already deleted' "$WORK/stdout" || fail "delete twice"
expect_split 0 ctl kek show life
grep -qE '^purge after: +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \(recoverable until then\)$' \
	"$WORK/stdout" || fail "show: no ISO purge date"
if grep -E '[^0-9][0-9]{9,10}([^0-9]|$)' "$WORK/stdout"; then fail "kek show prints epoch seconds"; fi
expect_split 0 ctl --json kek show life
jq -e '(.kek.deleted_at | type) == "number" and (.kek.created | type) == "number"' \
	"$WORK/stdout" >/dev/null || fail "json times are not one type"
expect_split 0 ctl kek recover life
grep -qx 'KEK life recovered (enabled)' "$WORK/stdout" || fail "recover: $(cat "$WORK/stdout")"
expect_split 0 ctl kek acl life 'user:nobody:wrap,read'
grep -qxE 'KEK life ACL set: (user:nobody|uid:[0-9]+):wrap,read' "$WORK/stdout" || fail "acl: $(cat "$WORK/stdout")"
# a refusal is still a refusal
expect_split 1 ctl kek enable no-such-kek
every_line_prefixed "$WORK/stderr"
expect_split 1 ctl --json kek purge life
jq -e '.exit_status == 1 and (.error | test("deleted before"))' "$WORK/stdout" >/dev/null ||
	fail "json refusal: $(cat "$WORK/stdout")"
ok "lifecycle verbs print one result line; already-reached states exit 0; ISO dates"

# unwrap refuses a terminal on stdout; size limits are named
head -c 32 /dev/urandom >"$WORK/key"
ctl wrap --kek life <"$WORK/key" >"$WORK/key.wrapped" || fail "wrap"
script -qec "$CTL --socket $SOCK unwrap <$WORK/key.wrapped; echo rc=\$?" /dev/null >"$WORK/tty.out" 2>&1 || true
grep -q 'unwrap: writes the key to standard output; refusing a terminal' "$WORK/tty.out" ||
	fail "unwrap to a terminal: $(cat "$WORK/tty.out")"
grep -q 'rc=2' "$WORK/tty.out" || fail "unwrap to a terminal: exit status"
ctl unwrap <"$WORK/key.wrapped" | cmp -s - "$WORK/key" || fail "unwrap to a pipe"
head -c 4097 /dev/zero >"$WORK/big"
expect_split 2 ctl wrap --kek life <"$WORK/big"
grep -q 'standard input is larger than 4096 bytes, the limit for a key to wrap' "$WORK/stderr" ||
	fail "wrap size: $(cat "$WORK/stderr")"
head -c 5000 /dev/zero >"$WORK/big"
expect_split 2 ctl unwrap <"$WORK/big"
grep -q 'larger than 4608 bytes, the limit for a wrapped key' "$WORK/stderr" || fail "unwrap size"
ok "unwrap refuses a terminal on stdout; size limits named"

# --json on the verbs that print files or lines
expect_split 0 ctl dek create jd --kek life --json
jq -e '.name == "jd" and .kek == "life" and (.size | type) == "number"' "$WORK/stdout" \
	>/dev/null || fail "dek create json: $(cat "$WORK/stdout")"
expect_split 0 ctl attestation report --out "$WORK/r.bin" --certs-out "$WORK/c.bin" --json
jq -e --arg r "$WORK/r.bin" '.report == $r' "$WORK/stdout" >/dev/null || fail "report json"
[ "$(stat -c %s "$WORK/r.bin")" = 1184 ] || fail "report not written"
printf 'x' >"$WORK/junk"
mkdir -p "$WORK/keys"
expect_split 1 ctl unwrap-batch --json --out-dir "$WORK/keys" "$WORK/key.wrapped" "$WORK/junk"
jq -e --arg f "$WORK/key.wrapped" '.[0].ok == true and .[0].file == $f and .[1].ok == false and
	(.[1].error | length) > 0 and length == 2' "$WORK/stdout" >/dev/null ||
	fail "unwrap-batch json: $(cat "$WORK/stdout")"
cmp -s "$WORK/keys/1.key" "$WORK/key" || fail "unwrap-batch --json key file"
if grep -q "$(od -An -tx1 "$WORK/key" | tr -d ' \n' | head -c 16)" "$WORK/stdout"; then
	fail "unwrap-batch --json printed key bytes"
fi
# wrap with --json among its options: the output stays binary, errors are objects
ctl wrap --json --kek life <"$WORK/key" >"$WORK/key2.wrapped" || fail "wrap --json"
ctl unwrap <"$WORK/key2.wrapped" | cmp -s - "$WORK/key" || fail "wrap --json output"
expect_split 1 ctl unwrap --json --context other <"$WORK/key.wrapped"
jq -e '.exit_status == 1' "$WORK/stdout" >/dev/null || fail "unwrap error json"
ok "--json on dek create, attestation report, unwrap-batch; wrap/unwrap errors"

# a non-administrator's lists say they are filtered
expect_split 0 as_user nobody "$CTL" --socket "$SOCK" kek list
grep -q 'filtered\|only the KEKs your ACL entries let you see' "$WORK/stderr" ||
	fail "kek list as nobody: $(cat "$WORK/stderr")"
grep -q '^life ' "$WORK/stdout" || fail "nobody's ACL entry lets it see life"
expect_split 0 as_user nobody "$CTL" --socket "$SOCK" dek list
grep -q 'only the DEKs your ACL entries let you see' "$WORK/stderr" || fail "dek list as nobody"
expect_split 0 ctl kek list
[ ! -s "$WORK/stderr" ] || fail "root's list has a note: $(cat "$WORK/stderr")"
ok "non-administrators' kek list and dek list say the list is filtered"

stop_daemon
echo "$_checks checks passed"
