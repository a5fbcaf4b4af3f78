# shellcheck shell=bash
# make check-vm, PKCS#11 part (sourced by tests/vm/run.sh; uses its W, B, top, here, log, die,
# and luks-setup.sh's luks_image, luks_host_daemon and luks_stop_daemon).
# Three LUKS2 data volumes enrolled on the host with systemd-cryptenroll through vhsm's PKCS#11
# module, against a vhsmd on the guest's own simulated CVM state whose store (with the key pairs)
# is then copied into the guest (luks_setup copies $W/vhsm-state), each opened at boot by
# systemd-cryptsetup from crypttab with pkcs11-uri= (systemd's own PKCS#11 code, through p11-kit
# and the vhsm-pkcs11 package's module), headless. systemd 252's two crypttab forms:
# pkcs11-uri=auto reads the token's URI from the LUKS2 header (through its libcryptsetup token
# plugin); an explicit URI takes the encrypted key from the key file column (the token's
# pkcs11-key, which only the key pair decrypts), so such an entry names a copy of it. And
# `systemd-cryptenroll --pkcs11-token-uri=auto` stores the token's URI without the object, which
# unlocks only while the token holds a single RSA decryption key: at boot that volume is named
# by its explicit URI.
#   p11auto  key pair p11auto, enrolled with --pkcs11-token-uri=auto (the only key pair then);
#            crypttab pkcs11-uri=pkcs11:token=vhsm;object=p11auto and
#            /etc/cryptsetup-keys.d/p11auto.pkcs11-key
#   p11uri   key pair p11uri, enrolled with pkcs11:token=vhsm;object=p11uri; crypttab
#            pkcs11-uri=auto
#   p11off   key pair p11off, enrolled like p11uri, then disabled; crypttab pkcs11-uri=auto:
#            stays locked at boot; its password slot (the recovery passphrase) still opens it
# Each volume holds an ext4 file system with a marker file. Guest checks: tests/vm/guest-pkcs11.sh.
# Must run before luks_setup (which starts its vhsmd on the same state and copies it).

P11_DISKS="p11auto p11uri p11off"
P11_CHECKS=(pkcs11-enroll-auto-crypttab-uri-mounted pkcs11-enroll-uri-crypttab-auto-mounted
	pkcs11-disabled-key-stays-locked pkcs11-recovery-passphrase-opens)
# Only for a guest that gets the PKCS#11 module: the vhsm-pkcs11 package (a tier's GUEST_DEBS)
# or make install.
if [ "${INSTALL_MODE:-deb}" != make ] && [[ " ${GUEST_DEBS:-} " != *" vhsm-pkcs11 "* ]]; then
	P11_DISKS=
	P11_CHECKS=()
fi

# p11_volume NAME: $W/NAME.img, LUKS2 over ext4 holding marker.txt, whose only keyslot is the
# ASCII passphrase in $W/NAME.pass (the recovery passphrase).
p11_volume() {
	printf 'recovery-%s' "$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')" >"$W/$1.pass"
	chmod 0400 "$W/$1.pass"
	luks_image "$1" "$W/$1.pass" "$W/p11-fs-$1"
}

# p11_ns CMD...: CMD in a mount namespace whose p11-kit module directory holds only the built
# module's registration (p11-kit ignores a user configuration for root; systemd loads modules
# only through p11-kit), talking to the host vhsmd of this run.
p11_ns() {
	VHSM_SOCKET=$W/host-vhsmd.sock unshare -m sh -c \
		'mount --make-rprivate / && mount --bind "$1" "$2" && shift 2 && exec "$@"' \
		ns "$W/p11-modules" "$P11_MODDIR" "$@"
}

# p11_enroll NAME URI: systemd-cryptenroll --pkcs11-token-uri=URI on $W/NAME.img.
p11_enroll() {
	local n=$1 uri=$2
	PASSWORD=$(cat "$W/$n.pass") p11_ns systemd-cryptenroll --pkcs11-token-uri="$uri" \
		"$W/$n.img" >>"$W/p11-enroll.log" 2>&1 ||
		p11_die "systemd-cryptenroll --pkcs11-token-uri=$uri $n.img failed ($W/p11-enroll.log)"
	cryptsetup luksDump --dump-json-metadata "$W/$n.img" 2>/dev/null |
		grep -qE '"type"[[:space:]]*:[[:space:]]*"systemd-pkcs11"' ||
		p11_die "no systemd-pkcs11 token in $n.img after enrollment"
}

# p11_die MESSAGE: die, after stopping the host vhsmd.
p11_die() {
	luks_stop_daemon
	die "$@"
}

