#!/bin/bash
# The guest clock under the lifecycle checks, with a clock the test controls (--test-clock,
# simulator only): purge protection is measured on the wall clock (a clock moved backwards
# delays a purge), the recover window against the latest time the daemon has seen (a clock
# moved backwards does not reopen it, also across a restart), and the override is refused
# outside the simulator.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
DAY=86400
T0=1900000000
echo "$T0" >"$WORK/now"
start_daemon cvm --test-clock "$WORK/now"
at() { echo $((T0 + $1)) >"$WORK/now"; } # at SECONDS: the test clock at T0 + SECONDS

expect_exit 0 ctl kek create prot --purge-protection --retention-days 7
expect_exit 0 ctl kek create soft --retention-days 7
expect_exit 0 ctl kek delete prot
expect_exit 0 ctl kek delete soft
expect_exit 0 ctl --json kek show prot
[ "$(jq -r .kek.deleted_at "$WORK/out")" = "$T0" ] || fail "deleted_at is not the test clock: $(cat "$WORK/out")"
ok "the lifecycle runs on the test clock"

# Purge protection: not one second before the retention ends on the wall clock.
at $((7 * DAY - 1))
expect_exit 1 ctl kek purge prot
expect_out 'purge protection'
at $((7 * DAY))
# The retention has passed: recover is refused from now on.
expect_exit 1 ctl kek recover soft
expect_out 'retention has passed'
ok "purge protection ends and the recover window closes exactly at the retention's end"

# The clock moved back by two days: the recover window stays closed (the daemon has seen the
# later time), and the purge waits for the wall clock: the KEK is kept in between.
at $((5 * DAY))
expect_exit 1 ctl kek recover soft
expect_out 'retention has passed'
expect_exit 1 ctl kek purge prot
expect_out 'purge protection'
ok "a clock moved backwards reopens no recover window and brings no purge forward"

# The same after a restart: the latest time seen is kept in the state directory.
stop_daemon
start_daemon cvm --test-clock "$WORK/now"
expect_exit 1 ctl kek recover soft
expect_out 'retention has passed'
[ -s "$STATE/clock" ] || fail "no clock high-water mark in the state directory"
ok "the latest time seen survives a restart"

at $((7 * DAY))
expect_exit 0 ctl kek purge prot
expect_exit 0 ctl kek purge soft
ok "purge once the wall clock has reached the retention's end"

# A recover inside the window still works, also after the clock went back within it.
expect_exit 0 ctl kek create keep --retention-days 7
expect_exit 0 ctl kek delete keep
at $((8 * DAY))
expect_exit 0 ctl kek recover keep
ok "recover inside the window"

# --test-clock needs the simulator: a clock the caller controls never reaches a real CVM.
stop_daemon
rc=0
"$DAEMON" --state-dir "$STATE" --snp-device /dev/sev-guest --test-clock "$WORK/now" \
	--socket "$WORK/x.sock" >"$WORK/out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "--test-clock accepted without the simulator"
expect_out 'test-clock is for tests on the simulator'
ok "--test-clock refused outside the simulator"
echo "$_checks checks passed"
