# make check-vm, LUKS2 part (sourced by tests/vm/run.sh; uses its W, B, here, log, die).
# Three LUKS2 volumes with a file system and a marker file each (made on the host without
# device-mapper: mkfs.ext4 -d, then offline `cryptsetup reencrypt --encrypt`), enrolled on the
# host with vhsmctl against a vhsmd that runs on the guest's own simulated CVM state, so that the
# KEK store copied into the guest unseals there:
#   tokdata   KEK bootkek, crypttab key "none": unlocked at boot by the vhsm token plugin
#   sockdata  KEK bootkek, bound as "sockdata": unlocked through /run/vhsm/luks-key.sock
#   locked    KEK offkek, disabled after enrollment: must stay locked (negative control)
# Guest checks: tests/vm/guest-luks.sh.

LUKS_DISKS="tok sock locked"
LUKS_CHECKS=(luks-token-crypttab-mounted luks-keysocket-crypttab-mounted
	luks-disabled-kek-stays-locked luks-vhsmctl-unlock-dm luks-dependents-need-force
	luks-shred-without-header-token)

# luks_image NAME KEYFILE FSDIR: $W/NAME.img, LUKS2 whose only keyslot is KEYFILE over an ext4
# file system made from FSDIR, which gets a random marker.txt first (also used by
# tests/vm/pkcs11-setup.sh).
luks_image() {
	local n=$1 key=$2 d=$3
	mkdir -p "$d"
	echo "vhsm-vm-$n-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" >"$d/marker.txt"
	truncate -s 48M "$W/$n.img"
	mkfs.ext4 -q -F -L "vhsm-$n" -d "$d" "$W/$n.img" 32M || die "mkfs.ext4 $n.img failed"
	cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 16M -q \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$key" \
		"$W/$n.img" >/dev/null || die "offline LUKS2 encryption of $n.img failed"
}

# luks_volume NAME: $W/NAME.img, LUKS2 over ext4 holding marker.txt; admin key $W/NAME-adm.key.
luks_volume() {
	head -c 32 /dev/urandom >"$W/$1-adm.key"
	luks_image "$1" "$W/$1-adm.key" "$W/luks-fs-$1"
}

# luks_host_daemon: vhsmd on $W/cvm.json (the guest's CVM) with the store in $W/vhsm-state.
luks_host_daemon() {
	VHSM_SNP_SIM_MODULE=$B/vhsm-snp-sim.so VHSMD_LOG_STDERR=1 \
		"$B/vhsmd" --socket "$W/host-vhsmd.sock" --state-dir "$W/vhsm-state" \
		--snp-device "sim:$W/cvm.json" --trust-root "$W/cvm-certs/ark.pem" \
		--idle-timeout 0 >"$W/host-vhsmd.log" 2>&1 &
	LUKS_DPID=$!
	local i
	for i in $(seq 100); do [ -S "$W/host-vhsmd.sock" ] && return 0; sleep 0.1; done
	die "host vhsmd did not start ($W/host-vhsmd.log)"
}

# luks_stop_daemon: stops the host vhsmd of luks_host_daemon, when it runs.
luks_stop_daemon() {
	[ -n "${LUKS_DPID:-}" ] || return 0
	kill -TERM "$LUKS_DPID" 2>/dev/null || true
	wait "$LUKS_DPID" 2>/dev/null || true
	LUKS_DPID=
	rm -f "$W/host-vhsmd.sock"
}

luks_setup() {
	local r=$W/rootfs t=$SECONDS uid gid n ctl=("$B/vhsmctl" --socket "$W/host-vhsmd.sock")
	for n in tok sock locked; do luks_volume "$n"; done
	luks_host_daemon
	{
		"${ctl[@]}" kek create bootkek && "${ctl[@]}" kek create offkek &&
			"${ctl[@]}" luks enroll "$W/tok.img" --kek bootkek \
				--unlock-key-file "$W/tok-adm.key" &&
			"${ctl[@]}" luks enroll "$W/sock.img" --kek bootkek \
				--unlock-key-file "$W/sock-adm.key" --volume sockdata &&
			"${ctl[@]}" luks enroll "$W/locked.img" --kek offkek \
				--unlock-key-file "$W/locked-adm.key" &&
			"${ctl[@]}" kek disable offkek
	} >"$W/luks-enroll.log" 2>&1 || {
		luks_stop_daemon
		tail -n 20 "$W/luks-enroll.log" >&2
		die "LUKS enrollment on the host failed ($W/luks-enroll.log)"
	}
	luks_stop_daemon
	# Preconditions (no dm needed): the admin keys still open their volumes.
	for n in tok sock locked; do
		cryptsetup open --test-passphrase --key-file "$W/$n-adm.key" "$W/$n.img" ||
			die "$n-adm.key does not open $n.img"
	done

	# The store (and the simulator state the host daemon used) into the guest.
	uid=$(awk -F: '$1 == "vhsm" { print $3 }' "$r/etc/passwd")
	gid=$(awk -F: '$1 == "vhsm" { print $3 }' "$r/etc/group")
	rm -rf "$r/var/lib/vhsm"
	cp -a "$W/vhsm-state" "$r/var/lib/vhsm"
	chown -R "$uid:$gid" "$r/var/lib/vhsm"
	chmod 0700 "$r/var/lib/vhsm"
	install -m 0600 -o "$uid" -g "$gid" "$W/cvm.json" "$r/var/lib/vhsm-sim/cvm.json"
	systemctl --root="$r" enable vhsmd-luks-key.socket >/dev/null 2>&1 ||
		die "cannot enable vhsmd-luks-key.socket"
	[ -f "$r/usr/lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-vhsm.so" ] ||
		die "make install did not install the token plugin"

	cat >>"$r/etc/crypttab" <<-'EOF'
		tokdata /dev/disk/by-id/virtio-vhsm-tok none luks,headless=true
		sockdata /dev/disk/by-id/virtio-vhsm-sock /run/vhsm/luks-key.sock luks,headless=true
		locked /dev/disk/by-id/virtio-vhsm-locked none luks,headless=true,nofail
	EOF
	cat >>"$r/etc/fstab" <<-'EOF'
		/dev/mapper/tokdata /srv/tok ext4 ro,nofail,x-systemd.device-timeout=300s 0 0
		/dev/mapper/sockdata /srv/sock ext4 ro,nofail,x-systemd.device-timeout=300s 0 0
	EOF
	install -d "$r/srv/tok" "$r/srv/sock"
	install -m 0444 "$W/luks-fs-tok/marker.txt" "$r/etc/vhsm-vm/tok.marker"
	install -m 0444 "$W/luks-fs-sock/marker.txt" "$r/etc/vhsm-vm/sock.marker"
	install -m 0755 "$here/guest-luks.sh" "$r/usr/local/lib/vhsm-vm/guest-luks.sh"
	log "LUKS2 volumes enrolled with vhsm: $(elapsed $t)"
}
