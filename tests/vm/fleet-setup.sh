# make check-vm, fleet part (sourced by tests/vm/run.sh; uses its W, B, here, log, die).
# The customer's side runs on the host: a pykmip-server on 127.0.0.1 at a free port (server
# certificate for 10.0.2.2, the host as QEMU's user network shows it to the guest) holding the
# KEKs vm-db-kek and vm-app-kek, and tests/vm/fleet-ctl.py, which signs the guest's enrollment
# with vhsm-byok fleet-sign (the fleet CA, the customer policy with the simulated CVM's
# measurement) and revokes keys with vhsm-fleet when the guest asks. The guest gets a NIC
# (BOOT_NIC), the fleet CA, the two ports, three disks and the admin keys of the two LUKS2 ones.
# Guest checks: tests/vm/guest-fleet.sh. Both servers are stopped by PID when run.sh exits.
# shellcheck shell=bash disable=SC2034,SC2154 # run.sh's variables, and ones it reads

FLEET_DISKS="fleet fleetkeep fleetp"
FLEET_CHECKS=(fleet-enroll-pull fleet-volumes-by-hand fleet-deactivated-suspends-nothing
	fleet-compromised-path-unit-suspends)
FLEET_PIDS=()

# fleet_stop: the key manager and the control server, by PID (their process groups).
fleet_stop() {
	local p
	for p in "${FLEET_PIDS[@]}"; do
		kill -9 -- "-$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	FLEET_PIDS=()
}

# fleet_pki DIR: the fleet CA, the key manager's certificate (IP 10.0.2.2 for the guest,
# 127.0.0.1 for the administrator on the host) and the administrator's client certificate,
# P-256.
fleet_pki() {
	local d=$1 n
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=vhsm VM fleet CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2>/dev/null || return 1
	chmod 0600 "$d/ca.key"
	for n in server:serverAuth:kmip-vm admin:clientAuth:fleet-admin; do
		IFS=: read -r f eku cn <<<"$n"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
			-keyout "$d/$f.key" -out "$d/$f.csr" 2>/dev/null || return 1
		printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=%s\n%s' "$eku" \
			"$([ "$f" = server ] && echo 'subjectAltName=IP:10.0.2.2,IP:127.0.0.1')" >"$d/$f.ext"
		openssl x509 -req -in "$d/$f.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/$f.ext" -out "$d/$f.pem" 2>/dev/null || return 1
	done
}

