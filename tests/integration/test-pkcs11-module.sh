#!/bin/bash
# The PKCS#11 module's life cycle and token: C_Initialize variants, fork, threads, fds, sessions
# and login (test-p11-module-check), p11-kit registration, pkcs11-tool's own tests, and an
# absent token while vhsmd is unreachable.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pkcs11-lib.sh"
CHECK=$B/test-p11-module-check
[ -x "$CHECK" ] || fail "$CHECK not built"

make_cvm a
# vhsmd unreachable: the token is absent (systemd then tries later) and no session opens.
VHSM_SOCKET=$WORK/vhsmd.sock "$CHECK" "$MOD" absent || fail "absent token"
expect_exit 0 p11 -L
expect_out '\(empty\)'
not_out 'token label'
ok "no vhsmd: the slot is empty"

start_daemon a
VHSM_SOCKET=$SOCK "$CHECK" "$MOD" present || fail "module life cycle"
ok "life cycle, sessions, login, threads, fork, close-on-exec"

expect_exit 0 p11 -L
expect_out 'token label +: vhsm$'
expect_out 'login required, PIN pad present, rng, token initialized, PIN initialized'
expect_exit 0 p11 -M
for m in RSA-PKCS RSA-PKCS-OAEP RSA-PKCS-PSS SHA256-RSA-PKCS-PSS ECDSA ECDSA-SHA256 AES-GCM \
	mechtype-0x210A; do
	grep -qE "^  $m, " "$WORK/out" || { cat "$WORK/out"; fail "mechanism $m not listed"; }
done
not_out 'SHA-1,|AES-CBC|DES'
ok "pkcs11-tool lists the token and the mechanisms vhsmd performs"

expect_exit 0 p11 --generate-random 64 --output-file "$WORK/rnd"
[ "$(stat -c %s "$WORK/rnd")" -eq 64 ] || fail "64 random bytes"
[ "$(od -An -tx1 "$WORK/rnd" | tr -d ' \n' | grep -c '^0*$')" -eq 0 ] || fail "zero random bytes"
ok "C_GenerateRandom"

expect_exit 0 p11 --test --login
expect_out 'No errors'
expect_exit 0 p11 --test-fork
not_out 'error|failed|CKR_'
expect_exit 0 p11 --test-threads ILGISLT0 --test-threads ILGISLT0 -L
not_out 'rv:CKR_(GENERAL|DEVICE|FUNCTION_FAILED|ARGUMENTS)'
ok "pkcs11-tool --test --login, --test-fork, --test-threads"

p11kit_ns_setup
expect_exit 0 p11kit_ns p11-kit list-modules
expect_out "^vhsm: $MOD"
expect_out 'token: vhsm'
expect_out 'protected-authentication-path'
ok "p11-kit list-modules loads the registered module and sees the token"

stop_daemon
expect_exit 0 p11 -L
expect_out '\(empty\)'
ok "vhsmd gone: the token is absent again"
