#!/bin/bash
# lib/tpm2-seal against swtpm: a secret sealed to PCR 7 comes back only from the same TPM with
# PCR 7 as it was; another TPM (swapped state), a changed PCR 7 and a modified blob are refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
TOOL=$B/test-tpm2-seal-tool
[ -x "$TOOL" ] || fail "$TOOL not built"

swtpm_start tpm-a
swtpm_start tpm-b
head -c 32 /dev/urandom >"$WORK/secret"
want=$(od -An -tx1 "$WORK/secret" | tr -d ' \n')

expect_exit 0 "$TOOL" seal "$(tcti tpm-a)" 0x80 "$WORK/blob" <"$WORK/secret"
od -An -tx1 "$WORK/blob" | tr -d ' \n' | grep -q "$want" && fail "the secret is in the blob"
expect_exit 0 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/blob"
[ "$(head -1 "$WORK/out")" = "$want" ] || fail "unsealed other bytes"
ok "sealed to PCR 7 and unsealed"

# A PCR outside the policy (firmware code, PCR 0) changes nothing.
tpm2_pcrextend -T "$(tcti tpm-a)" "0:sha256=$(printf '%064d' 1)" || fail "pcrextend 0"
expect_exit 0 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/blob"
[ "$(head -1 "$WORK/out")" = "$want" ] || fail "unsealed other bytes after PCR 0"
ok "a PCR outside the policy does not matter"

# PCR 7 changed after sealing (Secure Boot state or keys): refused.
tpm2_pcrextend -T "$(tcti tpm-a)" "7:sha256=$(printf '%064d' 7)" || fail "pcrextend 7"
expect_exit 1 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/blob"
expect_out 'rejected'
not_out "$want"
ok "PCR 7 changed after sealing: unseal refused"

# A reboot resets the PCRs to the boot's values: the same state unseals again.
swtpm_stop tpm-a
swtpm_start tpm-a
expect_exit 0 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/blob"
[ "$(head -1 "$WORK/out")" = "$want" ] || fail "unsealed other bytes after a reboot"
ok "unseals after a reboot with the same boot state"

# Another TPM (another owner seed): refused.
expect_exit 1 "$TOOL" unseal "$(tcti tpm-b)" "$WORK/blob"
not_out "$want"
# The vTPM's state swapped for another's (or dropped, as a non-persisted vTPM does): refused.
swtpm_stop tpm-a
mv "$WORK/tpm-a" "$WORK/tpm-a.orig"
mkdir "$WORK/tpm-a"
swtpm_start tpm-a
expect_exit 1 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/blob"
not_out "$want"
swtpm_stop tpm-a
rm -rf "$WORK/tpm-a"
mv "$WORK/tpm-a.orig" "$WORK/tpm-a"
swtpm_start tpm-a
expect_exit 0 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/blob"
ok "another TPM or a swapped state cannot unseal"

# A modified blob: the private part's integrity (exit 1) or the format (exit 2); never the secret.
size=$(stat -c %s "$WORK/blob")
for off in 0 4 6 $((size - 20)) $((size - 1)); do
	cp "$WORK/blob" "$WORK/bad"
	printf '\x5a' | dd of="$WORK/bad" bs=1 seek="$off" conv=notrunc status=none
	rc=0
	"$TOOL" unseal "$(tcti tpm-a)" "$WORK/bad" >"$WORK/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || [ "$rc" = 2 ] || { cat "$WORK/out" >&2; fail "byte $off: exit $rc"; }
	not_out "$want"
done
head -c $((size - 1)) "$WORK/blob" >"$WORK/bad"
expect_exit 2 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/bad"
cat "$WORK/blob" "$WORK/blob" >"$WORK/bad"
expect_exit 2 "$TOOL" unseal "$(tcti tpm-a)" "$WORK/bad"
ok "modified or truncated blobs refused"

# Bad inputs to seal: no PCRs, a PCR beyond 23, an oversized secret.
expect_exit 2 "$TOOL" seal "$(tcti tpm-a)" 0 "$WORK/x" <"$WORK/secret"
expect_exit 2 "$TOOL" seal "$(tcti tpm-a)" 0x1000000 "$WORK/x" <"$WORK/secret"
head -c 129 /dev/urandom >"$WORK/big"
expect_exit 2 "$TOOL" seal "$(tcti tpm-a)" 0x80 "$WORK/x" <"$WORK/big"
ok "seal refuses bad parameters"
echo "$_checks checks passed"
