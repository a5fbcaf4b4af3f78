#!/bin/bash
# AES operations under a KEK for PKCS#11 secret-key objects: KEK_WRAP_KWP / KEK_UNWRAP_KWP
# (RFC 5649) and KEK_GCM_ENCRYPT / KEK_GCM_DECRYPT (the primitives' known answers are unit
# tests: test-p11-aes.c). Here: round trips through vhsmd, versions after a rotation, the KEK
# ACL (wrap / unwrap) and its audit records, disabled KEKs, tampered input, bad parameters.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
need_reachable "$(id -u nobody)"
NB=$(id -u nobody)

# A raw wire client: OP NAME [TAG:TYPE:VALUE]... -> "errno version data-hex gcm-iv-hex message".
cat >"$WORK/p11.py" <<'PY'
import socket, struct, sys
sock, op, name = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
def field(tag, val):
    return struct.pack("<HHI", tag, 0, len(val)) + val + b"\0" * ((4 - len(val) % 4) % 4)
body = field(3, name)
for f in sys.argv[4:]:
    tag, typ, val = f.split(":", 2)
    body += field(int(tag), struct.pack("<I", int(val)) if typ == "u32" else bytes.fromhex(val))
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sock)
s.send(struct.pack("<IHHII", 0x4d534856, 1, op, 7, 16 + len(body)) + body)
r = s.recv(70000); off = 16; err = None; msg = b""; data = b""; ver = 0; iv = b""
while off + 8 <= len(r):
    tag, _, ln = struct.unpack("<HHI", r[off:off + 8]); v = r[off + 8:off + 8 + ln]
    if tag == 1: err = struct.unpack("<i", v)[0]
    if tag == 2: msg = v
    if tag == 4: ver = struct.unpack("<I", v)[0]
    if tag == 5: data = v
    if tag == 95: iv = v
    off += 8 + ln + (4 - ln % 4) % 4
print(err, ver, data.hex() or "-", iv.hex() or "-", msg.decode(errors="replace"))
PY
p11() { /usr/bin/python3 "$WORK/p11.py" "$SOCK" "$@"; }
nbp11() { as_user nobody /usr/bin/python3 "$WORK/p11.py" "$SOCK" "$@"; }
field() { cut -d' ' -f"$1" <<<"$2"; }
gcm_param() { # IVLEN-BYTES TAGBITS IV-HEX AAD-HEX
	printf '%08x%08x' "$1" "$2" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/g'; echo -n "$3$4"
}

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create tde
key=$(head -c 32 /dev/urandom | xxd -p -c 64)

