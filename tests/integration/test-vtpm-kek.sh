#!/bin/bash
# The vtpm KEK sealing profile in vhsmd, with swtpm as the vTPM and the simulator writing the
# paravisor's HCL report into it: create/wrap/unwrap/rotate/disable, a LUKS2 image through the
# token, a keyring DEK and a BYOK import, all on the one store path; refusals: no vTPM, no HCL
# report, tpm-persisted false, another vTPM, PCR 7 changed, swapped or spliced blobs and a
# profile byte turned from vtpm to strict.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"
HELPER=$B/vhsm-request-key
BYOK=$B/vhsm-byok

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a milan --measurement "$M1"
swtpm_start tpm-a
swtpm_start tpm-b
mkdir -p "$STATE/collateral"
"$CTL" collateral import --dir "$STATE/collateral" "$WORK"/a-certs/*.pem >/dev/null ||
	fail "collateral import"
# vtpm_daemon TPM [options]: vhsmd on CVM a with the vTPM TPM.
vtpm_daemon() { local t=$1; shift; start_daemon a --tcti "$(tcti "$t")" "$@"; }
dek=$WORK/dek
head -c 32 /dev/urandom >"$dek"

# ---- refusals before anything is sealed ----
start_daemon a --tcti "swtpm:path=$WORK/none.sock"
expect_exit 3 ctl kek create k --profile vtpm
expect_out 'vtpm sealing profile is not supported here: no TPM answers at swtpm:path='
stop_daemon
vtpm_daemon tpm-a
expect_exit 3 ctl kek create k --profile vtpm
expect_out 'not supported here: the vTPM holds no Azure HCL report'
expect_exit 1 ctl kek create k --profile tpm
expect_out "unknown sealing profile 'tpm' \(strict, author, vtpm\)"
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --tpm-persisted no
expect_exit 1 ctl kek create k --profile vtpm
expect_out 'refused: the HCL report.s claims say tpm-persisted is not true'
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --tpm-persisted absent
expect_exit 1 ctl kek create k --profile vtpm
expect_out 'tpm-persisted'
# Another key than this vTPM's AK in the claims: not this vTPM's report.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/other.key" 2>/dev/null
openssl pkey -in "$WORK/other.key" -pubout -out "$WORK/other.pub"
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)" --ak-pub "$WORK/other.pub"
expect_exit 1 ctl kek create k --profile vtpm
expect_out 'ak_match'
[ ! -e "$STATE/kek/k.sealed" ] || fail "a refused KEK was written"
ok "vtpm refused without a TPM, without an HCL report, with tpm-persisted false/absent or another AK"

# ---- the lifecycle on the one store path ----
expect_exit 0 "$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-a)"
expect_exit 0 ctl kek create k --profile vtpm
not_out 'warning'
expect_exit 0 ctl --json kek show k
[ "$(jq -r .profile "$WORK/out")" = vtpm ] || fail "profile is not vtpm: $(cat "$WORK/out")"
grep -q VHSMSEAL "$STATE/kek/k.sealed" || fail "not the store's sealed format"
ctl wrap --kek k <"$dek" >"$WORK/w1" || fail "wrap"
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap"
expect_exit 0 ctl kek rotate k
ctl wrap --kek k <"$dek" >"$WORK/w2" || fail "wrap v2"
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap v1 after rotate"
ctl unwrap <"$WORK/w2" | cmp -s - "$dek" || fail "unwrap v2"
expect_exit 0 ctl --json kek show k
[ "$(jq -r .profile "$WORK/out")" = vtpm ] || fail "rotate changed the profile"
expect_exit 0 ctl kek disable k
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'disabled'
expect_exit 0 ctl kek enable k
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap after enable"
ok "vtpm KEK: create, wrap, unwrap, rotate, disable, enable"

# A keyring DEK under the vtpm KEK (the request-key helper's --debug mode: the daemon's path).
if [ "$(id -u)" = 0 ]; then
	expect_exit 0 ctl dek create d1 --kek k --size 32
	expect_exit 0 "$HELPER" --debug --socket "$SOCK" --description vhsm:d1 77 0 0 -3
	expect_out '^instantiate 32 bytes'
	ok "keyring DEK under a vtpm KEK loads"
fi

# BYOK: the imported key sealed with the vtpm profile.
expect_exit 0 ctl kek export-exchange-key kb --out "$WORK/b.json"
head -c 32 /dev/urandom >"$WORK/kekb"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol.json"
expect_exit 0 "$BYOK" wrap --bundle "$WORK/b.json" --allow-test-root \
	--trust-root "$WORK/a-certs/ark.pem" --key-file "$WORK/kekb" --out "$WORK/kb.byok" \
	--policy "$WORK/pol.json"
expect_exit 0 ctl kek import kb --byok "$WORK/kb.byok" --profile vtpm
expect_exit 0 ctl --json kek show kb
[ "$(jq -r '.profile, .kek.imported' "$WORK/out" | tr '\n' ' ')" = "vtpm true " ] ||
	fail "imported KEK: $(cat "$WORK/out")"
ctl wrap --kek kb <"$dek" >"$WORK/wb" || fail "wrap under the imported KEK"
ctl unwrap <"$WORK/wb" | cmp -s - "$dek" || fail "unwrap under the imported KEK"
ok "BYOK import with --profile vtpm"
expect_exit 0 ctl kek create k2 --profile vtpm
ctl wrap --kek k2 <"$dek" >"$WORK/w3" || fail "wrap k2"
# A PKCS#11 key pair with the vtpm profile, attested by the SNP report as any other.
printf 'signed with a vtpm key pair' >"$WORK/msg"
expect_exit 0 ctl key create kp --alg ec-p256 --usage sign --profile vtpm \
	--pubkey-out "$WORK/kp.der"
ctl key sign kp --mech ecdsa-sha256 <"$WORK/msg" >"$WORK/kp.sig" || fail "key sign"
# The sealed file's profile byte (offset 10, as a KEK's): 2 = vtpm.
[ "$(od -An -tu1 -j10 -N1 "$STATE/keypair/kp.sealed" | tr -d ' ')" = 2 ] || fail "not sealed vtpm"
expect_exit 0 ctl key attest kp --nonce 0011 --out "$WORK/kp.att"
expect_exit 1 ctl key create kq --alg ec-p256 --usage sign --profile tpm
expect_out "unknown sealing profile 'tpm' \(strict, author, vtpm\)"
ok "key create --profile vtpm: signs and attests"
stop_daemon
cp -a "$STATE" "$WORK/state.good"

# A restart unseals from the files through the vTPM.
vtpm_daemon tpm-a
ctl unwrap <"$WORK/w2" | cmp -s - "$dek" || fail "unwrap after restart"
ctl key sign kp --mech ecdsa-sha256 <"$WORK/msg" >"$WORK/kp.sig2" || fail "key sign after restart"
stop_daemon
ok "vtpm KEKs and key pairs unseal after a restart"

# ---- another TPM, PCR 7 ----
"$SIM" hcl "$WORK/a.json" --tcti "$(tcti tpm-b)" >/dev/null || fail "HCL report on tpm-b"
vtpm_daemon tpm-b
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'vTPM refuses the sealed object of sealed KEK k: sealed by another vTPM'
not_out "$(od -An -tx1 "$dek" | tr -d ' \n')"
stop_daemon
ok "another vTPM cannot unseal"

tpm2_pcrextend -T "$(tcti tpm-a)" "7:sha256=$(printf '%064d' 7)" || fail "pcrextend 7"
vtpm_daemon tpm-a
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'PCR 7'
stop_daemon
swtpm_stop tpm-a
swtpm_start tpm-a # a reboot: PCR 7 measured as before
vtpm_daemon tpm-a
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap after the reboot"
stop_daemon
ok "PCR 7 changed: refused; the same boot state again: unseals"

# ---- attacks on the sealed files ----
# The store manifest would name any replaced file; a host that also deletes the manifest makes
# vhsmd adopt the files as they are, so each attack runs without it: the blob holds alone.
restore() { rm -rf "$STATE"; cp -a "$WORK/state.good" "$STATE"; rm -f "$STATE/store.manifest"; }
restore
# k2's file in k's place: its label names k2.
cp "$STATE/kek/k2.sealed" "$STATE/kek/k.sealed"
vtpm_daemon tpm-a
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'sealed file of KEK k is damaged'
ctl unwrap <"$WORK/w3" | cmp -s - "$dek" || fail "k2 affected"
stop_daemon
restore
# k's file with k2's vTPM object spliced in (same length): the key it seals is k2's.
python3 - "$STATE/kek/k.sealed" "$STATE/kek/k2.sealed" <<'PY' || fail "splice"
import sys, struct
def obj(b):
    L = b[0xb3]; off = 0xb4 + L; M = struct.unpack_from("<I", b, off)[0]; off += 4 + M
    T = struct.unpack_from("<H", b, off)[0]; return off + 2, T
a = bytearray(open(sys.argv[1], "rb").read()); b = open(sys.argv[2], "rb").read()
oa, ta = obj(a); ob, tb = obj(b)
assert a[0x0a] == 2 and b[0x0a] == 2 and ta == tb, (ta, tb)
a[oa:oa + ta] = b[ob:ob + tb]
open(sys.argv[1], "wb").write(a)
PY
vtpm_daemon tpm-a
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'sealed KEK k was modified \(it does not authenticate under the key its vTPM object seals\)'
stop_daemon
restore
# The profile byte turned from vtpm (2) to strict (0): no derived key opens it.
for p in 0 1 3; do
	printf "\\x0$p" | dd of="$STATE/kek/k.sealed" bs=1 seek=10 conv=notrunc status=none
	vtpm_daemon tpm-a
	expect_exit 1 ctl unwrap <"$WORK/w1"
	expect_out 'sealed file of KEK k is damaged|does not unseal|refused the sealing key'
	not_out "$(od -An -tx1 "$dek" | tr -d ' \n')"
	stop_daemon
	restore
done
vtpm_daemon tpm-a
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "the restored store does not unseal"
stop_daemon
ok "swapped file, spliced vTPM object and a downgraded profile byte: refused"

# ---- a LUKS2 image through the token, with a vtpm KEK ----
if [ "$(id -u)" = 0 ] && command -v cryptsetup >/dev/null && command -v unshare >/dev/null; then
	source "$(dirname "$0")/luks-lib.sh"
	luks_token_image "$WORK/vol.img" "$SOCK"
	vtpm_daemon tpm-a
	expect_exit 0 ctl luks enroll "$WORK/vol.img" --kek k --unlock-key-file "$WORK/adm.key"
	expect_exit 0 ctl luks list "$WORK/vol.img"
	expect_out '^0 +1 +k +2 +vtpm'
	expect_exit 0 ns cryptsetup open --test-passphrase --token-only -v "$WORK/vol.img"
	expect_exit 0 ctl kek disable k
	expect_exit 1 ns cryptsetup open --test-passphrase --token-only "$WORK/vol.img"
	expect_exit 0 ctl kek enable k
	stop_daemon
	ok "LUKS2 image unlocked through the token with a vtpm KEK; refused while disabled"
fi
echo "$_checks checks passed"
