#!/bin/bash
# The checks inside the test VM (run by vhsm-vm-check.service once the boot is done).
# Writes the result to the disk with serial vhsm-result: first line "PASS" or "FAIL <reason>",
# then one line per check, "ok N - NAME" or "not ok N - NAME: REASON". The same lines go to
# the serial console (prefixed "VHSM-VM: "), then the unit powers the VM off.
# The check names are also listed in tests/vm/run.sh, which counts a missing one as failed.
# Checks are called through run_check, which shellcheck cannot follow.
# shellcheck disable=SC2317
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_COLORS=0 SYSTEMD_PAGER=

RESULT_DEV=/dev/disk/by-id/virtio-vhsm-result
DATA_DEV=/dev/disk/by-id/virtio-vhsm-data
BAD_DEV=/dev/disk/by-id/virtio-vhsm-bad
ROOT_DEV=/dev/disk/by-id/virtio-vhsm-root
MNT=/srv/data
SIM_STATE=/var/lib/vhsm-sim/cvm.json
# The negative control's unit fails by design; nothing else may.
EXPECTED_FAILED=systemd-cryptsetup@bad.service
# LUKS2 checks (tests/vm/guest-luks.sh), when installed.
LUKS_CHECKS_FILE=/usr/local/lib/vhsm-vm/guest-luks.sh
# shellcheck source=tests/vm/guest-luks.sh
[ -f "$LUKS_CHECKS_FILE" ] && . "$LUKS_CHECKS_FILE"
# PKCS#11 checks (tests/vm/guest-pkcs11.sh), when installed.
P11_CHECKS_FILE=/usr/local/lib/vhsm-vm/guest-pkcs11.sh
# shellcheck source=tests/vm/guest-pkcs11.sh
[ -f "$P11_CHECKS_FILE" ] && . "$P11_CHECKS_FILE"

# T, say, why, run_check (tests/vm/guest-lib.sh).
# shellcheck source=tests/vm/guest-lib.sh
. /usr/local/lib/vhsm-vm/guest-lib.sh
# Fleet mode checks (tests/vm/guest-fleet.sh), when installed (make check-vm only).
FLEET_CHECKS_FILE=/usr/local/lib/vhsm-vm/guest-fleet.sh
# shellcheck source=tests/vm/guest-fleet.sh
[ -f "$FLEET_CHECKS_FILE" ] && . "$FLEET_CHECKS_FILE"

# settle UNIT SECONDS: prints the unit's state once it is active or failed, or inactive with
# no job queued for it, or whatever it is when the time is up. Ordering alone is not enough:
# a failed dependency lets later units start early (docs/vm-testing.md).
settle() {
	local unit=$1 secs=$2 st i
	for ((i = 0; i < secs; i++)); do
		st=$(systemctl is-active "$unit")
		case $st in
		active | failed) break ;;
		inactive) [ -z "$(systemctl list-jobs --no-legend "$unit")" ] && break ;;
		esac
		sleep 1
	done
	echo "$st"
}

