#!/bin/bash
# The package upgrade checks inside the test VM (make check-vm-upgrade, tests/vm/run-upgrade.sh),
# run by vhsm-vm-upgrade.service once the boot is done; two boots.
# Boot 1, version N installed from its .debs: a KEK is created, a secret wrapped under it and
# the data volume enrolled (crypttab: key "none", the token); then dpkg -i of version N+1 on
# the running system (maintainer scripts with systemd up: the socket restarted, the new vhsmd
# answers with the state intact, the key socket the administrator enabled still runs); a
# phase marker goes to the vhsm-kr disk.
# Boot 2: the volume was opened at boot by the token, the KEK and the wrapped secret are
# intact; apt-get remove (not purge) stops both sockets and keeps /etc/vhsm and the state, a
# reinstall brings both sockets back with the KEK; dpkg --purge without the flag file deletes /etc/vhsm and
# keeps the sealed KEKs, which unwrap again after the configuration is restored and the
# packages installed again.
# Result lines as tests/vm/guest-check.sh ("ok N - NAME" / "not ok N - NAME: REASON") to the
# result disk: the first 64 KiB for boot 1, the second for boot 2; then the VM powers off.
# Checks are called through run_check, which shellcheck cannot follow.
# shellcheck disable=SC2317
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_COLORS=0 SYSTEMD_PAGER='' DEBIAN_FRONTEND=noninteractive LC_ALL=C

RESULT_DEV=/dev/disk/by-id/virtio-vhsm-result
DATA_DEV=/dev/disk/by-id/virtio-vhsm-data
KR_DEV=/dev/disk/by-id/virtio-vhsm-kr
MARKER="vhsm-vm-keyring-phase"
V=/var/lib/vhsm-vm-upgrade
DEBS=(vhsm libcryptsetup-token-vhsm vhsm-snp-sim)
# VERSION_N, VERSION_N1: written by run-upgrade.sh.
# shellcheck disable=SC1091
. /etc/vhsm-vm/upgrade.env

# T, say, why, run_check (tests/vm/guest-lib.sh).
# shellcheck source=tests/vm/guest-lib.sh
. /usr/local/lib/vhsm-vm/guest-lib.sh
# Each result goes to the disk at once: a boot cut short by the host's timeout still tells
# which checks ran (the verdict line says it was not finished).
guest_check_recorded() { write_result "FAIL the checks did not finish (last: $1)"; }
# write_result VERDICT: the verdict line and the results so far to this boot's block.
write_result() {
	{
		echo "$1"
		printf '%s\n' "${results[@]}"
	} >"$T/result"
	dd if="$T/result" of="$RESULT_DEV" bs=64K seek="$BLOCK" count=1 conv=sync,fsync status=none
}
# finish: writes the result with its verdict to this boot's block of the result disk.
finish() {
	if [ "$nfailed" -eq 0 ]; then
		write_result PASS
	else
		write_result "FAIL $first_failure"
	fi
	echo "VHSM-VM-RESULT boot $((BLOCK + 1)): $(head -n 1 "$T/result")"
	if [ "$nfailed" -ne 0 ]; then
		journalctl -b --no-pager -o short-monotonic -n 80 -u vhsmd.socket -u vhsmd.service \
			-u 'systemd-cryptsetup@*' 2>&1 | sed 's/^/VHSM-VM-DIAG: /'
	fi
	exit 0
}
# kek_files: the sealed KEK files of the state directory with their SHA-256 (the store
# manifest is rewritten by every use; the sealed files are not).
kek_files() { (cd /var/lib/vhsm/kek 2>/dev/null && sha256sum -- * 2>&1) || echo "no /var/lib/vhsm/kek"; }
installed_version() { dpkg-query -W -f '${Version} ${db:Status-Abbrev}' "$1" 2>/dev/null; }
# unwrap_ok: the secret wrapped in boot 1 unwraps to the same bytes.
unwrap_ok() {
	vhsmctl unwrap <"$V/wrapped" >"$T/plain" 2>"$T/err" ||
		{ why "unwrap: $(cat "$T/err")"; return 1; }
	cmp -s "$T/plain" "$V/secret" || { why "unwrap gave other bytes"; return 1; }
}
kek_enabled() {
	vhsmctl --json kek show upkek >"$T/out" 2>&1 || { why "kek show: $(cat "$T/out")"; return 1; }
	grep -q '"state": *"enabled"' "$T/out" || { why "upkek not enabled: $(tr -d '\n' <"$T/out")"; return 1; }
}
# socket_up: vhsmd.socket enabled and active, and vhsmd (of version $1) answers.
socket_up() {
	local st answered=0
	st=$(systemctl is-enabled vhsmd.socket 2>&1)
	[ "$st" = enabled ] || { why "vhsmd.socket is $st"; return 1; }
	st=$(systemctl is-active vhsmd.socket)
	[ "$st" = active ] || { why "vhsmd.socket is not active ($st)"; return 1; }
	# The first request after a (re)start waits for vhsmd to start and attest: in a TCG
	# guest on a loaded host that can take longer than vhsmctl's 30 s reply timeout, so
	# only that timeout is retried (three times), any other error fails.
	for _ in 1 2 3 4; do
		if vhsmctl --json status >"$T/status" 2>"$T/err"; then
			answered=1
			break
		fi
		grep -q 'no reply from vhsmd within' "$T/err" || break
	done
	[ "$answered" = 1 ] || { why "status: $(cat "$T/err")"; return 1; }
	grep -q "\"version\": *\"$1\"" "$T/status" ||
		{ why "vhsmd is not version $1: $(tr -d '\n' <"$T/status" | cut -c1-120)"; return 1; }
}

