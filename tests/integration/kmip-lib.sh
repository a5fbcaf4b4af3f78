# KMIP test helpers (sourced after lib.sh): a test PKI and real pykmip-server instances
# (Debian python3-pykmip) on 127.0.0.1 at free ports, stopped by PID.
PY=/usr/bin/python3
FLEET=$B/vhsm-fleet
"$PY" -c 'import kmip' 2>/dev/null ||
	skip "python3-pykmip is not installed (scripts/install-deps.sh installs it)"
command -v pykmip-server >/dev/null || skip "no pykmip-server (python3-pykmip)"
PKI=$WORK/pki
mkdir -p "$PKI"
"$PY" "$top/tests/integration/kmip-pki.py" "$PKI"

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_kmip NAME [CERT] [DB]: a pykmip-server named NAME with server certificate CERT
# (default server) and database DB (default $WORK/NAME.db); sets KMIP_PORT_<NAME>.
start_kmip() {
	local name=$1 cert=${2:-server} db=${3:-$WORK/$1.db} port i
	mkdir -p "$WORK/$name-policies"
	# The fleet operation policy: CVM identities may Locate, read and Get keys created under
	# it; only the key's owner (the administrator) may change their state.
	cat >"$WORK/$name-policies/fleet.json" <<'POLICY'
{"fleet": {"preset": {"SYMMETRIC_KEY": {
	"GET": "ALLOW_ALL", "GET_ATTRIBUTES": "ALLOW_ALL", "GET_ATTRIBUTE_LIST": "ALLOW_ALL",
	"LOCATE": "ALLOW_ALL", "CHECK": "ALLOW_ALL",
	"ADD_ATTRIBUTE": "ALLOW_OWNER", "MODIFY_ATTRIBUTE": "ALLOW_OWNER",
	"DELETE_ATTRIBUTE": "ALLOW_OWNER", "ACTIVATE": "ALLOW_OWNER", "REVOKE": "ALLOW_OWNER",
	"DESTROY": "ALLOW_OWNER"}}}}
POLICY
	for i in 1 2 3; do
		port=$(free_port)
		cat >"$WORK/$name.conf" <<CONF
[server]
hostname=127.0.0.1
port=$port
certificate_path=$PKI/$cert.pem
key_path=$PKI/$cert.key
ca_path=$PKI/ca.pem
auth_suite=TLS1.2
policy_path=$WORK/$name-policies
enable_tls_client_auth=True
logging_level=INFO
database_path=$db
CONF
		# In a session of its own: pykmip-server starts a policy monitor process that outlives
		# a kill of the server alone, so every kill below is of the whole process group.
		setsid pykmip-server -f "$WORK/$name.conf" -l "$WORK/$name.log" >"$WORK/$name.out" 2>&1 &
		eval "KMIP_PID_$name=$!"
		on_exit "kill -9 -- -$! 2>/dev/null"
		if wait_port "$port" "$!" && wait_policy "$WORK/$name.log"; then
			eval "KMIP_PORT_$name=$port"
			return 0
		fi
		kill -9 -- "-$!" 2>/dev/null || true
	done
	cat "$WORK/$name.log" >&2 || true
	fail "pykmip-server $name did not start"
}

# wait_port PORT PID: until something listens on 127.0.0.1:PORT (bounded; the server's
# start-up imports take seconds on a loaded machine), while PID lives.
wait_port() {
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$2" 2>/dev/null || return 1
		"$PY" -c "import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
		sleep 0.1
	done
	return 1
}

# wait_policy LOG: until the server's policy monitor has loaded the fleet operation policy
# (bounded). It runs in a process of its own and loads the policy files after the port opens;
# a request under --policy fleet before that is refused ("Could not locate object").
wait_policy() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q "Loading policy: fleet" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "pykmip-server: the fleet operation policy was not loaded within 60 s" >&2
	return 1
}