# ---- 1. vhsmd is reached through its socket and attests on the simulated device ----
check_vhsmd_socket() {
	local st out pid uid i
	st=$(systemctl is-active vhsmd.socket)
	[ "$st" = active ] || { why "vhsmd.socket is $st"; return 1; }
	# Nothing but the boot-time unlocks (the LUKS2 token's luks.unlock, systemd-cryptsetup's
	# PKCS#11 key.decrypt, both journaled) talks to vhsmd during boot, so otherwise the first
	# request below must start it.
	# A boot-time unlock may still be starting it (attestation is slow in a loaded TCG guest):
	# wait until it is up, then its record must be there.
	st=$(systemctl is-active vhsmd.service)
	[ "$st" != activating ] || st=$(settle vhsmd.service 180)
	if [ "$st" != inactive ]; then
		for ((i = 0; i < 60; i++)); do
			journalctl -b -o cat --no-pager _SYSTEMD_UNIT=vhsmd.service \
				VHSM_EVENT=luks.unlock VHSM_EVENT=key.decrypt | grep -q . && break
			sleep 1
		done
		[ "$i" -lt 60 ] || { why "vhsmd.service is $st before the first request"; return 1; }
	fi
	out=$(timeout 120 vhsmctl status 2>&1) || { why "vhsmctl status failed: $out"; return 1; }
	say "vhsmctl status:"
	printf '%s\n' "$out" | sed 's/^/VHSM-VM:   /'
	grep -q "device sim:$SIM_STATE (SIMULATED" <<<"$out" ||
		{ why "status does not name the simulated device: $out"; return 1; }
	grep -q '^attestation: PASSED' <<<"$out" ||
		{ why "attestation not PASSED: $out"; return 1; }
	st=$(systemctl is-active vhsmd.service)
	[ "$st" = active ] || { why "vhsmd.service is $st after the request"; return 1; }
	pid=$(systemctl show -P MainPID vhsmd.service)
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ -n "$uid" ] && [ "$uid" = "$(id -u vhsm)" ] || {
		why "vhsmd (pid $pid) runs as uid '$uid', not as user vhsm"
		return 1
	}
}

# ---- 2. a KEK sealed in the guest wraps and unwraps a DEK ----
check_kek_wrap() {
	local out
	out=$(vhsmctl kek create vmkek 2>&1) || { why "kek create: $out"; return 1; }
	head -c 32 /dev/urandom >"$T/dek"
	vhsmctl wrap --kek vmkek --context vm-e2e <"$T/dek" >"$T/dek.wrapped" 2>"$T/err" ||
		{ why "wrap: $(cat "$T/err")"; return 1; }
	[ "$(stat -c %s "$T/dek.wrapped")" -gt 32 ] || { why "wrapped DEK too short"; return 1; }
	vhsmctl unwrap --context vm-e2e <"$T/dek.wrapped" >"$T/dek.back" 2>"$T/err" ||
		{ why "unwrap: $(cat "$T/err")"; return 1; }
	cmp -s "$T/dek" "$T/dek.back" || { why "unwrapped DEK differs"; return 1; }
	# The context is authenticated: another one must be refused.
	if vhsmctl unwrap --context other <"$T/dek.wrapped" >"$T/dek.other" 2>&1; then
		why "unwrap with a wrong context succeeded"
		return 1
	fi
	out=$(vhsmctl audit --verify 2>&1) || { why "audit --verify: $out"; return 1; }
}

