#!/bin/bash
# LUKS2 on image files (no device-mapper needed): vhsmctl luks enroll/list/unlock/rewrap/remove,
# the token plugin through the real libcryptsetup loader (bind-mounted over the plugin
# directory inside unshare -m), refusals (disabled KEK, failing attestation, tampered token,
# another measurement), fall-through to a second token, coexistence with systemd-cryptenroll,
# and the crypttab key socket.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/luks-lib.sh"
plugin_ns_setup keyctl systemd-cryptenroll python3 /usr/bin/python3
# One deadline covers the plugin's wait for the socket and the reply: generous for a loaded
# machine; the no-daemon cases below set short ones.
export VHSM_TOKEN_SOCKET=$SOCK VHSM_TOKEN_TIMEOUT=60

IMG=$WORK/vol.img
printf 'admin passphrase' >"$WORK/adm.key"
luks_format "$IMG" "$WORK/adm.key"

make_cvm a genoa --measurement "$(printf 'a1%.0s' $(seq 48))"
start_daemon a --luks-key-socket "$WORK/luks-key.sock"
expect_exit 0 ctl kek create disk-kek

# ---- usage ----
expect_exit 2 ctl luks enroll
expect_exit 2 ctl luks enroll "$IMG"
expect_exit 2 ctl luks enroll "$IMG" --kek 'bad/name'
expect_exit 2 ctl luks unlock
expect_exit 2 ctl luks unlock --test --print-key "$IMG"
expect_exit 2 ctl luks remove "$IMG" --token 99
expect_exit 2 ctl luks list
expect_exit 2 ctl luks rewrap
ok "luks verbs refuse bad argv"

# ---- enroll ----
expect_exit 1 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file /dev/null
expect_out 'opens no keyslot'
expect_exit 1 ctl luks enroll "$IMG" --kek no-such-kek --unlock-key-file "$WORK/adm.key"
expect_out 'no KEK named no-such-kek'
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --volume vol1
expect_out 'Enrolled keyslot 1 with vhsm token 0'
cryptsetup luksDump "$IMG" | awk '/^  1: luks2/,/Digest ID/' >"$WORK/slot1"
grep -q 'PBKDF:      pbkdf2' "$WORK/slot1" || { cat "$WORK/slot1"; fail "keyslot 1 is not PBKDF2"; }
grep -q 'Hash:       sha512' "$WORK/slot1" || fail "keyslot 1 hash is not sha512"
grep -q 'Iterations: 1000$' "$WORK/slot1" || fail "keyslot 1 is not 1000 iterations"
cryptsetup luksDump --dump-json-metadata "$IMG" >"$WORK/meta.json"
python3 - "$WORK/meta.json" <<'PY' || fail "token JSON does not follow the contract"
import json, sys
t = json.load(open(sys.argv[1]))["tokens"]["0"]
assert t["type"] == "vhsm" and t["keyslots"] == ["1"] and t["vhsm_version"] == 1, t
assert t["kek"] == "disk-kek" and t["kek_version"] == 1 and t["profile"] == "strict", t
assert len(t["policy_digest"]) == 64 and t["sealed_kek"] and t["wrapped_secret"], t
assert set(t) == {"type", "keyslots", "vhsm_version", "kek", "kek_version", "profile",
                  "policy_digest", "sealed_kek", "wrapped_secret"}, t
PY
expect_exit 0 ctl luks list "$IMG"
expect_out '^0 +1 +disk-kek +1 +strict'
ok "enroll: keyslot PBKDF2-SHA512/1000, token JSON per contract, listed"

# ---- the plugin through libcryptsetup ----
expect_exit 0 ns cryptsetup open --test-passphrase --token-only -v "$IMG"
expect_out 'Key slot 1 unlocked'
expect_exit 0 ns cryptsetup luksDump "$IMG"
expect_out 'KEK: +disk-kek'
expect_out 'KEK version: 1'
expect_out 'Profile: +strict'
expect_out 'Policy: +[0-9a-f]{32}'
not_out 'sealed_kek|wrapped_secret|Timeout'
ok "plugin unlocks keyslot 1 via the real loader; luksDump shows KEK, version, profile, policy"

