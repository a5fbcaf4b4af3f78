#!/bin/bash
# make check-vm-initramfs: the check-vm guest without dracut, with Debian's default initrd
# (initramfs-tools + cryptsetup-initramfs) and its ROOT file system on a LUKS2 volume opened in
# the initrd through the keyscript decrypt_vhsm of the package vhsm-initramfs-tools.
#   tests/vm/run-initramfs.sh [--keep] [--rebuild]
# Same environment as tests/vm/run.sh, whose functions it uses. Host side: update-initramfs in
# the guest root puts vhsm in (simulator with its warning). Boots 1 (and 2): root opened by
# vhsm with no prompt, then the usual check-vm checks plus initramfs-root-keyscript-unlock.
# The guest's TPM is swtpm and the root volume's KEK is vtpm (tests/vm/vtpm-lib.sh). Boots 6-7
# are on vhsmd's vtpm platform (no SNP device, the paravisor's stand-in answering;
# tests/vm/root-lib.sh) with a second initramfs built from that configuration: root opens with
# no prompt and the booted system's vhsmd is on that platform; a report of another
# measurement, or none fresh, stops at the passphrase prompt with the cause on the console.
# Boot 3, the negative control: the root volume's KEK disabled in the store that enrolled it
# (vhsmctl kek disable withdraws the token's sealed copy); the same initrd's vhsmd refuses, the
# boot stops at the passphrase prompt, the recovery passphrase typed on the serial console
# opens root.
# The last line is "N passed, N failed"; exit status 0 only when every check passed.
# See docs/vm-testing.md and docs/boot-unlock.md.
set -euo pipefail
GUEST_PKGS="systemd-sysv udev kmod cryptsetup cryptsetup-initramfs busybox keyutils e2fsprogs libcurl4 libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-mu0"
GUEST_DEBS="vhsm libcryptsetup-token-vhsm vhsm-snp-sim vhsm-initramfs-tools"
VHSM_VM_LIB=1
# The busybox initrd and the full check-vm suite after it: the first boot ran past 480 s (the
# default) on a 2-core machine at load 18, killed before the guest checks reported.
VHSM_VM_TIMEOUT=${VHSM_VM_TIMEOUT:-900}
# shellcheck source=tests/vm/run.sh
. "$(dirname "$0")/run.sh"
# shellcheck source=tests/vm/root-lib.sh
. "$here/root-lib.sh"

CHECKS+=(initramfs-root-keyscript-unlock)
# The vtpm platform's boots (6-7) need the root volume's KEK sealed by the guest's TPM.
vtpm_checks=()
[ "$ROOT_KEK_PROFILE" != vtpm ] || vtpm_checks=("${VTPM_GUEST_CHECKS[@]/#/initramfs-}"
	initramfs-vtpm-platform-no-prompt initramfs-vtpm-no-paravisor-prompts)
vtpm_early=()
[ "$ROOT_KEK_PROFILE" != vtpm ] || vtpm_early=(initramfs-vtpm-platform-content)
root_tier_init initramfs-content "${vtpm_early[@]}" initramfs-boot-without-prompt -- \
	"${vtpm_checks[@]}" initramfs-kek-disable-withdraws initramfs-disabled-kek-prompts \
	initramfs-recovery-passphrase-opens
RECOVERY_PROMPT="Please unlock disk root: "
ROOT_RECOVERY_PASS=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

# mkinitramfs_in_guest OUT LOG: an initramfs for the guest's kernel, made in the guest root.
mkinitramfs_in_guest() {
	chroot_build 600 "$2" mkinitramfs -o "$1" "$(guest_kernel)"
}

# configure_initramfs_guest: root from /dev/mapper/root, named in crypttab with the keyscript
# (the LUKS UUID is chosen now, the volume made later from this root file system); the initrd
# built by mkinitramfs in the guest root.
configure_initramfs_guest() {
	local r=$W/rootfs t=$SECONDS
	[ ! -e "$r/usr/bin/dracut" ] || die "dracut is installed in the initramfs-tools guest"
	# root-in-initramfs: guest-check.sh runs initramfs-root-keyscript-unlock.
	root_in_crypttab luks,initramfs,keyscript=decrypt_vhsm root-in-initramfs
	mkinitramfs_in_guest /boot/vhsm-test-initrd.img "$W/initramfs.log" ||
		{ tail -n 20 "$W/initramfs.log" >&2; die "mkinitramfs failed ($W/initramfs.log)"; }
	mv "$r/boot/vhsm-test-initrd.img" "$W/initrd.img"
	log "initramfs-tools initrds ($(du -h "$W/initrd.img" | cut -f1)): $(elapsed $t)"
}

