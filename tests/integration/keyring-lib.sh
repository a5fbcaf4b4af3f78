# Shared set-up of the keyring tests (sourced, after lib.sh's rules): an unprivileged vhsmd
# under socket activation, a request-key.d file for this run's description prefix (the upcall
# runs in init's namespaces, so it is installed for the test's duration and always removed),
# cleanup of the keys left in user keyrings, and the probe for non-root upcalls.
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
need_reachable "$DUID"

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
create	user	vhsm-probe:$P-*	*	$(command -v keyctl) instantiate %k ok %S
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


# upcall_runs_for UID: a request-key upcall runs for a requester with that uid. Some kernels
# (and container set-ups) run the upcall only for uid 0: then even keyutils' stock debug:
# handler never runs for anyone else, and request_key() fails with ENOKEY or ENOENT.
upcall_runs_for() {
	as_uid "$1" keyctl session - keyctl request2 user "vhsm-probe:$P-$1" x @s >/dev/null 2>&1
}