# vhsmd remembers which volume the KEK unlocked (for kek disable --shred, when a header's token
# is removed): the LUKS UUID under the KEK, in a file the store manifest covers.
IMG_UUID=$(cryptsetup luksUUID "$IMG")
unlocked() { ctl --json kek show "$1" | jq -c '[.unlocked_volumes[] | [.uuid, .volume, .verified]]'; }
[ "$(unlocked disk-kek)" = "[[\"$IMG_UUID\",null,true]]" ] ||
	fail "the unlock is not recorded: $(unlocked disk-kek)"
[ -s "$STATE/volumes/$IMG_UUID.json" ] || fail "no record file"
cp "$STATE/volumes/$IMG_UUID.json" "$WORK/vol-record"
printf '{"keks":["other"],"uuid":"%s"}' "$IMG_UUID" >"$STATE/volumes/$IMG_UUID.json"
[ "$(unlocked disk-kek)" = "[]" ] || fail "an edited record still names the KEK: $(unlocked disk-kek)"
printf '{"keks":["disk-kek"],"uuid":"%s","volume":"x"}' "$IMG_UUID" >"$STATE/volumes/$IMG_UUID.json"
[ "$(unlocked disk-kek)" = "[[\"$IMG_UUID\",\"x\",false]]" ] ||
	fail "a record the manifest does not know is not marked: $(unlocked disk-kek)"
# A record whose members have the wrong types is refused whole (it once crashed vhsmd).
for rec in '{"keks":[null],"uuid":"%s"}' '{"keks":["disk-kek"],"uuid":"%s","volume":7}' \
	'{"keks":"disk-kek","uuid":"%s"}' '{"keks":["disk-kek"],"uuid":"%s","extra":1}'; do
	printf "$rec" "$IMG_UUID" >"$STATE/volumes/$IMG_UUID.json"
	[ "$(unlocked disk-kek)" = "[]" ] || fail "a malformed record is listed ($rec): $(unlocked disk-kek)"
done
cp "$WORK/vol-record" "$STATE/volumes/$IMG_UUID.json"
[ "$(unlocked disk-kek)" = "[[\"$IMG_UUID\",null,true]]" ] ||
	fail "the restored record is not listed: $(unlocked disk-kek)"
ok "the unlock is recorded under the KEK (kek show unlocked_volumes); an edited record is marked unverified, a malformed one refused"

# The socket: $VHSM_TOKEN_SOCKET, else $VHSM_SOCKET (as every client), else the default.
expect_exit 0 env -u VHSM_TOKEN_SOCKET VHSM_SOCKET="$SOCK" "$WORK/ns" cryptsetup open \
	--test-passphrase --token-only -v "$IMG"
expect_out 'Key slot 1 unlocked'
expect_exit 0 env VHSM_SOCKET="$WORK/none.sock" "$WORK/ns" cryptsetup open --test-passphrase \
	--token-only -v "$IMG"
expect_out 'Key slot 1 unlocked'
expect_exit 1 env VHSM_TOKEN_SOCKET="$WORK/none.sock" VHSM_SOCKET="$SOCK" VHSM_TOKEN_TIMEOUT=0 \
	"$WORK/ns" cryptsetup open --test-passphrase --token-only "$IMG"
expect_out "vhsmd not reachable at $WORK/none.sock: No such file or directory"
not_out 'waiting'
ok "plugin socket: VHSM_SOCKET used, VHSM_TOKEN_SOCKET wins; VHSM_TOKEN_TIMEOUT=0 does not wait"

# ---- coexistence with systemd-cryptenroll (password + recovery key) ----
PASSWORD='admin passphrase' NEWPASSWORD='second passphrase' \
	systemd-cryptenroll --password "$IMG" >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "cryptenroll --password"; }
systemd-cryptenroll --unlock-key-file="$WORK/adm.key" --recovery-key "$IMG" >"$WORK/rk" \
	2>"$WORK/out" || { cat "$WORK/out"; fail "cryptenroll --recovery-key"; }
