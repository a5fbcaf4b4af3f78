#!/bin/bash
# make check-vm-initrd: the check-vm guest with its ROOT file system on a LUKS2 volume that only
# the vhsm token can open, booted with a dracut initrd made by the dracut module vhsm.
#   tests/vm/run-initrd.sh [--keep] [--rebuild]
# Same environment as tests/vm/run.sh, whose functions it uses. Needs root and a build with the
# token plugin. Host-side checks (the initrd's content, the simulator only when configured),
# then the guest: systemd in the initrd unlocks root through the token, and the usual check-vm
# checks run on the booted system plus initrd-root-token-unlock.
# The last line is "N passed, N failed"; exit status 0 only when every check passed.
# See docs/vm-testing.md and docs/boot-unlock.md.
set -euo pipefail
VHSM_VM_LIB=1
# shellcheck source=tests/vm/run.sh
. "$(dirname "$0")/run.sh"
# shellcheck source=tests/vm/root-lib.sh
. "$here/root-lib.sh"

HOST_CHECKS=(initrd-content initrd-simulator-only-when-configured)
CHECKS+=(initrd-root-token-unlock)
# die() counts every check as failed.
ALL_CHECKS=("${HOST_CHECKS[@]}" "${CHECKS[@]}")
CHECKS_SAVED=("${CHECKS[@]}")
CHECKS=("${ALL_CHECKS[@]}")
DRACUT_TIMEOUT=600
# Modules a generic image would add that this guest does not need (saves build time).
DRACUT_OMIT="plymouth network kernel-modules-extra nvdimm overlay-root lunmask resume virtiofs"
DRACUT_OMIT+=" usrmount terminfo qemu-net"
SIM_DROPIN=etc/systemd/system/vhsmd.service.d/vhsm-vm.conf
INITRD_IN_GUEST=/boot/vhsm-test-initrd.img

trap 'chroot_umount "$W/rootfs"; stop_enroll_daemon; on_exit' EXIT

host_results=()
host_pass() { host_results+=("PASS vm/$1"); }
host_fail() { host_results+=("FAIL vm/$1: $2"); }

