# shellcheck shell=bash
# Shared by the VM tiers whose root file system is on LUKS2 (run-initrd.sh: dracut,
# run-initramfs.sh: initramfs-tools); sourced after run.sh. Their common frame: host-side
# check results, the check list, the initrd built in a chroot of the guest root, the root
# volume named in crypttab and enrolled by a vhsmd on this host, boots that keep the result
# disk, the operator at the console and the final count.
# ROOT_RECOVERY_PASS: when set, enroll_root also adds a keyslot with this passphrase (ASCII, to
# be typed at a prompt), besides the binary admin key that stays on the host.
# ROOT_KEK_PROFILE: the sealing profile of the root volume's KEK (default vtpm: sealed by the
# guest's TPM, tests/vm/vtpm-lib.sh; strict: the derived key of the simulated CVM).
ROOT_KEK_PROFILE=${ROOT_KEK_PROFILE:-vtpm}
case $ROOT_KEK_PROFILE in
vtpm | strict) ;;
*) die "ROOT_KEK_PROFILE=$ROOT_KEK_PROFILE: expected vtpm or strict" ;;
esac
# shellcheck source=tests/vm/vtpm-lib.sh disable=SC2154 # $here comes from run.sh
. "$here/vtpm-lib.sh"

# Host-side checks (the initrd's content, the serial log of a boot) as "PASS vm/NAME" or
# "FAIL vm/NAME: reason", counted with the guest's by root_tier_finish.
host_results=()
host_pass() { host_results+=("PASS vm/$1"); }
host_fail() { host_results+=("FAIL vm/$1: $2"); }

# root_tier_init HOST_CHECK... [-- LATE_CHECK...]: the tier's check list. The guest reports
# $CHECKS; the host the HOST_CHECKs (listed first) and the LATE_CHECKs (last). Until
# root_tier_finish, CHECKS holds them all, so that die() counts every one as failed. Sets the
# exit trap (chroot mounts, the enrollment daemon, the software TPM, run.sh's own).
root_tier_init() {
	local early=() late=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do early+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	late=("$@")
	CHECKS_SAVED=("${CHECKS[@]}")
	CHECKS=("${early[@]}" "${CHECKS[@]}" "${late[@]}")
	trap 'chroot_umount "$W/rootfs"; stop_enroll_daemon; vtpm_stop; on_exit' EXIT
}

# root_tier_finish LOGS: prints the host's and the guest's results, the counting line last;
# exits 0 only when every check passed. LOGS names what a failure keeps (finish in run.sh).
root_tier_finish() {
	local ok=0 hp=0 hf=0 l gp gf
	CHECKS=("${CHECKS_SAVED[@]}")
	for l in "${host_results[@]}"; do
		echo "$l"
		case $l in PASS*) hp=$((hp + 1)) ;; *) hf=$((hf + 1)) ;; esac
	done
	report || ok=$?
	[ "$hf" -eq 0 ] || ok=1
	read -r gp _ gf _ <<<"$RESULT_LINE"
	RESULT_LINE="$((gp + hp)) passed, $((gf + hf)) failed"
	finish "$ok" "$1"
}

# guest_kernel: the version of the guest's kernel (from the cache's manifest).
guest_kernel() { sed -n 's/^kernel //p' "$W/manifest"; }

# chroot_build SECONDS LOG COMMAND...: runs COMMAND in a chroot of the guest root file system
# (proc, sys and dev mounted for it), bounded by SECONDS, its output in LOG; returns its status.
chroot_build() {
	local secs=$1 log=$2 rc=0
	shift 2
	chroot_mount "$W/rootfs"
	timeout --kill-after=10 "$secs" chroot "$W/rootfs" "$@" >"$log" 2>&1 || rc=$?
	chroot_umount "$W/rootfs"
	return "$rc"
}

# root_in_crypttab OPTIONS MARKER: root from /dev/mapper/root, named in the guest's crypttab as
# an administrator would, with OPTIONS (the LUKS UUID is chosen now, in ROOT_UUID; the volume
# is made later from this root file system by enroll_root); /etc/vhsm-vm/MARKER tells
# guest-check.sh which root check to run.
root_in_crypttab() {
	local r=$W/rootfs
	ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
	sed -i 's|^/dev/vda / |/dev/mapper/root / |' "$r/etc/fstab"
	grep -q '^/dev/mapper/root / ' "$r/etc/fstab" || die "cannot set the root in fstab"
	printf 'root UUID=%s none %s\n' "$ROOT_UUID" "$1" >>"$r/etc/crypttab"
	touch "$r/etc/vhsm-vm/$2"
}

