#!/bin/bash
# vhsmd pulls KEKs from a real pykmip-server and keeps them in sync (docs/fleet.md): two
# simulated CVMs (different chips, same measurement) pull one KEK, a key wrapped on A unwraps
# on B; rotation adds a version (old wrapped keys still unwrap, rewrap moves to the new one);
# Pre-Active is not pulled, Deactivated disables, Compromised disables and shreds (a DEK key
# loaded through request-key is revoked), Destroyed soft-deletes; a rolled-back copy is
# rewritten from the key manager; a local KEK of the same name is never overwritten; failover to a second server
# sharing the database; the key manager down: local use goes on, sync fails with a clear
# message and retries with backoff; require_fresh_sync_s refuses a first use without a fresh
# sync; a bad configuration names the member at fault.
# The daemons are the production vhsmd and their fleet TLS identities come from attested
# enrollment (vhsmctl fleet enroll, vhsm-byok fleet-sign, vhsmctl fleet install-cert): the
# client key is sealed in each CVM. Refusals with that identity: a removed certificate, the
# certificate of another key, a certificate the key manager finds expired, and one vhsmd's own
# clock finds expired.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kmip-lib.sh"
[ -x "$B/vhsmd" ] && [ -x "$BYOK" ] || fail "missing vhsmd or vhsm-byok (make all)"

M=$(printf 'ab%.0s' $(seq 48))
make_cvm a genoa --measurement "$M"
make_cvm b genoa --measurement "$M"

start_kmip a "" "$WORK/shared.db"
start_kmip b "" "$WORK/shared.db"
KA=127.0.0.1:$KMIP_PORT_a
KB=127.0.0.1:$KMIP_PORT_b
adm() { fleet_as admin "$KA" "$KB" -- "$@"; }

# fleet_conf FILE [EXTRA JSON MEMBERS]: endpoints a then b, the test CA, the mappings.
fleet_conf() {
	cat >"$1" <<CONF
{"endpoints": ["$KA", "$KB"], "ca": "$PKI/ca.pem", "sync_interval_s": 3600,
 "timeout_ms": 20000${2:+, $2},
 "keks": [{"local": "db", "name": "db-kek"}, {"local": "app", "name": "app-kek"},
          {"local": "tmp", "name": "tmp-kek"}, {"local": "later", "name": "later-kek"},
          {"local": "mine", "name": "mine-kek"}, {"group": "fleet-grp", "prefix": "g-"}]}
CONF
}
fleet_conf "$WORK/fleet.conf"

# On failure, the daemons' logs say why.
fail() {
	local f
	for f in "$WORK"/cvm-a.log "$WORK"/cvm-b.log; do [ -f "$f" ] && tail -20 "$f" >&2; done
	echo "FAIL: $*" >&2
	exit 1
}
# sync_ok NAME: a sync on NAME that reached the key manager; its JSON status in
# $WORK/sync.json. On a, the local KEK "mine" is the one mapped KEK the sync cannot update
# (exit 1, "partial"); on b every KEK is updated (exit 0, "ok").
sync_ok() {
	local rc=0 want=ok
	[ "$1" = a ] && want=partial
	on "$1" fleet sync --json >"$WORK/sync.json" 2>"$WORK/sync.err" || rc=$?
	if [ "$rc" -ne "$([ $want = ok ] && echo 0 || echo 1)" ] ||
		[ "$(jq -r .last_result "$WORK/sync.json")" != "$want" ]; then
		cat "$WORK/sync.json" "$WORK/sync.err" >&2
		fail "fleet sync on $1: exit $rc, not $want"
	fi
}
action() { jq -r --arg l "$1" '.keks[] | select(.local == $l) | .action' "$WORK/sync.json"; }

