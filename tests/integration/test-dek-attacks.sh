#!/bin/bash
# Attacks on DEKs and their keyring keys by local users, each refused:
#  - a DEK's wrapped key is no generic wrapped key: UNWRAP refuses it, WRAP cannot mint one.
# Only root's requests go through the kernel's upcall here (hosts that run upcalls for root
# only); the non-root races are attacked in the VM tier (tests/vm/guest-keyring.sh).
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v keyctl >/dev/null || skip "keyctl (keyutils) not installed"
[ -r /proc/keys ] || skip "no /proc/keys (kernel without keyrings?)"
[ "$(id -u)" = 0 ] || skip "needs root (request-key.d, other uids)"
[ -x /sbin/request-key ] || skip "/sbin/request-key not installed"
[ -d /etc/request-key.d ] || skip "no /etc/request-key.d"

HELPER=$B/vhsm-request-key
P=ia$$x$RANDOM            # unique per run: DEK and KEK names, request-key.d match
USER_OK=52342             # a uid the DEK's ACL admits (no passwd entry needed)
DUID=$(id -u daemon) DGID=$(id -g daemon) # vhsmd runs unprivileged, as in vhsmd.service

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
create	logon	vhsm:$P-*	*	$HELPER --socket $SOCK %k %u %g %S
EOC
cleanup_keys() {
	local h
	for h in $(awk -v d="vhsm:$P-" 'index($9, d) == 1 {print $1}' /proc/keys); do
		keyctl unlink $((16#$h)) @u >/dev/null 2>&1
	done
	return 0
}
on_exit cleanup_keys
as_uid() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

expect_exit 0 ctl kek create "$P-kek"
expect_exit 0 ctl dek create "$P-disk" --kek "$P-kek" --timeout 300 --acl "uid:$USER_OK:unwrap,read"

# A DEK's wrapped key is no generic wrapped key (purpose bound into the AAD): a principal
# with unwrap and wrap on the KEK who has the DEK file cannot unwrap it with the DEK's
# context (bypassing the DEK's own ACL), nor wrap under a DEK context.
expect_exit 0 ctl kek acl "$P-kek" "uid:4243:unwrap,wrap"
python3 -c 'import json, sys
sys.stdout.buffer.write(bytes.fromhex(json.load(open(sys.argv[1]))["wrapped"]))' \
	"$STATE/dek/$P-disk.dek" >"$WORK/dekblob"
dctx=$(printf 'vhsm-dek-v1\n%s\n64\n300\n%s' "$P-disk" "$(jq -r .acl "$STATE/dek/$P-disk.dek")")
expect_exit 1 as_uid 4243 "$CTL" --socket "$SOCK" unwrap --context "$dctx" <"$WORK/dekblob"
expect_out 'input is a DEK, not a generic wrapped key'
expect_exit 1 ctl unwrap --context "$dctx" <"$WORK/dekblob"
expect_out 'input is a DEK'
expect_exit 1 as_uid 4243 "$CTL" --socket "$SOCK" wrap --kek "$P-kek" --context "$dctx" <"$WORK/dekblob"
expect_out 'reserved for DEK blobs'
expect_exit 0 ctl kek acl "$P-kek"
expect_exit 0 "$HELPER" --debug --socket "$SOCK" --description "vhsm:$P-disk" 77 $USER_OK $USER_OK -3
ok "UNWRAP refuses a DEK's wrapped key, WRAP cannot mint one; the DEK still loads"

echo "$_checks checks"
