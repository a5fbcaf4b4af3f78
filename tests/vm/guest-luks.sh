# The LUKS2 checks inside the test VM (sourced by guest-check.sh, which provides settle, why,
# say). Volumes and their setup: tests/vm/luks-setup.sh.
# shellcheck shell=bash disable=SC2317

LUKS_EXPECTED_FAILED=systemd-cryptsetup@locked.service

# luks_mounted VOLUME MOUNTPOINT MARKER-COPY: the volume is an active LUKS2 dm-crypt mapping,
# mounted at boot, and its marker file reads back.
luks_mounted() {
	local vol=$1 mnt=$2 want=$3 st src i
	st=$(settle "systemd-cryptsetup@$vol.service" 150)
	[ "$st" = active ] || { why "systemd-cryptsetup@$vol.service is $st"; return 1; }
	cryptsetup status "$vol" | grep -q 'type: *LUKS2' || { why "$vol: not an active LUKS2 mapping"; return 1; }
	dmsetup table "$vol" | grep -q ' crypt ' || { why "$vol: no dm-crypt table"; return 1; }
	for ((i = 0; i < 60; i++)); do
		src=$(findmnt -n -o SOURCE "$mnt")
		[ -n "$src" ] && break
		sleep 1
	done
	[ "$src" = "/dev/mapper/$vol" ] || { why "$mnt is mounted from '$src'"; return 1; }
	cmp -s "$mnt/marker.txt" "$want" ||
		{ why "$mnt/marker.txt does not read back ($(head -c 80 "$mnt/marker.txt" 2>&1))"; return 1; }
	say "$vol: $(cat "$mnt/marker.txt") read back from $mnt"
}

# vhsmd's audit record for an event, from the journal (structured fields).
luks_audited() {
	journalctl -b -o cat --no-pager _SYSTEMD_UNIT=vhsmd.service VHSM_EVENT="$1" \
		VHSM_RESULT="$2" 2>/dev/null | grep -q .
}

# ---- tokdata: crypttab key "none", unlocked by the vhsm token plugin ----
check_luks_token() {
	luks_mounted tokdata /srv/tok /etc/vhsm-vm/tok.marker || return 1
	# No key file and headless: only a token can have opened it; vhsmd released the secret.
	luks_audited luks.unlock ok || { why "no successful luks.unlock in vhsmd's journal"; return 1; }
	journalctl -b -o cat --no-pager -u systemd-cryptsetup@tokdata.service |
		grep -qi 'password\|passphrase' &&
		{ why "systemd-cryptsetup@tokdata fell back to a password"; return 1; }
	return 0
}

# ---- sockdata: key file = vhsmd's AF_UNIX key socket ----
check_luks_keysocket() {
	luks_mounted sockdata /srv/sock /etc/vhsm-vm/sock.marker || return 1
	systemctl is-active -q vhsmd-luks-key.socket ||
		{ why "vhsmd-luks-key.socket is $(systemctl is-active vhsmd-luks-key.socket)"; return 1; }
	luks_audited luks.keysock ok || { why "no successful luks.keysock in vhsmd's journal"; return 1; }
}

# ---- locked: its KEK is disabled in the store; the volume must stay locked ----
check_luks_disabled() {
	local st
	st=$(settle systemd-cryptsetup@locked.service 150)
	[ "$st" = failed ] || { why "systemd-cryptsetup@locked.service is $st, expected failed"; return 1; }
	[ ! -e /dev/mapper/locked ] || { why "/dev/mapper/locked exists"; return 1; }
	journalctl -b -o cat --no-pager _SYSTEMD_UNIT=vhsmd.service VHSM_EVENT=luks.unlock \
		VHSM_RESULT=refused | grep -q 'offkek' ||
		{ why "no refused luks.unlock for KEK offkek in vhsmd's journal"; return 1; }
	# The refusal is the KEK's state, not a broken setup: vhsmctl says why.
	local out
	out=$(vhsmctl luks unlock --test /dev/disk/by-id/virtio-vhsm-locked 2>&1) &&
		{ why "vhsmctl luks unlock --test succeeded on the locked volume"; return 1; }
	grep -q 'disabled' <<<"$out" || { why "unexpected refusal: $out"; return 1; }
}