# ---- configuration errors name the member ----
bad_conf() {
	local json=$1 want=$2
	printf '%s' "$json" >"$WORK/bad.conf"
	expect_exit 1 "$FT" --state-dir "$WORK/bad-state" --snp-device "sim:$WORK/a.json" \
		--socket "$WORK/bad.sock" --fleet-config "$WORK/bad.conf"
	expect_out "fleet configuration $WORK/bad.conf: .*$want"
}
mkdir -p "$WORK/bad-state"
bad_conf '{"endpoints": ["127.0.0.1"], "ca": "/x", "keks": [{"local": "a", "name": "b"}]}' \
	'endpoints\[0\]: want "host:port"'
bad_conf '{"endpoints": ["h:1"], "ca": "x.pem", "keks": [{"local": "a", "name": "b"}]}' \
	"ca: 'x.pem' is not an absolute path"
bad_conf '{"endpoints": ["h:1"], "ca": "/x", "keks": [{"local": "a"}]}' \
	'keks\[0\]: needs exactly one of "name" and "group"'
bad_conf '{"endpoints": ["h:1"], "ca": "/x", "sync_interval_s": 1, "keks": [{"local": "a", "name": "b"}]}' \
	'sync_interval_s'
bad_conf '{"endpoints": ["h:1"], "ca": "/x", "keks": [{"local": "a", "name": "b"}], "extra": 1}' \
	'extra'
bad_conf '{"endpoints": ["h:1"], "ca": "/x", "keks": [{"local": "a/b", "name": "b"}]}' \
	'keks\[0\]\.local'
expect_exit 1 "$FT" --state-dir "$WORK/bad-state" --snp-device "sim:$WORK/a.json" \
	--socket "$WORK/bad.sock" --fleet-config "$WORK/missing.conf"
expect_out "fleet configuration $WORK/missing.conf: no such file"
ok "bad configurations refused at start with the member at fault"

# ---- keys on the key manager, under the fleet operation policy ----
expect_exit 0 adm --policy fleet create db-kek
id1=$(awk '{print $4}' "$WORK/out")
expect_exit 0 adm --policy fleet create app-kek
app1=$(awk '{print $4}' "$WORK/out")
expect_exit 0 adm --policy fleet create tmp-kek
tmp1=$(awk '{print $4}' "$WORK/out")
expect_exit 0 adm --policy fleet --no-activate create later-kek
later1=$(awk '{print $2}' "$WORK/out")
expect_exit 0 adm --policy fleet --group fleet-grp create web

# Attested enrollment of both CVMs (vhsmd not yet in fleet mode), then vhsmd in fleet mode.
printf '{"version":1,"measurements":["%s"]}\n' "$M" >"$WORK/customer-policy.json"
for c in a b; do
	start_cvm "$c" enrolled none
	enroll_cvm "$c" "cvm-$c" "$WORK/customer-policy.json"
	if [ "$c" = a ]; then
		expect_exit 1 on a fleet network
		expect_out 'fleet network: .*fleet mode is not configured'
	fi
	stop_cvm "$c"
	[ ! -e "$WORK/$c-state/fleet-test-identity" ] || fail "a test identity in $c's state"
	[ -s "$WORK/$c-state/fleet/identity.sealed" ] || fail "no sealed fleet identity on $c"
	start_cvm "$c" enrolled
done
# The first sync runs when vhsmd starts.
first_sync() {
	local i
	for i in $(seq 600); do
		on "$1" fleet status --json >"$WORK/sync.json" || true
		[ "$(jq .completed "$WORK/sync.json")" -ge 1 ] && return 0
		sleep 0.1
	done
	fail "no sync on $1 after start"
}
first_sync a
jq -e '.last_result == "ok" and .keys_fetched == 4' "$WORK/sync.json" >/dev/null ||
	fail "first sync on a: $(cat "$WORK/sync.json")"
[ "$(action db)" = "pulled (1 version(s))" ] || fail "db: $(action db)"
[ "$(action g-web)" = "pulled (1 version(s))" ] || fail "g-web: $(action g-web)"
[ "$(action later)" = "not usable yet (pre-active): not pulled" ] || fail "later: $(action later)"
[ "$(action mine)" = "absent on the key manager" ] || fail "mine: $(action mine)"