# boot_aside N [STATE]: boot N (vtpm_boot, with run.sh's BOOT_* settings) with the result disk
# of the earlier boots kept aside: a boot that is only read on the serial log.
boot_aside() {
	cp "$W/result.img" "$W/result-saved.img"
	vtpm_boot "$@"
	mv "$W/result-saved.img" "$W/result.img"
}

# type_recovery SOCKET: the operator at the console (BOOT_CONSOLE=type_recovery), who types
# the recovery passphrase each time RECOVERY_PROMPT appears.
# shellcheck disable=SC2154 # $here comes from run.sh
type_recovery() { "$here/console-type.py" "$1" "$RECOVERY_PROMPT" "$W/root-recovery.pass"; }

ENROLL_PID=
stop_enroll_daemon() {
	if [ -n "$ENROLL_PID" ]; then
		kill -TERM "$ENROLL_PID" 2>/dev/null || true
		wait "$ENROLL_PID" 2>/dev/null || true
		ENROLL_PID=
	fi
	vtpm_stop
}

# enroll_vtpm: the guest's TPM for the enrollment vhsmd (host mode), holding the HCL report
# the vtpm profile checks before it seals (written by the simulator for the guest's simulated
# CVM, once), and that CVM's certificates in the store's collateral directory. Prints the
# daemon's --tcti option.
enroll_vtpm() {
	vtpm_start "$W/tpm" host
	if [ ! -e "$W/tpm-hcl.done" ]; then
		"$B/vhsm-snp-sim" hcl "$W/cvm.json" --tcti "$(vtpm_tcti)" >>"$W/enroll-daemon.log" 2>&1 ||
			die "vhsm-snp-sim hcl: no HCL report in the guest's TPM ($W/enroll-daemon.log)"
		"$B/vhsmctl" collateral import --dir "$W/enroll-state/collateral" \
			"$W"/cvm-certs/*.pem >>"$W/enroll-daemon.log" 2>&1 ||
			die "collateral import for the enrollment vhsmd failed ($W/enroll-daemon.log)"
		touch "$W/tpm-hcl.done"
	fi
}

# start_enroll_daemon: a vhsmd on this host, on the guest's simulated CVM, with the KEK store
# that enrolls the root volume ($W/enroll-state, kept for later disables) on $W/enroll.sock;
# with ROOT_KEK_PROFILE=vtpm, also on the guest's TPM (stopped with the daemon).
start_enroll_daemon() {
	local sock=$W/enroll.sock policy=() tcti=() i
	mkdir -p "$W/enroll-state"
	rm -f "$sock"
	if [ "$ROOT_KEK_PROFILE" = vtpm ]; then
		enroll_vtpm
		tcti=(--tcti "$(vtpm_tcti)")
	fi
	# The guest's policy, or the built-in default (not this host's /etc/vhsm/policy.json).
	if [ -f "$W/rootfs/etc/vhsm/policy.json" ]; then
		policy=(--policy "$W/rootfs/etc/vhsm/policy.json")
	else
		policy=(--policy "$top/docs/examples/policy-default.json")
	fi
	systemd-socket-activate --seqpacket -l "$sock" -E VHSMD_LOG_STDERR=1 \
		-E VHSM_SNP_SIM_MODULE="$B/vhsm-snp-sim.so" -- "$B/vhsmd" \
		--state-dir "$W/enroll-state" --snp-device "sim:$W/cvm.json" \
		--trust-root "$W/cvm-certs/ark.pem" "${policy[@]}" ${tcti[@]+"${tcti[@]}"} \
		--idle-timeout 0 \
		>>"$W/enroll-daemon.log" 2>&1 &
	ENROLL_PID=$!
	for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || die "enrollment vhsmd did not start ($W/enroll-daemon.log)"
}

# enroll_root: the guest's root file system, encrypted in place (LUKS2 offline encryption needs
# no device-mapper), with a vhsm token enrolled by a vhsmd on this host that runs on the same
# simulated CVM as the guest. The admin key stays on the host: in the guest, only the token
# can open the volume.
enroll_root() {
	local t=$SECONDS ctl
	truncate -s 1G "$W/root.img"
	# Smaller than the disk by the room that reencrypt --encrypt takes for the header.
	mkfs.ext4 -q -F -L vhsm-root -d "$W/rootfs" "$W/root.img" 992M >/dev/null ||
		die "mkfs.ext4 -d failed"
	head -c 64 /dev/urandom >"$W/root-admin.key"
	chmod 0400 "$W/root-admin.key"
	cryptsetup reencrypt --encrypt --type luks2 --uuid "$ROOT_UUID" --reduce-device-size 32M \
		--batch-mode \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$W/root-admin.key" \
		"$W/root.img" >"$W/reencrypt.log" 2>&1 ||
		die "offline encryption of root.img failed ($W/reencrypt.log)"
	[ "$(cryptsetup luksUUID "$W/root.img")" = "$ROOT_UUID" ] || die "root.img has another UUID"
	log "root image encrypted (LUKS2 $ROOT_UUID): $(elapsed $t)"

	t=$SECONDS
	start_enroll_daemon
	ctl=("$B/vhsmctl" --socket "$W/enroll.sock")
	"${ctl[@]}" kek create rootkek --profile "$ROOT_KEK_PROFILE" >"$W/enroll.log" 2>&1 ||
		die "kek create for the root volume failed ($W/enroll.log)"
	"${ctl[@]}" luks enroll "$W/root.img" --kek rootkek --unlock-key-file "$W/root-admin.key" \
		>>"$W/enroll.log" 2>&1 ||
		die "vhsmctl luks enroll root.img failed ($W/enroll.log)"
	stop_enroll_daemon
	if [ -n "${ROOT_RECOVERY_PASS:-}" ]; then
		printf '%s' "$ROOT_RECOVERY_PASS" >"$W/root-recovery.pass"
		cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--key-file "$W/root-admin.key" "$W/root.img" "$W/root-recovery.pass" \
			>>"$W/enroll.log" 2>&1 || die "cannot add the recovery passphrase to root.img"
	fi
	cryptsetup luksDump --dump-json-metadata "$W/root.img" >"$W/root-header.json" 2>&1 ||
		die "cannot dump the root header"
	grep -qE '"type"[[:space:]]*:[[:space:]]*"vhsm"' "$W/root-header.json" ||
		die "no vhsm token in the root header after enrollment"
	log "root volume enrolled: $(elapsed $t)"
}


# ---- vhsmd's vtpm platform: the guest as an Azure paravisor CVM (no SNP device) ----
# On these boots (kernel command line vhsm_vm.platform=vtpm) the initrd's vhsmd and the booted
# system's run with no SNP device: they find the guest's TPM, their keys come from the platform
# root sealed to it, their gate reads fresh HCL reports that the paravisor's stand-in
# (tests/vm/paravisor, test-only: added to the initrd by the tier's own test hook or module,
# never by vhsm's) writes for the guest's simulated chip. The initrd carries the platform root,
# the collateral cache and a policy pinning the guest's measurement, as the production
# integrations copy them from the installed daemon's configuration.
VTPM_DIR=/usr/local/lib/vhsm-vm
VTPM_STATE=/var/lib/vhsm-vtpm
VTPM_DROPIN=etc/systemd/system/vhsmd.service.d/vhsm-vm-vtpm.conf
# The tests' drop-in that puts the installed vhsmd on the simulator (tests/vm/run.sh).
SIM_DROPIN=etc/systemd/system/vhsmd.service.d/vhsm-vm.conf
VTPM_GUEST_CHECKS=(vtpm-platform-root-unlock vtpm-platform-release-audited vtpm-platform-system-vhsmd)

# vtpm_platform_guest: the guest root's part: the stand-in with the guest's simulated CVM and
# a copy of it with another launch measurement, its unit (enabled, conditioned on the command
# line), the generator that puts the booted system's vhsmd on the vtpm platform on those boots,
# the guest-side checks, and $VTPM_STATE with the platform root and collateral cache made on
# the guest's TPM (vtpm_platform_root). Writes $W/vtpm-policy.json, the guest's policy with
# its measurement pinned.
vtpm_platform_guest() {
	local r=$W/rootfs p=$here/paravisor m uid gid t=$SECONDS
	m=$("$B/vhsm-snp-sim" show "$W/cvm.json" | sed -n 's/^measurement: *//p')
	[ "${#m}" -eq 96 ] || die "no launch measurement of the guest's simulated CVM"
	printf '{\n\t"version": 1,\n\t"allow_debug": false,\n\t"measurements": ["%s"]\n}\n' "$m" \
		>"$W/vtpm-policy.json"
	cp "$W/cvm.json" "$W/cvm-other.json"
	"$B/vhsm-snp-sim" set "$W/cvm-other.json" --measurement "$(printf 'b2%.0s' $(seq 48))" \
		>/dev/null || die "cannot give the stand-in's second CVM another measurement"
	install -D -m 0755 "$p/paravisor.sh" "$r$VTPM_DIR/paravisor.sh"
	install -m 0600 "$W/cvm.json" "$r$VTPM_DIR/cvm.json"
	install -m 0600 "$W/cvm-other.json" "$r$VTPM_DIR/cvm-other.json"
	ln -sf /usr/bin/vhsm-snp-sim "$r$VTPM_DIR/vhsm-snp-sim"
	install -m 0644 "$p/vhsmd-vtpm.conf" "$here/guest-vtpm.sh" "$r$VTPM_DIR/"
	install -m 0644 "$p/vhsm-vm-paravisor.service" "$r/etc/systemd/system/"
	systemctl --root="$r" enable vhsm-vm-paravisor.service >/dev/null 2>&1 ||
		die "cannot enable vhsm-vm-paravisor.service"
	install -D -m 0755 "$p/vhsm-vm-vtpm.generator" "$r/etc/systemd/system-generators/vhsm-vm-vtpm"
	vtpm_platform_root "$W/vtpm-state" "$W/vtpm-policy.json"
	uid=$(awk -F: '$1 == "vhsm" { print $3 }' "$r/etc/passwd")
	gid=$(awk -F: '$1 == "vhsm" { print $3 }' "$r/etc/group")
	rm -rf "$r$VTPM_STATE"
	cp -a "$W/vtpm-state" "$r$VTPM_STATE"
	chown -R "$uid:$gid" "$r$VTPM_STATE"
	chmod 0700 "$r$VTPM_STATE"
	log "vtpm platform: stand-in, platform root and collateral in the guest: $(elapsed $t)"
}

