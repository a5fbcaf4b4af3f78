#!/bin/bash
# Key pair lifecycle (vhsmctl key disable|enable|delete|recover|purge|acl|cert) on a test
# clock: soft delete with retention, recover within it only, purge protection to the second,
# set-cert refusing a certificate of another key, and every change audited and sealed.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
test_clock_init # at, jump
start_daemon cvm --test-clock "$WORK/now"

expect_exit 0 ctl key create prot --alg ec-p256 --usage sign --purge-protection --retention-days 7
expect_exit 0 ctl key create soft --alg rsa2048 --usage sign,decrypt --retention-days 7 \
	--pubkey-out "$WORK/soft.der"
expect_exit 0 ctl key create other --alg rsa2048 --usage sign --cert-out "$WORK/other.crt"
echo hello >"$WORK/msg"

# disable / enable, with "already" answered as such
expect_exit 0 ctl key disable soft --json
jq -e '.state == "disabled"' "$WORK/out" >/dev/null || fail "disable result: $(cat "$WORK/out")"
expect_exit 0 ctl key disable soft
expect_out "already disabled"
expect_exit 0 ctl key disable soft --json
jq -e '.changed == false and .name == "soft"' "$WORK/out" >/dev/null || fail "already: $(cat "$WORK/out")"
expect_exit 0 ctl key enable soft --json
jq -e '.changed == true and .state == "enabled"' "$WORK/out" >/dev/null || fail "enable: $(cat "$WORK/out")"
expect_exit 0 ctl key enable soft
expect_out "already enabled"
ok "disable and enable; a second one says it is already so (success, changed false)"

# soft delete, recover, delete again, purge
expect_exit 0 ctl key delete soft --json
jq -e --argjson t "$T0" '.state == "deleted" and .deleted_at == $t' "$WORK/out" >/dev/null ||
	fail "delete result: $(cat "$WORK/out")"
expect_exit 0 ctl key delete soft
expect_out "already deleted"
expect_exit 1 ctl key disable soft
expect_out "is deleted \(recover it first\)"
expect_exit 0 ctl key list --json
jq -e '.[] | select(.name == "soft") | .state == "deleted"' "$WORK/out" >/dev/null ||
	fail "a deleted key pair is not listed as deleted"
at $((7 * DAY - 1))
expect_exit 0 ctl key recover soft --json
jq -e '.state == "enabled" and .deleted_at == 0' "$WORK/out" >/dev/null ||
	fail "recover result: $(cat "$WORK/out")"
ctl key sign soft --mech sha256-rsa-pkcs <"$WORK/msg" >/dev/null || fail "recovered key does not sign"
expect_exit 0 ctl key delete soft
at $((14 * DAY))
expect_exit 1 ctl key recover soft
expect_out "retention has passed"
expect_exit 0 ctl key purge soft
[ -e "$STATE/keypair/soft.sealed" ] && fail "purged key pair's file is still there"
expect_exit 1 ctl key show soft
expect_out "no key pair named soft"
expect_exit 0 ctl key create soft --alg ec-p256 --usage sign
ok "soft delete, recover within the retention only, purge; the name is free again"

# purge protection: not before the retention ends, which cannot be shortened
at $((20 * DAY))
expect_exit 1 ctl key purge prot
expect_out "must be deleted before"
expect_exit 0 ctl key create prot10 --alg ec-p256 --usage sign --purge-protection --retention-days 10
expect_exit 1 ctl key delete prot10 --retention-days 7
expect_out "retention cannot be shortened"
at $((21 * DAY))
expect_exit 0 ctl key delete prot --retention-days 8
# The host moves the wall clock past the retention while the boot-time clock saw a second:
# no purge brought forward, and the refusal names when it becomes possible (ISO 8601).
jump $((40 * DAY))
expect_exit 1 ctl key purge prot
expect_out "purge protection: key pair prot: the wall clock is [0-9]+ s ahead of the boot-time clock"
at $((21 * DAY + 8 * DAY - 1))
expect_exit 1 ctl key purge prot
expect_out "purge protection: key pair prot can be purged from [0-9]{4}-[0-9]{2}-[0-9]{2}T"
at $((21 * DAY + 8 * DAY))
expect_exit 0 ctl key purge prot
ok "purge protection: refused until the retention's last second (a clock moved forwards brings nothing forward), allowed from then on"

# set-cert: the key pair's own key only
openssl req -x509 -new -key <(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 2>/dev/null) \
	-subj /CN=stranger -days 1 -outform DER -out "$WORK/stranger.crt" 2>/dev/null
expect_exit 1 ctl key cert other "$WORK/stranger.crt"
expect_out "public key is not key pair other's"
head -c 500 /dev/urandom >"$WORK/junk.crt"
expect_exit 1 ctl key cert other "$WORK/junk.crt"
expect_out "not a DER X.509 certificate"
# a certificate for other's key made outside (as openssl req -x509 -engine pkcs11 would)
openssl x509 -inform DER -in "$WORK/other.crt" -outform PEM -out "$WORK/other.pem"
expect_exit 0 ctl key cert other "$WORK/other.pem"
expect_exit 0 ctl key show other --cert-out "$WORK/back.crt"
cmp -s "$WORK/back.crt" "$WORK/other.crt" || fail "stored certificate differs"
ok "key cert stores a certificate of the key pair's public key and refuses another key's or junk"

grep -c '"event":"key\.\(delete\|recover\|purge\|cert\|disable\|enable\)"' "$STATE/audit.log" >"$WORK/n"
[ "$(cat "$WORK/n")" -ge 10 ] || fail "lifecycle changes are not all audited ($(cat "$WORK/n"))"
ok "lifecycle changes are audited"