# A local KEK, then a key manager key mapped to its name: never overwritten.
on a kek create mine >/dev/null || fail "local KEK mine"
expect_exit 0 adm --policy fleet create mine-kek
chmod 0666 "$WORK/a.sock"
expect_exit 1 as_user nobody "$CTL" --socket "$WORK/a.sock" fleet sync
expect_out 'fleet.sync requires root or the vhsm group'
expect_exit 1 as_user nobody "$CTL" --socket "$WORK/a.sock" fleet status
sync_ok a
jq -e '.kek_errors == 1 and .keys_fetched == 0' "$WORK/sync.json" >/dev/null ||
	fail "sync a: $(cat "$WORK/sync.json")"
action mine | grep -q 'did not come from the key manager: left alone' || fail "mine: $(action mine)"
[ "$(action db)" = "unchanged" ] || fail "db: $(action db)"
on a --json kek show db >"$WORK/show.json"
jq -e --arg id "$id1" '.kek.origin == "fleet" and .kek.state == "enabled" and
	.kek.versions[0].kmip_uid == $id' "$WORK/show.json" >/dev/null || fail "show: $(cat "$WORK/show.json")"
on a --json kek show mine >"$WORK/show.json"
jq -e '.kek.origin == null and (.kek.versions[0] | has("kmip_uid") | not)' "$WORK/show.json" \
	>/dev/null || fail "local KEK touched: $(cat "$WORK/show.json")"
expect_exit 1 on a kek show later
ok "pull: Active keys sealed as KEKs of origin fleet with the key manager's identifier; a Pre-Active one not pulled; a local KEK of a mapped name left alone"

# The vhsmd.service drop-in for the configured endpoints: their one address allowed, nothing
# else; the same text written by --output; --json carries it.
expect_exit 0 on a fleet network
grep -qx 'IPAddressAllow=127.0.0.1' "$WORK/out" || fail "fleet network: $(cat "$WORK/out")"
grep -qx 'PrivateNetwork=no' "$WORK/out" && grep -qx '\[Service\]' "$WORK/out" &&
	grep -qx 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' "$WORK/out" ||
	fail "fleet network: $(cat "$WORK/out")"
! grep -q '^IPAddressDeny' "$WORK/out" || fail "the drop-in must keep the unit's IPAddressDeny=any"
grep -q "$KA, $KB" "$WORK/out" || fail "fleet network names the endpoints: $(cat "$WORK/out")"
cp "$WORK/out" "$WORK/dropin.expected"
expect_exit 0 on a fleet network --output "$WORK/dropin.conf"
cmp -s "$WORK/dropin.conf" "$WORK/dropin.expected" || fail "--output wrote another text"
expect_exit 0 on a --json fleet network
jq -e --rawfile t "$WORK/dropin.expected" '.dropin == $t and .endpoints == ["'"$KA"'", "'"$KB"'"]' \
	"$WORK/out" >/dev/null || fail "fleet network --json: $(cat "$WORK/out")"
expect_exit 2 on a fleet network --install --output "$WORK/x.conf"
[ ! -e "$WORK/x.conf" ] || fail "a refused command line wrote a drop-in"
ok "fleet network: the vhsmd.service drop-in allows the key managers' addresses only (printed, --output, --json); refused without fleet mode and for a bad command line"

sync_ok b
head -c 32 /dev/urandom >"$WORK/dek"
on a wrap --kek db <"$WORK/dek" >"$WORK/w1" || fail "wrap on a"
on b unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "a's wrapped key does not unwrap on b"
on b wrap --kek g-web <"$WORK/dek" >"$WORK/wg" || fail "wrap on b (group)"
on a unwrap <"$WORK/wg" | cmp -s - "$WORK/dek" || fail "group KEK: b's wrapped key does not unwrap on a"
ok "two CVMs on different chips: a key wrapped on one unwraps on the other (by name and by group)"