# fleet_wait_port PORT PID: until 127.0.0.1:PORT accepts (bounded), while PID lives.
fleet_wait_port() {
	local i
	for ((i = 0; i < 900; i++)); do
		kill -0 "$2" 2>/dev/null || return 1
		timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

fleet_kmip_start() {
	local d=$W/fleet port i j
	mkdir -p "$d/policies"
	# The fleet operation policy of docs/fleet.md: CVMs read, the administrator changes state.
	cat >"$d/policies/fleet.json" <<-'EOF'
		{"fleet": {"preset": {"SYMMETRIC_KEY": {"LOCATE": "ALLOW_ALL", "GET": "ALLOW_ALL",
		  "GET_ATTRIBUTES": "ALLOW_ALL", "GET_ATTRIBUTE_LIST": "ALLOW_ALL",
		  "ACTIVATE": "ALLOW_OWNER", "REVOKE": "ALLOW_OWNER", "DESTROY": "ALLOW_OWNER"}}}}
	EOF
	for i in 1 2 3; do
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
		cat >"$d/kmip.conf" <<-EOF
			[server]
			hostname=127.0.0.1
			port=$port
			certificate_path=$d/pki/server.pem
			key_path=$d/pki/server.key
			ca_path=$d/pki/ca.pem
			auth_suite=TLS1.2
			policy_path=$d/policies
			enable_tls_client_auth=True
			logging_level=INFO
			database_path=$d/kmip.db
		EOF
		# A session of its own: its policy monitor process dies with the group.
		setsid pykmip-server -f "$d/kmip.conf" -l "$d/kmip.log" >"$d/kmip.out" 2>&1 &
		FLEET_PIDS+=($!)
		if fleet_wait_port "$port" "$!"; then
			for ((j = 0; j < 600; j++)); do
				grep -q "Loading policy: fleet" "$d/kmip.log" 2>/dev/null && break
				sleep 0.2
			done
			FLEET_KMIP_PORT=$port
			return 0
		fi
		fleet_stop
	done
	die "pykmip-server did not start ($d/kmip.log)"
}

fleet_setup() {
	local r=$W/rootfs d=$W/fleet t=$SECONDS k m ctlport lf
	lf=(--batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000)
	command -v pykmip-server >/dev/null ||
		die "pykmip-server not found (python3-pykmip): run scripts/install-deps.sh --vm"
	mkdir -p "$d"
	fleet_pki "$d/pki" || die "cannot make the fleet test PKI"
	fleet_kmip_start
	local adm=("$B/vhsm-fleet" --server "127.0.0.1:$FLEET_KMIP_PORT" --ca "$d/pki/ca.pem"
		--cert "$d/pki/admin.pem" --key "$d/pki/admin.key" --timeout 20000)
	printf '{' >"$d/keys.json"
	for k in vm-db-kek vm-app-kek; do
		"${adm[@]}" --json --policy fleet create "$k" >"$d/create-$k.json" 2>&1 ||
			die "vhsm-fleet create $k: $(cat "$d/create-$k.json")"
		printf '%s"%s": "%s"' "$([ "$k" = vm-db-kek ] || echo ,)" "$k" \
			"$(jq -r .id "$d/create-$k.json")" >>"$d/keys.json"
	done
	printf '}\n' >>"$d/keys.json"

	# The customer's policy: the simulated CVM's measurement.
	m=$("$B/vhsm-snp-sim" show "$W/cvm.json" | awk '$1 == "measurement:" { print $2 }')
	[ -n "$m" ] || die "no measurement in vhsm-snp-sim show"
	printf '{"version":1,"measurements":["%s"]}\n' "$m" >"$d/customer-policy.json"
	jq -n --arg dir "$d" --arg byok "$B/vhsm-byok" --arg fleet "$B/vhsm-fleet" \
		--arg ep "127.0.0.1:$FLEET_KMIP_PORT" --arg ark "$W/cvm-certs/ark.pem" \
		--slurpfile keys "$d/keys.json" \
		'{log: ($dir + "/ctl.log"), dir: $dir, byok: $byok, fleet: $fleet, endpoint: $ep,
		  policy: ($dir + "/customer-policy.json"), ca_cert: ($dir + "/pki/ca.pem"),
		  ca_key: ($dir + "/pki/ca.key"), admin_cert: ($dir + "/pki/admin.pem"),
		  admin_key: ($dir + "/pki/admin.key"), trust_root: $ark,
		  keys: $keys[0]}' >"$d/ctl.json" || die "cannot write $d/ctl.json"
	setsid python3 "$here/fleet-ctl.py" "$d/ctl.json" "$d/ctl.port" >"$d/ctl.out" 2>&1 &
	FLEET_PIDS+=($!)
	local i
	for ((i = 0; i < 300; i++)); do [ -s "$d/ctl.port" ] && break; sleep 0.2; done
	ctlport=$(cat "$d/ctl.port" 2>/dev/null)
	[ -n "$ctlport" ] || die "fleet-ctl.py did not start ($d/ctl.out)"

	# Disks: two LUKS2 volumes (enrolled in the guest with the fleet KEKs) and a plain one.
	for k in fleet fleetkeep; do
		head -c 32 /dev/urandom >"$W/$k-adm.key"
		truncate -s 24M "$W/$k.img"
		cryptsetup luksFormat "${lf[@]}" --key-file "$W/$k-adm.key" "$W/$k.img" ||
			die "luksFormat $k.img failed"
		install -m 0400 "$W/$k-adm.key" "$r/etc/vhsm-vm/"
	done
	truncate -s 16M "$W/fleetp.img"

	install -m 0644 "$d/pki/ca.pem" "$r/etc/vhsm/fleet-ca.pem"
	printf 'FLEET_KMIP=10.0.2.2:%s\nFLEET_CTL_PORT=%s\n' "$FLEET_KMIP_PORT" "$ctlport" \
		>"$r/etc/vhsm-vm/fleet.env"
	# The guest's address on QEMU's user network; systemd-networkd is started by the check.
	install -d "$r/etc/systemd/network"
	cat >"$r/etc/systemd/network/50-vhsm-vm.network" <<-'EOF'
		[Match]
		Type=ether
		[Network]
		Address=10.0.2.15/24
		LinkLocalAddressing=no
		IPv6AcceptRA=no
	EOF
	install -m 0644 "$here/guest-fleet.sh" "$r/usr/local/lib/vhsm-vm/guest-fleet.sh"
	BOOT_NIC=user,model=virtio-net-pci
	FLEET_BOOT_DISKS=$FLEET_DISKS
	log "fleet: key manager on 127.0.0.1:$FLEET_KMIP_PORT, signer on :$ctlport: $(elapsed $t)"
}
