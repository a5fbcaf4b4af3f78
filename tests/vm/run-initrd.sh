#!/bin/bash
# make check-vm-initrd: the check-vm guest with its ROOT file system on a LUKS2 volume that only
# the vhsm token can open, booted with a dracut initrd made by the dracut module vhsm.
#   tests/vm/run-initrd.sh [--keep] [--rebuild]
# Same environment as tests/vm/run.sh, whose functions it uses. Needs root and a build with the
# token plugin. Host-side checks (the initrd's content, the simulator only when configured),
# then the guest: systemd in the initrd unlocks root through the token, and the usual check-vm
# checks run on the booted system plus initrd-root-token-unlock. The guest's TPM is swtpm and
# the root volume's KEK is vtpm (tests/vm/vtpm-lib.sh). Boots 6-7 are on vhsmd's vtpm platform
# (no SNP device, the paravisor's stand-in answering; tests/vm/root-lib.sh) with a second
# initrd built from that configuration: root opens with no prompt and the booted system's
# vhsmd is on that platform; a report of another measurement, or none fresh, stops at the
# passphrase prompt with the cause on the console.
# The last line is "N passed, N failed"; exit status 0 only when every check passed.
# See docs/vm-testing.md and docs/boot-unlock.md.
set -euo pipefail
VHSM_VM_LIB=1
# shellcheck source=tests/vm/run.sh
. "$(dirname "$0")/run.sh"
# shellcheck source=tests/vm/root-lib.sh
. "$here/root-lib.sh"

# The second root scenario (boots 3 and 4): root enrolled with systemd-cryptenroll through the
# PKCS#11 module (tests/vm/pkcs11-setup.sh, p11_root_image), checked on the serial log.
P11_ROOT=1
ROOT_RECOVERY_PASS=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
# systemd-cryptsetup's passphrase prompt on the console (systemd-ask-password-console).
RECOVERY_PROMPT='Please enter passphrase for disk'
P11_REAL_ROOT='Welcome to Debian.*\(bookworm\)!'
# The initrd gave up on the root disk after the default 90 s at load 20.
P11_DEV_WAIT=x-systemd.device-timeout=600s

CHECKS+=(initrd-root-token-unlock)
# The vtpm platform's boots (6-7) need the root volume's KEK sealed by the guest's TPM.
vtpm_checks=()
[ "$ROOT_KEK_PROFILE" != vtpm ] || vtpm_checks=(initrd-vtpm-platform-content
	"${VTPM_GUEST_CHECKS[@]/#/initrd-}" initrd-vtpm-platform-no-prompt
	initrd-vtpm-wrong-measurement-prompts)
root_tier_init initrd-content initrd-simulator-only-when-configured initrd-pkcs11-root-unlock \
	initrd-pkcs11-disabled-key-prompts initrd-pkcs11-recovery-passphrase-opens \
	"${vtpm_checks[@]}"
DRACUT_TIMEOUT=600
# Modules a generic image would add that this guest does not need (saves build time).
DRACUT_OMIT="plymouth network kernel-modules-extra nvdimm overlay-root lunmask resume virtiofs"
DRACUT_OMIT+=" usrmount terminfo qemu-net"
INITRD_IN_GUEST=/boot/vhsm-test-initrd.img
VTPM_INITRD_IN_GUEST=/boot/vhsm-test-initrd-vtpm.img

# dracut_in_guest OUT LOG [dracut options]: builds an initrd for the guest's kernel inside the
# guest root file system (chroot; the guest is bookworm with dracut-core from the cache).
# Generic (not host-only): in a chroot, dracut's host-only detection would see this machine.
dracut_in_guest() {
	local out=$1 log=$2
	shift 2
	chroot_build "$DRACUT_TIMEOUT" "$log" dracut --force --no-hostonly --no-hostonly-cmdline \
		--kver "$(guest_kernel)" --omit "$DRACUT_OMIT" "$@" "$out"
}

# initrd_list IMG: the file list of an initrd in the guest root file system.
initrd_list() {
	chroot "$W/rootfs" lsinitrd "$1" 2>/dev/null |
		awk '{ for (i = 2; i <= NF; i++) if ($i == "->") { print $(i - 1); next }; print $NF }'
}

# initrd_file IMG PATH: prints one file of an initrd.
initrd_file() {
	chroot "$W/rootfs" lsinitrd -f "$2" "$1" 2>/dev/null
}

# need_in LIST WHAT REGEX...: records in $missing each REGEX that matches no line of LIST.
need_in() {
	local list=$1 re
	shift
	for re in "$@"; do
		grep -qE "$re" <<<"$list" || missing+=("$re")
	done
}