# p11_token_key IMG: the encrypted key of IMG's systemd-pkcs11 token (binary, to stdout).
p11_token_key() {
	cryptsetup luksDump --dump-json-metadata "$1" | python3 -c '
import base64, json, sys
toks = [t for t in json.load(sys.stdin)["tokens"].values() if t["type"] == "systemd-pkcs11"]
if len(toks) != 1:
    sys.exit("expected one systemd-pkcs11 token, found %d" % len(toks))
sys.stdout.buffer.write(base64.b64decode(toks[0]["pkcs11-key"]))'
}

p11_setup() {
	local r=$W/rootfs t=$SECONDS n ctl=("$B/vhsmctl" --socket "$W/host-vhsmd.sock")
	[ -n "$P11_DISKS" ] || return 0
	for c in systemd-cryptenroll unshare; do
		command -v "$c" >/dev/null || die "$c not found (systemd, util-linux)"
	done
	[ -f "$B/libvhsm-pkcs11.so" ] || die "$B/libvhsm-pkcs11.so not built"
	P11_MODDIR=$(pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null ||
		echo /usr/share/p11-kit/modules)
	[ -d "$P11_MODDIR" ] || die "no p11-kit module directory $P11_MODDIR on the host"
	mkdir -p "$W/p11-modules"
	sed "s|@MODULE@|$B/libvhsm-pkcs11.so|" "$top/pkcs11/vhsm.module.in" \
		>"$W/p11-modules/vhsm.module"
	for n in $P11_DISKS; do p11_volume "$n"; done
	luks_host_daemon
	: >"$W/p11-enroll.log"
	# auto needs exactly one certificate in the token: p11auto is made and enrolled first.
	"${ctl[@]}" key create p11auto --alg rsa2048 --usage decrypt >>"$W/p11-enroll.log" 2>&1 ||
		p11_die "key create p11auto failed ($W/p11-enroll.log)"
	p11_enroll p11auto auto
	# Its header names the token only: it unlocks on the host now, while p11auto is alone.
	p11_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 \
		"$W/p11auto.img" >>"$W/p11-enroll.log" 2>&1 ||
		p11_die "the PKCS#11 token of p11auto.img does not unlock on the host ($W/p11-enroll.log)"
	for n in p11uri p11off; do
		"${ctl[@]}" key create "$n" --alg rsa2048 --usage decrypt >>"$W/p11-enroll.log" 2>&1 ||
			p11_die "key create $n failed ($W/p11-enroll.log)"
		# No type= in the URI: a type=cert URI enrolls but never unlocks (docs/pkcs11.md).
		p11_enroll "$n" "pkcs11:token=vhsm;object=$n"
	done
	# Preconditions on the host (systemd's token plugin, no dm): each token unlocks now.
	for n in p11uri p11off; do
		p11_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 \
			"$W/$n.img" >>"$W/p11-enroll.log" 2>&1 ||
			p11_die "the PKCS#11 token of $n.img does not unlock on the host ($W/p11-enroll.log)"
	done
	"${ctl[@]}" key disable p11off >>"$W/p11-enroll.log" 2>&1 ||
		p11_die "key disable p11off failed ($W/p11-enroll.log)"
	if p11_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 \
		"$W/p11off.img" >>"$W/p11-enroll.log" 2>&1; then
		p11_die "p11off.img still unlocks with its key pair disabled: the negative control would prove nothing"
	fi
	# make check-vm-initrd: the root volume's key pair (tests/vm/run-initrd.sh), in the store
	# the guest gets, where the dracut module finds it.
	if [ -n "${P11_ROOT:-}" ]; then
		"${ctl[@]}" key create p11root --alg rsa2048 --usage decrypt >>"$W/p11-enroll.log" 2>&1 ||
			p11_die "key create p11root failed ($W/p11-enroll.log)"
	fi
	luks_stop_daemon
	for n in $P11_DISKS; do
		cryptsetup open --test-passphrase --key-file "$W/$n.pass" "$W/$n.img" ||
			die "$n.pass does not open $n.img"
	done

	# The crypttab entries as an administrator writes them; p11off is nofail (stays locked).
	# token-timeout=: how long systemd waits for the token, here for vhsmd's first start and
	# attestation (over 60 s in a TCG guest on a loaded host; the default 30 s); the devices
	# likewise (the default 90 s).
	local o=headless=true,token-timeout=300,x-systemd.device-timeout=300s
	cat >>"$r/etc/crypttab" <<-EOF
		p11auto /dev/disk/by-id/virtio-vhsm-p11auto /etc/cryptsetup-keys.d/p11auto.pkcs11-key luks,$o,pkcs11-uri=pkcs11:token=vhsm;object=p11auto
		p11uri /dev/disk/by-id/virtio-vhsm-p11uri none luks,$o,pkcs11-uri=auto
		p11off /dev/disk/by-id/virtio-vhsm-p11off none luks,$o,nofail,pkcs11-uri=auto
	EOF
	cat >>"$r/etc/fstab" <<-'EOF'
		/dev/mapper/p11auto /srv/p11auto ext4 ro,nofail,x-systemd.device-timeout=300s 0 0
		/dev/mapper/p11uri /srv/p11uri ext4 ro,nofail,x-systemd.device-timeout=300s 0 0
	EOF
	install -d "$r/srv/p11auto" "$r/srv/p11uri"
	install -d -m 0700 "$r/etc/cryptsetup-keys.d"
	p11_token_key "$W/p11auto.img" >"$W/p11auto.pkcs11-key" ||
		die "cannot read the pkcs11-key of p11auto.img's token"
	install -m 0400 "$W/p11auto.pkcs11-key" "$r/etc/cryptsetup-keys.d/p11auto.pkcs11-key"
	for n in $P11_DISKS; do
		install -m 0444 "$W/p11-fs-$n/marker.txt" "$r/etc/vhsm-vm/$n.marker"
	done
	# The recovery passphrase of the negative control, as the administrator would type it.
	install -m 0400 "$W/p11off.pass" "$r/etc/vhsm-vm/p11off.recovery"
	install -m 0644 "$here/guest-pkcs11.sh" "$r/usr/local/lib/vhsm-vm/guest-pkcs11.sh"
	log "PKCS#11 volumes enrolled with systemd-cryptenroll: $(elapsed $t)"
}

