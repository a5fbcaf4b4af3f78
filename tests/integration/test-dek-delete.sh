#!/bin/bash
# dek drop --delete is a soft delete, as for KEKs: loads of a deleted DEK are refused, it is
# recoverable within its retention (dek recover) and purged for good with dek purge, which
# a purge-protected KEK refuses before the retention ends. Loads go through the request-key
# helper's --debug mode (the daemon's keyring request), so no kernel upcall is needed.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"
[ "$(id -u)" = 0 ] || skip "needs root (keyring requests are accepted from root only)"

make_cvm cvm genoa
# The test clock (vhsmd --test-clock, "WALL BOOT"): the wall clock and the boot-time clock.
T0=$(date +%s)
echo "$T0 1000" >"$WORK/now"
start_daemon cvm --test-clock "$WORK/now"
HELPER=$B/vhsm-request-key
load() { "$HELPER" --debug --socket "$SOCK" --description "vhsm:$1" 77 0 0 -3; }
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

expect_exit 0 ctl kek create k
expect_exit 0 ctl kek create kp --purge-protection --retention-days 30
expect_exit 0 ctl dek create d1 --kek k --size 32
expect_exit 0 ctl dek create d2 --kek kp --size 32
expect_exit 0 load d1
expect_out '^instantiate 32 bytes'

# delete: the file stays, loads are refused with the way back named
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" dek drop d1 --delete
expect_exit 0 ctl dek drop d1 --delete
expect_out '^DEK d1 deleted: recoverable for 90 days \(vhsmctl dek recover d1\)'
[ -f "$STATE/dek/d1.dek" ] || fail "dek drop --delete removed the DEK at once"
expect_exit 1 load d1
expect_out "^reject .*DEK d1 is deleted \(an administrator can recover it with vhsmctl dek recover d1 until $iso\)"
expect_exit 1 ctl dek load d1
expect_out "DEK d1 is deleted"
expect_exit 0 ctl dek list
expect_out "^d1 +k +32 .* deleted, recoverable until $iso$"
expect_exit 0 ctl --json dek list
[ "$(jq -r '.[] | select(.name=="d1") | .state' "$WORK/out")" = deleted ] || fail "list state"
[ "$(jq -r '.[] | select(.name=="d2") | .state' "$WORK/out")" = active ] || fail "list state d2"
[ "$(jq -r '.[] | select(.name=="d1") | .purge_after - .deleted_at' "$WORK/out")" = $((90 * 86400)) ] ||
	fail "purge_after is not deleted_at + 90 days: $(cat "$WORK/out")"
expect_exit 1 ctl dek create d1 --kek k
expect_out "DEK d1 already exists \(deleted; purge it first"
expect_exit 1 ctl dek drop d1 --delete
expect_out "already deleted"
ok "drop --delete: DEK kept, loads refused naming dek recover and the date, listed as deleted"

# recover: only administrators, only a deleted DEK; the DEK loads again
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" dek recover d1
expect_exit 0 ctl dek recover d1
expect_out '^DEK d1 recovered$'
expect_exit 0 load d1
expect_out '^instantiate 32 bytes'
expect_exit 1 ctl dek recover d1
expect_out "DEK d1 is not deleted"
expect_exit 1 ctl dek purge d1
expect_out "DEK d1 must be deleted"
[ -f "$STATE/dek/d1.dek" ] || fail "a refused purge removed the DEK"
ok "dek recover: the DEK loads again; recover and purge of an active DEK refused"

# purge (KEK without purge protection): at once; the DEK is gone
expect_exit 0 ctl dek drop d1 --delete
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" dek purge d1
expect_exit 0 ctl dek purge d1
expect_out '^DEK d1 purged$'
[ ! -e "$STATE/dek/d1.dek" ] || fail "purged DEK file still there"
expect_exit 1 ctl dek drop d1
expect_out "no DEK named d1"
expect_exit 1 ctl dek recover d1
expect_out "no DEK named d1"
expect_exit 0 ctl dek create d1 --kek k --size 32
ok "dek purge: the DEK is gone; the name can be used again"

# purge protection of the DEK's KEK: retention not shortened, no purge before it ends
expect_exit 1 ctl dek drop d2 --delete --retention-days 10
expect_out "purge protection of KEK kp: the retention of DEK d2 cannot be shorter than the KEK's 30 days"
expect_exit 1 ctl dek drop d2 --delete --retention-days 3
expect_out "retention must be 7\.\.3650 days"
expect_exit 0 ctl dek drop d2 --delete
expect_out "recoverable for 30 days"
expect_exit 1 ctl dek purge d2
expect_out "purge protection of KEK kp: DEK d2 can be purged from $iso \(retention 30 days\)"
[ -f "$STATE/dek/d2.dek" ] || fail "a purge-protected DEK was purged"
# The host moves the clock 31 days forwards (the boot-time clock saw a second): no purge.
echo "$((T0 + 31 * 86400)) 1001" >"$WORK/now"
expect_exit 1 ctl dek purge d2
expect_out "purge protection of KEK kp: DEK d2: the wall clock is [0-9]+ s ahead of the boot-time clock since $iso"
[ -f "$STATE/dek/d2.dek" ] || fail "a clock moved forwards purged a purge-protected DEK"
# The retention passes (both clocks 31 days on).
echo "$((T0 + 31 * 86400)) $((1000 + 31 * 86400))" >"$WORK/now"
expect_exit 1 ctl dek recover d2
expect_out "DEK d2: the 30-day retention ended $iso; it can only be purged"
expect_exit 1 load d2
expect_out "DEK d2 is deleted"
expect_exit 0 ctl dek purge d2
[ ! -e "$STATE/dek/d2.dek" ] || fail "DEK d2 not purged after its retention"
ok "purge-protected KEK: retention not shortened, purge refused until it ends, recover refused after"

# usage errors
expect_exit 2 ctl dek recover
expect_exit 2 ctl dek purge a b
expect_exit 2 ctl dek drop d1 --retention-days 9
expect_out "needs --delete"
expect_exit 2 ctl dek drop d1 --delete --retention-days x
expect_exit 0 ctl dek recover --help
expect_exit 0 ctl dek purge --help
ok "usage errors exit 2"
expect_exit 0 ctl audit --verify
