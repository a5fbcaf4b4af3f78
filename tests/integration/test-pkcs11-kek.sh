#!/bin/bash
# vhsm KEKs as PKCS#11 secret keys (tests/integration/pkcs11-kek.py, python3-pykcs11):
# attributes, C_WrapKey/C_UnwrapKey with CKM_AES_KEY_WRAP_PAD of session keys, C_Encrypt/
# C_Decrypt with CKM_AES_GCM (vhsmd chooses each encryption's IV), tampered input, templates the module refuses, vhsm's own keys
# never wrappable; the KEK's ACL (refusal audited) and a disabled KEK.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pkcs11-lib.sh"
/usr/bin/python3 -c 'import PyKCS11' 2>/dev/null || skip "python3-pykcs11 not installed"
KEKPY=$top/tests/integration/pkcs11-kek.py

make_cvm a
start_daemon a
export VHSM_SOCKET=$SOCK
expect_exit 0 ctl kek create k1
expect_exit 0 ctl kek create k2

/usr/bin/python3 "$KEKPY" "$MOD" k1 >"$WORK/kek.txt" 2>&1 || { cat "$WORK/kek.txt"; fail "scenarios"; }
cat "$WORK/kek.txt"
while read -r want; do
	grep -qxF "$want" "$WORK/kek.txt" || fail "expected '$want'"
done <<'EOF2'
attributes aes=True len=32 sensitive=True extractable=False wrap=True unwrap=True
value_sensitive CKR_ATTRIBUTE_SENSITIVE
roundtrip len=40 match
wrap_size_query CKR_OK len=40
unwrap_tampered CKR_WRAPPED_KEY_INVALID
unwrapped_sensitive_by_default CKR_ATTRIBUTE_SENSITIVE
unwrap_token_refused CKR_TEMPLATE_INCONSISTENT
wrap_vhsm_key_refused CKR_KEY_NOT_WRAPPABLE
gcm_roundtrip len=116 match
gcm_iv_chosen n=64 ivs=64 cts=64 zero=False decrypt=ok other_iv=CKR_ENCRYPTED_DATA_INVALID
gcm_caller_iv_refused CKR_MECHANISM_PARAM_INVALID CKR_MECHANISM_PARAM_INVALID CKR_MECHANISM_PARAM_INVALID
gcm_tampered CKR_ENCRYPTED_DATA_INVALID
gcm_wrong_aad CKR_ENCRYPTED_DATA_INVALID
gcm_bad_tag_bits CKR_MECHANISM_PARAM_INVALID
unwrap_destroy_many n=4200 stale=CKR_OBJECT_HANDLE_INVALID match
EOF2
ok "KEK object; KWP wrap/unwrap and GCM round trips (vhsmd's IV, never repeated, returned in pIv; a caller's IV refused); tampering, templates and vhsm's own keys refused; 4200 unwrap + destroy cycles, a destroyed key's handle invalid"

# The KEK's ACL decides, per use, in vhsmd.
NB=$(id -u nobody)
need_reachable "$NB"
nb() { as_user nobody /usr/bin/python3 "$KEKPY" "$MOD" k1 "$@"; }
expect_exit 0 ctl kek acl k1 "uid:$NB:read"
expect_exit 0 nb roundtrip gcm_roundtrip
expect_out '^roundtrip raised CKR_KEY_FUNCTION_NOT_PERMITTED$'
expect_out '^gcm_roundtrip raised CKR_KEY_FUNCTION_NOT_PERMITTED$'
tail -n 30 "$STATE/audit.log" | jq -se --argjson u "$NB" 'any(.uid == $u and .result != "ok")' \
	>/dev/null || fail "the refused wrap is not in the audit log"
# wrap,unwrap alone: vhsmd lists a KEK only to callers with read, so the module cannot show it.
expect_exit 0 ctl kek acl k1 "uid:$NB:wrap,unwrap"
expect_exit 1 nb roundtrip
expect_out 'found 0 secret keys labelled k1'
expect_exit 0 ctl kek acl k1 "uid:$NB:read,wrap,unwrap"
expect_exit 0 nb roundtrip gcm_roundtrip
expect_out '^roundtrip len=40 match$'
expect_out '^gcm_roundtrip len=116 match$'
ok "KEK ACL: read only refuses wrap and GCM (audited); read,wrap,unwrap allows them"

expect_exit 0 ctl kek disable k1
expect_exit 0 /usr/bin/python3 "$KEKPY" "$MOD" k1 roundtrip
expect_out '^roundtrip raised CKR_KEY_FUNCTION_NOT_PERMITTED$'
ok "a disabled KEK refuses C_WrapKey"