# ---- boot 1 ----
check_n_installed() {
	local v
	v=$(installed_version vhsm)
	[ "$v" = "$VERSION_N ii " ] || { why "vhsm is '$v', expected $VERSION_N installed"; return 1; }
	socket_up "$VERSION_N"
}

check_enroll() {
	mkdir -p "$V"
	head -c 48 /dev/urandom >"$V/secret"
	vhsmctl kek create upkek >/dev/null 2>"$T/err" || { why "kek create: $(cat "$T/err")"; return 1; }
	vhsmctl wrap --kek upkek <"$V/secret" >"$V/wrapped" 2>"$T/err" ||
		{ why "wrap: $(cat "$T/err")"; return 1; }
	vhsmctl luks enroll "$DATA_DEV" --kek upkek --unlock-key-file /etc/vhsm-vm/data.key \
		>"$T/out" 2>&1 || { why "luks enroll: $(cat "$T/out")"; return 1; }
	# Opened at the next boot by the token (key "none"). The disk's by-id link can come
	# later than systemd's default 90 s under a loaded host (udev is slow in TCG).
	echo "up $DATA_DEV none luks,headless=true,x-systemd.device-timeout=600s" >>/etc/crypttab
	unwrap_ok
}

# keysock_is WANT: the crypttab key socket (enabled by the administrator here) is WANT.
keysock_is() {
	local st
	st=$(systemctl is-active vhsmd-luks-key.socket)
	[ "$st" = "$1" ] || { why "vhsmd-luks-key.socket is $st, expected $1"; return 1; }
}