RK=$(grep -Eo '([a-z]{8}-){7}[a-z]{8}' "$WORK/rk" "$WORK/out" | head -1 | sed 's/.*://')
[ -n "$RK" ] || fail "no recovery key printed"
printf '%s' "$RK" >"$WORK/rk.key"
systemd-cryptenroll "$IMG" >"$WORK/out" 2>&1
grep -Eq '^ +1 +other' "$WORK/out" || { cat "$WORK/out"; fail "our slot not listed as other"; }
expect_exit 0 ns cryptsetup open --test-passphrase --token-only -v "$IMG"
expect_out 'Key slot 1 unlocked'
cryptsetup open --test-passphrase --key-file "$WORK/rk.key" "$IMG" || fail "recovery key"
# systemd-cryptenroll --wipe-slot=password spares our slot (it has a token).
systemd-cryptenroll --unlock-key-file="$WORK/adm.key" --wipe-slot=password "$IMG" \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "cryptenroll --wipe-slot=password"; }
expect_exit 0 ns cryptsetup open --test-passphrase --token-only -v "$IMG"
expect_out 'Key slot 1 unlocked'
cryptsetup open --test-passphrase --key-file "$WORK/rk.key" "$IMG" || fail "recovery key lost"
ok "coexists with systemd-cryptenroll password and recovery-key slots"

# The admin passphrase back (added with the recovery key), for the refusal tests below.
cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$WORK/rk.key" "$IMG" "$WORK/adm.key"
ADM_SLOT=$(cryptsetup open --test-passphrase -v --key-file "$WORK/adm.key" "$IMG" |
	sed -n 's/^Key slot \([0-9]*\) unlocked.*/\1/p')

# ---- vhsmctl luks unlock without the plugin ----
expect_exit 0 ctl luks unlock --test "$IMG"
expect_out 'Key slot 1 unlocked'
ctl luks unlock --print-key "$IMG" >"$WORK/pass"
[ "$(wc -c <"$WORK/pass")" -eq 88 ] || fail "--print-key printed $(wc -c <"$WORK/pass") bytes"
cryptsetup open --test-passphrase --key-slot 1 --key-file "$WORK/pass" "$IMG" || fail "printed key"
chmod 0644 "$IMG"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" luks unlock --print-key "$IMG"
expect_out 'requires root or the vhsm group'
ok "vhsmctl luks unlock --test/--print-key work without the plugin; non-root refused"

# ---- the keyslot secret is no generic wrapped key (purpose bound into the AAD) ----
# A principal with wrap and unwrap on the KEK reads the public token and asks the ordinary
# UNWRAP with the volume's context: refused. WRAP cannot mint a keyslot secret either.
expect_exit 0 ctl kek acl disk-kek "user:nobody:unwrap,wrap"
uuid=$(cryptsetup luksUUID "$IMG")
python3 -c 'import base64, json, sys
t = json.load(open(sys.argv[1]))["tokens"]["0"]
sys.stdout.buffer.write(base64.b64decode(t["wrapped_secret"]))' "$WORK/meta.json" >"$WORK/ws.bin"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" unwrap --context "vhsm-luks2:$uuid" <"$WORK/ws.bin"
expect_out 'input is a LUKS keyslot secret, not a generic wrapped key'
not_out '[^ -~]'
expect_exit 1 ctl unwrap --context "vhsm-luks2:$uuid" <"$WORK/ws.bin"
expect_out 'LUKS keyslot secret'
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" wrap --kek disk-kek --context "vhsm-luks2:$uuid" <"$WORK/pass"
expect_out 'reserved for LUKS keyslot secret blobs'
as_user nobody "$CTL" --socket "$SOCK" wrap --kek disk-kek --context vol1 <"$WORK/pass" >"$WORK/gw" ||
	fail "generic wrap by an ACL principal"
as_user nobody "$CTL" --socket "$SOCK" unwrap --context vol1 <"$WORK/gw" | cmp -s - "$WORK/pass" ||
	fail "generic unwrap by an ACL principal"
grep -q '"event":"unwrap".*"result":"refused".*LUKS keyslot secret' "$STATE/audit.log" ||
	fail "refused unwrap of a keyslot secret not audited"
