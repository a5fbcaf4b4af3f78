#!/bin/bash
# KEYRING_REQUEST for a requester whose access comes from a supplementary group: vhsmd looks
# the requester's groups up at every request, so adding a user to a group named in a DEK's ACL
# (or to the admin group "vhsm") admits the next upcall and removing it refuses the next one,
# without restarting vhsmd. vhsmd runs in a mount namespace of its own with private copies of
# /etc/passwd and /etc/group bind-mounted over the system's, which the test edits in place;
# the helper's --debug mode stands in for the kernel's upcall (the uid/gid on its command
# line are what the kernel would pass).
. "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
[ "$(id -u)" = 0 ] || skip "needs root (a mount namespace for private passwd and group files)"
unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace here"

HELPER=$B/vhsm-request-key
SOCK=$WORK/vhsmd.sock
P=g$$x$RANDOM
USR=vhsmit$P UIDN=52351 GRPN=52352 ADMN=52353 # the test user, its ACL group, the admin group
GRP=vhsmitg$P
cp /etc/passwd "$WORK/passwd"
grep -v '^vhsm:' /etc/group >"$WORK/group.base"
echo "$USR:x:$UIDN:$UIDN::/nonexistent:/usr/sbin/nologin" >>"$WORK/passwd"
# set_groups MEMBERS_OF_GRP MEMBERS_OF_VHSM: rewrites the private group file in place (the bind
# mount pins the inode: a rename would not be seen).
set_groups() {
	{
		cat "$WORK/group.base"
		echo "$USR:x:$UIDN:"
		echo "$GRP:x:$GRPN:$1"
		echo "vhsm:x:$ADMN:$2"
	} >"$WORK/group.new"
	cat "$WORK/group.new" >"$WORK/group"
}
set_groups "" ""

cat >"$WORK/vhsmd-ns" <<EOS
#!/bin/sh
exec unshare -m --propagation private sh -c 'mount --bind "$WORK/passwd" /etc/passwd &&
	mount --bind "$WORK/group" /etc/group && exec "\$0" "\$@"' "$B/vhsmd" "\$@"
EOS
chmod 0755 "$WORK/vhsmd-ns"
DAEMON=$WORK/vhsmd-ns
make_cvm cvm genoa
start_daemon cvm
ctl kek create "$P-kek" >/dev/null
ctl dek create "$P-grp" --kek "$P-kek" --acl "gid:$GRPN:unwrap" >/dev/null
ctl dek create "$P-other" --kek "$P-kek" --acl "uid:1:unwrap" >/dev/null

# upcall DEK UID GID: the helper's verdict for that requester (KEY 5, DEST 0: --debug only).
upcall() {
	"$HELPER" --socket "$SOCK" --debug --description "vhsm:$1" 5 "$2" "$3" 0 2>/dev/null || true
}
expect_load() {
	local out
	out=$(upcall "$@")
	[[ $out == "instantiate 64 bytes"* ]] || fail "$* not loaded: $out"
}
expect_refused() {
	local out
	out=$(upcall "$@")
	[[ $out == "reject Key was rejected by service"*"may not load DEK $1" ]] ||
		fail "$* not refused: $out"
}

expect_refused "$P-grp" "$UIDN" "$UIDN"
expect_load "$P-grp" "$UIDN" "$GRPN"
ok "a DEK whose ACL names a group: the primary group is admitted, a user outside it refused"

set_groups "$USR" ""
expect_load "$P-grp" "$UIDN" "$UIDN"
expect_refused "$P-other" "$UIDN" "$UIDN"
set_groups "" ""
expect_refused "$P-grp" "$UIDN" "$UIDN"
ok "adding the user to the ACL's group admits the next request, removing it refuses the next"

set_groups "" "$USR"
expect_load "$P-other" "$UIDN" "$UIDN"
set_groups "" ""
expect_refused "$P-other" "$UIDN" "$UIDN"
expect_load "$P-other" 0 0
ok "membership of the admin group applies at the next request too; root is always admitted"

kill -0 "$DAEMON_PID" 2>/dev/null || fail "vhsmd died"
