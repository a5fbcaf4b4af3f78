#!/bin/bash
# --json results (not only errors) of dek drop, recover, purge and of the BYOK kek verbs
# (export-exchange-key, import, backup): one JSON object on stdout with the result's fields,
# nothing else on stdout; a refusal is an error object with the exit status kept.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol.json"
start_daemon a
# jctl ARGS...: vhsmctl --json with stdout alone in $WORK/json (stderr to $WORK/err).
jctl() { ctl --json "$@" >"$WORK/json" 2>"$WORK/err"; }
jq_is() { # FILTER WANT: the filter over $WORK/json gives WANT
	local got; got=$(jq -r "$1" "$WORK/json") || fail "not JSON: $(cat "$WORK/json")"
	[ "$got" = "$2" ] || fail "$1: '$got', want '$2' in $(cat "$WORK/json")"
}

expect_exit 0 ctl kek create k
expect_exit 0 ctl dek create d1 --kek k --size 32
jctl dek drop d1 || fail "dek drop --json: $(cat "$WORK/err")"
jq_is '[.name, .revoked, .deleted, (.retention_days // "none")] | join(",")' "d1,0,false,none"
jctl dek drop d1 --delete --retention-days 9 || fail "dek drop --delete --json"
jq_is '[.name, .deleted, .retention_days] | join(",")' "d1,true,9"
jctl dek recover d1 || fail "dek recover --json"
jq_is '[.name, .result, .changed] | join(",")' "d1,recovered,true"
expect_exit 0 ctl dek drop d1 --delete
jctl dek purge d1 || fail "dek purge --json"
jq_is '[.name, .result] | join(",")' "d1,purged"
# A refusal: an error object on stdout, the exit status kept.
rc=0; jctl dek drop d1 || rc=$?
[ "$rc" -ne 0 ] || fail "dek drop of a purged DEK succeeded"
jq -e '.error' "$WORK/json" >/dev/null || fail "no error object: $(cat "$WORK/json")"
ok "dek drop, recover, purge: --json results and error objects"

# BYOK: exchange key to a file and to stdout, import, backup.
jctl kek export-exchange-key imp --out "$WORK/ek.json" || fail "export --json: $(cat "$WORK/err")"
jq_is '[.name, .written, .file] | join(",")' "imp,exchange key,$WORK/ek.json"
jq_is '.kid | test("^vhsm-xk-[0-9a-f]{32}$")' true
kid=$(jq -r .kid "$WORK/json")
jq -e . "$WORK/ek.json" >/dev/null || fail "the bundle file is not JSON"
head -c 32 /dev/urandom >"$WORK/kek-imp"
"$B/vhsm-byok" wrap --bundle "$WORK/ek.json" --policy "$WORK/pol.json" \
	--trust-root "$WORK/a-certs/ark.pem" --allow-test-root --key-file "$WORK/kek-imp" --exportable \
	--out "$WORK/imp.byok" >"$WORK/byok.out" 2>&1 || fail "vhsm-byok wrap: $(cat "$WORK/byok.out")"
jctl kek import imp --byok "$WORK/imp.byok" --exportable || fail "import --json: $(cat "$WORK/err")"
jq_is '[.name, .kek, .version, .changed] | join(",")' "imp,imp,1,true"
jctl kek export-exchange-key imp2 || fail "export to stdout --json"
jq_is '.kid | startswith("vhsm-xk-")' true
[ "$(jq -r .kid "$WORK/json")" != "$kid" ] || fail "the same exchange key twice"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/cust.pem" 2>/dev/null
openssl pkey -in "$WORK/cust.pem" -pubout -out "$WORK/cust.pub"
jctl kek backup imp --to "$WORK/cust.pub" --out "$WORK/imp.bak" || fail "backup --json: $(cat "$WORK/err")"
jq_is '[.name, .written, .file] | join(",")' "imp,backup,$WORK/imp.bak"
jq -e . "$WORK/imp.bak" >/dev/null || fail "the backup is not JSON"
rc=0; jctl kek backup k --to "$WORK/cust.pub" --out "$WORK/k.bak" || rc=$?
[ "$rc" -ne 0 ] || fail "backup of a non-exportable KEK succeeded"
jq -e '.error' "$WORK/json" >/dev/null || fail "no error object: $(cat "$WORK/json")"
[ ! -e "$WORK/k.bak" ] || fail "a refused backup wrote a file"
ok "kek export-exchange-key, import, backup: --json results and error objects"
echo "$_checks checks passed"