# ---- KWP ----
out=$(p11 128 tde "5:data:$key")
[ "$(field 1 "$out")" = 0 ] || fail "wrap-kwp: $out"
[ "$(field 2 "$out")" = 1 ] || fail "wrap-kwp version: $out"
w=$(field 3 "$out")
[ ${#w} -eq 80 ] || fail "RFC 5649 wrap of 32 bytes is not 40 bytes: $w"
out=$(p11 129 tde "5:data:$w")
[ "$(field 1 "$out")" = 0 ] && [ "$(field 3 "$out")" = "$key" ] || fail "unwrap-kwp: $out"
bad=$(sed 's/^\(..\)/ff/' <<<"$w")
out=$(p11 129 tde "5:data:$bad")
[ "$(field 1 "$out")" = 74 ] || fail "tampered KWP blob: $out"
[[ $out == *"not made by it, or modified"* ]] || fail "tampered KWP message: $out"
out=$(p11 129 tde "5:data:${w:0:78}")
[ "$(field 1 "$out")" = 22 ] || fail "KWP blob of 39 bytes: $out"
ok "KWP: wrap and unwrap through vhsmd; a tampered or malformed blob is refused"

# ---- GCM: vhsmd chooses each encryption's IV (the request's IV is 12 zero bytes) ----
Z=000000000000000000000000
aad=$(printf 'table-7' | xxd -p)
pt=$(head -c 100 /dev/urandom | xxd -p -c 200)
out=$(p11 130 tde "5:data:$pt" "68:data:$(gcm_param 12 128 "$Z" "$aad")")
[ "$(field 1 "$out")" = 0 ] || fail "gcm-encrypt: $out"
ct=$(field 3 "$out") iv=$(field 4 "$out")
[ ${#iv} -eq 24 ] && [ "$iv" != "$Z" ] || fail "gcm-encrypt returned no 12-byte IV: $out"
[ ${#ct} -eq $((2 * 116)) ] || fail "GCM output is not ciphertext || 16-byte tag"
# the same AES-256-GCM with OpenSSL's key would differ: the key is derived, not the KEK
out=$(p11 131 tde "5:data:$ct" "68:data:$(gcm_param 12 128 "$iv" "$aad")")
[ "$(field 1 "$out")" = 0 ] && [ "$(field 3 "$out")" = "$pt" ] || fail "gcm-decrypt: $out"
out=$(p11 131 tde "5:data:$ct" "68:data:$(gcm_param 12 128 "$iv" "$(printf 'table-8' | xxd -p)")")
[ "$(field 1 "$out")" = 74 ] || fail "GCM with other AAD: $out"
out=$(p11 130 tde "5:data:$pt" "68:data:$(gcm_param 12 64 "$Z" "")")
[ "$(field 1 "$out")" = 22 ] && [[ $out == *"96..128"* ]] || fail "64-bit tag accepted: $out"
out=$(p11 130 tde "5:data:$pt")
[ "$(field 1 "$out")" = 22 ] && [[ $out == *"MECH_PARAM"* ]] || fail "GCM without parameters: $out"
ok "GCM: encrypt (vhsmd's IV) / decrypt with IV and AAD; other AAD, short tags and missing parameters refused"

# Two encryptions never share an IV: 40 encryptions of the same plaintext, 40 IVs.
for i in $(seq 40); do
	out=$(p11 130 tde "5:data:$pt" "68:data:$(gcm_param 12 128 "$Z" "")")
	[ "$(field 1 "$out")" = 0 ] || fail "gcm-encrypt $i: $out"
	echo "$(field 4 "$out") $(field 3 "$out")"
done >"$WORK/ivs"
[ "$(cut -d' ' -f1 "$WORK/ivs" | sort -u | wc -l)" = 40 ] || fail "an IV was used twice: $(sort "$WORK/ivs" | uniq -d -w24)"
[ "$(cut -d' ' -f2 "$WORK/ivs" | sort -u | wc -l)" = 40 ] || fail "two ciphertexts of the same plaintext are equal"
# A caller's IV, or an IV of another length, is refused (and nothing is encrypted).
for p in "12 128 $(head -c 12 /dev/urandom | xxd -p) -" "16 128 ${Z}00000000 -" "8 128 0000000000000000 -"; do
	read -r l t v _ <<<"$p"
	out=$(p11 130 tde "5:data:$pt" "68:data:$(gcm_param "$l" "$t" "$v" "")")
	[ "$(field 1 "$out")" = 22 ] && [ "$(field 3 "$out")" = - ] &&
		[[ $out == *"vhsmd chooses the GCM IV"* ]] || fail "GCM IV ($l bytes, $v) accepted: $out"
done
ok "GCM: 40 encryptions, 40 distinct IVs; a caller's IV or another IV length refused with the cause"

# ---- versions: after a rotation, old blobs still unwrap, new ones use the new version ----
expect_exit 0 ctl kek rotate tde
out=$(p11 129 tde "5:data:$w")
[ "$(field 1 "$out")" = 0 ] && [ "$(field 2 "$out")" = 1 ] || fail "old KWP blob after rotation: $out"
out=$(p11 128 tde "5:data:$key")
[ "$(field 2 "$out")" = 2 ] || fail "wrap after rotation is not version 2: $out"
w2=$(field 3 "$out")
out=$(p11 129 tde "5:data:$w2" "4:u32:1")
[ "$(field 1 "$out")" = 74 ] || fail "version 2 blob unwrapped under version 1: $out"
out=$(p11 129 tde "5:data:$w2" "4:u32:9")
[ "$(field 1 "$out")" = 126 ] || fail "unknown version: $out"
ok "after a rotation: old blobs unwrap with version 1, new wraps use version 2, VERSION pins one"

# ---- ACL, audit, state ----
before=$(wc -l <"$STATE/audit.log")
out=$(nbp11 128 tde "5:data:$key")
[ "$(field 1 "$out")" = 1 ] && [[ $out == *"uid $NB may not wrap KEK tde"* ]] || fail "nobody wraps: $out"
out=$(nbp11 128 no-such-kek "5:data:$key")
[[ $out == *"uid $NB may not wrap KEK no-such-kek"* ]] || fail "absent KEK is an oracle: $out"
tail -n +$((before + 1)) "$STATE/audit.log" | jq -se --argjson u "$NB" \
	'any(.event == "kek.wrap-kwp" and .key == "tde" and .uid == $u and .result != "ok")' >/dev/null ||
	fail "refused wrap-kwp not audited"
expect_exit 0 ctl kek acl tde "uid:$NB:wrap"
out=$(nbp11 128 tde "5:data:$key")
[ "$(field 1 "$out")" = 0 ] || fail "nobody with wrap cannot wrap: $out"
out=$(nbp11 129 tde "5:data:$w")
[ "$(field 1 "$out")" = 1 ] || fail "nobody with wrap only unwraps: $out"
jq -se 'any(.event == "kek.unwrap-kwp" and .key == "tde" and .result == "ok")' "$STATE/audit.log" >/dev/null ||
	fail "unwrap-kwp not audited"
# GCM encryption under a chosen IV would be a decryption: encrypt zeros under the IV of root's
# ciphertext and XOR. vhsmd refuses a caller's IV; a uid that may only wrap is refused GCM
# encryption altogether; wrap and unwrap together encrypt under vhsmd's IV.
secret=$(printf 'a record only unwrap may read' | xxd -p -c 200)
out=$(p11 130 tde "5:data:$secret" "68:data:$(gcm_param 12 128 "$Z" "")")
[ "$(field 1 "$out")" = 0 ] || fail "gcm-encrypt of the secret: $out"
ct=$(field 3 "$out") iv=$(field 4 "$out")
zeros=$(printf '%0*d' ${#secret} 0)
out=$(nbp11 130 tde "5:data:$zeros" "68:data:$(gcm_param 12 128 "$iv" "")")
if [ "$(field 1 "$out")" = 0 ]; then
	ks=$(field 3 "$out")
	rec=$(python3 -c 'import sys; a, b = (bytes.fromhex(x) for x in sys.argv[1:]); print(bytes(x ^ y for x, y in zip(a, b)).hex())' \
		"${ct:0:${#secret}}" "${ks:0:${#secret}}")
	[ "$rec" != "$secret" ] || fail "a wrap-only uid decrypted GCM ciphertext through GCM encryption"
	fail "a wrap-only uid may GCM-encrypt under a caller's IV: $out"
fi
[ "$(field 1 "$out")" = 1 ] && [[ $out == *"uid $NB may not gcm-encrypt under KEK tde"*"unwrap"* ]] ||
	fail "wrap-only GCM encryption refusal: $out"
tail -n 20 "$STATE/audit.log" | jq -se --argjson u "$NB" \
	'any(.event == "kek.gcm-encrypt" and .key == "tde" and .uid == $u and .result != "ok")' >/dev/null ||
	fail "refused gcm-encrypt not audited"
expect_exit 0 ctl kek acl tde "uid:$NB:wrap,unwrap"
out=$(nbp11 130 tde "5:data:$zeros" "68:data:$(gcm_param 12 128 "$iv" "")")
[ "$(field 1 "$out")" = 22 ] && [[ $out == *"vhsmd chooses the GCM IV"* ]] ||
	fail "GCM encryption under the IV of another ciphertext: $out"
out=$(nbp11 130 tde "5:data:$zeros" "68:data:$(gcm_param 12 128 "$Z" "")")
[ "$(field 1 "$out")" = 0 ] && [ "$(field 4 "$out")" != "$iv" ] ||
	fail "nobody with wrap and unwrap cannot GCM-encrypt: $out"
ok "GCM encryption under another ciphertext's IV refused (no keystream); wrap-only uids refused GCM encryption"
expect_exit 0 ctl kek disable tde
out=$(p11 129 tde "5:data:$w")
[ "$(field 1 "$out")" = 128 ] || fail "disabled KEK unwraps: $out"
ok "KEK ACL wrap/unwrap enforced (one refusal for absent KEKs), uses and refusals audited, disabled KEK refused"