expect_exit 0 ctl kek acl disk-kek
expect_exit 0 ctl luks unlock --test "$IMG"
ok "UNWRAP refuses a token's keyslot secret, WRAP cannot mint one; generic wrap and LUKS unlock work"

# ---- refusals leave the passphrase path intact ----
expect_exit 0 ctl kek disable disk-kek
expect_exit 1 ns cryptsetup open --test-passphrase --token-only --debug "$IMG"
expect_out 'KEK disk-kek is disabled'
expect_out 'Token 0 \(vhsm\) open failed with -2\.'
not_out 'Key slot 1 unlocked|Changing to'
cryptsetup open --test-passphrase --key-file "$WORK/adm.key" "$IMG" || fail "passphrase after disable"
expect_exit 1 ctl luks unlock --test "$IMG"
expect_out 'disabled'
ok "disabled KEK: token refused (not usable), passphrase slot still opens"

# A second, working token is still tried after ours fails: luks2-keyring on the admin slot.
cryptsetup token add --key-description vhsmtest:adm --key-slot "$ADM_SLOT" "$IMG"
two_tokens() {
	keyctl session - sh -c 'keyctl padd user vhsmtest:adm @s <"$0" >/dev/null &&
		"$1" cryptsetup open --test-passphrase --token-only --debug "$2"' \
		"$WORK/adm.key" "$WORK/ns" "$IMG"
}
expect_exit 0 two_tokens
expect_out 'KEK disk-kek is disabled'
expect_out "Key slot $ADM_SLOT unlocked"
ok "after our token fails, libcryptsetup still tries the luks2-keyring token"

expect_exit 0 ctl kek enable disk-kek
expect_exit 0 ns cryptsetup open --test-passphrase --token-only --token-id 0 -v "$IMG"
expect_out 'Key slot 1 unlocked'

# ---- failing attestation ----
stop_daemon
echo '{"min_tcb": {"snp": 250}}' >"$WORK/strict-policy.json"
start_daemon a --policy "$WORK/strict-policy.json"
expect_exit 1 ns cryptsetup open --test-passphrase --token-only --token-id 0 --debug "$IMG"
expect_out 'vhsm token 0'
not_out 'Key slot 1 unlocked'
expect_exit 1 ctl luks unlock --test "$IMG"
expect_out 'min_tcb|attestation'
cryptsetup open --test-passphrase --key-file "$WORK/adm.key" "$IMG" || fail "passphrase"
cryptsetup open --test-passphrase --key-file "$WORK/rk.key" "$IMG" || fail "recovery key"
grep -q '"event":"luks.unlock".*"result":"refused"' "$STATE/audit.log" || fail "refusal not audited"
ok "failing attestation: token refused and audited, passphrase and recovery key still open"
stop_daemon

# ---- no daemon: bounded wait, then -EAGAIN (the loop goes on) ----
rm -f "$SOCK"
VHSM_TOKEN_TIMEOUT=1 expect_exit 1 ns cryptsetup open --test-passphrase --token-only \
	--token-id 0 --debug "$IMG"
expect_out 'not reachable'
expect_out 'Token 0 \(vhsm\) open failed with -11\.'
expect_out 'requires additional missing resource'
expect_out 'vhsm token: error -2 \(No such file or directory\), reporting -11'
ok "no daemon: the token reports a missing resource (-EAGAIN) after its wait"

# Per volume: "token_timeout" in the token JSON wins over VHSM_TOKEN_TIMEOUT (a 600 s wait here
# would never end the test). At cryptsetup's normal verbosity (no -v) the wait is announced
# once and the real cause is reported at the end; -v shows the outcome (-EAGAIN).
cryptsetup token export --token-id 0 "$IMG" >"$WORK/tok-orig.json"
python3 -c 'import json, sys
t = json.load(open(sys.argv[1])); t["token_timeout"] = 2
open(sys.argv[2], "w").write(json.dumps(t))' "$WORK/tok-orig.json" "$WORK/tok-t2.json"
ns cryptsetup token import --token-replace --token-id 0 --json-file "$WORK/tok-t2.json" "$IMG"
expect_exit 0 ns cryptsetup luksDump "$IMG"
expect_out 'Timeout: +2 s'
VHSM_TOKEN_TIMEOUT=600 expect_exit 1 ns cryptsetup open --test-passphrase --token-only \
	--token-id 0 "$IMG"
