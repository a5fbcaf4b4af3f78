#!/bin/bash
# The systemd units: valid, early-boot ordering, and hardened (exposure <= 2.5).
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"

out=$(systemd-analyze security --offline=true "$top/systemd/vhsmd.service" 2>&1) ||
	fail "systemd-analyze security failed: $out"
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for vhsmd.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || fail "no exposure level in: $out"
awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' || fail "exposure $level > 2.5"
ok "vhsmd.service exposure $level <= 2.5"

for u in vhsmd.socket vhsmd.service vhsmd-luks-key.socket; do
	grep -q '^DefaultDependencies=no' "$top/systemd/$u" || fail "$u: DefaultDependencies=no missing"
	grep -q '^Before=.*cryptsetup-pre.target' "$top/systemd/$u" || fail "$u: not before cryptsetup-pre.target"
	grep -q '^Documentation=man:' "$top/systemd/$u" || fail "$u: no Documentation="
done
for u in vhsmd.socket vhsmd-luks-key.socket; do
	# cryptsetup-pre.target is passive: the sockets must pull it in for the ordering to hold.
	grep -q '^Wants=cryptsetup-pre.target' "$top/systemd/$u" || fail "$u: does not pull in cryptsetup-pre.target"
done
grep -q '^ListenSequentialPacket=/run/vhsm/vhsmd.sock' "$top/systemd/vhsmd.socket" || fail "socket path"
grep -q '^ListenStream=/run/vhsm/luks-key.sock' "$top/systemd/vhsmd-luks-key.socket" ||
	fail "key socket path"
grep -q '^SocketMode=0600' "$top/systemd/vhsmd-luks-key.socket" || fail "key socket not root-only"
grep -q '^Sockets=vhsmd.socket vhsmd-luks-key.socket' "$top/systemd/vhsmd.service" ||
	fail "vhsmd.service does not take the key socket"
grep -q '^Type=notify' "$top/systemd/vhsmd.service" || fail "Type=notify"
grep -q '^WatchdogSec=' "$top/systemd/vhsmd.service" || fail "watchdog"
# systemctl reload vhsmd re-reads the policy file (SIGHUP) instead of failing "not supported".
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID' "$top/systemd/vhsmd.service" || fail "ExecReload"
grep -q '^DeviceAllow=/dev/sev-guest' "$top/systemd/vhsmd.service" || fail "DeviceAllow"
grep -qx 'DeviceAllow=/dev/tpmrm0 rw' "$top/systemd/vhsmd.service" || fail "DeviceAllow tpmrm0"
grep -qx 'm vhsm tss' "$top/systemd/vhsm.sysusers" || fail "vhsm is not in group tss"
! grep -q '^PrivateDevices=yes' "$top/systemd/vhsmd.service" || fail "PrivateDevices hides /dev/sev-guest"
ok "early-boot ordering, notify, watchdog, device policy"

# Units, sysusers, tmpfiles and udev rule parse (offline checks where the tools allow it).
d=$WORK/root
make -s -C "$top" install DESTDIR="$d" BUILDDIR="$B" >/dev/null || fail "make install"
[ -x "$d/usr/sbin/vhsmd" ] && [ -x "$d/usr/bin/vhsmctl" ] || fail "binaries not installed"
[ ! -e "$d/usr/bin/vhsm-snp-sim" ] || fail "the simulator is installed without WITH_SIM=1"
[ -f "$d/usr/lib/$(gcc -dumpmachine)/cryptsetup/libcryptsetup-token-vhsm.so" ] ||
	fail "token plugin not installed in \$(LIBDIR)/cryptsetup"
# In the scratch root: sysusers creates the user, then tmpfiles can own the state dir by it.
systemd-sysusers --root="$d" "$d/usr/lib/sysusers.d/vhsm.conf" >/dev/null 2>&1 ||
	fail "sysusers.d file does not apply"
grep -q '^vhsm:' "$d/etc/passwd" && grep -q '^vhsm:' "$d/etc/group" || fail "no vhsm user/group"
grep -Eq '^tss:x:[0-9]+:(.*,)?vhsm(,|$)' "$d/etc/group" || fail "vhsm is not a member of tss"
systemd-tmpfiles --root="$d" --create "$d/usr/lib/tmpfiles.d/vhsm.conf" >/dev/null 2>&1 ||
	fail "tmpfiles.d file does not apply"
[ "$(stat -c %a "$d/var/lib/vhsm")" = 700 ] || fail "state dir mode"
[ -n "$(find "$d" -name 60-vhsm-sev-guest.rules)" ] || fail "udev rule not installed"
for m in "$top"/docs/man/*.[0-9]; do
	mandoc -T lint -W warning "$m" || fail "man page $m"
done
# Fleet mode: the root path unit that suspends the volumes of compromised fleet KEKs watches the
# file vhsmd writes in its state directory and runs the installed vhsmctl (docs/fleet.md).
for u in vhsmd-fleet-shred.path vhsmd-fleet-shred.service; do
	f=$(find "$d" -name "$u")
	[ -n "$f" ] || fail "$u not installed"
	grep -q '^Documentation=man:' "$f" || fail "$u: no Documentation="
	# Offline: everything parses; only the installed vhsmctl is missing outside the scratch root.
	out=$(systemd-analyze verify --man=no "$top/systemd/$u" 2>&1 | grep -v 'vhsmctl is not executable') &&
		fail "$u: $out"
done
grep -q '^PathChanged=/var/lib/vhsm/fleet/shred$' "$(find "$d" -name vhsmd-fleet-shred.path)" ||
	fail "vhsmd-fleet-shred.path does not watch the state directory's fleet/shred"
grep -q "^ExecStart=/usr/bin/vhsmctl fleet shred$" "$(find "$d" -name vhsmd-fleet-shred.service)" &&
	[ -x "$d/usr/bin/vhsmctl" ] || fail "vhsmd-fleet-shred.service does not run the installed vhsmctl"
ok "install layout, sysusers, tmpfiles, man pages, the fleet shred path unit"
echo "$_checks checks passed"