# ---- 3. the crypttab volume was opened by systemd-cryptsetup through dm-crypt ----
check_dmcrypt_data() {
	local st dm uuid backing table src marker i
	st=$(settle systemd-cryptsetup@data.service 120)
	[ "$st" = active ] || { why "systemd-cryptsetup@data.service is $st"; return 1; }
	[ -b /dev/mapper/data ] || { why "no /dev/mapper/data"; return 1; }
	dm=$(basename "$(readlink -f /dev/mapper/data)")
	uuid=$(cat "/sys/block/$dm/dm/uuid" 2>/dev/null)
	[[ $uuid == CRYPT-LUKS2-* ]] || { why "dm uuid of $dm is '$uuid'"; return 1; }
	backing=$(basename "$(readlink -f "$DATA_DEV")")
	[ -e "/sys/block/$dm/slaves/$backing" ] ||
		{ why "$dm is not stacked on $backing ($DATA_DEV)"; return 1; }
	table=$(dmsetup table data 2>&1)
	[[ $table =~ ^0\ [0-9]+\ crypt\ aes-xts-plain64\  ]] ||
		{ why "dm table: $table"; return 1; }
	cryptsetup status data | grep -q 'type: *LUKS2' ||
		{ why "cryptsetup status: not LUKS2"; return 1; }
	say "data: dm table: $table"
	say "data: $(cryptsetup status data | grep -E 'type|cipher|device|key location' |
		tr -s ' ' | paste -sd ';')"
	# Mounted at boot from fstab (the file system was made on first activation).
	for ((i = 0; i < 60; i++)); do
		src=$(findmnt -n -o SOURCE "$MNT")
		[ -n "$src" ] && break
		sleep 1
	done
	[ "$src" = /dev/mapper/data ] || { why "$MNT is mounted from '$src'"; return 1; }
	# A file written through the mapping reaches the disk encrypted and reads back after a
	# remount with cold caches.
	marker="vhsm-vm-marker-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
	printf '%s\n' "$marker" >"$MNT/marker" || { why "cannot write to $MNT"; return 1; }
	sync
	umount "$MNT" || { why "cannot unmount $MNT"; return 1; }
	blockdev --flushbufs /dev/mapper/data "$DATA_DEV"
	echo 3 >/proc/sys/vm/drop_caches
	grep -qaF "$marker" /dev/mapper/data ||
		{ why "marker not found through the mapping (control)"; return 1; }
	if grep -qaF "$marker" "$DATA_DEV"; then
		why "marker found in plaintext on $DATA_DEV"
		return 1
	fi
	mount "$MNT" || { why "remount of $MNT failed"; return 1; }
	[ "$(cat "$MNT/marker" 2>/dev/null)" = "$marker" ] ||
		{ why "marker did not read back after remount"; return 1; }
}

# ---- 4. negative control: the volume with a wrong key file stays closed ----
check_dmcrypt_wrong_key() {
	local st result
	[ -b "$BAD_DEV" ] || { why "disk $BAD_DEV missing"; return 1; }
	st=$(settle systemd-cryptsetup@bad.service 120)
	[ "$st" = failed ] ||
		{ why "systemd-cryptsetup@bad.service is $st, expected failed"; return 1; }
	# exit-code: systemd-cryptsetup ran and refused the key (not a dependency or a timeout).
	result=$(systemctl show -P Result systemd-cryptsetup@bad.service)
	[ "$result" = exit-code ] || { why "bad volume failed with result '$result'"; return 1; }
	# ... and it was the key that was refused (not, say, a missing key file).
	journalctl -b -o cat --no-pager -u systemd-cryptsetup@bad.service |
		grep -q "Failed to activate with key file '/etc/vhsm-vm/bad.key'" ||
		{ why "no key refusal in the journal of systemd-cryptsetup@bad"; return 1; }
	[ ! -e /dev/mapper/bad ] || { why "/dev/mapper/bad exists"; return 1; }
	if dmsetup info bad >/dev/null 2>&1; then
		why "a dm device named bad exists"
		return 1
	fi
}