expect_out "^vhsm token 0: waiting up to 2 s \(token_timeout\) for vhsmd at $SOCK: No such file"
expect_out "vhsmd not reachable at $SOCK within 2 s \(token_timeout\): No such file or directory"
[ "$(grep -c 'waiting up to' "$WORK/out")" -eq 1 ] || { cat "$WORK/out"; fail "wait not announced once"; }
# A socket file nobody listens on (vhsmd gone, socket unit not started): waited for, refused.
python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' "$SOCK"
expect_exit 1 ns cryptsetup open --test-passphrase --token-only --token-id 0 -v "$IMG"
expect_out "waiting up to 2 s \(token_timeout\) for vhsmd at $SOCK: Connection refused"
expect_out "not reachable at $SOCK within 2 s \(token_timeout\): Connection refused"
expect_out 'requires additional missing resource'
rm -f "$SOCK"
ns cryptsetup token import --token-replace --token-id 0 --json-file "$WORK/tok-orig.json" "$IMG"
ok "per-volume token_timeout: wait announced once, bounded, real cause named, -EAGAIN"

# ---- the store decides; the sealed copy is used only standalone (initrd) ----
mv "$STATE" "$WORK/state-main"
start_daemon a
expect_exit 1 ctl luks unlock --test "$IMG"
expect_out 'no KEK named disk-kek in the store'
stop_daemon
rm -rf "$STATE"
start_daemon a --luks-standalone
expect_exit 0 ns cryptsetup open --test-passphrase --token-only --token-id 0 -v "$IMG"
expect_out 'Key slot 1 unlocked'
stop_daemon
# The sealed copy belongs to this measurement: another one cannot unseal it.
cp "$WORK/a.json" "$WORK/b.json"
cp -r "$WORK/a-certs" "$WORK/b-certs"
"$SIM" set "$WORK/b.json" --measurement "$(printf 'b2%.0s' $(seq 48))" >/dev/null
rm -rf "$STATE"
start_daemon b --luks-standalone
expect_exit 1 ctl luks unlock --test "$IMG"
expect_out 'measurement'
stop_daemon
rm -rf "$STATE"
mv "$WORK/state-main" "$STATE"
ok "store decides when present; standalone uses the sealed copy, only on the same measurement"

# ---- tampered token JSON ----
start_daemon a --luks-key-socket "$WORK/luks-key.sock"
cryptsetup token export --token-id 0 "$IMG" >"$WORK/tok.json"
tamper() { # tamper NAME PYTHON-STATEMENT-ON-t
	python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(t))' "$WORK/tok.json" "$WORK/bad-$1.json" "$2"
}
tamper unknown 't["extra"] = 1'
tamper kek 't["kek"] = "other-kek"'
tamper version 't["kek_version"] = 2'
tamper vtype 't["kek_version"] = "1"'
tamper float 't["kek_version"] = 1.0'
tamper profile 't["profile"] = "author"'
tamper digest 't["policy_digest"] = "zz" * 32'
tamper b64 't["sealed_kek"] = t["sealed_kek"][:-2] + "!!"'
tamper missing 'del t["wrapped_secret"]'
tamper slots "t['keyslots'] = ['1', '$ADM_SLOT']"
tamper vhsmver 't["vhsm_version"] = 2'
tamper huge 't["kek"] = "k" * 5000'
tamper timeout0 't["token_timeout"] = 0'
tamper timeoutbig 't["token_timeout"] = 601'
tamper timeouttype 't["token_timeout"] = "5"'
tamper timeoutneg 't["token_timeout"] = -1'
for f in "$WORK"/bad-*.json; do
	if ns cryptsetup token import --json-file "$f" "$IMG" >"$WORK/out" 2>&1; then
		fail "validate accepted $(basename "$f")"
	fi
	grep -q 'vhsm token' "$WORK/out" || { cat "$WORK/out"; fail "no reason for $f"; }
