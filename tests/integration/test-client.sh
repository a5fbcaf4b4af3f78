#!/bin/bash
# The one wire client's socket choice: $VHSM_SOCKET for vhsmctl and vhsm-request-key, --socket
# over it, the default without either; the connect error names the path and the real cause.
. "$(dirname "$0")/lib.sh"

HELPER=$B/vhsm-request-key
make_cvm a genoa
start_daemon a
expect_exit 0 ctl kek create client-kek

# vhsmctl
expect_exit 0 env VHSM_SOCKET="$SOCK" "$CTL" kek list
expect_out 'client-kek'
expect_exit 3 env VHSM_SOCKET="$WORK/none.sock" "$CTL" kek list
expect_out "^vhsmctl: cannot connect to vhsmd at $WORK/none.sock: No such file or directory$"
expect_exit 0 env VHSM_SOCKET="$WORK/none.sock" "$CTL" --socket "$SOCK" kek list
expect_out 'client-kek'
expect_exit 3 env VHSM_SOCKET="$SOCK" "$CTL" --socket "$WORK/none.sock" kek list
expect_out "cannot connect to vhsmd at $WORK/none.sock"
if [ ! -e /run/vhsm/vhsmd.sock ]; then
	expect_exit 3 env -u VHSM_SOCKET "$CTL" kek list
	expect_out 'cannot connect to vhsmd at /run/vhsm/vhsmd.sock: No such file or directory'
	expect_exit 3 env VHSM_SOCKET= "$CTL" kek list
	expect_out 'cannot connect to vhsmd at /run/vhsm/vhsmd.sock'
fi
expect_exit 0 "$CTL" --help
expect_out 'VHSM_SOCKET'
ok "vhsmctl: \$VHSM_SOCKET chooses the socket, --socket overrides it, errors name the path"

# A socket file nobody listens on: refused at once (no wait), the cause named.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' \
	"$WORK/stale.sock"
expect_exit 3 "$CTL" --socket "$WORK/stale.sock" kek list
expect_out "cannot connect to vhsmd at $WORK/stale.sock: Connection refused"
ok "vhsmctl: a stale socket is reported as refused, not waited for"

# vhsm-request-key --debug: the daemon answers through $VHSM_SOCKET (a refusal for a DEK that
# does not exist), --socket overrides it.
expect_exit 1 env VHSM_SOCKET="$SOCK" "$HELPER" --debug --description vhsm:no-such-dek 77 0 0 -3
expect_out '^reject Required key not available .*no DEK named no-such-dek'
not_out 'vhsmd at'
expect_exit 1 env VHSM_SOCKET="$WORK/none.sock" "$HELPER" --debug --description vhsm:no-such-dek \
	77 0 0 -3
expect_out "^reject Connection refused .*vhsmd at $WORK/none.sock: No such file or directory"
expect_exit 1 env VHSM_SOCKET="$WORK/none.sock" "$HELPER" --debug --socket "$SOCK" \
	--description vhsm:no-such-dek 77 0 0 -3
expect_out '^reject Required key not available .*no DEK named no-such-dek'
not_out 'vhsmd at'
ok "vhsm-request-key: \$VHSM_SOCKET chooses the socket, --socket overrides it"