plugin_re='^(usr/)?lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-vhsm\.so$'
unitdir_re='^(usr/)?lib/systemd/system'
wantsdir_re='^(etc|(usr/)?lib)/systemd/system'

# check_initrd_content: the boot initrd holds what the module promises.
check_initrd_content() {
	local list pw gr exec missing=()
	list=$(initrd_list "$INITRD_IN_GUEST")
	need_in "$list" '^(usr/)?s?bin/vhsmd$' "$plugin_re" \
		'^(usr/)?lib/x86_64-linux-gnu/libcryptsetup\.so\.12' \
		'^(usr/)?lib/systemd/systemd-cryptsetup$' \
		"$unitdir_re/vhsmd\\.socket\$" "$unitdir_re/vhsmd\\.service\$" \
		"$unitdir_re/vhsmd\\.service\\.d/vhsm-initrd\\.conf\$" \
		"$unitdir_re/vhsmd\\.socket\\.d/vhsm-initrd\\.conf\$" \
		"$wantsdir_re/sockets\\.target\\.wants/vhsmd\\.socket\$" \
		"$wantsdir_re/cryptsetup-pre\\.target\\.wants/vhsmd\\.socket\$" \
		"$unitdir_re/vhsmd\\.service\\.d/zz-vhsm-initrd-standalone\\.conf\$" \
		'^etc/systemd/system/vhsmd\.service\.d/vhsm-vm\.conf$' \
		'^etc/vhsm/sim-ark\.pem$' '^(usr/)?lib/udev/rules\.d/60-vhsm-sev-guest\.rules$' \
		'^var/lib/vhsm-sim/cvm\.json$' '/vhsm/vhsm-snp-sim\.so$' \
		"$unitdir_re/vhsmd\\.service\\.d/vhsm-initrd-sim\\.conf\$" \
		'^(usr/)?lib/x86_64-linux-gnu/pkcs11/libvhsm-pkcs11\.so$' \
		'^usr/share/p11-kit/modules/vhsm\.module$' \
		'^(usr/)?lib/x86_64-linux-gnu/libp11-kit\.so\.0' \
		'^(usr/)?lib/x86_64-linux-gnu/libffi\.so\.8' \
		'^(usr/)?lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-systemd-pkcs11\.so$' \
		'^var/lib/vhsm/keypair/p11root\.sealed$' \
		'^(usr/)?lib/x86_64-linux-gnu/libtss2-tcti-device\.so\.0' \
		'^(usr/)?lib/udev/rules\.d/60-tpm-udev\.rules$'
	# The initrd has no KEK store: its vhsmd must use the tokens' sealed copies, and must keep
	# the simulator options of the installed drop-in.
	exec=$(initrd_file "$INITRD_IN_GUEST" \
		"$(grep -E "$unitdir_re/vhsmd\\.service\\.d/zz-vhsm-initrd-standalone\\.conf\$" <<<"$list")")
	grep -qE '^ExecStart=/usr/sbin/vhsmd --snp-device sim:.* --luks-standalone$' <<<"$exec" ||
		missing+=("ExecStart with the simulator and --luks-standalone (got: $(tr '\n' ' ' <<<"$exec"))")
	pw=$(initrd_file "$INITRD_IN_GUEST" etc/passwd)
	gr=$(initrd_file "$INITRD_IN_GUEST" etc/group)
	grep -q '^vhsm:' <<<"$pw" || missing+=("user vhsm in etc/passwd")
	grep -q '^vhsm:' <<<"$gr" || missing+=("group vhsm in etc/group")
	grep -qE '^tss:.*:([^:]*,)?vhsm(,[^:]*)?$' <<<"$gr" || missing+=("group tss with vhsm in etc/group")
	grep -q '^tss:' <<<"$pw" || missing+=("user tss in etc/passwd")
	# Nothing of the daemon's state but the sealed key pairs crypttab's pkcs11-uri= needs: the
	# tokens carry what the initrd needs.
	if grep -E '^var/lib/vhsm/.' <<<"$list" |
		grep -qvE '^var/lib/vhsm/keypair(/[A-Za-z0-9][A-Za-z0-9._-]*\.sealed)?$'; then
		missing+=("no state in var/lib/vhsm but sealed key pairs (found $(grep -E \
			'^var/lib/vhsm/.' <<<"$list" | head -n 3 | tr '\n' ' '))")
	fi
	grep -q 'SIMULATED SEV-SNP' "$W/dracut.log" || missing+=("the simulator announced by dracut")
	if [ ${#missing[@]} -eq 0 ]; then
		host_pass initrd-content
	else
		host_fail initrd-content "missing: ${missing[*]}"
	fi
}

# check_sim_gating: without the simulator drop-in (the vtpm initrd's configuration) the module
# still installs the daemon and the plugin but neither the simulator nor its state, and says
# nothing about it. The tests' own module puts the paravisor's stand-in, which signs with the
# simulator, under usr/local/lib/vhsm-vm: not the module's, so not counted.
check_sim_gating() {
	local list missing=() found=()
	list=$(grep -v '^usr/local/lib/vhsm-vm/' "$W/initrd-vtpm.list")
	need_in "$list" '^(usr/)?s?bin/vhsmd$' "$plugin_re"
	grep -E 'vhsm-snp-sim|^var/lib/vhsm-sim|vhsm-initrd-sim\.conf' <<<"$list" >"$W/nosim.found" ||
		true
	mapfile -t found <"$W/nosim.found"
	grep -q 'SIMULATED' "$W/dracut-vtpm.log" && found+=("dracut announced a simulator")
	if [ ${#missing[@]} -eq 0 ] && [ ${#found[@]} -eq 0 ]; then
		host_pass initrd-simulator-only-when-configured
	else
		host_fail initrd-simulator-only-when-configured \
			"missing: ${missing[*]:-none}; unexpected: ${found[*]:-none}"
	fi
}

# vtpm_initrd: the initrd of boots 6-7, built as on a CVM without an SNP device
# (vtpm_build_initrd), with the tests' module vhsm-vm-paravisor (the stand-in) added.
vtpm_initrd() {
	local r=$W/rootfs t=$SECONDS
	install -D -m 0755 "$here/paravisor/dracut-module-setup.sh" \
		"$r/usr/lib/dracut/modules.d/99vhsm-vm-paravisor/module-setup.sh"
	vtpm_build_initrd dracut_in_guest "$VTPM_INITRD_IN_GUEST" "$W/dracut-vtpm.log" \
		--add "vhsm vhsm-vm-paravisor" --no-compress ||
		{ tail -n 20 "$W/dracut-vtpm.log" >&2; die "dracut (vtpm) failed ($W/dracut-vtpm.log)"; }
	initrd_list "$VTPM_INITRD_IN_GUEST" >"$W/initrd-vtpm.list"
	initrd_file "$VTPM_INITRD_IN_GUEST" "$(grep -E \
		"$unitdir_re/vhsmd\\.service\\.d/zz-vhsm-initrd-standalone\\.conf\$" "$W/initrd-vtpm.list")" \
		>"$W/initrd-vtpm.exec"
	initrd_file "$VTPM_INITRD_IN_GUEST" etc/vhsm/policy.json >"$W/initrd-vtpm.policy"
	initrd_file "$VTPM_INITRD_IN_GUEST" "${VTPM_STATE#/}/platform-root.vtpm" >"$W/initrd-vtpm.root"
	initrd_file "$VTPM_INITRD_IN_GUEST" "$(grep -E \
		"$unitdir_re/vhsmd\\.service\\.d/vhsm-initrd\\.conf\$" "$W/initrd-vtpm.list")" \
		>"$W/initrd-vtpm.dropin"
	mv "$r$VTPM_INITRD_IN_GUEST" "$W/initrd-vtpm.img"
	log "dracut initrd for the vtpm platform: $(elapsed $t)"
}

# check_vtpm_initrd: what the vtpm initrd holds for vhsmd on that platform: the platform root
# and collateral cache of the installed state directory (nothing else of it), the policy,
# vhsmd without an SNP device, the vTPM's TCTI module and udev rule, vhsmd's messages on the
# console; the stand-in only under the tests' own path.
check_vtpm_initrd() {
	local list missing=() m
	list=$(cat "$W/initrd-vtpm.list")
	need_in "$list" "^${VTPM_STATE#/}/platform-root\\.vtpm\$" \
		"^${VTPM_STATE#/}/collateral/.*vcek.*\\.der\$" '^etc/vhsm/policy\.json$' \
		'^(usr/)?lib/x86_64-linux-gnu/libtss2-tcti-device\.so\.0' \
		'^(usr/)?lib/udev/rules\.d/60-tpm-udev\.rules$' \
		'^usr/local/lib/vhsm-vm/paravisor\.sh$' '^usr/local/lib/vhsm-vm/cvm\.json$' \
		"$wantsdir_re/sysinit\\.target\\.wants/vhsm-vm-paravisor\\.service\$"
	if grep -E "^${VTPM_STATE#/}/." <<<"$list" |
		grep -qvE "^${VTPM_STATE#/}/(platform-root\\.vtpm|collateral(/.*)?)\$"; then
		missing+=("nothing of $VTPM_STATE but the root and the cache")
	fi
	cmp -s "$W/vtpm-state/platform-root.vtpm" "$W/initrd-vtpm.root" ||
		missing+=("the installed platform root itself")
	grep -qxE "ExecStart=/usr/sbin/vhsmd --state-dir $VTPM_STATE --trust-root /etc/vhsm/sim-ark.pem --luks-standalone" \
		"$W/initrd-vtpm.exec" || missing+=("ExecStart without an SNP device (got: $(tr '\n' ' ' <"$W/initrd-vtpm.exec"))")
	m=$(grep -o '"measurements": \["[0-9a-f]*"\]' "$W/vtpm-policy.json")
	grep -qF "$m" "$W/initrd-vtpm.policy" || missing+=("the policy pinning the measurement")
	grep -qx 'StandardError=journal+console' "$W/initrd-vtpm.dropin" ||
		missing+=("vhsmd's messages on the console")
	if [ ${#missing[@]} -eq 0 ]; then
		host_pass initrd-vtpm-platform-content
	else
		host_fail initrd-vtpm-platform-content "missing: ${missing[*]}"
	fi
}

# configure_initrd_guest: root from /dev/mapper/root, named in crypttab as an administrator
# would (the LUKS UUID is chosen now, the volume is made later from this root file system);
# the initrd built by dracut.
configure_initrd_guest() {
	local r=$W/rootfs t=$SECONDS
	# pkcs11-uri=auto: the dracut module carries the PKCS#11 pieces and the sealed key pairs
	# (root's in the header it cannot read here: all of them). In the initrd, the kernel
	# command line of each boot chooses: the vhsm token (boots 1, 2) or PKCS#11 (3, 4).
	# root-in-initrd: guest-check.sh runs initrd-root-token-unlock.
	root_in_crypttab luks,headless=true,pkcs11-uri=auto root-in-initrd
	# Uncompressed: quicker to build, and the TCG guest need not decompress it.
	dracut_in_guest "$INITRD_IN_GUEST" "$W/dracut.log" --add vhsm --no-compress ||
		{ tail -n 20 "$W/dracut.log" >&2; die "dracut failed ($W/dracut.log)"; }
	cp "$r$INITRD_IN_GUEST" "$W/initrd.img"
	log "dracut initrd ($(du -h "$W/initrd.img" | cut -f1)): $(elapsed $t)"
}

# p11_boot N WHAT: boots the PKCS#11 root scenario (boot N, root.img swapped for
# p11root.img) until the real root's systemd starts; journald's messages go to the console, so
# that the initrd's vhsmd and systemd-cryptsetup are on the serial log. The result disk of the
# earlier boots is kept.
p11_boot() {
	local n=$1 args=$2 saved=$ROOT_ARGS
	mv "$W/root.img" "$W/root-vhsm.img"
	mv "$W/p11root.img" "$W/root.img"
	ROOT_ARGS="root=/dev/mapper/root rw rd.luks.name=$ROOT_UUID=root"
	ROOT_ARGS+=" rd.luks.options=$ROOT_UUID=$args,$P11_DEV_WAIT"
	ROOT_ARGS+=" rd.shell=0 rd.emergency=poweroff systemd.journald.forward_to_console=1"
	# The real root's systemd; the initrd's says "... (bookworm) dracut-059-4 (Initramfs)!".
	BOOT_STOP_AT="$P11_REAL_ROOT" boot_aside "$n"
	ROOT_ARGS=$saved
	mv "$W/root.img" "$W/p11root.img"
	mv "$W/root-vhsm.img" "$W/root.img"
}

# p11_root_boots: boot 3, the root volume's key pair enabled: unlocked in the initrd through
# PKCS#11 with no prompt (headless, pkcs11-uri=auto); boot 4, the initrd's copy of the key pair
# disabled (the sealed file after `vhsmctl key disable`, laid over the initrd as an extra cpio
# archive, as a rebuilt initrd would carry it), booted as docs/pkcs11.md's recovery says
# (pkcs11-uri= taken off the command line: systemd 252 still tries the volume's token through
# its token plugin, and after a failed pkcs11-uri= unlock it does not prompt): vhsmd refuses,
# systemd-cryptsetup asks for the passphrase and the recovery passphrase typed at the console
# opens root.
p11_root_boots() {
	local s3=$W/serial-3.log s4=$W/serial-4.log d=$W/p11-overlay
	p11_boot 3 "headless=true,pkcs11-uri=auto"
	if grep -qE "$P11_REAL_ROOT" "$s3" &&
		grep -qF 'vhsm key.decrypt p11root: ok' "$s3" &&
		grep -qE 'Finished .*(systemd-cryptsetup@root|Cryptography Setup for root)' "$s3" &&
		! grep -qF "$RECOVERY_PROMPT" "$s3"; then
		host_pass initrd-pkcs11-root-unlock
	else
		host_fail initrd-pkcs11-root-unlock \
			"root not unlocked through PKCS#11 in the initrd without a prompt (serial-3.log)"
	fi

	rm -rf "$d"
	mkdir -p "$d/var/lib/vhsm/keypair"
	install -m 0600 "$W/p11root-disabled.sealed" "$d/var/lib/vhsm/keypair/p11root.sealed"
	cp "$W/initrd.img" "$W/initrd-ok.img"
	(cd "$d" && echo var/lib/vhsm/keypair/p11root.sealed |
		cpio -o -H newc -R 0:0 --quiet) >>"$W/initrd.img" ||
		die "cannot lay the disabled key pair over the initrd"
	BOOT_CONSOLE=type_recovery p11_boot 4 "tries=3"
	mv "$W/initrd-ok.img" "$W/initrd.img"
	if grep -qE 'vhsm key\.decrypt p11root: refused.*disabled' "$s4" &&
		grep -qF "$RECOVERY_PROMPT" "$s4"; then
		host_pass initrd-pkcs11-disabled-key-prompts
	else
		host_fail initrd-pkcs11-disabled-key-prompts \
			"no refusal of the disabled key pair and prompt on the console (serial-4.log)"
	fi
	if grep -q 'typed the passphrase at prompt 1' "$W/console-4.log" &&
		grep -qE 'Finished .*(systemd-cryptsetup@root|Cryptography Setup for root)' "$s4" &&
		grep -qE "$P11_REAL_ROOT" "$s4"; then
		host_pass initrd-pkcs11-recovery-passphrase-opens
	else
		host_fail initrd-pkcs11-recovery-passphrase-opens \
			"root not opened by the typed passphrase (serial-4.log, console-4.log)"
	fi
}

ensure_cache
make_disks
install_guest
p11_setup
luks_setup
configure_initrd_guest
t_host=$SECONDS
check_initrd_content
log "host-side initrd checks: $(elapsed $t_host)"
rm -f "$W/rootfs$INITRD_IN_GUEST"
if [ "$ROOT_KEK_PROFILE" = vtpm ]; then
	vtpm_platform_guest
	vtpm_initrd
	check_vtpm_initrd
fi
check_sim_gating
enroll_root
p11_root_image
# headless: no password prompt when the token fails; rd.emergency=poweroff: a failed initrd
# ends the VM at once instead of waiting for the timeout in an emergency shell.
ROOT_ARGS="root=/dev/mapper/root rw rd.luks.name=$ROOT_UUID=root"
ROOT_ARGS+=" rd.luks.options=$ROOT_UUID=headless=true,$P11_DEV_WAIT rd.shell=0 rd.emergency=poweroff"
vtpm_boot 1
# The keyring checks reboot the guest once (tests/vm/guest-keyring.sh): root is unlocked in the
# initrd again.
if second_boot_wanted; then
	vtpm_boot 2
else
	log "the first boot left no phase marker: no second boot"
fi
p11_root_boots
if [ "$ROOT_KEK_PROFILE" = vtpm ]; then
	vtpm_ok="root=/dev/mapper/root rw rd.luks.name=$ROOT_UUID=root"
	vtpm_ok+=" rd.luks.options=$ROOT_UUID=headless=true,$P11_DEV_WAIT rd.shell=0 rd.emergency=poweroff"
	vtpm_prompt="root=/dev/mapper/root rw rd.luks.name=$ROOT_UUID=root"
	vtpm_prompt+=" rd.luks.options=$ROOT_UUID=$P11_DEV_WAIT rd.shell=0 rd.emergency=poweroff"
	vtpm_platform_boots initrd "$vtpm_ok" "$vtpm_prompt" \
		'Finished .*(systemd-cryptsetup@root|Cryptography Setup for root)' wrong-measurement
fi
root_tier_finish "serial*.log, console-4.log, result.txt, dracut.log, enroll.log, p11-enroll.log"