# A LUKS2 image enrolled through A unlocks through B's token: the token's wrapped secret is
# under the fleet KEK both hold (its sealed copy is A's chip's and cannot help B).
TOKDIR=$(pkg-config --variable=libdir libcryptsetup 2>/dev/null)/cryptsetup
PLUGIN=$B/token/libcryptsetup-token-vhsm.so
if [ "$(id -u)" -eq 0 ] && command -v cryptsetup unshare >/dev/null && [ -d "$TOKDIR" ] &&
	[ -f "$PLUGIN" ] && ! readelf -d "$PLUGIN" | grep -q libasan; then
	mkdir -p "$WORK/plugins"
	cp "$PLUGIN" "$WORK/plugins/"
	# ns SOCKET CMD...: CMD with our plugin directory over libcryptsetup's, talking to SOCKET.
	ns() {
		local sock=$1; shift
		VHSM_TOKEN_SOCKET=$sock VHSM_TOKEN_TIMEOUT=60 unshare -m sh -c \
			'mount --make-rprivate / && mount --bind "$1" "$2" && shift 2 && exec "$@"' \
			ns "$WORK/plugins" "$TOKDIR" "$@"
	}
	printf 'admin passphrase' >"$WORK/adm.key"
	for kek in db g-web; do
		truncate -s 24M "$WORK/$kek.img"
		cryptsetup luksFormat --type luks2 -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
			--key-file "$WORK/adm.key" "$WORK/$kek.img"
		expect_exit 0 on a luks enroll "$WORK/$kek.img" --kek "$kek" --unlock-key-file "$WORK/adm.key"
		expect_exit 0 ns "$WORK/b.sock" cryptsetup open --test-passphrase --token-only -v "$WORK/$kek.img"
		expect_out 'Key slot 1 unlocked'
	done
	LUKS=1
	ok "a LUKS2 image enrolled through A unlocks through B's token (cryptsetup open --test-passphrase)"
else
	echo "# LUKS2 through B's token not tested: needs root, cryptsetup, unshare and an unsanitized token plugin"
fi

# ---- the enrolled identity's refusals (a third CVM, c, on a clock of its own) ----
make_cvm c genoa --measurement "$M"
date +%s >"$WORK/c.now"
CVM_ARGS=(--test-clock "$WORK/c.now")
start_cvm c enrolled
enroll_cvm c cvm-c "$WORK/customer-policy.json"
# csync WANT-EXIT [WANT-MESSAGE]: a sync on c with that exit status (1: not started, 3: the
# key manager not reached) and that message (ERE) in its output; no endpoint is named as the
# one that answered when none did.
csync() {
	local rc=0
	on c fleet sync >"$WORK/sync.out" 2>"$WORK/sync.err" || rc=$?
	[ "$rc" -eq "$1" ] && { [ -z "${2:-}" ] || cat "$WORK/sync.out" "$WORK/sync.err" | grep -qE "$2"; } &&
		! grep -q "key manager (null)" "$WORK/sync.out" ||
		fail "fleet sync on c: exit $rc, not $1${2:+ with '$2'}: $(cat "$WORK/sync.out" "$WORK/sync.err")"
}
csync 0
on c unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "a's wrapped key does not unwrap on c"
cp "$WORK/c-state/fleet/identity.pem" "$WORK/c-good.pem"

# The certificate removed: nothing is sent, the sync names what is missing.
rm "$WORK/c-state/fleet/identity.pem"
csync 1 'no usable fleet TLS identity: .*cvm-c has no certificate installed \(vhsmctl fleet install-cert\)'

# Another key's certificate (same CN, same CA, clientAuth) put in place of c's: refused before
# the key is unsealed or a connection is made; install-cert refuses it too.
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/c-other.key" 2>/dev/null
openssl req -new -key "$WORK/c-other.key" -subj /CN=cvm-c -out "$WORK/c-other.csr"
openssl x509 -req -in "$WORK/c-other.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial \
	-days 1 -extfile <(echo extendedKeyUsage=clientAuth) -out "$WORK/c-other.pem" 2>/dev/null
