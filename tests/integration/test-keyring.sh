#!/bin/bash
# Kernel keyring backend on the real keyring, the parts run by root: request-key upcall
# through vhsm-request-key, logon keys that cannot be read, revocation on `kek disable
# --shred` by a vhsmd that is not root, helper argv, identity and dead-daemon handling,
# discovery of LUKS2 headers enrolled with a KEK. Upcalls for other uids (authorized and
# refused requesters, negative keys): test-keyring-user.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/keyring-lib.sh"
upcall_runs_for 0 || skip "request-key upcalls do not run here, not even for root"

expect_exit 0 ctl kek create "$P-kek"
expect_exit 0 ctl dek create "$P-disk" --kek "$P-kek" --timeout 300 --acl "uid:$USER_OK:unwrap,read"
expect_out "created DEK $P-disk \(64 bytes"
expect_exit 0 ctl dek create "$P-small" --kek "$P-kek" --size 32
expect_exit 1 ctl dek create "$P-disk" --kek "$P-kek"
expect_out 'already exists'
expect_exit 1 ctl dek create "$P-x" --kek "$P-nokek"
expect_exit 2 ctl dek create "$P-x"
expect_exit 2 ctl dek create "$P-x" --kek "$P-kek" --size 48
expect_exit 2 ctl dek create
expect_exit 1 ctl dek create "$P-x" --kek "$P-kek" --acl "bogus"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" dek create "$P-x" --kek "$P-kek"
expect_out 'requires root'
[ "$(stat -c %a "$STATE/dek/$P-disk.dek")" = 600 ] || fail "DEK file mode"
grep -q '"wrapped"' "$STATE/dek/$P-disk.dek" || fail "DEK stored wrapped"
ok "dek create: wrapped in the registry; refusals for bad size, ACL, KEK, caller"

