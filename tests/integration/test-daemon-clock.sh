#!/bin/bash
# The guest clock under the lifecycle checks, with a clock the test controls (--test-clock,
# simulator only, "WALL BOOT": the wall clock and CLOCK_BOOTTIME): purge protection is measured
# on the wall clock (a clock moved backwards delays a purge) less the wall clock's lead over the
# boot-time clock (a clock moved forwards brings no purge forward, also across a restart), the
# recover window against the latest time the daemon has seen (a clock moved backwards does not
# reopen it, also across a restart), and the override is refused outside the simulator.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
test_clock_init # at, jump
start_daemon cvm --test-clock "$WORK/now"

expect_exit 0 ctl kek create prot --purge-protection --retention-days 7
expect_exit 0 ctl kek create soft --retention-days 7
expect_exit 0 ctl kek delete prot
expect_exit 0 ctl kek delete soft
expect_exit 0 ctl --json kek show prot
[ "$(jq -r .kek.deleted_at "$WORK/out")" = "$T0" ] || fail "deleted_at is not the test clock: $(cat "$WORK/out")"
ok "the lifecycle runs on the test clock"
stop_daemon
cp -a "$STATE" "$WORK/state-before-jump"
start_daemon cvm --test-clock "$WORK/now"

# The host moves the clock forwards past the retention (the boot-time clock saw one second):
# the purge is refused, naming the lead and the date it becomes possible; also after a
# restart (the anchor of this boot is kept in the store manifest). A KEK without purge
# protection is not held back, and the recover window closes (a forward clock only closes it).
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
jump $((8 * DAY))
expect_exit 1 ctl kek purge prot
expect_out "purge protection: KEK prot: the wall clock is [0-9]+ s ahead of the boot-time clock since $iso \(moved forwards\?\).* purge possible from $iso"
stop_daemon
start_daemon cvm --test-clock "$WORK/now"
expect_exit 1 ctl kek purge prot
expect_out "ahead of the boot-time clock"
ok "a clock moved forwards brings no purge of a purge-protected KEK forward, also after a restart"
stop_daemon
cp -a "$STATE" "$WORK/state-jumped"
rm -rf "$STATE"; cp -a "$WORK/state-before-jump" "$STATE"
at 0
start_daemon cvm --test-clock "$WORK/now"

# Purge protection: not one second before the retention ends on the wall clock.
at $((7 * DAY - 1))
expect_exit 1 ctl kek purge prot
expect_out "purge protection: KEK prot can be purged from $iso \(retention 7 days\)"
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