stop_kmip() {
	local pid
	eval "pid=\$KMIP_PID_$1"
	kill -9 -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# fleet ADMIN ENDPOINT... -- ARGS: vhsm-fleet as client certificate ADMIN against ENDPOINTs.
fleet_as() {
	local admin=$1 args=(); shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=(--server "$1"); shift; done
	shift
	"$FLEET" "${args[@]}" --ca "${FLEET_CA:-$PKI/ca.pem}" --cert "$PKI/$admin.pem" \
		--key "$PKI/$admin.key" --timeout 20000 "$@"
}

# ---- vhsmd in fleet mode (test-fleet-sync*.sh) ----
# Two ways to give a CVM its fleet TLS identity:
# - "enrolled": the production vhsmd with the identity of attested enrollment (enroll_cvm:
#   vhsmctl fleet enroll, vhsm-byok fleet-sign, vhsmctl fleet install-cert), the key sealed;
# - a PKI certificate name (cvm-a, cvm-fleet, ...): vhsmd-fleet-test, whose identity is that
#   unsealed PEM key copied into the state directory (simulator only); for the tests that
#   start many daemons or kill them in a loop, where 50 enrollments would only add time.
FT=$B/vhsmd-fleet-test
BYOK=$B/vhsm-byok
CVM_ARGS=() # extra vhsmd options of the next start_cvm (e.g. --test-clock FILE)

# start_cvm NAME IDENTITY [CONF]: vhsmd for CVM NAME (make_cvm NAME first) with IDENTITY
# ("enrolled" or a PKI certificate, above) and fleet configuration CONF (default
# $WORK/fleet.conf; "none": not in fleet mode), socket $WORK/NAME.sock, state
# $WORK/NAME-state, log $WORK/cvm-NAME.log; sets PID_NAME.
start_cvm() {
	local name=$1 cert=$2 conf=${3:-$WORK/fleet.conf} bin=$FT fc=()
	mkdir -p "$WORK/$name-state"
	if [ "$cert" = enrolled ]; then
		bin=$B/vhsmd
	else
		mkdir -p "$WORK/$name-state/fleet-test-identity"
		cp "$PKI/$cert.key" "$WORK/$name-state/fleet-test-identity/key.pem"
		cp "$PKI/$cert.pem" "$WORK/$name-state/fleet-test-identity/cert.pem"
	fi
	[ "$conf" = none ] || fc=(--fleet-config "$conf")
	rm -f "$WORK/$name.sock"
	systemd-socket-activate --seqpacket -l "$WORK/$name.sock" -E VHSMD_LOG_STDERR=1 \
		-E VHSM_SNP_SIM_MODULE="$VHSM_SNP_SIM_MODULE" -E ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		-- "$bin" --state-dir "$WORK/$name-state" --snp-device "sim:$WORK/$name.json" \
		--trust-root "$WORK/$name-certs/ark.pem" --idle-timeout 0 \
		"${fc[@]}" "${CVM_ARGS[@]}" >>"$WORK/cvm-$name.log" 2>&1 &
	eval "PID_$name=$!"
	on_exit "kill -9 $! 2>/dev/null"
	wait_listening "$WORK/$name.sock" || fail "vhsmd $name did not start"
}

# enroll_cvm NAME CN POLICY: attested enrollment of CVM NAME's vhsmd (running, socket
# $WORK/NAME.sock) as CN: vhsmctl fleet enroll with a nonce, vhsm-byok fleet-sign by the test
# fleet CA under the customer policy POLICY, vhsmctl fleet install-cert. The bundle is
# $WORK/NAME-enroll.json, the certificate $WORK/NAME-fleet.pem.
enroll_cvm() {
	local name=$1 cn=$2 policy=$3 nonce
	nonce=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	chmod 0600 "$PKI/ca.key"
	on "$name" fleet enroll --name "$cn" --nonce "$nonce" --out "$WORK/$name-enroll.json" \
		>"$WORK/out" 2>&1 || fail "fleet enroll on $name: $(cat "$WORK/out")"
	"$BYOK" fleet-sign "$WORK/$name-enroll.json" --policy "$policy" --nonce "$nonce" \
		--ca-cert "$PKI/ca.pem" --ca-key "$PKI/ca.key" --trust-root "$WORK/$name-certs/ark.pem" \
		--allow-test-root --out "$WORK/$name-fleet.pem" >"$WORK/out" 2>&1 ||
		fail "fleet-sign for $name: $(cat "$WORK/out")"
	on "$name" fleet install-cert "$WORK/$name-fleet.pem" >"$WORK/out" 2>&1 ||
		fail "fleet install-cert on $name: $(cat "$WORK/out")"
}
stop_cvm() {
	local pid
	eval "pid=\$PID_$1"
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
on() { local name=$1; shift; "$CTL" --socket "$WORK/$name.sock" "$@"; }
