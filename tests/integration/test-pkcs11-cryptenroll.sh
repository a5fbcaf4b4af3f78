#!/bin/bash
# systemd-cryptenroll with vhsm's PKCS#11 token on a LUKS2 image file: --pkcs11-token-uri=list
# shows the token, =auto picks it (the only token, one certificate), an explicit URI works,
# and systemd's own token plugin unlocks it with
# `cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11` (systemd loads
# the module through p11-kit: vhsm.module is bind-mounted in a private mount namespace). A
# disabled key leaves the volume locked; the passphrase still opens it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pkcs11-lib.sh"
for c in cryptsetup systemd-cryptenroll; do
	command -v $c >/dev/null || skip "$c not installed"
done
TOKDIR=$(pkg-config --variable=libdir libcryptsetup)/cryptsetup
[ -f "$TOKDIR/libcryptsetup-token-systemd-pkcs11.so" ] ||
	skip "systemd's PKCS#11 token plugin not in $TOKDIR"
p11kit_ns_setup

make_cvm a
start_daemon a
export VHSM_SOCKET=$SOCK
expect_exit 0 p11 --login --keypairgen --key-type rsa:3072 --label luks1 --usage-decrypt

IMG=$WORK/vol.img
printf 'recovery passphrase' >"$WORK/pass"
truncate -s 32M "$IMG"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$WORK/pass" "$IMG" || fail "luksFormat"

expect_exit 0 p11kit_ns systemd-cryptenroll --pkcs11-token-uri=list
expect_out 'pkcs11:.*token=vhsm'
ok "systemd-cryptenroll --pkcs11-token-uri=list shows the vhsm token"

expect_exit 0 p11kit_ns env PASSWORD="$(cat "$WORK/pass")" systemd-cryptenroll \
	--pkcs11-token-uri=auto "$IMG"
expect_out 'New PKCS#11 token enrolled as key slot 1'
cryptsetup luksDump "$IMG" >"$WORK/dump"
grep -q 'systemd-pkcs11' "$WORK/dump" || fail "no systemd-pkcs11 token in the header"
ok "--pkcs11-token-uri=auto enrolls with vhsm's certificate (the only token)"

expect_exit 0 p11kit_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 \
	-v "$IMG"
expect_out 'Key slot 1 unlocked'
ok "systemd's token plugin unlocks the volume through vhsm (no PIN, headless)"

# An explicit URI without type= (a type=cert URI would enroll and never unlock).
expect_exit 0 p11kit_ns env PASSWORD="$(cat "$WORK/pass")" systemd-cryptenroll \
	--pkcs11-token-uri='pkcs11:token=vhsm;object=luks1' "$IMG"
expect_out 'enrolled as key slot 2'
ok "--pkcs11-token-uri with an explicit URI"

# Disabled key: the token cannot unlock; the passphrase still can.
expect_exit 0 ctl key disable luks1
expect_exit 1 p11kit_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 "$IMG"
not_out 'Key slot [0-9] unlocked'
expect_exit 0 cryptsetup open --test-passphrase --key-file "$WORK/pass" "$IMG"
expect_exit 0 ctl key enable luks1
expect_exit 0 p11kit_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 "$IMG"
ok "a disabled key leaves the volume locked (the passphrase still opens it); enabled again, it unlocks"

# vhsmd gone: no token, no unlock, no hang.
stop_daemon
expect_exit 1 p11kit_ns cryptsetup open --test-passphrase --token-only --token-type systemd-pkcs11 "$IMG"
ok "vhsmd down: the token plugin does not unlock"