# vtpm_build_initrd BUILD...: runs BUILD (the tier's initrd build, in the guest root) with the
# installed configuration of a CVM without an SNP device: vhsmd's drop-in without the
# simulator (the tests' vhsm-vm.conf set aside, vhsmd-vtpm.conf in its place) and the policy
# pinning the guest's measurement in /etc/vhsm; restored afterwards, so that the root image
# keeps the configuration of the other boots. Returns BUILD's status.
vtpm_build_initrd() {
	local r=$W/rootfs rc=0
	mv "$r/$SIM_DROPIN" "$W/sim-dropin.conf"
	install -m 0644 "$here/paravisor/vhsmd-vtpm.conf" "$r/$VTPM_DROPIN"
	install -m 0644 "$W/vtpm-policy.json" "$r/etc/vhsm/policy.json"
	"$@" || rc=$?
	rm -f "$r/$VTPM_DROPIN" "$r/etc/vhsm/policy.json"
	mv "$W/sim-dropin.conf" "$r/$SIM_DROPIN"
	return "$rc"
}

# vtpm_boot_with_initrd COMMAND...: runs COMMAND (a boot) with the vtpm initrd
# ($W/initrd-vtpm.img) in place of the tier's.
vtpm_boot_with_initrd() {
	mv "$W/initrd.img" "$W/initrd-tier.img"
	cp "$W/initrd-vtpm.img" "$W/initrd.img"
	"$@"
	mv "$W/initrd-tier.img" "$W/initrd.img"
}