# p11_root_image: (make check-vm-initrd) $W/p11root.img, a copy of the encrypted root.img (same
# LUKS UUID) whose vhsm token and its keyslot are replaced by a systemd-pkcs11 token for key
# pair p11root, enrolled with systemd-cryptenroll through the recovery passphrase; its
# keyslots: the host's admin key, the recovery passphrase, the token. Also
# $W/p11root-disabled.sealed: p11root's sealed file after `vhsmctl key disable` (the key pair
# stays enabled in the store the guest has).
p11_root_image() {
	local t=$SECONDS ctl=("$B/vhsmctl" --socket "$W/host-vhsmd.sock") id slot
	cp --sparse=always "$W/root.img" "$W/p11root.img"
	for id in $(cryptsetup luksDump --dump-json-metadata "$W/p11root.img" |
		jq -r '.tokens | to_entries[] | select(.value.type == "vhsm") | .key'); do
		slot=$(cryptsetup luksDump --dump-json-metadata "$W/p11root.img" |
			jq -r --arg id "$id" '.tokens[$id].keyslots[0]')
		cryptsetup token remove --token-id "$id" "$W/p11root.img" ||
			die "cannot remove the vhsm token from p11root.img"
		cryptsetup luksKillSlot -q --key-file "$W/root-recovery.pass" "$W/p11root.img" \
			"$slot" || die "cannot remove keyslot $slot of the vhsm token from p11root.img"
	done
	luks_host_daemon
	PASSWORD=$ROOT_RECOVERY_PASS p11_ns systemd-cryptenroll \
		--pkcs11-token-uri='pkcs11:token=vhsm;object=p11root' "$W/p11root.img" \
		>>"$W/p11-enroll.log" 2>&1 ||
		p11_die "systemd-cryptenroll on p11root.img failed ($W/p11-enroll.log)"
	p11_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 \
		"$W/p11root.img" >>"$W/p11-enroll.log" 2>&1 ||
		p11_die "the PKCS#11 token of p11root.img does not unlock on the host ($W/p11-enroll.log)"
	"${ctl[@]}" key disable p11root >>"$W/p11-enroll.log" 2>&1 ||
		p11_die "key disable p11root failed ($W/p11-enroll.log)"
	cp "$W/vhsm-state/keypair/p11root.sealed" "$W/p11root-disabled.sealed"
	luks_stop_daemon
	cryptsetup luksDump --dump-json-metadata "$W/p11root.img" |
		jq -e '[.tokens[] | select(.type == "vhsm")] | length == 0' >/dev/null ||
		die "p11root.img still has a vhsm token"
	log "root volume copy enrolled with systemd-cryptenroll (PKCS#11): $(elapsed $t)"
}
