#!/bin/bash
# vhsm-fleet against a real pykmip-server: create, register (BYOK), rotate with a link,
# activate, revoke, destroy, list and show; mutual TLS negatives (wrong CA, expired
# certificates, a client certificate without clientAuth, a wrong server name); failover to a
# second server sharing the database; a dead key manager gives a clear error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kmip-lib.sh"
[ -x "$FLEET" ] || fail "missing $FLEET (make all)"

start_kmip a "" "$WORK/shared.db"
A=127.0.0.1:$KMIP_PORT_a

expect_exit 0 fleet_as admin "$A" -- create db-kek --group prod
expect_out '^created and activated [^ ]+ \(db-kek\)$'
id1=$(awk '{print $4}' "$WORK/out")
expect_exit 0 fleet_as admin "$A" -- --json show "$id1"
jq -e --arg id "$id1" '.id == $id and .name == "db-kek" and .state == "active" and .bits == 256
	and .group == "prod" and .replaces == null' "$WORK/out" >/dev/null || fail "show: $(cat "$WORK/out")"
ok "create: an active AES-256 key named db-kek in group prod"

head -c 32 /dev/urandom >"$WORK/byok.key"
expect_exit 0 fleet_as admin "$A" -- register app-kek --key-file - <"$WORK/byok.key"
expect_out '^registered and activated [^ ]+ \(app-kek\)$'
idb=$(awk '{print $4}' "$WORK/out")
# The key manager holds exactly the bytes registered (read back with PyKMIP's own client).
"$PY" - "$PKI" "$KMIP_PORT_a" "$idb" "$WORK/byok.key" <<'PY' || fail "registered key differs"
import sys
from kmip.pie.client import ProxyKmipClient
pki, port, uid, keyfile = sys.argv[1:]
c = ProxyKmipClient(hostname="127.0.0.1", port=int(port), cert=pki + "/admin.pem",
                    key=pki + "/admin.key", ca=pki + "/ca.pem", config_file="/dev/null")
c.open()
assert bytes(c.get(uid).value) == open(keyfile, "rb").read()
c.close()
PY
head -c 31 /dev/urandom >"$WORK/short.key"
expect_exit 2 fleet_as admin "$A" -- register short --key-file "$WORK/short.key"
expect_out 'exactly 32 raw bytes, got 31'
ok "register: the 32 bytes given are the key manager's key; a 31-byte key refused"

expect_exit 0 fleet_as admin "$A" -- rotate db-kek
expect_out '^rotated [^ ]+ \(db-kek\)$'
id2=$(awk '{print $2}' "$WORK/out")
expect_exit 0 fleet_as admin "$A" -- --json show "$id2"
jq -e --arg old "$id1" '.replaces == $old and .group == "prod" and .state == "active"' \
	"$WORK/out" >/dev/null || fail "rotate: $(cat "$WORK/out")"
expect_exit 0 fleet_as admin "$A" -- rotate db-kek
id3=$(awk '{print $2}' "$WORK/out")
expect_exit 0 fleet_as admin "$A" -- --json show "$id3"
jq -e --arg old "$id2" '.replaces == $old' "$WORK/out" >/dev/null || fail "second rotate"
ok "rotate: each new version names the newest active one it replaces"

expect_exit 0 fleet_as admin "$A" -- --json list --name db-kek
[ "$(jq length "$WORK/out")" = 3 ] || fail "list --name: $(cat "$WORK/out")"
expect_exit 0 fleet_as admin "$A" -- list --group prod
expect_out "^$id1 +db-kek +active +256 +prod"
not_out 'app-kek'
ok "list: by name (3 versions) and by group"

