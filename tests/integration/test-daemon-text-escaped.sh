#!/bin/bash
# What a daemon (or whatever listens at the socket) answers is escaped before the token plugin
# and the request-key helper print it: a refusal whose message carries terminal control
# sequences (clear screen, carriage return, bell) and a right-to-left override reaches the
# console and the journal as \xHH text, never as raw bytes. Also the busy marker: an EAGAIN
# without it is not retried by the clients.
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/luks-lib.sh"
plugin_ns_setup python3 /usr/bin/python3

# A volume with a vhsm token, enrolled with the real vhsmd.
IMG=$WORK/vol.img
printf 'admin passphrase' >"$WORK/adm.key"
luks_format "$IMG" "$WORK/adm.key"
make_cvm a genoa
start_daemon a
expect_exit 0 ctl kek create disk-kek
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key"
stop_daemon

# The stand-in answers EPERM with: "refused" ESC[2J CR "VERIFIED" BEL U+202E "kek".
FAKE=$WORK/fake.sock
MSG=$(printf 'refused\033[2J\rVERIFIED\a\xe2\x80\xaekek' | od -An -tx1 | tr -d ' \n')
start_fake() {
	[ -z "${FAKE_PID:-}" ] || { kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true; }
	rm -f "$FAKE"
	python3 "$(dirname "$0")/fake-vhsmd.py" "$FAKE" "$@" &
	FAKE_PID=$!
	on_exit "kill $FAKE_PID 2>/dev/null"
	for _ in $(seq 100); do [ -S "$FAKE" ] && return 0; sleep 0.1; done
	fail "the stand-in daemon did not start"
}
no_raw() { ! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]\|\xe2\x80\xae' "$WORK/out" || fail "raw control bytes printed: $(od -c "$WORK/out" | head)"; }
start_fake 1 "$MSG"

VHSM_TOKEN_SOCKET=$FAKE VHSM_TOKEN_TIMEOUT=60 expect_exit 1 ns cryptsetup open --test-passphrase \
	--token-only -v "$IMG"
expect_out 'vhsm token 0 \(KEK via vhsmd\): refused\\x1b\[2J\\rVERIFIED\\x07\\xe2\\x80\\xaekek'
no_raw
ok "token plugin: the daemon's message is printed escaped"

"$B/vhsm-request-key" --debug --socket "$FAKE" --description vhsm:d1 77 0 0 -3 >"$WORK/out" 2>&1 &&
	fail "the helper instantiated on a refusal"
grep -q 'refused\\x1b\[2J\\rVERIFIED\\x07\\xe2\\x80\\xaekek' "$WORK/out" || fail "helper: $(cat "$WORK/out")"
no_raw
ok "request-key helper: the daemon's message is escaped"

# EAGAIN without the busy marker is an answer (maybe after an action), not a decline: the
# client reports it at once (the retries with the marker: tests/unit/test-wire-client.c).
start_fake 11 "$(printf 'inside' | od -An -tx1 | tr -d ' \n')"
expect_exit 3 env VHSM_SOCKET="$FAKE" "$CTL" kek list
expect_out 'inside'
not_out 'still busy'
ok "an EAGAIN without the busy marker is not retried"
echo "$_checks checks passed"
