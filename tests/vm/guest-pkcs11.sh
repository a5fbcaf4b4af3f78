# The PKCS#11 boot-unlock checks inside the test VM (sourced by guest-check.sh, which provides
# settle, why, say; luks_mounted and luks_audited come from guest-luks.sh). Volumes and their
# setup: tests/vm/pkcs11-setup.sh.
# shellcheck shell=bash disable=SC2317

P11_EXPECTED_FAILED=systemd-cryptsetup@p11off.service

# p11_decrypt_audited KEY RESULT UNIT: vhsmd's chained audit log (which has every use; the
# journal has each key's data-plane successes at most once a second) holds a key.decrypt of KEY
# with RESULT (ok, refused) for a caller in UNIT, and the journal has a key.decrypt of KEY with
# RESULT.
p11_decrypt_audited() {
	grep -F '"event":"key.decrypt","key":"'"$1"'",' /var/lib/vhsm/audit.log 2>/dev/null |
		grep -F '"unit":"'"$3"'"' | grep -qF '"result":"'"$2"'"' || return 1
	journalctl -b -o cat --no-pager _SYSTEMD_UNIT=vhsmd.service VHSM_EVENT=key.decrypt \
		VHSM_KEY="$1" VHSM_RESULT="$2" 2>/dev/null | grep -q .
}

# p11_unlocked VOLUME: mounted at boot by systemd-cryptsetup through the PKCS#11 token: the
# mapping is up and its marker reads back, the header holds a systemd-pkcs11 token and no
# keyslot the guest knows a key for, vhsmd decrypted with the volume's key pair for the
# volume's systemd-cryptsetup unit, and no password was asked for.
p11_unlocked() {
	local vol=$1 unit="systemd-cryptsetup@$1.service" tok
	luks_mounted "$vol" "/srv/$vol" "/etc/vhsm-vm/$vol.marker" || return 1
	tok=$(cryptsetup luksDump --dump-json-metadata "/dev/disk/by-id/virtio-vhsm-$vol" 2>&1 |
		tr -d ' \n')
	[[ $tok == *'"type":"systemd-pkcs11"'* ]] || { why "$vol: no systemd-pkcs11 token"; return 1; }
	p11_decrypt_audited "$vol" ok "$unit" ||
		{ why "no successful key.decrypt of key pair $vol by $unit in vhsmd's audit log" \
			"and journal"; return 1; }
	if journalctl -b -o cat --no-pager -u "$unit" | grep -qiE 'password|passphrase'; then
		why "$unit fell back to a password: $(journalctl -b -o cat --no-pager -u "$unit" |
			grep -iE 'password|passphrase' | head -n 2)"
		return 1
	fi
	say "$vol: $(journalctl -b -o cat --no-pager -u "$unit" | grep -v '^$' | tail -n 3 |
		paste -sd '|')"
}

# p11_token_decrypted VOLUME: systemd-cryptsetup says it decrypted the key with the token.
p11_token_decrypted() {
	journalctl -b -o cat --no-pager -u "systemd-cryptsetup@$1.service" |
		grep -q 'Successfully decrypted key with security token' ||
		{ why "systemd-cryptsetup@$1 does not say it decrypted the key with the token"; return 1; }
}

# p11auto (enrolled with auto), opened by its explicit URI and its encrypted key as key file.
check_p11_auto() { p11_unlocked p11auto && p11_token_decrypted p11auto; }

# p11uri (enrolled with its URI), opened by pkcs11-uri=auto: the URI from the LUKS2 header.
check_p11_uri() { p11_unlocked p11uri && p11_token_decrypted p11uri; }

# ---- p11off: its key pair is disabled in vhsmd; the volume must stay locked ----
check_p11_disabled() {
	local st dev=/dev/disk/by-id/virtio-vhsm-p11off out
	st=$(settle "$P11_EXPECTED_FAILED" 150)
	say "p11off: $(journalctl -b -o cat --no-pager -u "$P11_EXPECTED_FAILED" |
		grep -iE 'token|decrypt|password|passphrase|headless|key' | tail -n 6 | paste -sd '|')"
	[ "$st" = failed ] || { why "$P11_EXPECTED_FAILED is $st, expected failed"; return 1; }
	[ ! -e /dev/mapper/p11off ] || { why "/dev/mapper/p11off exists"; return 1; }
	# It was the key pair's state that refused (not a missing module or token).
	p11_decrypt_audited p11off refused "$P11_EXPECTED_FAILED" ||
		{ why "no refused key.decrypt of p11off by $P11_EXPECTED_FAILED in vhsmd's audit" \
			"log and journal"; return 1; }
	journalctl -b -o cat --no-pager _SYSTEMD_UNIT=vhsmd.service VHSM_EVENT=key.decrypt \
		VHSM_KEY=p11off VHSM_RESULT=refused | grep -q 'disabled' ||
		{ why "the refusal of p11off does not name the disabled key pair"; return 1; }
	out=$(vhsmctl key show p11off 2>&1) || { why "key show p11off: $out"; return 1; }
	grep -qi 'disabled' <<<"$out" || { why "key show p11off: $out"; return 1; }
	# Now, with vhsmd running: systemd's token plugin still cannot unlock it.
	if cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 "$dev" \
		>"$T/p11off.out" 2>&1; then
		why "the PKCS#11 token unlocks p11off with its key pair disabled"
		return 1
	fi
}

# ---- p11off: the recovery passphrase (a password keyslot) still opens it ----
check_p11_recovery() {
	local dev=/dev/disk/by-id/virtio-vhsm-p11off mnt=$T/p11off-mnt out
	[ ! -e /dev/mapper/p11off-rec ] || { why "/dev/mapper/p11off-rec exists already"; return 1; }
	out=$(cryptsetup open --key-file /etc/vhsm-vm/p11off.recovery "$dev" p11off-rec 2>&1) ||
		{ why "the recovery passphrase does not open p11off: $out"; return 1; }
	mkdir -p "$mnt"
	mount -o ro /dev/mapper/p11off-rec "$mnt" || { why "cannot mount p11off-rec"; return 1; }
	if ! cmp -s "$mnt/marker.txt" /etc/vhsm-vm/p11off.marker; then
		why "p11off's marker does not read back"
		umount "$mnt"; cryptsetup close p11off-rec
		return 1
	fi
	say "p11off: $(cat "$mnt/marker.txt") read back with the recovery passphrase"
	if ! umount "$mnt" || ! cryptsetup close p11off-rec; then
		why "cannot close p11off-rec"
		return 1
	fi
}

p11_checks() {
	run_check pkcs11-enroll-auto-crypttab-uri-mounted check_p11_auto
	run_check pkcs11-enroll-uri-crypttab-auto-mounted check_p11_uri
	run_check pkcs11-disabled-key-stays-locked check_p11_disabled
	run_check pkcs11-recovery-passphrase-opens check_p11_recovery
}