expect_exit 0 fleet_as admin "$A" -- revoke "$id1"
expect_exit 0 fleet_as admin "$A" -- --json show "$id1"
jq -e '.state == "deactivated"' "$WORK/out" >/dev/null || fail "revoke: $(cat "$WORK/out")"
expect_exit 0 fleet_as admin "$A" -- revoke --compromised "$id2"
expect_exit 0 fleet_as admin "$A" -- --json show "$id2"
jq -e '.state == "compromised"' "$WORK/out" >/dev/null || fail "compromise: $(cat "$WORK/out")"
expect_exit 0 fleet_as admin "$A" -- destroy "$id1"
expect_exit 1 fleet_as admin "$A" -- show "$id1"
expect_out 'key manager refused'
expect_exit 1 fleet_as admin "$A" -- destroy "$id3"
expect_out 'key manager refused'
ok "revoke (deactivated, compromised) and destroy; destroying an active key refused"

expect_exit 2 fleet_as admin "$A" -- create 'bad/name'
expect_out 'invalid name'
expect_exit 2 fleet_as admin "$A" -- create "$(printf 'evil\033[2K')"
expect_out 'invalid name'
expect_exit 2 fleet_as admin "127.0.0.1" -- list
expect_out "bad endpoint '127.0.0.1': want host:port"
expect_exit 2 fleet_as admin "127.0.0.1:0" -- list
expect_out "bad endpoint"
ok "names with '/' or control characters, and endpoints without a port, refused before anything is sent"

# ---- mutual TLS negatives ----
FLEET_CA=$PKI/other-ca.pem expect_exit 3 fleet_as admin "$A" -- list
expect_out 'server certificate refused: (unable to get local issuer certificate|self-signed certificate in certificate chain)'
expect_exit 3 fleet_as admin "localhost:$KMIP_PORT_a" -- list
expect_out 'server certificate refused: hostname mismatch'
expect_exit 3 fleet_as admin-other-ca "$A" -- list
expect_out 'TLS handshake failed: .*alert unknown ca'
expect_exit 3 fleet_as admin-expired "$A" -- list
expect_out 'TLS handshake failed: .*alert certificate expired'
expect_exit 3 fleet_as admin-no-eku "$A" -- list
expect_out 'TLS handshake failed: .*alert unsupported certificate'
start_kmip old server-expired
expect_exit 3 fleet_as admin "127.0.0.1:$KMIP_PORT_old" -- list
expect_out 'server certificate refused: certificate has expired'
stop_kmip old
start_kmip noeku server-no-eku
expect_exit 3 fleet_as admin "127.0.0.1:$KMIP_PORT_noeku" -- list
expect_out 'server certificate refused: no serverAuth extended key usage'
stop_kmip noeku
ok "TLS: wrong CA, wrong server name, client certificates of another CA, expired or without clientAuth, an expired server certificate or one without serverAuth: all refused"

# ---- failover and a dead key manager ----
start_kmip b "" "$WORK/shared.db"
Bp=127.0.0.1:$KMIP_PORT_b
stop_kmip a
expect_exit 0 fleet_as admin "$A" "$Bp" -- --json show "$id3"
jq -e '.state == "active"' "$WORK/out" >/dev/null || fail "failover: $(cat "$WORK/out")"
ok "failover: the first server dead, the second (same database) answers"
stop_kmip b
expect_exit 3 fleet_as admin "$A" "$Bp" -- list
expect_out "no key manager reachable: $A: Connection refused; $Bp: Connection refused"
ok "no key manager: one clear message naming every endpoint"

# The client key is loaded only into OpenSSL's locked secure heap: where memory cannot be
# locked (an unprivileged user with RLIMIT_MEMLOCK 0), the tool refuses to load it.
install -m 0755 "$FLEET" "$WORK/vhsm-fleet" # reachable by nobody wherever the build is
expect_exit 3 setpriv --reuid=nobody --regid=nogroup --clear-groups bash -c \
	'ulimit -l 0; exec "$0" --server 127.0.0.1:1 --ca "$1/ca.pem" --cert "$1/admin.pem" --key "$1/admin.key" list' \
	"$WORK/vhsm-fleet" "$PKI"
expect_out 'cannot lock OpenSSL.s secure heap'
ok "the client key is refused where the secure heap cannot be locked"