# dracut_in_guest OUT LOG [dracut options]: builds an initrd for the guest's kernel inside the
# guest root file system (chroot; the guest is bookworm with dracut-core from the cache).
# Generic (not host-only): in a chroot, dracut's host-only detection would see this machine.
dracut_in_guest() {
	local out=$1 log=$2 rc=0 kv
	shift 2
	kv=$(sed -n 's/^kernel //p' "$W/manifest")
	chroot_mount "$W/rootfs"
	timeout --kill-after=10 "$DRACUT_TIMEOUT" chroot "$W/rootfs" dracut --force --no-hostonly \
		--no-hostonly-cmdline --kver "$kv" --omit "$DRACUT_OMIT" "$@" "$out" \
		>"$log" 2>&1 || rc=$?
	chroot_umount "$W/rootfs"
	return "$rc"
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
		"$unitdir_re/vhsmd\\.service\\.d/vhsm-initrd-sim\\.conf\$"
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
	# Nothing of the daemon's state: the tokens carry what the initrd needs.
	if grep -qE '^var/lib/vhsm/.' <<<"$list"; then
		missing+=("no state in var/lib/vhsm (found $(grep -E '^var/lib/vhsm/.' <<<"$list" |
			head -n 3 | tr '\n' ' '))")
	fi
	grep -q 'SIMULATED SEV-SNP' "$W/dracut.log" || missing+=("the simulator announced by dracut")
	if [ ${#missing[@]} -eq 0 ]; then
		host_pass initrd-content
	else
		host_fail initrd-content "missing: ${missing[*]}"
	fi
}

# check_sim_gating: without the simulator drop-in the module still installs the daemon and the
# plugin but neither the simulator nor its state, and says nothing about it.
check_sim_gating() {
	local list missing=() found=() img=/tmp/vhsm-nosim-initrd.img
	mv "$W/rootfs/$SIM_DROPIN" "$W/sim-dropin.conf"
	if ! dracut_in_guest "$img" "$W/dracut-nosim.log" --add vhsm --no-compress \
		--no-kernel; then
		mv "$W/sim-dropin.conf" "$W/rootfs/$SIM_DROPIN"
		host_fail initrd-simulator-only-when-configured "dracut failed ($W/dracut-nosim.log)"
		return
	fi
	mv "$W/sim-dropin.conf" "$W/rootfs/$SIM_DROPIN"
	list=$(initrd_list "$img")
	rm -f "$W/rootfs$img"
	need_in "$list" '^(usr/)?s?bin/vhsmd$' "$plugin_re"
	grep -E 'vhsm-snp-sim|^var/lib/vhsm-sim|vhsm-initrd-sim\.conf' <<<"$list" >"$W/nosim.found" ||
		true
	mapfile -t found <"$W/nosim.found"
	grep -q 'SIMULATED' "$W/dracut-nosim.log" && found+=("dracut announced a simulator")
	if [ ${#missing[@]} -eq 0 ] && [ ${#found[@]} -eq 0 ]; then
		host_pass initrd-simulator-only-when-configured
	else
		host_fail initrd-simulator-only-when-configured \
			"missing: ${missing[*]:-none}; unexpected: ${found[*]:-none}"
	fi
}

# configure_initrd_guest: root from /dev/mapper/root, named in crypttab as an administrator
# would (the LUKS UUID is chosen now, the volume is made later from this root file system);
# the initrd built by dracut.
configure_initrd_guest() {
	local r=$W/rootfs t=$SECONDS
	ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
	sed -i 's|^/dev/vda / |/dev/mapper/root / |' "$r/etc/fstab"
	grep -q '^/dev/mapper/root / ' "$r/etc/fstab" || die "cannot set the root in fstab"
	printf 'root UUID=%s none luks,headless=true\n' "$ROOT_UUID" >>"$r/etc/crypttab"
	# Tells guest-check.sh to run initrd-root-token-unlock.
	touch "$r/etc/vhsm-vm/root-in-initrd"
	# Uncompressed: quicker to build, and the TCG guest need not decompress it.
	dracut_in_guest "$INITRD_IN_GUEST" "$W/dracut.log" --add vhsm --no-compress ||
		{ tail -n 20 "$W/dracut.log" >&2; die "dracut failed ($W/dracut.log)"; }
	cp "$r$INITRD_IN_GUEST" "$W/initrd.img"
	log "dracut initrd ($(du -h "$W/initrd.img" | cut -f1)): $(elapsed $t)"
}

ensure_cache
make_disks
install_guest
luks_setup
configure_initrd_guest
t_host=$SECONDS
check_initrd_content
check_sim_gating
log "host-side initrd checks: $(elapsed $t_host)"
rm -f "$W/rootfs$INITRD_IN_GUEST"
enroll_root
# headless: no password prompt when the token fails; rd.emergency=poweroff: a failed initrd
# ends the VM at once instead of waiting for the timeout in an emergency shell.
ROOT_ARGS="root=/dev/mapper/root rw rd.luks.name=$ROOT_UUID=root"
ROOT_ARGS+=" rd.luks.options=$ROOT_UUID=headless=true rd.shell=0 rd.emergency=poweroff"
boot 1
# The keyring checks reboot the guest once (tests/vm/guest-keyring.sh): root is unlocked in the
# initrd again.
if second_boot_wanted; then
	boot 2
else
	log "the first boot left no phase marker: no second boot"
fi
CHECKS=("${CHECKS_SAVED[@]}")
ok=0
hp=0
hf=0
for l in "${host_results[@]}"; do
	echo "$l"
	case $l in PASS*) hp=$((hp + 1)) ;; *) hf=$((hf + 1)) ;; esac
done
report || ok=$?
[ "$hf" -eq 0 ] || ok=1
read -r gp _ gf _ <<<"$RESULT_LINE"
RESULT_LINE="$((gp + hp)) passed, $((gf + hf)) failed"
finish "$ok" "serial.log, result.txt, dracut.log, enroll.log"