# vtpm_platform_boots TIER OK_ARGS PROMPT_ARGS OPENED_RE REFUSAL: the tier's two boots on the
# vtpm platform (boots 6 and 7), ROOT_ARGS OK_ARGS (headless) or PROMPT_ARGS (not headless);
# OPENED_RE matches the serial log when root was opened. Host checks TIER-vtpm-...:
#   boot 6, the stand-in answering: root opens with no prompt, and the guest's own checks
#     ($VTPM_GUEST_CHECKS, its result disk read here) pass;
#   boot 7, REFUSAL: wrong-measurement, the stand-in's reports from another launch
#     measurement (the policy refuses), or no-paravisor, no stand-in (nobody answers the nonce,
#     the gate refuses the stale report, user_data): the boot stops at the passphrase prompt
#     with the cause on the console. Each tier runs one of the two (one boot less each: CI
#     time), so both are covered.
vtpm_platform_boots() {
	local tier=$1 ok_args=$2 prompt_args=$3 opened=$4 refusal=$5 s text name line found
	local saved=$ROOT_ARGS
	s=$W/serial-6.log
	cp "$W/result.img" "$W/result-saved.img"
	truncate -s 0 "$W/result.img"
	truncate -s 1M "$W/result.img"
	ROOT_ARGS="$ok_args vhsm_vm.platform=vtpm"
	# A prompt is a failure here: end the boot there instead of waiting for the timeout.
	BOOT_STOP_AT="$RECOVERY_PROMPT" vtpm_boot_with_initrd vtpm_boot 6
	text=$(head -c 65536 "$W/result.img" | tr -d '\000')
	printf '%s\n' "$text" >"$W/result-6.txt"
	mv "$W/result-saved.img" "$W/result.img"
	for name in "${VTPM_GUEST_CHECKS[@]}"; do
		found=0
		while IFS= read -r line; do
			if [[ $line =~ ^ok\ [0-9]+\ -\ $name$ ]]; then
				found=1
				host_pass "$tier-$name"
			elif [[ $line =~ ^not\ ok\ [0-9]+\ -\ $name:\ (.*)$ ]]; then
				found=1
				host_fail "$tier-$name" "${BASH_REMATCH[1]} (serial-6.log)"
			fi
		done <<<"$text"
		[ "$found" = 1 ] || host_fail "$tier-$name" "not reported by the guest (serial-6.log)"
	done
	if grep -qE "$opened" "$s" && ! grep -qF "$RECOVERY_PROMPT" "$s"; then
		host_pass "$tier-vtpm-platform-no-prompt"
	else
		host_fail "$tier-vtpm-platform-no-prompt" "a prompt, or root not opened (serial-6.log)"
	fi

	case $refusal in
	wrong-measurement)
		vtpm_refused_boot "$tier" 7 other-measurement "$prompt_args" "$opened" \
			'attestation failed.*measurement' wrong-measurement-prompts ;;
	no-paravisor)
		vtpm_refused_boot "$tier" 7 none "$prompt_args" "$opened" \
			'attestation failed.*user_data' no-paravisor-prompts ;;
	*) die "vtpm_platform_boots: unknown refusal $refusal" ;;
	esac
	ROOT_ARGS=$saved
}

# vtpm_refused_boot TIER N MODE PROMPT_ARGS OPENED_RE CAUSE_RE CHECK: boot N with the stand-in
# in MODE (vhsm_vm.paravisor=), stopped at the passphrase prompt; passes when vhsmd ran on the
# vtpm platform, the console shows CAUSE_RE and the prompt, and root was not opened.
vtpm_refused_boot() {
	local tier=$1 n=$2 mode=$3 s=$W/serial-$2.log
	ROOT_ARGS="$4 vhsm_vm.platform=vtpm vhsm_vm.paravisor=$mode"
	BOOT_STOP_AT="$RECOVERY_PROMPT" vtpm_boot_with_initrd boot_aside "$n"
	if grep -qE 'vhsmd runs on the vtpm platform|vtpm platform: no SNP guest device' "$s" &&
		grep -qE "$6" "$s" && grep -qF "$RECOVERY_PROMPT" "$s" && ! grep -qE "$5" "$s"; then
		host_pass "$tier-vtpm-$7"
	else
		host_fail "$tier-vtpm-$7" "no vtpm platform, no /$6/ and prompt on the console, or root opened (serial-$n.log)"
	fi
}