# check_initramfs_content: what the hook promises, in the boot initrd.
check_initramfs_content() {
	local list missing=() conf
	# (sev-guest.ko too when the kernel has it; Debian 12's cloud kernel 6.1 does not.)
	list=$(lsinitramfs "$W/initrd.img" 2>/dev/null)
	for re in '^usr/sbin/vhsmd$' '^usr/bin/vhsmctl$' '^usr/lib/vhsm/setpriv$' \
		'^(usr/)?lib/cryptsetup/scripts/decrypt_vhsm$' '^(usr/)?lib/cryptsetup/askpass$' \
		'^scripts/local-top/vhsm$' '^scripts/init-bottom/vhsm$' '^conf/vhsm\.conf$' \
		'^etc/vhsm/sim-ark\.pem$' '^var/lib/vhsm-sim/cvm\.json$' '/vhsm/vhsm-snp-sim\.so$' \
		'^cryptroot/crypttab$'; do
		grep -qE "$re" <<<"$list" || missing+=("$re")
	done
	grep -qE '^var/lib/vhsm/.' <<<"$list" && missing+=("no state in var/lib/vhsm")
	grep -q 'W: vhsm: SIMULATED SEV-SNP' "$W/initramfs.log" || missing+=("the simulator warning")
	mkdir -p "$W/initrd-x"
	unmkinitramfs "$W/initrd.img" "$W/initrd-x" 2>/dev/null || true
	conf=$(cat "$W/initrd-x/conf/vhsm.conf" "$W/initrd-x/main/conf/vhsm.conf" 2>/dev/null || true)
	grep -q "^VHSMD_ARGS='--snp-device sim:" <<<"$conf" || missing+=("the installed vhsmd arguments")
	rm -rf "$W/initrd-x"
	if [ ${#missing[@]} -eq 0 ]; then
		host_pass initramfs-content
	else
		host_fail initramfs-content "missing: ${missing[*]}"
	fi
}

# disable_root_kek: the store that enrolled the root volume disables its KEK, naming the
# volume's header: vhsmctl withdraws the token's sealed copy, which the initrd would use.
disable_root_kek() {
	local rc=0
	start_enroll_daemon
	"$B/vhsmctl" --socket "$W/enroll.sock" kek disable rootkek --force --crypttab /dev/null \
		"$W/root.img" >"$W/disable.log" 2>&1 || rc=$?
	stop_enroll_daemon
	cryptsetup token export --token-id 0 "$W/root.img" >"$W/root-token-disabled.json" 2>&1 || true
	# (The exit status also counts this host's other active volumes, which are not ours.)
	if grep -q 'sealed KEK copy withdrawn from 1 token' "$W/disable.log" &&
		grep -q '"type":"vhsm"' "$W/root-token-disabled.json" &&
		! grep -q '"sealed_kek"' "$W/root-token-disabled.json"; then
		host_pass initramfs-kek-disable-withdraws
	else
		host_fail initramfs-kek-disable-withdraws \
			"kek disable (exit $rc) left the sealed copy (disable.log, root-token-disabled.json)"
	fi
}

# boot_disabled: boot 3 with the same initrd after the KEK's disable, the console scripted;
# stops once the real root's systemd starts. Then the checks on its serial log.
boot_disabled() {
	local s=$W/serial-3.log
	BOOT_CONSOLE=type_recovery BOOT_STOP_AT='Welcome to .*Debian' boot_aside 3
	if grep -q 'sealed copy of KEK rootkek was withdrawn' "$s" &&
		grep -q 'vhsm: root: vhsmd did not release the key' "$s" && grep -qF "$RECOVERY_PROMPT" "$s"; then
		host_pass initramfs-disabled-kek-prompts
	else
		host_fail initramfs-disabled-kek-prompts \
			"no refusal of the withdrawn copy and prompt on the console (serial-3.log)"
	fi
	if grep -q 'typed the passphrase at prompt 1' "$W/console-3.log" &&
		grep -q 'root: set up successfully' "$s" && grep -qE 'Welcome to .*Debian' "$s"; then
		host_pass initramfs-recovery-passphrase-opens
	else
		host_fail initramfs-recovery-passphrase-opens \
			"root not opened by the typed passphrase (serial-3.log, console-3.log)"
	fi
}

# vtpm_initramfs: the initramfs of boots 6-7, built as on a CVM without an SNP device
# (vtpm_build_initrd), with the tests' own hook and boot scripts for the paravisor's stand-in
# (tests/vm/paravisor; local-top's name sorts before vhsm's).
vtpm_initramfs() {
	local r=$W/rootfs p=$here/paravisor t=$SECONDS
	install -D -m 0755 "$p/initramfs-hook" "$r/etc/initramfs-tools/hooks/vhsm-vm-paravisor"
	install -D -m 0755 "$p/initramfs-local-top" \
		"$r/etc/initramfs-tools/scripts/local-top/paravisor-vhsm-vm"
	install -D -m 0755 "$p/initramfs-init-bottom" \
		"$r/etc/initramfs-tools/scripts/init-bottom/vhsm-vm-paravisor"
	vtpm_build_initrd mkinitramfs_in_guest /boot/vhsm-test-initrd-vtpm.img \
		"$W/initramfs-vtpm.log" ||
		{ tail -n 20 "$W/initramfs-vtpm.log" >&2; die "mkinitramfs (vtpm) failed ($W/initramfs-vtpm.log)"; }
	mv "$r/boot/vhsm-test-initrd-vtpm.img" "$W/initrd-vtpm.img"
	log "initramfs for the vtpm platform: $(elapsed $t)"
}

# check_vtpm_initramfs: what the vtpm initramfs holds for vhsmd on that platform: the platform
# root (the installed one) and collateral cache in var/lib/vhsm (nothing else of the state),
# the policy, vhsmd's arguments without an SNP device, no simulator of vhsm's hook; the
# stand-in only under the tests' own path.
check_vtpm_initramfs() {
	local list missing=() x=$W/initrd-vtpm-x m
	list=$(lsinitramfs "$W/initrd-vtpm.img" 2>/dev/null)
	for re in '^var/lib/vhsm/platform-root\.vtpm$' '^var/lib/vhsm/collateral/.*vcek.*\.der$' \
		'^etc/vhsm/policy\.json$' '^usr/local/lib/vhsm-vm/paravisor\.sh$'; do
		grep -qE "$re" <<<"$list" || missing+=("$re")
	done
	if grep -E '^var/lib/vhsm/.' <<<"$list" |
		grep -qvE '^var/lib/vhsm/(platform-root\.vtpm|collateral(/.*)?)$'; then
		missing+=("nothing of the state but the root and the cache")
	fi
	grep -v '^usr/local/lib/vhsm-vm/' <<<"$list" | grep -qE 'vhsm-snp-sim|^var/lib/vhsm-sim' &&
		missing+=("no simulator of vhsm's hook")
	grep -q 'SIMULATED' "$W/initramfs-vtpm.log" && missing+=("no simulator warning")
	mkdir -p "$x"
	unmkinitramfs "$W/initrd-vtpm.img" "$x" 2>/dev/null || true
	[ ! -d "$x/main" ] || x=$x/main
	grep -qx "VHSMD_ARGS='--state-dir $VTPM_STATE --trust-root /etc/vhsm/sim-ark.pem'" \
		"$x/conf/vhsm.conf" ||
		missing+=("vhsmd's arguments without an SNP device (got: $(grep ARGS "$x/conf/vhsm.conf"))")
	cmp -s "$x/var/lib/vhsm/platform-root.vtpm" "$W/vtpm-state/platform-root.vtpm" ||
		missing+=("the installed platform root itself")
	m=$(grep -o '"measurements": \["[0-9a-f]*"\]' "$W/vtpm-policy.json")
	grep -qF "$m" "$x/etc/vhsm/policy.json" || missing+=("the policy pinning the measurement")
	rm -rf "$W/initrd-vtpm-x"
	if [ ${#missing[@]} -eq 0 ]; then
		host_pass initramfs-vtpm-platform-content
	else
		host_fail initramfs-vtpm-platform-content "missing: ${missing[*]}"
	fi
}

ensure_cache
make_disks
install_guest
luks_setup
configure_initramfs_guest
check_initramfs_content
if [ "$ROOT_KEK_PROFILE" = vtpm ]; then
	vtpm_platform_guest
	vtpm_initramfs
	check_vtpm_initramfs
fi
enroll_root
ROOT_ARGS="root=/dev/mapper/root rw"
vtpm_boot 1
# Headless: the keyscript's prompt never appeared on the console of the first boot.
if grep -q 'root: set up successfully' "$W/serial.log" && ! grep -qF "$RECOVERY_PROMPT" "$W/serial.log"; then
	host_pass initramfs-boot-without-prompt
else
	host_fail initramfs-boot-without-prompt "a prompt, or root not set up (serial.log)"
fi
if second_boot_wanted; then
	vtpm_boot 2
else
	log "the first boot left no phase marker: no second boot"
fi
[ "$ROOT_KEK_PROFILE" != vtpm ] ||
	vtpm_platform_boots initramfs "$ROOT_ARGS" "$ROOT_ARGS" 'root: set up successfully' \
		no-paravisor
disable_root_kek
boot_disabled
root_tier_finish "serial*.log, console-3.log, result.txt, initramfs*.log, enroll.log, disable.log"
