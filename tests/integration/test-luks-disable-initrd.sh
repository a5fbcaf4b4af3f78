#!/bin/bash
# kek disable reaches the initrd: a LUKS2 volume's vhsm token carries a sealed copy of its KEK
# version, which a vhsmd without a store (--luks-standalone, as in the dracut and
# initramfs-tools initrds) unseals on the same CVM. vhsmctl kek disable withdraws that copy
# from the tokens it finds (the DEVICEs named, the open volumes, the crypttab entries), so that
# the standalone daemon refuses the volume, through vhsmctl luks unlock (initramfs-tools'
# keyscript) and through the token plugin (dracut's systemd-cryptsetup); the store keeps
# deciding on the real system; kek enable + luks rewrap puts a copy back. Another KEK's token
# and a file without a LUKS2 header are left alone, named in the error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/luks-lib.sh"

# cryptsetup with our plugin directory bind-mounted over libcryptsetup's (luks-lib.sh).
plugin_ns_setup python3 pkg-config
export VHSM_TOKEN_SOCKET=$SOCK VHSM_TOKEN_TIMEOUT=60

printf 'admin passphrase' >"$WORK/adm.key"
for v in vol other; do
	luks_format "$WORK/$v.img" "$WORK/adm.key"
done
# The test's own crypttab (empty): the host's must not be read or rewritten.
: >"$WORK/crypttab"
# has_copy IMG: the vhsm token 0 of IMG carries a sealed KEK copy.
has_copy() {
	cryptsetup token export --token-id 0 "$1" >"$WORK/tok.json"
	python3 -c 'import json, sys; sys.exit(0 if "sealed_kek" in json.load(open(sys.argv[1])) else 1)' \
		"$WORK/tok.json"
}
STATE_MAIN=$WORK/state-main
# store_daemon / initrd_daemon: vhsmd with the KEK store, or without one (--luks-standalone).
store_daemon() { stop_daemon; STATE=$STATE_MAIN start_daemon a; }
initrd_daemon() { stop_daemon; rm -rf "$WORK/state-initrd"; STATE=$WORK/state-initrd start_daemon a --luks-standalone; }

make_cvm a genoa --measurement "$(printf 'a1%.0s' $(seq 48))"
store_daemon
expect_exit 0 ctl kek create disk-kek
expect_exit 0 ctl kek create other-kek
expect_exit 0 ctl luks enroll "$WORK/vol.img" --kek disk-kek --unlock-key-file "$WORK/adm.key"
expect_exit 0 ctl luks enroll "$WORK/other.img" --kek other-kek --unlock-key-file "$WORK/adm.key"
has_copy "$WORK/vol.img" || fail "an enrolled token has no sealed copy"

# ---- before: the initrd's daemon unlocks with the token's copy ----
initrd_daemon
expect_exit 0 ctl luks unlock --test "$WORK/vol.img"
expect_exit 0 ns cryptsetup open --test-passphrase --token-only --token-id 0 -v "$WORK/vol.img"
expect_out 'Key slot 1 unlocked'
ok "an enabled KEK: the standalone (initrd) daemon unlocks with the token's sealed copy"

# ---- kek disable withdraws the copy of the named devices, only of that KEK ----
store_daemon
expect_exit 0 ctl kek disable disk-kek "$WORK/vol.img" "$WORK/other.img" --crypttab "$WORK/crypttab"
expect_out 'KEK disk-kek disabled'
expect_out "vol.img \(.*vol.img\): sealed KEK copy withdrawn from 1 token\(s\)"
if grep -q 'other.img' "$WORK/out"; then cat "$WORK/out"; fail "other-kek's volume was touched"; fi
! has_copy "$WORK/vol.img" || fail "the disabled KEK's copy is still in the token"
has_copy "$WORK/other.img" || fail "the copy of another KEK was withdrawn"
expect_exit 0 cryptsetup luksDump "$WORK/vol.img"
expect_out 'vhsm'
ok "kek disable DEVICE withdraws the sealed copy of that KEK only"