done
cryptsetup token export --token-id 0 "$IMG" | cmp -s - "$WORK/tok.json" || fail "token changed"
# Imported where the plugin is absent (no validate), then refused by validate before open.
cryptsetup token import --json-file "$WORK/bad-kek.json" --token-id 5 "$IMG"
expect_exit 1 ns cryptsetup open --test-passphrase --token-only --token-id 5 --debug "$IMG"
not_out 'Key slot 1 unlocked'
cryptsetup token remove --token-id 5 "$IMG"
# The wrapped secret is bound to the UUID: a well-formed copy on another volume is refused.
IMG2=$WORK/other.img
luks_format "$IMG2" "$WORK/adm.key"
cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$WORK/adm.key" "$IMG2" "$WORK/pass"
ns cryptsetup token import --json-file "$WORK/tok.json" --token-id 0 "$IMG2"
expect_exit 1 ns cryptsetup open --test-passphrase --token-only --token-id 0 --debug "$IMG2"
expect_out 'does not unwrap for volume'
ok "tampered token JSON rejected by validate; a token copied to another volume refused"

# ---- the crypttab key socket ----
KEYSOCK=$WORK/luks-key.sock
cat >"$WORK/keyclient.py" <<'PY'
import os, socket, sys
path, volume = sys.argv[1], sys.argv[2]
variant = sys.argv[3] if len(sys.argv) > 3 else "cryptsetup"
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\0" + os.urandom(8).hex().encode() + b"/" + variant.encode() + b"/" + volume.encode())
s.connect(path)
data = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    data += b
sys.stdout.buffer.write(data)
PY
keyclient() { python3 "$WORK/keyclient.py" "$KEYSOCK" "$@"; }
keyclient vol1 >"$WORK/sockkey"
[ "$(wc -c <"$WORK/sockkey")" -eq 88 ] || fail "key socket answered $(wc -c <"$WORK/sockkey") bytes"
cryptsetup open --test-passphrase --key-slot 1 --key-file "$WORK/sockkey" "$IMG" || fail "socket key"
ctl --json kek show disk-kek | jq -e --arg u "$(cryptsetup luksUUID "$IMG")" \
	'.unlocked_volumes[] | select(.uuid == $u and .volume == "vol1" and .verified)' >/dev/null ||
	fail "the key socket's answer is not recorded with the volume name: $(ctl --json kek show disk-kek)"
keyclient unknown-vol >"$WORK/sockkey"
[ ! -s "$WORK/sockkey" ] || fail "key socket answered an unknown volume"
keyclient vol1 cryptsetup-tpm2 >"$WORK/sockkey"
[ ! -s "$WORK/sockkey" ] || fail "key socket answered another mechanism's request"
chmod 0666 "$KEYSOCK" # past the unit's SocketMode=0600: the daemon checks the uid itself
as_user nobody /usr/bin/python3 "$WORK/keyclient.py" "$KEYSOCK" vol1 >"$WORK/sockkey"
[ ! -s "$WORK/sockkey" ] || fail "key socket answered a non-root peer"
grep -q '"event":"luks.keysock".*uid 65534 is not root' "$STATE/audit.log" ||
	fail "non-root key-socket refusal not audited"
grep -q '"event":"luks.keysock".*"result":"ok"' "$STATE/audit.log" || fail "key release not audited"
ok "key socket: bound volume answered, unknown volume / other mechanism / non-root refused"

# ---- rotate + rewrap: tokens follow, keyslots untouched ----
cryptsetup luksDump "$IMG" | sed -n '/^Keyslots:/,/^Tokens:/p' >"$WORK/slots-before"
expect_exit 0 ctl kek rotate disk-kek
expect_exit 0 ctl luks rewrap "$IMG"
expect_out 'KEK disk-kek version 1 -> 2'
cryptsetup luksDump "$IMG" | sed -n '/^Keyslots:/,/^Tokens:/p' | cmp -s - "$WORK/slots-before" ||
	fail "rewrap changed the keyslots"
expect_exit 0 ctl luks list "$IMG"
expect_out '^0 +1 +disk-kek +2 +strict'
expect_exit 0 ns cryptsetup open --test-passphrase --token-only --token-id 0 -v "$IMG"
expect_out 'Key slot 1 unlocked'
keyclient vol1 >"$WORK/sockkey"
cryptsetup open --test-passphrase --key-slot 1 --key-file "$WORK/sockkey" "$IMG" ||
	fail "binding not rewrapped"
