#!/bin/bash
# Kernel keyring backend on the real keyring: request-key upcall through vhsm-request-key,
# logon keys that cannot be read, refusal with a short-lived negative key, revocation on
# `kek disable --shred` by a vhsmd that is not root, helper argv and dead-daemon handling,
# discovery of LUKS2 headers enrolled with a KEK.
# The upcall runs in init's namespaces, so this test installs a request-key.d file for its
# own description prefix and socket for its duration and always removes it.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v keyctl >/dev/null || skip "keyctl (keyutils) not installed"
[ -r /proc/keys ] || skip "no /proc/keys (kernel without keyrings?)"
[ "$(id -u)" = 0 ] || skip "needs root (request-key.d, other uids)"
[ -x /sbin/request-key ] || skip "/sbin/request-key not installed"
[ -d /etc/request-key.d ] || skip "no /etc/request-key.d"

HELPER=$B/vhsm-request-key
P=it$$x$RANDOM            # unique per run: DEK and KEK names, request-key.d match
USER_OK=52341             # a uid the DEK's ACL admits (no passwd entry needed)
DUID=$(id -u daemon) DGID=$(id -g daemon) # vhsmd runs unprivileged, as in vhsmd.service

# vhsmd as uid/gid daemon: revocation must work through the keys' group permission.
cat >"$WORK/vhsmd-unpriv" <<EOS
#!/bin/sh
exec setpriv --reuid=$DUID --regid=$DGID --clear-groups --inh-caps=-all "$B/vhsmd" "\$@"
EOS
chmod 0755 "$WORK/vhsmd-unpriv"
DAEMON=$WORK/vhsmd-unpriv
make_cvm cvm genoa
mkdir -p "$STATE"
chown "$DUID:$DGID" "$STATE" "$WORK/cvm.json"
chmod 0755 "$WORK/cvm-certs"
start_daemon cvm

conf=/etc/request-key.d/vhsm-test-$P.conf
on_exit "rm -f $conf"
cat >"$conf" <<EOC
create	logon	vhsm:$P-dead-*	*	$HELPER --socket $WORK/nothing.sock %k %u %g %S
create	logon	vhsm:$P-*	*	$HELPER --socket $SOCK %k %u %g %S
EOC

# Keys this test leaves in persistent user keyrings are unlinked at the end.
cleanup_keys() {
	local u h
	for h in $(awk -v d="vhsm:$P-" 'index($9, d) == 1 {print $1}' /proc/keys); do
		for u in 0 $USER_OK; do
			setpriv --reuid=$u --regid=$u --clear-groups keyctl unlink $((16#$h)) @u >/dev/null 2>&1
		done
	done
	return 0
}
on_exit cleanup_keys
as_uid() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

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
expect_out "^$P-small .* no$"
expect_exit 0 as_uid $USER_OK "$CTL" --socket "$SOCK" --json dek list
[ "$(jq -r 'map(.name) | join(",")' "$WORK/out")" = "$P-disk" ] || fail "ACL-filtered list: $(cat "$WORK/out")"
expect_exit 2 ctl dek list extra
ok "dek list: loaded keys with serial, destination keyring, uid and expiry; filtered by ACL"

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

# vhsmctl dek load: through request_key; refusals with their reason
out=$(as_uid $USER_OK keyctl session - "$CTL" --socket "$SOCK" dek load "$P-disk" --keyring @s --timeout 30 2>&1) ||
	fail "dek load: $out"
grep -qE "loaded DEK $P-disk as logon key vhsm:$P-disk, serial [0-9]+ \(timeout 30 s\)" <<<"$out" || fail "dek load: $out"
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" dek load "$P-disk"
expect_out "may not load DEK $P-disk"
expect_exit 1 ctl dek load "$P-none"
expect_out "no DEK named"
expect_exit 2 ctl dek load
expect_exit 2 ctl dek load "$P-disk" --keyring @x
expect_exit 2 ctl dek load "$P-disk" --timeout -1
expect_exit 2 ctl dek load "../x"
ok "dek load: a key with a shorter timeout; refusals explained"

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
userkey=$(as_uid $USER_OK keyctl request2 logon "vhsm:$P-disk" '' @u) || fail "user @u request"
expect_exit 2 ctl kek disable --shred
expect_exit 2 ctl kek disable "$P-kek" --shred --bogus
expect_exit 1 as_user nobody "$CTL" --socket "$SOCK" kek disable "$P-kek" --shred
grep -qE "^$(printf %08x "$userkey") I--" /proc/keys || fail "a refused shred revoked keys"
expect_exit 0 ctl kek disable "$P-kek" --shred
expect_out "KEK $P-kek disabled"
expect_out "^2 DEK key\(s\) revoked"
for k in $rootkey $userkey; do
	grep -qE "^$(printf %08x "$k") IR" /proc/keys || fail "key $k not revoked: $(grep "^$(printf %08x "$k")" /proc/keys)"
done
grep -q "\"event\":\"kek.disable\".*shred: 2 key(s) revoked" "$STATE/audit.log" || fail "shred not audited"
out=$(as_uid $USER_OK keyctl session - keyctl request2 logon "vhsm:$P-disk" '' @s 2>&1) && fail "request after shred"
expect_exit 1 as_uid $USER_OK "$CTL" --socket "$SOCK" dek load "$P-disk" --keyring @s
expect_out "is disabled"
expect_exit 0 ctl kek disable "$P-kek" --shred
expect_out "^0 DEK key"
expect_exit 0 ctl kek enable "$P-kek"
ok "kek disable --shred revokes root's and a user's keys; requests refused while disabled"

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
expect_exit 0 ctl dek drop "$P-small" --delete
[ ! -e "$STATE/dek/$P-small.dek" ] || fail "DEK file still there"
expect_exit 1 ctl dek drop "$P-small"
expect_exit 2 ctl dek drop
ok "dek drop revokes; --delete removes the DEK"

# an edited registry file no longer unwraps (the ACL is bound to the wrapped key)
sed -i "s/uid:$USER_OK:/uid:4242:/" "$STATE/dek/$P-disk.dek"
expect_exit 1 dbg --description "vhsm:$P-disk" 77 4242 4242 -3
expect_out "does not unwrap"
ok "a DEK whose ACL was edited on disk is refused"

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