# ---- after: the initrd's daemon refuses, by both ways the initrds ask ----
initrd_daemon
expect_exit 1 ctl luks unlock --test "$WORK/vol.img"
expect_out 'sealed copy of KEK disk-kek was withdrawn \(vhsmctl kek disable\)'
expect_exit 1 ns cryptsetup open --test-passphrase --token-only --token-id 0 "$WORK/vol.img"
if grep -q 'unlocked' "$WORK/out"; then cat "$WORK/out"; fail "the plugin unlocked a withdrawn token"; fi
expect_out 'withdrawn'
# The admin's passphrase (the recovery path) still opens it.
expect_exit 0 cryptsetup open --test-passphrase --key-file "$WORK/adm.key" "$WORK/vol.img"
# The other KEK's volume still unlocks standalone.
expect_exit 0 ctl luks unlock --test "$WORK/other.img"
ok "a disabled KEK: the standalone daemon refuses (keyscript and plugin), the passphrase opens"

# ---- the store still decides; a repeated disable is idempotent; JSON ----
store_daemon
expect_exit 1 ctl luks unlock --test "$WORK/vol.img"
expect_out 'disk-kek is disabled'
expect_exit 0 ctl kek disable disk-kek "$WORK/vol.img" --crypttab "$WORK/crypttab" --json
python3 -c 'import json, sys
o = json.load(open(sys.argv[1]))
assert o["name"] == "disk-kek" and o["changed"] is False and o["withdrawn"] == [], o' "$WORK/out" ||
	fail "kek disable --json: $(cat "$WORK/out")"
# A header that cannot be rewritten: named, exit 3 (error), the KEK stays disabled.
printf 'not luks' >"$WORK/plain.img"
expect_exit 3 ctl kek disable disk-kek "$WORK/plain.img" --crypttab "$WORK/crypttab"
expect_out 'plain.img.*sealed KEK copy not withdrawn: no LUKS2 header'
expect_exit 0 ctl kek show disk-kek --json
expect_out '"state": *"disabled"'
ok "the store refuses a disabled KEK; repeated disable changes nothing; bad header named"

# ---- crypttab entries are found as kek volumes finds them ----
store_daemon
expect_exit 0 ctl kek enable disk-kek
expect_exit 0 ctl luks rewrap "$WORK/vol.img"
has_copy "$WORK/vol.img" || fail "luks rewrap did not put a sealed copy back"
printf 'vol %s none luks\n' "$WORK/vol.img" >"$WORK/crypttab2"
expect_exit 1 ctl kek disable disk-kek --crypttab "$WORK/crypttab2"
expect_out 'volumes depend on KEK disk-kek'
has_copy "$WORK/vol.img" || fail "a refused disable withdrew the copy"
expect_exit 0 ctl kek disable disk-kek --force --crypttab "$WORK/crypttab2"
expect_out 'vol \(.*vol.img\): sealed KEK copy withdrawn from 1 token'
! has_copy "$WORK/vol.img" || fail "the crypttab volume's copy is still there"
ok "kek disable --force withdraws the copy of a crypttab volume; refused without --force"

# ---- kek enable: the store unlocks at once; luks rewrap brings the initrd back ----
expect_exit 0 ctl kek enable disk-kek
expect_exit 0 ctl luks unlock --test "$WORK/vol.img"
initrd_daemon
expect_exit 1 ctl luks unlock --test "$WORK/vol.img"
expect_out 'withdrawn'
store_daemon
expect_exit 0 ctl luks rewrap "$WORK/vol.img"
has_copy "$WORK/vol.img" || fail "luks rewrap did not put a sealed copy back"
initrd_daemon
expect_exit 0 ctl luks unlock --test "$WORK/vol.img"
stop_daemon
ok "kek enable: the store unlocks the withdrawn token; luks rewrap restores the initrd's copy"