# After a reseal (same version, current TCB) the token follows too.
expect_exit 0 ctl kek reseal disk-kek
expect_exit 0 ctl luks rewrap "$IMG"
expect_out 'KEK disk-kek version 2 -> 2'
expect_exit 0 ns cryptsetup open --test-passphrase --token-only --token-id 0 -v "$IMG"
expect_out 'Key slot 1 unlocked'
ok "rewrap after rotate and reseal: token unlocks, keyslots untouched, binding followed"

# ---- enroll again, wiping the old vhsm slot ----
expect_exit 2 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --wipe-slot=bogus
expect_exit 2 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --wipe-slot=32
expect_exit 0 ctl luks list "$IMG"
[ "$(grep -c disk-kek "$WORK/out")" -eq 1 ] || fail "usage errors changed the header"
for bad in 0 601 -1 5s ''; do
	expect_exit 2 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" \
		--token-timeout "$bad"
	expect_out 'token-timeout: expected 1..600 seconds'
done
expect_exit 0 ctl luks list "$IMG"
[ "$(grep -c disk-kek "$WORK/out")" -eq 1 ] || fail "usage errors changed the header"
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --wipe-slot=vhsm \
	--token-timeout 7
expect_out 'Wiped keyslot 1'
cryptsetup luksDump --dump-json-metadata "$IMG" >"$WORK/meta.json"
python3 - "$WORK/meta.json" <<'PY' || fail "token_timeout not in the token JSON"
import json, sys
toks = [t for t in json.load(open(sys.argv[1]))["tokens"].values() if t["type"] == "vhsm"]
assert len(toks) == 1 and toks[0]["token_timeout"] == 7, toks
PY
expect_exit 0 ns cryptsetup luksDump "$IMG"
expect_out 'Timeout: +7 s'
expect_exit 0 ctl luks list "$IMG"
[ "$(grep -c disk-kek "$WORK/out")" -eq 1 ] || { cat "$WORK/out"; fail "old vhsm token not removed"; }
NEW_SLOT=$(awk '$3 == "disk-kek" { print $2 }' "$WORK/out")
[ "$NEW_SLOT" != 1 ] || fail "new slot is the wiped one"
if cryptsetup open --test-passphrase --key-slot 1 --key-file "$WORK/pass" "$IMG" 2>/dev/null; then
	fail "wiped keyslot 1 still opens"
fi
expect_exit 0 ns cryptsetup open --test-passphrase --token-only -v "$IMG"
expect_out "Key slot $NEW_SLOT unlocked"
cryptsetup open --test-passphrase --key-file "$WORK/rk.key" "$IMG" || fail "recovery key wiped"
ok "enroll --wipe-slot=vhsm replaces the old vhsm slot and token; other slots stay"

# ---- remove ----
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --volume vol1
keyclient vol1 >"$WORK/sockkey"
[ "$(wc -c <"$WORK/sockkey")" -eq 88 ] || fail "re-bound volume not answered"
expect_exit 0 ctl luks remove "$IMG"
expect_out "Removed vhsm token [0-9]+ and keyslot $NEW_SLOT"
expect_out 'Removed vhsm token [0-9]+ and keyslot [0-9]+'
cryptsetup luksDump "$IMG" | grep -Eq '^ +[0-9]+: vhsm$' && fail "token still there"
cryptsetup luksDump "$IMG" | grep -Eq "^ +$NEW_SLOT: luks2\$" && { cat "$WORK/out"; cryptsetup luksDump "$IMG"; fail "keyslot $NEW_SLOT still there"; }
keyclient vol1 >"$WORK/sockkey"
[ ! -s "$WORK/sockkey" ] || fail "binding survived remove"
expect_exit 1 ctl luks remove "$IMG"
cryptsetup open --test-passphrase --key-file "$WORK/adm.key" "$IMG" || fail "admin slot lost"
ok "remove drops token, keyslot and binding; the admin slot stays"
