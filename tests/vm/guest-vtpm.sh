# Checks inside the test VM on boots of vhsmd's vtpm platform (kernel command line
# vhsm_vm.platform=vtpm; tests/vm/root-lib.sh), sourced by guest-check.sh after its helpers
# (say, why, run_check), which then runs only these. The guest has no SNP device there: the
# initrd's vhsmd and the booted system's find the vTPM, and the paravisor's stand-in
# (tests/vm/paravisor) answers their nonces with fresh HCL reports. Root was opened in the
# initrd (dracut or initramfs-tools, whichever built it) by vhsmd on that platform, its release
# audited; the booted system's vhsmd is on the vtpm platform too, its gate from the HCL report.
# shellcheck shell=bash disable=SC2317

VTPM_STATE=/var/lib/vhsm-vtpm
VTPM_LINE='vtpm platform: no SNP guest device'

# vtpm_before_switch MATCH...: the messages of the journal entries that match and came before
# the switch to the real root (dracut's initrd), by their monotonic time.
vtpm_before_switch() {
	local sw
	sw=$(journalctl -b -o export --no-pager MESSAGE='Switching root.' |
		sed -n 's/^__MONOTONIC_TIMESTAMP=//p' | head -n 1)
	[ -n "$sw" ] || return 0
	journalctl -b -o export --no-pager "$@" | awk -v sw="$sw" '
		/^__MONOTONIC_TIMESTAMP=/ { t = substr($0, 23) + 0 }
		/^MESSAGE=/ { if (t < sw + 0) print substr($0, 9) }'
}

# The initrd's vhsmd log: the journal before the switch (dracut), or the initramfs's log file.
vtpm_initrd_log() {
	if [ -e /etc/vhsm-vm/root-in-initramfs ]; then
		cat /run/vhsm/initramfs-vhsmd.log 2>/dev/null
	else
		vtpm_before_switch _SYSTEMD_UNIT=vhsmd.service
	fi
}

# Root opened in the initrd with no passphrase, by a vhsmd that ran on the vtpm platform.
check_vtpm_root() {
	if [ -e /etc/vhsm-vm/root-in-initramfs ]; then
		check_initramfs_root || return 1
	else
		check_initrd_root || return 1
	fi
	vtpm_initrd_log | grep -qF "$VTPM_LINE" ||
		{ why "the initrd's vhsmd did not run on the vtpm platform: $(vtpm_initrd_log | head -c 200)"; return 1; }
	if vtpm_initrd_log | grep -q 'SIMULATED SNP device'; then
		why "the initrd's vhsmd used the simulated SNP device"
		return 1
	fi
}

# The initrd's vhsmd audited the root volume's release: a luks.unlock record with result ok
# (dracut: in the journal before the switch; initramfs-tools: its audit log kept in /run/vhsm).
check_vtpm_audit() {
	local rec
	if [ -e /etc/vhsm-vm/root-in-initramfs ]; then
		rec=$(grep -E '"event": ?"luks\.unlock"' /run/vhsm/initramfs-audit.log 2>/dev/null)
		grep -qE '"result": ?"ok"' <<<"$rec" ||
			{ why "no luks.unlock ok in the initramfs's audit log: $(head -c 200 <<<"$rec")"; return 1; }
	else
		rec=$(vtpm_before_switch VHSM_EVENT=luks.unlock VHSM_RESULT=ok)
		[ -n "$rec" ] || { why "no luks.unlock ok record of the initrd's vhsmd in the journal"; return 1; }
	fi
	say "initrd audit: $(head -n 1 <<<"$rec" | cut -c1-200)"
}

# The booted system's vhsmd: vtpm platform, gate from a fresh HCL report, a KEK works.
check_vtpm_system() {
	local out js
	out=$(timeout 180 vhsmctl status 2>&1) || { why "vhsmctl status: $out"; return 1; }
	printf '%s\n' "$out" | sed 's/^/VHSM-VM:   /'
	grep -q '^platform: vtpm HCL report (NV 0x01400001); vtpm platform root' <<<"$out" ||
		{ why "status names another platform: $out"; return 1; }
	grep -q '^attestation: PASSED' <<<"$out" || { why "attestation not PASSED: $out"; return 1; }
	if grep -q 'SIMULATED' <<<"$out"; then why "a simulated SNP device: $out"; return 1; fi
	js=$(timeout 60 vhsmctl --json status 2>&1) || { why "vhsmctl --json status: $js"; return 1; }
	grep -qE '"source": ?"hcl-report"' <<<"$js" || { why "attestation source: $js"; return 1; }
	grep -qE '"platform": ?"vtpm"' <<<"$js" || { why "platform: $js"; return 1; }
	[ -s "$VTPM_STATE/platform-root.vtpm" ] || { why "no platform root in $VTPM_STATE"; return 1; }
	out=$(vhsmctl kek create vtpmkek 2>&1) || { why "kek create: $out"; return 1; }
	head -c 32 /dev/urandom >"$T/dek"
	vhsmctl wrap --kek vtpmkek <"$T/dek" >"$T/dek.w" 2>"$T/err" || { why "wrap: $(cat "$T/err")"; return 1; }
	vhsmctl unwrap <"$T/dek.w" 2>"$T/err" | cmp -s - "$T/dek" ||
		{ why "unwrap on the vtpm platform: $(cat "$T/err")"; return 1; }
}

vtpm_platform_checks() {
	run_check vtpm-platform-root-unlock check_vtpm_root
	run_check vtpm-platform-release-audited check_vtpm_audit
	run_check vtpm-platform-system-vhsmd check_vtpm_system
}