expect_exit 1 on c fleet install-cert "$WORK/c-other.pem" --ca "$PKI/ca.pem"
expect_out "another public key"
cp "$WORK/c-other.pem" "$WORK/c-state/fleet/identity.pem"
csync 1 'the installed fleet certificate \(fleet/identity.pem\) is not for the sealed key of cvm-c'
cmp -s "$WORK/c-good.pem" "$WORK/c-state/fleet/identity.pem" && fail "certificate restored by itself?"
cp "$WORK/c-good.pem" "$WORK/c-state/fleet/identity.pem"
csync 0

# A certificate for c's key that expires in a few seconds, installed while valid: once it has
# expired, the key manager refuses the handshake (vhsmd's clock, held still, still finds it
# valid, so the refusal is the server's).
python3 - "$WORK/c-enroll.json" "$PKI" "$WORK/c-short.pem" <<'PY'
import datetime, json, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
csr = x509.load_pem_x509_csr(json.load(open(sys.argv[1]))["csr"].encode())
ca = x509.load_pem_x509_certificate(open(sys.argv[2] + "/ca.pem", "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[2] + "/ca.key", "rb").read(), None)
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
        .public_key(csr.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(seconds=3))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(key, hashes.SHA256()))
open(sys.argv[3], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
PY
expect_exit 0 on c fleet install-cert "$WORK/c-short.pem" --ca "$PKI/ca.pem"
end=$(date -d "$(openssl x509 -in "$WORK/c-short.pem" -noout -enddate | cut -d= -f2)" +%s)
while [ "$(date +%s)" -le "$end" ]; do sleep 0.5; done
csync 3 "$KA: TLS handshake failed: .*alert certificate expired"
expect_exit 0 on c fleet install-cert "$WORK/c-fleet.pem"
csync 0

# vhsmd's clock past the certificate's end: refused before any connection.
echo $(($(date +%s) + 3 * 86400)) >"$WORK/c.now"
csync 1 'the fleet certificate has expired: enroll again'
on c --json fleet status >"$WORK/st.json" || true
jq -e '.last_result == "failed" and (.last_error | test("has expired"))' "$WORK/st.json" >/dev/null ||
	fail "status after an expired identity: $(cat "$WORK/st.json")"
stop_cvm c
CVM_ARGS=()
ok "the enrolled identity: a removed certificate, another key's certificate, a certificate the key manager finds expired and one vhsmd's clock finds expired are each refused by name; the right certificate put back syncs again"

# ---- rotation ----
expect_exit 1 on a kek rotate db
expect_out 'comes from the key manager: rotate it there'
cp "$WORK/a-state/kek/db.sealed" "$WORK/db-v1.sealed"
cp "$WORK/a-state/kek/mine.sealed" "$WORK/mine-1.sealed"
expect_exit 0 adm --policy fleet rotate db-kek
id2=$(awk '{print $2}' "$WORK/out")
sync_ok a
[ "$(action db)" = "rotated: 1 new version(s)" ] || fail "db after rotate: $(action db)"
on a --json kek show db >"$WORK/show.json"
jq -e --arg a "$id1" --arg b "$id2" '[.kek.versions[].kmip_uid] == [$a, $b]' "$WORK/show.json" \
	>/dev/null || fail "versions: $(cat "$WORK/show.json")"
on a unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "v1 key after rotation"
on a rewrap <"$WORK/w1" >"$WORK/w2" || fail "rewrap"
sync_ok b
on b unwrap <"$WORK/w2" | cmp -s - "$WORK/dek" || fail "rewrapped key on b"
sync_ok a
[ "$(action db)" = "unchanged" ] && jq -e '.keys_fetched == 0' "$WORK/sync.json" >/dev/null ||
	fail "a second sync refetched: $(cat "$WORK/sync.json")"
ok "rotation on the key manager: a new version; v1-wrapped keys unwrap, rewrap moves them, the other CVM follows; local rotation of a fleet KEK refused; held keys are not fetched again"

# Rolled-back local copies (files from before the rotations put back while vhsmd is stopped):
# the store manifest refuses them; the sync at start rewrites the fleet KEK db from the key
# manager (both versions again) and leaves the local KEK "mine" alone.
on a kek rotate mine >/dev/null || fail "rotate mine"
stop_cvm a
cp "$WORK/a-state/kek/mine.sealed" "$WORK/mine-2.sealed"
cp "$WORK/db-v1.sealed" "$WORK/a-state/kek/db.sealed"
cp "$WORK/mine-1.sealed" "$WORK/a-state/kek/mine.sealed"
start_cvm a enrolled
first_sync a
[ "$(action db)" = "local copy rolled back or replaced: rewritten from the key manager (2 version(s))" ] ||
	fail "db rolled back: $(action db)"
action mine | grep -q "rolled back" || fail "mine: $(action mine)"
# db's two versions, and mine-kek's key: the origin of a refused file is not known before
# the sync (the key is dropped unused, in locked memory).
jq -e '.keys_fetched == 3' "$WORK/sync.json" >/dev/null || fail "rollback: $(cat "$WORK/sync.json")"
on a --json kek show db >"$WORK/show.json"
jq -e --arg a "$id1" --arg b "$id2" '[.kek.versions[].kmip_uid] == [$a, $b] and
	[.kek.versions[].version] == [1, 2] and .kek.state == "enabled"' "$WORK/show.json" \
	>/dev/null || fail "rebuilt db: $(cat "$WORK/show.json")"
on a unwrap <"$WORK/w2" | cmp -s - "$WORK/dek" || fail "v2-wrapped key after the rebuild"
on a unwrap <"$WORK/w1" | cmp -s - "$WORK/dek" || fail "v1-wrapped key after the rebuild"
cmp -s "$WORK/mine-1.sealed" "$WORK/a-state/kek/mine.sealed" || fail "a local KEK was rewritten by the sync"
expect_exit 1 on a kek show mine
expect_out "rolled back"
cp "$WORK/mine-2.sealed" "$WORK/a-state/kek/mine.sealed"
ok "a rolled-back copy of a fleet KEK is rewritten from the key manager at the next sync (versions as before, wrapped keys unwrap); a rolled-back local KEK is left alone"

# ---- state mapping ----
# DEKs of app and db loaded into a keyring of this test through the real request-key upcall
# (vhsm-request-key asking a's vhsmd), so that a compromise's revocation can be seen.
P=fl$$x$RANDOM # unique per run: DEK names (keyring descriptions are global) and the .conf
if [ "$(id -u)" -eq 0 ] && command -v keyctl >/dev/null && [ -r /proc/keys ] &&
	[ -x /sbin/request-key ] && [ -d /etc/request-key.d ]; then
	rk=/etc/request-key.d/vhsm-test-$P.conf
	on_exit "rm -f $rk"
	printf 'create\tlogon\tvhsm:%s-*\t*\t%s --socket %s %%k %%u %%g %%S\n' "$P" \
		"$B/vhsm-request-key" "$WORK/a.sock" >"$rk"
	ring=$(keyctl newring "$P-ring" @u) || fail "keyctl newring"
	on_exit "keyctl unlink $ring @u >/dev/null 2>&1"
	for k in app db; do
		on a dek create "$P-$k" --kek "$k" >/dev/null || fail "dek create $P-$k"
		on a --json dek load "$P-$k" --keyring "$ring" >"$WORK/load.json" 2>"$WORK/err" ||
			fail "dek load $P-$k: $(cat "$WORK/err")"
		eval "key_$k=$(jq -r .serial "$WORK/load.json")"
	done
	KEYS=1
else
	echo "# keyring revocation not tested: needs root, keyctl and request-key"
fi
# key_flags SERIAL: the key's flags in /proc/keys ("I--..." valid, "IR..." revoked)
key_flags() { awk -v s="$(printf %08x "$1")" '$1 == s {print $2}' /proc/keys; }
expect_exit 0 adm activate "$later1"
expect_exit 0 adm revoke "$id2"
expect_exit 0 adm revoke --compromised "$app1"
expect_exit 0 adm revoke "$tmp1"
expect_exit 0 adm destroy "$tmp1"
on a wrap --kek app <"$WORK/dek" >"$WORK/wapp" || fail "wrap under app"
sync_ok a
[ "$(action later)" = "pulled (1 version(s))" ] || fail "later: $(action later)"
[ "$(action db)" = "disabled (was enabled)" ] || fail "db deactivated: $(action db)"
action app | grep -q '^compromised: disabled and shredded' || fail "app: $(action app)"
jq -e '.keks[] | select(.local == "app") | .shred' "$WORK/sync.json" >/dev/null || fail "app shred flag"
if [ -n "${KEYS:-}" ]; then
	# Compromised: the key of app's DEK is revoked; keyctl says so. Deactivated (db): disabled,
	# its loaded key left as it is.
	action app | grep -q '(1 keyring key(s) revoked)' || fail "app: $(action app)"
	[[ $(key_flags "$key_app") == IR* ]] || fail "app's DEK key not revoked: $(key_flags "$key_app")"
	out=$(keyctl describe "$key_app" 2>&1) && fail "keyctl describes a revoked key: $out"
	grep -q "revoked" <<<"$out" || fail "keyctl describe: $out"
	[[ $(key_flags "$key_db") == I-* ]] || fail "db's key revoked by a deactivation: $(key_flags "$key_db")"
	expect_exit 1 on a dek load "$P-app" --keyring "$ring"
else
	action app | grep -q '(0 keyring key(s) revoked)' || fail "app: $(action app)"
fi
[ "$(action tmp)" = "deleted (was enabled)" ] || fail "tmp: $(action tmp)"
# The request to suspend app's volumes: vhsmd records it for the root unit
# (vhsmd-fleet-shred.path), which runs vhsmctl fleet shred: kek disable --shred's code for app
# (no volume on this machine; the suspension itself is the VM tier's
# keyring-shred-revokes-and-suspends).
[ "$(cat "$WORK/a-state/fleet/shred")" = app ] || fail "shred record: $(cat "$WORK/a-state/fleet/shred")"
ino=$(stat -c %i "$WORK/a-state/fleet/shred")
sync_ok a
[ "$(stat -c %i "$WORK/a-state/fleet/shred")" = "$ino" ] || fail "shred record rewritten unchanged"
chmod 0666 "$WORK/a.sock"
expect_exit 1 as_user nobody "$CTL" --socket "$WORK/a.sock" fleet shred
expect_out 'requires root or the vhsm group'
expect_exit 2 on a fleet shred extra
expect_exit 0 on a fleet shred --help
expect_out "Usage: vhsmctl fleet shred"
expect_exit 0 on a fleet shred
expect_out "^KEK app is compromised on the key manager: shredding"
expect_out "^0 DEK key\(s\) revoked"
expect_out "^1 compromised KEK\(s\) shredded"
not_out "KEK (db|tmp|later)"
expect_exit 0 on a --json fleet shred
jq -e -s 'length == 1 and .[0].name == "app" and .[0].revoked == 0' "$WORK/out" >/dev/null ||
	fail "fleet shred --json: $(cat "$WORK/out")"
expect_exit 1 on a wrap --kek db <"$WORK/dek"
expect_out 'disabled'
expect_exit 1 on a unwrap <"$WORK/wapp"
expect_out 'disabled'
on a --json kek show tmp >"$WORK/show.json"
jq -e '.kek.state == "deleted" and .kek.retention_days == 90' "$WORK/show.json" >/dev/null ||
	fail "tmp: $(cat "$WORK/show.json")"
ok "state mapping: Pre-Active then activated → pulled; Deactivated → disabled; Compromised → disabled and shredded, recorded for the root unit, vhsmctl fleet shred runs kek disable --shred on it; Destroyed → soft-deleted (recoverable within the retention)"

# A local change the key manager does not know is corrected at the next sync.
on a kek enable db >/dev/null || fail "local enable"
sync_ok a
[ "$(action db)" = "disabled (was enabled)" ] || fail "db not corrected: $(action db)"
ok "a local copy that disagrees with the key manager is corrected at the next sync"

# A Deactivated KEK compromised later: already disabled locally, its loaded keys are revoked
# at the next sync all the same.
expect_exit 0 adm revoke --compromised "$id2"
sync_ok a
action db | grep -q '^compromised: disabled and shredded' || fail "db: $(action db)"
[ "$(cat "$WORK/a-state/fleet/shred")" = "$(printf 'db\napp')" ] ||
	[ "$(cat "$WORK/a-state/fleet/shred")" = "$(printf 'app\ndb')" ] ||
	fail "shred record: $(cat "$WORK/a-state/fleet/shred")"
if [ -n "${KEYS:-}" ]; then
	action db | grep -q '(1 keyring key(s) revoked)' || fail "db: $(action db)"
	[[ $(key_flags "$key_db") == IR* ]] || fail "db's DEK key not revoked: $(key_flags "$key_db")"
fi
ok "Compromised${KEYS:+ (a DEK key loaded by request-key revoked, keyctl shows it)}, also for a KEK already disabled by a deactivation"

# ---- failover and the key manager down ----
stop_kmip a
sync_ok b
jq -e --arg b "$KB" '.last_endpoint == $b' "$WORK/sync.json" >/dev/null ||
	fail "failover: $(cat "$WORK/sync.json")"
ok "failover: the first key manager killed, the second (same database) serves the sync"
if [ -n "${LUKS:-}" ]; then
	expect_exit 1 ns "$WORK/b.sock" cryptsetup open --test-passphrase --token-only "$WORK/db.img"
	ok "B's token refuses the image of the KEK deactivated on the key manager"
fi

# require_fresh_sync_s: a first use waits for a fresh sync.
fleet_conf "$WORK/fresh.conf" '"require_fresh_sync_s": 600'
stop_cvm b
start_cvm b enrolled "$WORK/fresh.conf"
on b fleet sync >/dev/null || true
on b unwrap <"$WORK/wg" | cmp -s - "$WORK/dek" || fail "fresh sync: unwrap refused after a sync"
stop_kmip b
stop_cvm b
start_cvm b enrolled "$WORK/fresh.conf"
expect_exit 3 on b fleet sync
expect_out "no key manager reachable: $KA: Connection refused; $KB: Connection refused"
expect_exit 1 on b unwrap <"$WORK/wg"
expect_out 'no sync within require_fresh_sync_s=600 s has succeeded since vhsmd started'
ok "require_fresh_sync_s: first use after a start refused until a sync succeeds"

stop_cvm b
start_cvm b enrolled
on b unwrap <"$WORK/wg" | cmp -s - "$WORK/dek" || fail "offline unwrap"
expect_exit 3 on b fleet sync
expect_out "no key manager reachable: $KA: Connection refused; $KB: Connection refused"
# Retried with backoff (2, 4, 8 … s): wait for the daemon's own retries.
for i in $(seq 600); do
	on b fleet status --json >"$WORK/st.json" || true
	[ "$(jq .failures "$WORK/st.json")" -ge 3 ] && break
	sleep 0.1
done
jq -e '.failures >= 3 and .last_result == "failed" and (.last_error | test("Connection refused"))' \
	"$WORK/st.json" >/dev/null || fail "no retries: $(cat "$WORK/st.json")"
on b --json kek show db >"$WORK/show.json"
jq -e '.kek.state == "disabled"' "$WORK/show.json" >/dev/null || fail "state lost offline"
if [ -n "${LUKS:-}" ]; then
	expect_exit 0 ns "$WORK/b.sock" cryptsetup open --test-passphrase --token-only -v "$WORK/g-web.img"
	expect_out 'Key slot 1 unlocked'
fi
ok "key manager down: local unwrap${LUKS:+ and token unlock} work, sync fails naming every endpoint, the daemon retries with backoff"