# ---- vhsmctl luks unlock activates a volume through vhsmd, without the plugin ----
check_luks_vhsmctl_unlock() {
	local dev=/dev/disk/by-id/virtio-vhsm-tok out
	umount /srv/tok 2>/dev/null
	cryptsetup close tokdata || { why "cannot close tokdata"; return 1; }
	out=$(vhsmctl luks unlock "$dev" tokagain 2>&1) ||
		{ why "vhsmctl luks unlock: $out"; return 1; }
	cryptsetup status tokagain | grep -q 'type: *LUKS2' || { why "tokagain not active"; return 1; }
	# Onto the mapping that is open now: refused with one clear message, nothing else.
	out=$(vhsmctl luks unlock "$dev" tokagain 2>&1) &&
		{ why "a second luks unlock onto the open tokagain succeeded"; return 1; }
	[ "$(wc -l <<<"$out")" -eq 1 ] &&
		grep -q '^vhsmctl: luks unlock: /dev/mapper/tokagain already exists; is the volume already open?' <<<"$out" ||
		{ why "luks unlock onto an open mapping: $out"; return 1; }
	say "luks unlock onto an open mapping: $out"
	install -d /run/tokagain
	mount -o ro /dev/mapper/tokagain /run/tokagain || { why "cannot mount tokagain"; return 1; }
	cmp -s /run/tokagain/marker.txt /etc/vhsm-vm/tok.marker ||
		{ why "marker does not read back through tokagain"; umount /run/tokagain; return 1; }
	umount /run/tokagain
	cryptsetup close tokagain || { why "cannot close tokagain"; return 1; }
	# The locked volume's KEK is disabled: vhsmctl cannot open it either.
	if vhsmctl luks unlock /dev/disk/by-id/virtio-vhsm-locked lockedagain >/dev/null 2>&1; then
		why "vhsmctl luks unlock opened the volume of a disabled KEK"
		return 1
	fi
	[ ! -e /dev/mapper/lockedagain ] || { why "/dev/mapper/lockedagain exists"; return 1; }
}

# kek_state KEK: its state as vhsmd reports it.
kek_state() {
	vhsmctl --json kek show "$1" 2>/dev/null | sed -n 's/^ *"state": *"\([a-z]*\)".*/\1/p' | head -n 1
}

# ---- a KEK that an open LUKS2 volume depends on: kek disable/delete need --force ----
check_luks_dependents() {
	local out
	cryptsetup status sockdata | grep -q 'type: *LUKS2' || { why "sockdata is not open"; return 1; }
	out=$(vhsmctl kek volumes bootkek 2>&1) || { why "kek volumes bootkek: $out"; return 1; }
	grep -qE '^sockdata +luks2 ' <<<"$out" || { why "kek volumes does not list sockdata: $out"; return 1; }
	for verb in disable delete; do
		out=$(vhsmctl kek "$verb" bootkek 2>&1) &&
			{ why "kek $verb without --force succeeded with sockdata open"; return 1; }
		grep -q "kek $verb: volumes depend on KEK bootkek" <<<"$out" &&
			grep -qE '^ +sockdata +luks2 ' <<<"$out" && grep -q 'add --force' <<<"$out" ||
			{ why "kek $verb refusal: $out"; return 1; }
		[ "$(kek_state bootkek)" = enabled ] ||
			{ why "refused kek $verb left bootkek $(kek_state bootkek)"; return 1; }
	done
	say "dependents: kek disable/delete bootkek refused, sockdata listed"
}

# ---- kek disable --shred finds an open volume whose header lost its vhsm token ----
check_luks_shred_without_token() {
	local dev=/dev/disk/by-id/virtio-vhsm-sock uuid out state
	uuid=$(cryptsetup luksUUID "$dev")
	vhsmctl --json kek show bootkek | grep -q "\"uuid\": *\"$uuid\"" ||
		{ why "vhsmd did not record sockdata ($uuid) under bootkek"; return 1; }
	umount /srv/sock 2>/dev/null
	cryptsetup token remove --token-id 0 "$dev" || { why "cannot remove sockdata's token"; return 1; }
	cryptsetup luksDump "$dev" | grep -q 'vhsm' && { why "sockdata's header still has a vhsm token"; return 1; }
	out=$(vhsmctl kek volumes bootkek 2>&1)
	grep -qE '^sockdata +luks2 ' <<<"$out" || { why "kek volumes without the token: $out"; return 1; }
	out=$(vhsmctl kek disable bootkek --shred 2>&1) || { why "kek disable --shred: $out"; return 1; }
	say "shred without the token: $(tr '\n' ';' <<<"$out")"
	grep -q '^volume sockdata: suspended' <<<"$out" || { why "sockdata not suspended: $out"; return 1; }
	state=$(dmsetup info sockdata | awk '/^State:/ {print $2}')
	[ "$state" = SUSPENDED ] || { why "sockdata is $state after --shred"; return 1; }
	if dmsetup resume sockdata 2>/dev/null; then
		why "sockdata resumed after --shred: its key was not wiped"
		return 1
	fi
	dmsetup remove --force sockdata >/dev/null 2>&1
	# The key socket's binding still unlocks sockdata at the next boot.
	vhsmctl kek enable bootkek >/dev/null 2>&1 || { why "cannot enable bootkek again"; return 1; }
}

luks_checks() {
	run_check luks-token-crypttab-mounted check_luks_token
	run_check luks-keysocket-crypttab-mounted check_luks_keysocket
	run_check luks-disabled-kek-stays-locked check_luks_disabled
	run_check luks-vhsmctl-unlock-dm check_luks_vhsmctl_unlock
	run_check luks-dependents-need-force check_luks_dependents
	run_check luks-shred-without-header-token check_luks_shred_without_token
}
