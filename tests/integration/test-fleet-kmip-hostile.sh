#!/bin/bash
# vhsm-fleet against a hostile key manager (a real mutually authenticated TLS server that
# misbehaves after the handshake, tests/integration/kmip-hostile.py): a reset connection, a
# response announcing a huge body, a server that stops sending mid-response, a refusal whose
# message carries terminal control sequences. Each ends in a clear error, never a hang, a
# crash or a signal.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
FLEET=$B/vhsm-fleet
[ -x "$FLEET" ] || fail "missing $FLEET (make all)"
"$PY" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
PKI=$WORK/pki
mkdir -p "$PKI"
"$PY" "$top/tests/integration/kmip-pki.py" "$PKI"

# hostile MODE: starts the hostile server in MODE; sets EP to its endpoint.
hostile() {
	local i
	rm -f "$WORK/port.$1"
	"$PY" "$top/tests/integration/kmip-hostile.py" "$PKI" "$1" "$WORK/port.$1" \
		>"$WORK/hostile-$1.log" 2>&1 &
	on_exit "kill -9 $! 2>/dev/null"
	for ((i = 0; i < 600; i++)); do
		[ -s "$WORK/port.$1" ] && break
		kill -0 "$!" 2>/dev/null || { cat "$WORK/hostile-$1.log" >&2; fail "hostile $1 died"; }
		sleep 0.1
	done
	[ -s "$WORK/port.$1" ] || fail "hostile server $1 did not start"
	EP=127.0.0.1:$(cat "$WORK/port.$1")
}

fleet() {
	"$FLEET" --server "$EP" --ca "$PKI/ca.pem" --cert "$PKI/admin.pem" --key "$PKI/admin.key" "$@"
}

hostile reset
expect_exit 3 fleet --timeout 20000 list
expect_out "vhsm-fleet: $EP: "
ok "a key manager that resets the connection: exit 3 with a message naming it, no SIGPIPE"

hostile reset-early
expect_exit 3 fleet --timeout 20000 list
expect_out "vhsm-fleet: $EP: "
ok "a key manager that resets the connection after the handshake: exit 3 with a message, no SIGPIPE"

hostile huge
expect_exit 3 fleet --timeout 20000 list
expect_out "vhsm-fleet: $EP: Message too long"
ok "a response announcing a 16 MiB body refused before it is read"

hostile slow
expect_exit 3 fleet --timeout 2000 list
expect_out "vhsm-fleet: $EP: Connection timed out"
ok "a key manager that stops mid-response: the call ends at its timeout"

hostile escape
expect_exit 1 fleet --timeout 20000 show 1
expect_out 'the key manager refused .*no such key\\x1b\[2K\\rVERIFIED'
if grep -q $'\033' "$WORK/out"; then fail "raw ESC in the output"; fi
ok "a refusal's message with control sequences printed escaped"