check_dpkg_upgrade() {
	local v
	# The administrator runs the crypttab key socket, which the package never starts itself.
	systemctl enable --now vhsmd-luks-key.socket >"$T/out" 2>&1 ||
		{ why "enable --now vhsmd-luks-key.socket: $(cat "$T/out")"; return 1; }
	dpkg -i "$V"/n1/*.deb >"$T/dpkg.log" 2>&1 ||
		{ why "dpkg -i of $VERSION_N1: $(tail -n 3 "$T/dpkg.log")"; return 1; }
	for p in "${DEBS[@]}"; do
		v=$(installed_version "$p")
		[ "$v" = "$VERSION_N1 ii " ] || { why "$p is '$v' after the upgrade"; return 1; }
	done
	# The postinst restarted the socket (and with it a running vhsmd): the new vhsmd answers.
	socket_up "$VERSION_N1" || return 1
	keysock_is active || return 1
	kek_enabled || return 1
	unwrap_ok
}

phase1() {
	say "upgrade: boot 1, version $VERSION_N"
	run_check upgrade-n-installed check_n_installed
	run_check upgrade-enroll-under-n check_enroll
	run_check upgrade-dpkg-to-n1-running check_dpkg_upgrade
	# Boot 2 runs whatever failed here: its checks say what the reboot found.
	printf '%s 2 upgrade\n' "$MARKER" | dd of="$KR_DEV" bs=512 count=1 conv=sync,fsync status=none
	finish
}

# ---- boot 2 ----
check_reboot_unlock() {
	local st
	st=$(systemctl is-active systemd-cryptsetup@up.service)
	[ "$st" = active ] || { why "systemd-cryptsetup@up is $st"; return 1; }
	[ -b /dev/mapper/up ] || { why "no /dev/mapper/up"; return 1; }
	journalctl -b -o cat --no-pager -u systemd-cryptsetup@up.service >"$T/j" 2>&1
	grep -qiE 'password|passphrase' "$T/j" && { why "a password was asked"; return 1; }
	socket_up "$VERSION_N1" || return 1
	keysock_is active
}

check_kek_intact() {
	kek_enabled || return 1
	unwrap_ok || return 1
	vhsmctl luks unlock --test "$DATA_DEV" >"$T/out" 2>&1 ||
		{ why "luks unlock --test: $(cat "$T/out")"; return 1; }
}

check_remove_keeps() {
	local v
	kek_files >"$V/kek-files-n"
	grep -q 'upkek.sealed$' "$V/kek-files-n" || { why "no upkek.sealed: $(cat "$V/kek-files-n")"; return 1; }
	apt-get -q -y remove "${DEBS[@]}" >"$T/apt.log" 2>&1 ||
		{ why "apt-get remove: $(tail -n 3 "$T/apt.log")"; return 1; }
	v=$(installed_version vhsm)
	[ "$v" = "$VERSION_N1 rc " ] || { why "vhsm is '$v' after remove (expected rc)"; return 1; }
	[ ! -e /usr/sbin/vhsmd ] || { why "/usr/sbin/vhsmd still there"; return 1; }
	# Nothing listens for the removed daemon.
	keysock_is inactive || return 1
	[ ! -S /run/vhsm/vhsmd.sock ] || { why "/run/vhsm/vhsmd.sock still there"; return 1; }
	kek_files >"$T/kek-files"
	cmp -s "$T/kek-files" "$V/kek-files-n" || { why "the state's KEK files changed: $(cat "$T/kek-files")"; return 1; }
	[ -f /etc/vhsm/sim-ark.pem ] || { why "/etc/vhsm lost its files on remove"; return 1; }
	getent passwd vhsm >/dev/null || { why "the vhsm user is gone"; return 1; }
}

check_reinstall_keeps() {
	dpkg -i "$V"/n1/*.deb >"$T/dpkg.log" 2>&1 ||
		{ why "dpkg -i after remove: $(tail -n 3 "$T/dpkg.log")"; return 1; }
	socket_up "$VERSION_N1" || return 1
	keysock_is active || return 1
	unwrap_ok
}

check_purge_keeps_sealed() {
	local v
	cp /etc/vhsm/sim-ark.pem "$T/ark.pem"
	dpkg --purge "${DEBS[@]}" >"$T/dpkg.log" 2>&1 || { why "dpkg --purge: $(tail -n 3 "$T/dpkg.log")"; return 1; }
	v=$(installed_version vhsm)
	[ -z "$v" ] || [ "$v" = "un " ] || { why "vhsm is '$v' after purge"; return 1; }
	[ ! -e /etc/vhsm ] || { why "/etc/vhsm is still there after purge"; return 1; }
	grep -q 'kept /var/lib/vhsm' "$T/dpkg.log" || { why "purge did not say that it kept the state"; return 1; }
	kek_files >"$T/kek-files"
	cmp -s "$T/kek-files" "$V/kek-files-n" || { why "sealed KEKs changed on purge: $(cat "$T/kek-files")"; return 1; }
	# The administrator restores the configuration and installs again: the KEK unwraps.
	install -d /etc/vhsm && install -m 0644 "$T/ark.pem" /etc/vhsm/sim-ark.pem
	dpkg -i "$V"/n1/*.deb >"$T/dpkg.log" 2>&1 ||
		{ why "dpkg -i after purge: $(tail -n 3 "$T/dpkg.log")"; return 1; }
	socket_up "$VERSION_N1" || return 1
	unwrap_ok
}

phase2() {
	say "upgrade: boot 2, version $VERSION_N1"
	run_check upgrade-reboot-volume-unlocks check_reboot_unlock
	run_check upgrade-kek-and-data-intact check_kek_intact
	run_check upgrade-remove-keeps-state check_remove_keeps
	run_check upgrade-reinstall-keeps-keks check_reinstall_keeps
	run_check upgrade-purge-keeps-sealed-keks check_purge_keeps_sealed
	finish
}

if dd if="$KR_DEV" bs=512 count=1 status=none | tr -d '\000' | grep -q "^$MARKER 2 "; then
	BLOCK=1
	phase2
fi
BLOCK=0
phase1