# ---- 5. no failed units (or failed dependencies) other than the negative control ----
check_failed_units() {
	local i jobs failed unexpected=() u deps
	# Wait until nothing but this check is queued, so that late failures are seen.
	for ((i = 0; i < 90; i++)); do
		jobs=$(systemctl list-jobs --no-legend --plain | grep -v 'vhsm-vm-check\.service')
		[ -z "$jobs" ] && break
		sleep 1
	done
	[ -z "$jobs" ] || { why "jobs still queued: $jobs"; return 1; }
	failed=$(systemctl list-units --failed --all --no-legend --plain | awk '{ print $1 }')
	for u in $failed; do
		[ "$u" = "$EXPECTED_FAILED" ] || [ "$u" = "${LUKS_EXPECTED_FAILED:-}" ] ||
			[ "$u" = "${P11_EXPECTED_FAILED:-}" ] || unexpected+=("$u")
	done
	[ ${#unexpected[@]} -eq 0 ] || { why "failed units: ${unexpected[*]}"; return 1; }
	# A unit whose dependency failed stays "inactive", not "failed": look for those too.
	deps=$(journalctl -b -o cat --no-pager | grep '^Dependency failed for' | sort -u)
	[ -z "$deps" ] || { why "$deps"; return 1; }
}

# ---- 6. (make check-vm-initrd) the root file system was unlocked in the initrd by the token ----
# The root volume has two keyslots: the vhsm token's and an admin key that never enters the
# guest. The boot is headless (no password prompt), so a mounted root proves the token.
# check_initramfs_root (tests/vm/run-initramfs.sh): / is the LUKS2 volume with the vhsm token,
# opened by the initramfs-tools initrd, whose vhsmd ran there, logged, and was stopped before
# the switch (the host checks that no passphrase prompt appeared on the console).
check_initramfs_root() {
	local src dm uuid backing tok
	src=$(findmnt -n -o SOURCE /)
	[ "$src" = /dev/mapper/root ] || { why "/ is mounted from '$src'"; return 1; }
	dm=$(basename "$(readlink -f /dev/mapper/root)")
	uuid=$(cat "/sys/block/$dm/dm/uuid" 2>/dev/null)
	[[ $uuid == CRYPT-LUKS2-* ]] || { why "dm uuid of root is '$uuid'"; return 1; }
	backing=$(basename "$(readlink -f "$ROOT_DEV")")
	[ -e "/sys/block/$dm/slaves/$backing" ] ||
		{ why "root is not stacked on $backing ($ROOT_DEV)"; return 1; }
	tok=$(cryptsetup luksDump --dump-json-metadata "$ROOT_DEV" 2>&1 | tr -d ' \n')
	[[ $tok == *'"type":"vhsm"'* ]] || { why "no vhsm token on the root volume"; return 1; }
	[ -s /run/vhsm/initramfs-vhsmd.log ] || { why "no log of the initramfs's vhsmd"; return 1; }
	[ ! -e /run/vhsm-initramfs ] || { why "/run/vhsm-initramfs left by the initrd"; return 1; }
	if grep -qa -- '--luks-standalone' /proc/[0-9]*/cmdline 2>/dev/null; then
		why "the initrd's vhsmd still runs"
		return 1
	fi
	say "vhsmd in the initramfs:"
	head -n 12 /run/vhsm/initramfs-vhsmd.log | sed 's/^/VHSM-VM:   /'
}

check_initrd_root() {
	local src dm uuid backing switch_us first_us last_us tok
	src=$(findmnt -n -o SOURCE /)
	[ "$src" = /dev/mapper/root ] || { why "/ is mounted from '$src'"; return 1; }
	dm=$(basename "$(readlink -f /dev/mapper/root)")
	uuid=$(cat "/sys/block/$dm/dm/uuid" 2>/dev/null)
	[[ $uuid == CRYPT-LUKS2-* ]] || { why "dm uuid of root is '$uuid'"; return 1; }
	backing=$(basename "$(readlink -f "$ROOT_DEV")")
	[ -e "/sys/block/$dm/slaves/$backing" ] ||
		{ why "root is not stacked on $backing ($ROOT_DEV)"; return 1; }
	tok=$(cryptsetup luksDump --dump-json-metadata "$ROOT_DEV" 2>&1 | tr -d ' \n')
	[[ $tok == *'"type":"vhsm"'* ]] || { why "no vhsm token on the root volume"; return 1; }
	grep -q 'rd.luks.key' /proc/cmdline && { why "a key on the kernel command line"; return 1; }
	# vhsmd ran in the initrd: its messages come before the switch to the real root.
	switch_us=$(journalctl -b -o export --no-pager MESSAGE='Switching root.' |
		sed -n 's/^__MONOTONIC_TIMESTAMP=//p' | head -n 1)
	[ -n "$switch_us" ] || { why "no 'Switching root.' in the journal"; return 1; }
	first_us=$(journalctl -b -o export --no-pager _SYSTEMD_UNIT=vhsmd.service |
		sed -n 's/^__MONOTONIC_TIMESTAMP=//p' | head -n 1)
	[ -n "$first_us" ] && [ "$first_us" -lt "$switch_us" ] ||
		{ why "no vhsmd message from the initrd (first ${first_us:-none}, switch $switch_us)"; return 1; }
	last_us=$(journalctl -b -o export --no-pager UNIT=systemd-cryptsetup@root.service |
		sed -n 's/^__MONOTONIC_TIMESTAMP=//p' | tail -n 1)
	[ -n "$last_us" ] && [ "$last_us" -lt "$switch_us" ] ||
		{ why "systemd-cryptsetup@root did not finish in the initrd"; return 1; }
	say "root: $(cryptsetup status root | grep -E 'type|cipher|device' | tr -s ' ' | paste -sd ';')"
	say "vhsmd in the initrd:"
	journalctl -b -o short-monotonic --no-pager _SYSTEMD_UNIT=vhsmd.service |
		head -n 12 | sed 's/^/VHSM-VM:   /'
}

say "guest check starting (uptime $(cut -d' ' -f1 /proc/uptime) s)"
# write_result: the verdict and each check's line to the result disk and the console.
write_result() {
	local overall
	if [ "$nfailed" -eq 0 ]; then
		overall=PASS
	else
		overall="FAIL $first_failure"
		# Diagnostics for the serial log (kept by run.sh on failure).
		{
			systemctl list-units --failed --all --no-legend --plain
			systemctl list-jobs --no-legend
			journalctl -b --no-pager -o short-monotonic -n 150 \
				-u vhsmd.socket -u vhsmd.service -u 'systemd-cryptsetup@*' \
				-u srv-data.mount -u vhsm-vm-mkfs-data.service -u vhsmd-luks-key.socket \
				-u vhsm-vm-paravisor.service
			journalctl -b --no-pager -o short-monotonic -p err -n 40
		} 2>&1 | sed 's/^/VHSM-VM-DIAG: /'
	fi
	{
		echo "$overall"
		printf '%s\n' "${results[@]}"
	} >"$T/result"
	say "uptime $(cut -d' ' -f1 /proc/uptime) s"
	echo "VHSM-VM-RESULT $overall"
	# conv=sync pads the block with NULs; the host strips them.
	dd if="$T/result" of="$RESULT_DEV" bs=64K count=1 conv=sync,fsync status=none || exit 1
	exit 0
}
# A boot of vhsmd's vtpm platform (tests/vm/root-lib.sh) runs only its own checks.
if grep -qw 'vhsm_vm.platform=vtpm' /proc/cmdline; then
	# shellcheck source=tests/vm/guest-vtpm.sh
	. /usr/local/lib/vhsm-vm/guest-vtpm.sh
	vtpm_platform_checks
	write_result
fi
# Kernel keyring checks; on the second boot this runs only those and exits.
source /usr/local/lib/vhsm-vm/guest-keyring.sh
run_check vhsmd-socket-attestation check_vhsmd_socket
run_check kek-wrap-unwrap check_kek_wrap
run_check dmcrypt-crypttab-data check_dmcrypt_data
run_check dmcrypt-wrong-key-stays-closed check_dmcrypt_wrong_key
run_check keyring-dek-dmcrypt-write check_keyring_write
run_check keyring-nonroot-upcall check_keyring_nonroot
run_check keyring-requester-race check_keyring_requester_race
declare -F luks_checks >/dev/null && luks_checks
declare -F p11_checks >/dev/null && p11_checks
[ ! -e /etc/vhsm-vm/root-in-initrd ] || run_check initrd-root-token-unlock check_initrd_root
[ ! -e /etc/vhsm-vm/root-in-initramfs ] ||
	run_check initramfs-root-keyscript-unlock check_initramfs_root
declare -F fleet_checks >/dev/null && fleet_checks
run_check no-unexpected-failed-units check_failed_units
write_result