# root: request2 makes a logon key whose payload cannot be read
out=$(keyctl session - sh -c "
	k=\$(keyctl request2 logon vhsm:$P-disk '' @s) || exit 10
	echo serial=\$k
	keyctl print \$k >/dev/null 2>&1 && exit 11
	keyctl pipe \$k >/dev/null 2>&1 && exit 12
	keyctl show @s
	keyctl rdescribe \$k" 2>&1) || fail "root request2 (exit $?): $out"
serial=$(sed -n 's/^serial=//p' <<<"$out")
grep -qE "^ *$serial .* 0 +$DGID .*logon: vhsm:$P-disk\$" <<<"$out" || fail "keyctl show lacks the key: $out"
grep -qx "logon;0;$DGID;19212100;vhsm:$P-disk" <<<"$out" || fail "describe: $out"
ok "request2 as root: logon key vhsm:$P-disk, payload unreadable, listed by keyctl show"

expect_exit 0 ctl dek list
expect_out "^$P-small .* no$"
expect_exit 0 as_uid $USER_OK "$CTL" --socket "$SOCK" --json dek list
[ "$(jq -r 'map(.name) | join(",")' "$WORK/out")" = "$P-disk" ] || fail "ACL-filtered list: $(cat "$WORK/out")"
expect_exit 0 as_uid $USER_OK "$CTL" --socket "$SOCK" dek list
expect_out '^vhsmctl: note: not an administrator \(root or group vhsm\): the list shows only the DEKs'
expect_out "^$P-disk "
expect_exit 2 ctl dek list extra
ok "dek list: filtered by ACL for a non-administrator"

# vhsmctl dek load: refusals with their reason
expect_exit 1 ctl dek load "$P-none"
expect_out "no DEK named"
expect_exit 2 ctl dek load
expect_exit 2 ctl dek load "$P-disk" --keyring @x
expect_exit 2 ctl dek load "$P-disk" --timeout -1
expect_exit 2 ctl dek load "../x"
ok "dek load: refusals explained"

# vhsmctl dek load --json: the loaded key as one object on stdout
keyctl session - "$CTL" --socket "$SOCK" --json dek load "$P-disk" --keyring @s \
	>"$WORK/json" 2>"$WORK/err" || fail "dek load --json: $(cat "$WORK/err")"
jq -e --arg n "$P-disk" '.name == $n and .serial > 0 and .timeout > 0' "$WORK/json" >/dev/null ||
	fail "dek load --json: $(cat "$WORK/json")"
ok "dek load --json: name, serial and timeout of the loaded key"

# the helper: bad argv, the trust boundary, a dead daemon
expect_exit 2 "$HELPER"
expect_exit 2 "$HELPER" 12 0 0
expect_exit 2 "$HELPER" abc 0 0 -3
expect_exit 2 "$HELPER" --bogus 1 0 0 -3
expect_exit 2 "$HELPER" 1 x 0 -3
expect_exit 2 "$HELPER" 1 0 0 @u
dbg() { "$HELPER" --debug --socket "$SOCK" "$@"; }
expect_exit 0 dbg --description "vhsm:$P-disk" 77 $USER_OK $USER_OK -3
expect_out "^instantiate 64 bytes timeout 300 gid $DGID$"
expect_exit 0 dbg --description "vhsm:$P-disk" --callout timeout=20 77 $USER_OK $USER_OK -3
expect_out "timeout 20 gid"
expect_exit 1 dbg --description "vhsm:$P-disk" --callout timeout=x 77 0 0 -3
expect_out "^reject Invalid argument"
expect_exit 1 dbg --description "vhsm:../$P" 77 0 0 -3
expect_out "^reject .*vhsm:<DEK name>"
expect_exit 1 dbg --description "vhsm:$P-disk" 77 4242 4242 -3
expect_out "^reject Key was rejected by service .*uid 4242 gid 4242 may not load"
expect_exit 1 as_user nobody "$HELPER" --debug --socket "$SOCK" --description "vhsm:$P-disk" 77 0 0 -3
expect_out "accepted from root only"
expect_exit 1 dbg --socket "$WORK/nothing.sock" --description "vhsm:$P-disk" 77 0 0 -3
expect_out "^reject Connection refused"
out=$(keyctl session - keyctl request2 logon "vhsm:$P-dead-x" '' @s 2>&1) && fail "dead daemon gave a key"
grep -q "Connection refused" <<<"$out" || fail "dead daemon: $out"
ok "helper: bad argv (exit 2), requester identity only from root, dead daemon rejected cleanly"

# kek disable --shred: every loaded key of the KEK's DEKs is revoked by (unprivileged) vhsmd
rootkey=$(keyctl request2 logon "vhsm:$P-small" '' @u) || fail "root @u request"
diskkey=$(keyctl request2 logon "vhsm:$P-disk" '' @u) || fail "root @u request of $P-disk"
# The helper's check of the timeout after instantiating leaves a served key alone: it expires.
exp=$(awk -v s="$(printf %08x "$diskkey")" '$1 == s {print $2, $4}' /proc/keys)
[[ $exp =~ ^I-+Q?-*\ [0-9]+[smhdw]$ ]] || fail "the upcalled key is not live with a timeout: $exp"
expect_exit 2 ctl kek disable --shred
expect_exit 2 ctl kek disable "$P-kek" --shred --bogus
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" kek disable "$P-kek" --shred
grep -qE "^$(printf %08x "$diskkey") I--" /proc/keys || fail "a refused shred revoked keys"
expect_exit 0 ctl kek disable "$P-kek" --shred
expect_out "KEK $P-kek disabled"
expect_out "^2 DEK key\(s\) revoked"
for k in $rootkey $diskkey; do
	grep -qE "^$(printf %08x "$k") IR" /proc/keys || fail "key $k not revoked: $(grep "^$(printf %08x "$k")" /proc/keys)"
done
grep -q "\"event\":\"kek.disable\".*shred: 2 key(s) revoked" "$STATE/audit.log" || fail "shred not audited"
out=$(keyctl session - keyctl request2 logon "vhsm:$P-disk" '' @s 2>&1) && fail "request after shred"
expect_exit 1 keyctl session - "$CTL" --socket "$SOCK" dek load "$P-disk" --keyring @s
expect_out "is disabled"
expect_exit 0 ctl kek disable "$P-kek" --shred
expect_out "^0 DEK key"
# --json: one object (name, revoked, the volumes' results), nothing else on stdout.
ctl --json kek disable "$P-kek" --shred >"$WORK/shred.json" 2>"$WORK/err" || fail "shred --json: $(cat "$WORK/err")"
[ "$(jq -c '[.name, .revoked, (.volumes | type)]' "$WORK/shred.json")" = "[\"$P-kek\",0,\"array\"]" ] ||
	fail "kek disable --shred --json: $(cat "$WORK/shred.json")"
expect_exit 0 ctl kek enable "$P-kek"
keyctl unlink "$diskkey" @u >/dev/null
ok "kek disable --shred revokes root's keys; requests refused while disabled"

# dek drop revokes; --delete destroys the DEK (administrators only)
out=$(keyctl request2 logon "vhsm:$P-small" '' @u 2>&1) && fail "revoked key served: $out"
grep -q "revoked" <<<"$out" || fail "expected the revoked key: $out"
keyctl unlink "$rootkey" @u >/dev/null # revoked keys stay linked until unlinked or collected
k=$(keyctl request2 logon "vhsm:$P-small" '' @u) || fail "request after enable"
expect_exit 1 as_uid $USER_OK "$CTL" --socket "$SOCK" dek drop "$P-disk"
expect_out "may not drop"
expect_exit 0 ctl dek drop "$P-small"
expect_out "1 key\(s\) revoked"
grep -qE "^$(printf %08x "$k") IR" /proc/keys || fail "drop did not revoke"
# More keys than a listing shows (64): drop must revoke every one of them. A keyring holds
# one key per description, so each key is kept in a keyring of its own.
hold=$(keyctl newring "$P-hold" @u) && keyctl setperm "$hold" 0x3f3f0000 || fail "newring"
on_exit "keyctl unlink $hold @u >/dev/null 2>&1"
for i in $(seq 70); do
	r=$(keyctl newring "r$i" "$hold") && keyctl setperm "$r" 0x3f3f0000 || fail "newring r$i"
	keyctl session - sh -c "k=\$(keyctl request2 logon vhsm:$P-small '' @s) && keyctl link \$k $r" \
		>/dev/null 2>&1 || fail "request $i of 70"
done
expect_exit 0 ctl dek drop "$P-small"
expect_out "70 key\(s\) revoked"
[ "$(grep -cE " I-----.* logon +vhsm:$P-small: " /proc/keys)" = 0 ] || fail "live keys left after drop"
expect_exit 0 ctl dek drop "$P-small" --delete
out=$(keyctl session - keyctl request2 logon "vhsm:$P-small" '' @s 2>&1) && fail "deleted DEK loaded: $out"
expect_exit 0 ctl dek purge "$P-small"
[ ! -e "$STATE/dek/$P-small.dek" ] || fail "DEK file still there"
expect_exit 1 ctl dek drop "$P-small"
expect_exit 2 ctl dek drop
ok "dek drop revokes; --delete refuses loads (test-dek-delete.sh), purge removes the DEK"

# an edited registry file is refused: the store manifest no longer matches it (and the ACL
# is bound to the wrapped key besides); the requester gets the one refusal, dek list says why
sed -i "s/uid:$USER_OK:/uid:4242:/" "$STATE/dek/$P-disk.dek"
expect_exit 1 dbg --description "vhsm:$P-disk" 77 4242 4242 -3
expect_out "uid 4242 gid 4242 may not load DEK $P-disk"
ctl --json dek list | jq -e --arg n "$P-disk" '.[] | select(.name == $n and .state == "rolled-back")' >/dev/null ||
	fail "the edited DEK file is not listed as rolled-back: $(ctl --json dek list)"
ok "a DEK whose ACL was edited on disk is refused"

# a DEK whose registry file was damaged after its key was loaded: --shred still revokes it
expect_exit 0 ctl dek create "$P-dmg" --kek "$P-kek"
k=$(keyctl request2 logon "vhsm:$P-dmg" '' @u) || fail "request $P-dmg"
echo '{"name":' >"$STATE/dek/$P-dmg.dek"
expect_exit 0 ctl kek disable "$P-kek" --shred
grep -qE "^$(printf %08x "$k") IR" /proc/keys || fail "key of a damaged DEK not revoked"
keyctl unlink "$k" @u >/dev/null
expect_exit 0 ctl kek enable "$P-kek"
ok "kek disable --shred revokes the keys of a DEK whose registry file is damaged"

# LUKS2 headers enrolled with a KEK (the discovery behind --shred; no device-mapper needed)
if command -v cryptsetup >/dev/null; then
	img=$WORK/luks.img other=$WORK/other.img
	head -c 32 /dev/urandom >"$WORK/pass"
	for f in "$img" "$other"; do
		truncate -s 20M "$f"
		cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--key-file "$WORK/pass" "$f" >/dev/null
	done
	printf '{"type":"vhsm","keyslots":["0"],"vhsm_version":1,"kek":"%s","kek_version":1,"profile":"strict","policy_digest":"00","sealed_kek":"AA==","wrapped_secret":"AA=="}' "$P-kek" >"$WORK/tok.json"
	cryptsetup token import --json-file "$WORK/tok.json" "$img"
	printf '{"type":"vhsm","keyslots":["0"],"kek":"other-kek"}' >"$WORK/tok2.json"
	cryptsetup token import --json-file "$WORK/tok2.json" "$other"
	expect_exit 0 ctl kek volumes "$P-kek" "$img" "$other"
	expect_out "^$img [0-9a-f-]{36}$"
	not_out "$other"
	expect_exit 1 ctl kek volumes "$P-nokek" "$img"
	expect_exit 0 ctl kek volumes other-kek "$other"
	expect_exit 2 ctl kek volumes
	expect_exit 2 ctl kek volumes ../x "$img"
	expect_exit 0 ctl kek volumes "$P-kek" # active mappings: none on a host without dm
	ok "kek volumes: LUKS2 headers with a vhsm token of the KEK, others ignored"
fi
echo "$_checks checks"
