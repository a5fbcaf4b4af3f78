#!/bin/bash
# vhsmd on the vtpm platform: a CVM without an SNP guest device whose vTPM holds an Azure HCL
# report (swtpm, with the simulator in the paravisor's place writing fresh reports). Every key
# vhsmd derived from the SNP derived key comes from a root sealed to the vTPM's PCR 7, and the
# attestation gate reads fresh HCL reports. Positives: start, status, a vtpm KEK, a keyring
# DEK, a LUKS2 image, a restart with the audit chain and the store manifest intact. Refusals:
# strict/author profiles, another vTPM, another CVM's root file, PCR 7 changed, the root file
# deleted from a non-empty store, a replayed or tampered HCL report (the nonce not answered),
# tpm-persisted false, a blob's profile turned to the derived key.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vtpm-lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v jq >/dev/null || skip "jq not installed"
HELPER=$B/vhsm-request-key

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a milan --measurement "$M1"
make_cvm b milan
swtpm_start tpm-a
swtpm_start tpm-b
"$CTL" collateral import --dir "$WORK/cache" "$WORK"/a-certs/*.pem \
	"$WORK"/b-certs/vcek.der >/dev/null || fail "collateral import"
mkdir -p "$STATE"
cp -a "$WORK/cache" "$STATE/collateral"

dek=$WORK/dek
head -c 32 /dev/urandom >"$dek"
root=$STATE/platform-root.vtpm

# ---- start, status, the root made at the first passing attestation ----
watch_start a tpm-a
vd tpm-a --platform vtpm
expect_exit 0 ctl --json status
[ "$(jq -r .platform.platform "$WORK/out")" = vtpm ] || fail "platform: $(cat "$WORK/out")"
[ "$(jq -r .attestation.source "$WORK/out")" = hcl-report ] || fail "source: $(cat "$WORK/out")"
[ "$(jq -r .attestation.passed "$WORK/out")" = true ] || fail "gate: $(cat "$WORK/out")"
[ "$(jq -r .device "$WORK/out")" = "vtpm:$(tcti tpm-a)" ] || fail "device: $(cat "$WORK/out")"
[ "$(jq -r .platform.report_path "$WORK/out")" = "vtpm HCL report (NV 0x01400001)" ] ||
	fail "report path: $(cat "$WORK/out")"
expect_exit 0 ctl status
expect_out '^platform: vtpm HCL report \(NV 0x01400001\); vtpm platform root'
expect_exit 0 ctl platform
expect_out 'sealed to this vTPM'
[ -s "$root" ] || fail "no platform root was made"
[ "$(stat -c %a "$root")" = 600 ] || fail "root file mode $(stat -c %a "$root")"
head -c 8 "$root" | grep -q VHSMROOT || fail "not a root file"
ok "vhsmd starts with no SNP device: vtpm platform, gate from a fresh HCL report, root made"

# ---- keys on the one store path ----
expect_exit 0 ctl kek create k --profile vtpm
ctl wrap --kek k <"$dek" >"$WORK/w1" || fail "wrap"
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap"
expect_exit 0 ctl kek rotate k
ctl wrap --kek k <"$dek" >"$WORK/w2" || fail "wrap v2"
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap v1 after rotate"
expect_exit 0 ctl kek create k2 --profile vtpm
ctl wrap --kek k2 <"$dek" >"$WORK/w3" || fail "wrap k2"
for p in strict author; do
	expect_exit 3 ctl kek create "s-$p" --profile "$p"
	expect_out "the $p sealing profile is not supported on the vtpm platform: .*use --profile vtpm"
	[ ! -e "$STATE/kek/s-$p.sealed" ] || fail "a refused $p KEK was written"
done
# No profile named: vtpm, the only one here.
expect_exit 0 ctl kek create k-default
expect_exit 0 ctl --json kek show k-default
[ "$(jq -r .profile "$WORK/out")" = vtpm ] || fail "default profile: $(cat "$WORK/out")"
ok "vtpm KEKs create, wrap, unwrap and rotate; strict and author refused; vtpm the default"

# A PKCS#11 key pair with the vtpm profile: created, signs, its certificate without the SNP
# binding (the extension holds an SNP report only), key attestation an HCL report
# (test-vtpm-evidence.sh checks its binding).
printf 'signed on the vtpm platform' >"$WORK/msg"
expect_exit 0 ctl key create kp --alg rsa2048 --usage sign --profile vtpm \
	--pubkey-out "$WORK/kp.der" --cert-out "$WORK/kp.crt"
ctl key sign kp --mech sha256-rsa-pkcs <"$WORK/msg" >"$WORK/kp.sig" || fail "key sign"
openssl dgst -sha256 -verify "$WORK/kp.der" -keyform DER -signature "$WORK/kp.sig" \
	"$WORK/msg" >/dev/null || fail "the signature does not verify"
# The sealed file's profile byte (offset 10, as a KEK's): 2 = vtpm.
[ "$(od -An -tu1 -j10 -N1 "$STATE/keypair/kp.sealed" | tr -d ' ')" = 2 ] || fail "not sealed vtpm"
openssl x509 -inform DER -in "$WORK/kp.crt" -noout -text >"$WORK/kp.txt" || fail "certificate"
grep -q '2.25.247258542550561428092271538759213504148.1' "$WORK/kp.txt" &&
	fail "a binding extension without an SNP report"
expect_exit 0 ctl key attest kp --out "$WORK/kp.att"
[ "$(jq -r .report "$WORK/kp.att" | base64 -d | head -c 4)" = HCLA ] || fail "key attest: no HCL report"
expect_exit 3 ctl key create ks --alg ec-p256 --usage sign --profile strict
expect_out 'strict sealing profile is not supported on the vtpm platform'
ok "key create --profile vtpm: signs, no SNP binding; key attest an HCL report; strict refused"

if [ "$(id -u)" = 0 ]; then
	expect_exit 0 ctl dek create d1 --kek k --size 32
	expect_exit 0 "$HELPER" --debug --socket "$SOCK" --description vhsm:d1 77 0 0 -3
	expect_out '^instantiate 32 bytes'
	ok "a keyring DEK under a vtpm KEK loads on the vtpm platform"
fi

if [ "$(id -u)" = 0 ] && command -v cryptsetup >/dev/null && command -v unshare >/dev/null; then
	source "$(dirname "$0")/luks-lib.sh"
	luks_token_image "$WORK/vol.img" "$SOCK"
	expect_exit 0 ctl luks enroll "$WORK/vol.img" --kek k --unlock-key-file "$WORK/adm.key"
	expect_exit 0 ns cryptsetup open --test-passphrase --token-only -v "$WORK/vol.img"
	HAVE_LUKS=1
	ok "a LUKS2 image unlocks through the token on the vtpm platform"
fi
expect_exit 0 ctl audit --verify
expect_out "every record keyed by this CVM"
stop_daemon

# ---- restart: auto finds the vtpm platform; the audit chain and the manifest carry on ----
cp "$root" "$WORK/root.good"
cp "$STATE/kek/k.sealed" "$WORK/k.sealed.v2"
vd tpm-a
expect_exit 0 ctl --json status
[ "$(jq -r .platform.platform "$WORK/out")" = vtpm ] || fail "auto did not pick vtpm"
cmp -s "$root" "$WORK/root.good" || fail "the root was replaced at a restart"
ctl unwrap <"$WORK/w2" | cmp -s - "$dek" || fail "unwrap after restart"
ctl unwrap <"$WORK/w3" | cmp -s - "$dek" || fail "unwrap k2 after restart"
ctl key sign kp --mech sha256-rsa-pkcs <"$WORK/msg" >"$WORK/kp.sig2" || fail "sign after restart"
openssl dgst -sha256 -verify "$WORK/kp.der" -keyform DER -signature "$WORK/kp.sig2" \
	"$WORK/msg" >/dev/null || fail "the signature after the restart does not verify"
if [ -n "$HAVE_LUKS" ]; then
	expect_exit 0 ns cryptsetup open --test-passphrase --token-only "$WORK/vol.img"
fi
expect_exit 0 ctl audit --verify
expect_out "every record keyed by this CVM"
grep -q 'made by another launch image' "$WORK/daemon.log" && fail "the manifest key changed"
# The manifest, keyed by the root, still refuses an older sealed file.
expect_exit 0 ctl kek rotate k
stop_daemon
cp -a "$STATE" "$WORK/state.good"
cp "$WORK/k.sealed.v2" "$STATE/kek/k.sealed"
vd tpm-a
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'not the sealed file this CVM wrote last: refused as rolled'
stop_daemon
restore() { rm -rf "$STATE"; cp -a "$WORK/state.good" "$STATE"; }
restore
ok "restart: same root, KEKs and the key pair unseal, the audit chain verifies, the manifest refuses a rollback"

# ---- refusals of the root ----
# unwrap_refused PATTERN: the gate is closed and the refusal names the cause.
unwrap_refused() {
	expect_exit 1 ctl unwrap <"$WORK/w1"
	expect_out "$1"
	not_out "$(od -An -tx1 "$dek" | tr -d ' \n')"
}
# Another vTPM (its own genuine HCL report) with this store: the root does not unseal.
watch_stop
watch_start a tpm-b
vd tpm-b
unwrap_refused 'platform root .* does not unseal with this vTPM: it was sealed by another vTPM'
stop_daemon
cmp -s "$root" "$WORK/root.good" || fail "a refused root was replaced"
# Another CVM's root file (made by tpm-b for its own empty store) swapped in on tpm-a.
mv "$STATE" "$WORK/state.a"
mkdir -p "$STATE"
cp -a "$WORK/cache" "$STATE/collateral"
vd tpm-b
expect_exit 0 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = true ] || fail "tpm-b's own store: $(cat "$WORK/out")"
stop_daemon
cp "$root" "$WORK/root.b"
rm -rf "$STATE"
mv "$WORK/state.a" "$STATE"
cmp -s "$WORK/root.b" "$WORK/root.good" && fail "two vTPMs made the same root file"
cp "$WORK/root.b" "$root"
watch_stop
watch_start a tpm-a
vd tpm-a
unwrap_refused 'does not unseal with this vTPM'
stop_daemon
restore
ok "another vTPM, or another CVM's root file: refused, the root is not replaced"

# PCR 7 extended: refused; a reboot measuring the same Secure Boot state: back.
tpm2_pcrextend -T "$(tcti tpm-a)" "7:sha256=$(printf '%064d' 7)" || fail "pcrextend 7"
vd tpm-a
unwrap_refused 'PCR 7'
stop_daemon
watch_stop
swtpm_stop tpm-a
swtpm_start tpm-a
watch_start a tpm-a
vd tpm-a
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap after the reboot"
stop_daemon
ok "PCR 7 changed: the root is refused; the same boot state again: it opens"

# The root deleted with keys in the store: no new root (that would lose every key).
rm -f "$root"
vd tpm-a
unwrap_refused 'platform root .* is missing but the store is not empty \(it holds '
expect_exit 1 ctl kek create k3 --profile vtpm
expect_out 'is missing but the store is not empty'
[ ! -e "$root" ] || fail "a new root was made over a non-empty store"
stop_daemon
restore
# A root file that is not one, or whose sealed object is cut short: refused, not replaced.
printf 'not a root file' >"$root"
vd tpm-a
unwrap_refused 'platform root .* is not a vhsm root file'
stop_daemon
head -c 100 "$WORK/root.good" >"$root"
vd tpm-a
unwrap_refused 'platform root .* is damaged'
stop_daemon
[ "$(head -c 100 "$WORK/root.good" | cmp - "$root" && echo same)" = same ] || fail "root replaced"
restore
# The same for a store holding only a sealed exchange key, and a leftover temporary file of an
# interrupted root creation in an empty store: ignored, the root is made.
mv "$STATE" "$WORK/state.a"
mkdir -p "$STATE/exchange"
cp -a "$WORK/state.a/collateral" "$STATE/"
printf 'x' >"$STATE/exchange/x.sealed"
vd tpm-a
expect_exit 1 ctl unwrap <"$WORK/w1"
expect_out 'is missing but the store is not empty \(it holds exchange\)'
stop_daemon
rm -rf "$STATE/exchange"
printf 'torn' >"$STATE/.platform-root.vtpm.tmp.0123456789abcdef"
vd tpm-a
expect_exit 0 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = true ] || fail "leftover temp: $(cat "$WORK/out")"
[ -s "$root" ] || fail "no root made next to a leftover temporary file"
stop_daemon
rm -rf "$STATE"
mv "$WORK/state.a" "$STATE"
ok "a missing root over a non-empty store is refused, never replaced; a torn creation is not"

# A blob's profile byte turned from vtpm (2) to strict (0) or author (1): the root's derived
# key does not open it (the store manifest is dropped so that the blob holds alone).
for p in 0 1; do
	rm -f "$STATE/store.manifest"
	printf "\\x0$p" | dd of="$STATE/kek/k.sealed" bs=1 seek=10 conv=notrunc status=none
	vd tpm-a
	expect_exit 1 ctl unwrap <"$WORK/w1"
	expect_out 'sealed file of KEK k is damaged|does not unseal|was modified'
	not_out "$(od -An -tx1 "$dek" | tr -d ' \n')"
	stop_daemon
	restore
done
ok "a vtpm blob downgraded to a derived-key profile does not open with the root"

# ---- the gate: replayed, tampered, unanswered, non-persisted reports ----
# The paravisor gone: the report in NV stays the last one (its nonce an old one) = a replay.
tpm2_nvread -T "$(tcti tpm-a)" 0x01400001 -o "$WORK/hcl.old" 2>/dev/null || fail "nvread"
watch_stop
vd tpm-a
unwrap_refused 'attestation failed: the vTPM.s HCL report is refused: user_data'
expect_exit 1 ctl --json status
[ "$(jq -r .attestation.passed "$WORK/out")" = false ] || fail "gate open on a replay"
[ "$(jq -r .attestation.failures "$WORK/out")" = user_data ] || fail "not user_data: $(cat "$WORK/out")"
stop_daemon
# A tampered report (one byte of the SNP report's measurement): refused before anything.
python3 - "$WORK/hcl.old" "$WORK/hcl.bad" <<'PY' || fail "tamper"
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[0x20 + 0x90] ^= 1  # HCL header (32 bytes), then the SNP report; MEASUREMENT at 0x90
open(sys.argv[2], "wb").write(b)
PY
tpm2_nvwrite -T "$(tcti tpm-a)" 0x01400001 -C o -i "$WORK/hcl.bad" || fail "nvwrite"
vd tpm-a
unwrap_refused "attestation failed: the vTPM.s HCL report is refused: snp_report"
stop_daemon
ok "a replayed or tampered HCL report (the nonce not answered): the gate stays closed"

# tpm-persisted false (and absent): the root is not used.
for v in no absent; do
	watch_start a tpm-a --tpm-persisted "$v"
	vd tpm-a
	unwrap_refused 'tpm_persisted'
	stop_daemon
	watch_stop
done
# A report naming another vTPM's AK in its claims (another VM's report copied in): refused.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/other.key" 2>/dev/null
openssl pkey -in "$WORK/other.key" -pubout -out "$WORK/other.pub"
watch_start a tpm-a --ak-pub "$WORK/other.pub"
vd tpm-a
unwrap_refused 'ak_match'
stop_daemon
watch_stop
watch_start a tpm-a
vd tpm-a
ctl unwrap <"$WORK/w1" | cmp -s - "$dek" || fail "unwrap with the paravisor back"
stop_daemon
ok "tpm-persisted false or absent, another vTPM's AK: refused; the genuine paravisor back: unwraps"

# --platform vtpm with an SNP device is a usage error; an unknown platform too.
expect_exit 1 "$DAEMON" --platform vtpm --snp-device "sim:$WORK/a.json" --state-dir "$STATE"
expect_out 'uses no SNP device: drop --snp-device'
expect_exit 1 "$DAEMON" --platform nonsense
expect_out "invalid --platform 'nonsense' \(auto, snp or vtpm\)"
ok "--platform usage errors"
echo "$_checks checks passed"
