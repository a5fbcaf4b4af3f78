# shellcheck shell=bash
# Shared by the VM tiers whose root file system is on LUKS2 (run-initrd.sh: dracut,
# run-initramfs.sh: initramfs-tools); sourced after run.sh.
# ROOT_RECOVERY_PASS: when set, enroll_root also adds a keyslot with this passphrase (ASCII, to
# be typed at a prompt), besides the binary admin key that stays on the host.

ENROLL_PID=
stop_enroll_daemon() {
	[ -n "$ENROLL_PID" ] || return 0
	kill -TERM "$ENROLL_PID" 2>/dev/null || true
	wait "$ENROLL_PID" 2>/dev/null || true
	ENROLL_PID=
}

# start_enroll_daemon: a vhsmd on this host, on the guest's simulated CVM, with the KEK store
# that enrolls the root volume ($W/enroll-state, kept for later disables) on $W/enroll.sock.
start_enroll_daemon() {
	local sock=$W/enroll.sock policy=() i
	mkdir -p "$W/enroll-state"
	rm -f "$sock"
	# The guest's policy, or the built-in default (not this host's /etc/vhsm/policy.json).
	if [ -f "$W/rootfs/etc/vhsm/policy.json" ]; then
		policy=(--policy "$W/rootfs/etc/vhsm/policy.json")
	else
		policy=(--policy "$top/docs/examples/policy-default.json")
	fi
	systemd-socket-activate --seqpacket -l "$sock" -E VHSMD_LOG_STDERR=1 \
		-E VHSM_SNP_SIM_MODULE="$B/vhsm-snp-sim.so" -- "$B/vhsmd" \
		--state-dir "$W/enroll-state" --snp-device "sim:$W/cvm.json" \
		--trust-root "$W/cvm-certs/ark.pem" "${policy[@]}" --idle-timeout 0 \
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
	"${ctl[@]}" kek create rootkek >"$W/enroll.log" 2>&1 ||
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

