#!/bin/bash
# Kernel keyring backend, the request-key upcalls for requesters other than root: an
# authorized uid gets a root-owned logon key in vhsmd's group with the DEK's timeout (also
# through vhsmctl dek load), dek list shows it; an unauthorized uid is rejected with a
# short-lived negative key and the reason audited; kek disable --shred revokes a user's key.
# Where the kernel runs upcalls only for uid 0 this part is skipped (the root part,
# test-keyring.sh, still runs); the VM tier (tests/vm/guest-keyring.sh) covers it there.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/keyring-lib.sh"
upcall_runs_for 0 || skip "request-key upcalls do not run here, not even for root"
upcall_runs_for $USER_OK || skip "this kernel runs request-key upcalls only for uid 0 (a non-root requester's request_key() fails even for a handler that only instantiates); covered by make check-vm"

expect_exit 0 ctl kek create "$P-kek"
expect_exit 0 ctl dek create "$P-disk" --kek "$P-kek" --timeout 300 --acl "uid:$USER_OK:unwrap,read"
# the authorized uid: key owned by root, vhsmd's group, vhsm permissions, DEK's timeout
# (as in a login session, the user keyring is linked into the session keyring: possessed)
out=$(as_uid $USER_OK keyctl session - sh -c "keyctl link @u @s
	k=\$(keyctl request2 logon vhsm:$P-disk '' @u) || exit 10
	echo serial=\$k
	keyctl print \$k >/dev/null 2>&1 && exit 11
	keyctl setperm \$k 0x3f3f3f3f 2>/dev/null && exit 12
	keyctl timeout \$k 0 2>/dev/null && exit 13
	keyctl rdescribe \$k" 2>&1) || fail "uid $USER_OK request2 (exit $?): $out"
userkey=$(sed -n 's/^serial=//p' <<<"$out")
grep -qx "logon;0;$DGID;19212100;vhsm:$P-disk" <<<"$(tail -n 1 <<<"$out")" ||
	fail "owner/group/permissions: $out"
line=$(grep "^$(printf %08x "$userkey") " /proc/keys) || fail "root cannot see the key in /proc/keys"
[[ $(awk '{print $4}' <<<"$line") =~ ^[0-9]+[smh]$ ]] || fail "no timeout on the key: $line"
ok "request2 as uid $USER_OK: root-owned key in vhsmd's group, 0x19212100, timeout, no read/setperm/timeout by its holder"

expect_exit 0 ctl --json dek list
[ "$(jq -r ".[] | select(.name==\"$P-disk\") | .loaded | map(.serial) | index($userkey) != null" "$WORK/out")" = true ] ||
	fail "dek list lacks key $userkey: $(cat "$WORK/out")"
[ "$(jq -r ".[] | select(.name==\"$P-disk\") | .loaded[] | select(.serial==$userkey) | .uid" "$WORK/out")" = $USER_OK ] ||
	fail "dek list: uid of key"
userring=$(as_uid $USER_OK keyctl show @u | awk 'NR == 2 {print $1}')
[ "$(jq -r ".[] | select(.name==\"$P-disk\") | .loaded[] | select(.serial==$userkey) | .keyring" "$WORK/out")" = "$userring" ] ||
	fail "dek list: keyring of $userkey is not the requester's @u $userring"
expect_exit 0 ctl dek list
expect_out "^$P-disk +$P-kek +64 +300 .*$userkey"
ok "dek list: loaded keys with serial, destination keyring, uid and expiry"

# an unauthorized uid is refused, gets a short negative key, the reason is audited
nref() { grep -c "\"event\":\"keyring.request\".*may not load DEK $P-disk" "$STATE/audit.log" || true; }
n0=$(nref)
out=$(as_user nobody keyctl session - sh -c "keyctl request2 logon vhsm:$P-disk '' @s 2>&1; echo rc=\$?
	keyctl request2 logon vhsm:$P-disk '' @s 2>&1; echo rc=\$?
	keyctl show @s" 2>&1)
grep -q "rc=0" <<<"$out" && fail "nobody got the key: $out"
grep -q "Key was rejected by service" <<<"$out" || fail "no rejection: $out"
[ "$(nref)" -eq $((n0 + 1)) ] || fail "expected one audited refusal (second request served by the negative key): $(nref) vs $n0"
grep -q "\"reason\":\"uid $(id -u nobody) gid $(id -g nobody) may not load DEK $P-disk\"" "$STATE/audit.log" ||
	fail "reason not audited: $(grep keyring.request "$STATE/audit.log")"
# the negative key expires after a few seconds: the next request asks vhsmd again
as_user nobody keyctl session - sh -c "keyctl request2 logon vhsm:$P-disk '' @s >/dev/null 2>&1
	sleep 7; keyctl request2 logon vhsm:$P-disk '' @s >/dev/null 2>&1" && fail "nobody got the key"
[ "$(nref)" -eq $((n0 + 3)) ] || fail "negative key did not expire: $(nref) vs $n0"
ok "unauthorized uid: rejected (EKEYREJECTED), negative key cached and expiring, reason audited"

# vhsmctl dek load: through request_key; an unauthorized caller is told why
out=$(as_uid $USER_OK keyctl session - "$CTL" --socket "$SOCK" dek load "$P-disk" --keyring @s --timeout 30 2>&1) ||
	fail "dek load: $out"
grep -qE "loaded DEK $P-disk as logon key vhsm:$P-disk, serial [0-9]+ \(timeout 30 s\)" <<<"$out" || fail "dek load: $out"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" dek load "$P-disk"
expect_out "may not load DEK $P-disk"
ok "dek load: a key with a shorter timeout; refusal explained"

# kek disable --shred revokes a user's key; requests refused while disabled
userkey=$(as_uid $USER_OK keyctl request2 logon "vhsm:$P-disk" '' @u) || fail "user @u request"
expect_exit 0 ctl kek disable "$P-kek" --shred
expect_out "^1 DEK key\(s\) revoked"
grep -qE "^$(printf %08x "$userkey") IR" /proc/keys || fail "key $userkey not revoked"
out=$(as_uid $USER_OK keyctl session - keyctl request2 logon "vhsm:$P-disk" '' @s 2>&1) && fail "request after shred"
expect_exit 1 as_uid $USER_OK "$CTL" --socket "$SOCK" dek load "$P-disk" --keyring @s
expect_out "is disabled"
ok "kek disable --shred revokes a user's key; requests refused while disabled"
echo "$_checks checks"
