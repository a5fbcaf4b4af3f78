# Fleet mode inside the test VM, end to end (sourced by guest-check.sh, which provides say, why,
# run_check, settle; the host side is tests/vm/fleet-setup.sh). The key manager (pykmip-server)
# and the customer's fleet CA run on the host; the guest reaches them at 10.0.2.2 through
# QEMU's user network. vhsmd enrolls (attested CSR signed by vhsm-byok fleet-sign on the host)
# and pulls two KEKs: vmdb (key manager name vm-db-kek) and vmapp (vm-app-kek). Under vmdb: the
# LUKS2 volume fleetvol, enrolled here and opened by hand through the vhsm token (it is in no
# crypttab), and the plain dm-crypt mapping fleetplain keyed by the logon key of DEK fdek.
# Under vmapp: the LUKS2 volume fleetkeep and the mapping fleetkeepp keyed by DEK adek.
# vm-app-kek is deactivated on the key manager: the next sync disables vmapp and suspends
# nothing. vm-db-kek is revoked as compromised: the next sync (vhsmctl fleet sync) disables
# vmdb, revokes its DEK keys and rewrites /var/lib/vhsm/fleet/shred; PID 1 starts
# vhsmd-fleet-shred.service through vhsmd-fleet-shred.path, which suspends fleetvol and
# fleetplain.
# shellcheck shell=bash disable=SC2317

# FLEET_KMIP (host:port) and FLEET_CTL_PORT: written by fleet-setup.sh.
# shellcheck disable=SC1091
. /etc/vhsm-vm/fleet.env
FLEET_HOST=10.0.2.2
FLEET_DEV=/dev/disk/by-id/virtio-vhsm-fleet
FLEET_KEEP_DEV=/dev/disk/by-id/virtio-vhsm-fleetkeep
FLEET_PLAIN_DEV=/dev/disk/by-id/virtio-vhsm-fleetp
FLEET_SHRED=/var/lib/vhsm/fleet/shred

# fleet_ctl LINE: one request to the host's side of the test (fleet-ctl.py); its answer in
# $T/ctl.out. True when it says ok.
fleet_ctl() {
	exec 3<>"/dev/tcp/$FLEET_HOST/$FLEET_CTL_PORT" || return 1
	printf '%s\n' "$1" >&3
	timeout 200 cat <&3 >"$T/ctl.out"
	exec 3<&- 3>&-
	[ "$(head -n 1 "$T/ctl.out")" = ok ]
}

# fleet_sync: vhsmctl fleet sync into $T/sync.out (the guest has no jq: the text form); its
# exit status.
fleet_sync() {
	timeout 300 vhsmctl fleet sync --wait 280 >"$T/sync.out" 2>"$T/sync.err"
}
# fleet_action KEK: the last sync's action for local KEK (its line: local, state, version, action).
fleet_action() { sed -n "s/^  $1 \{1,\}[^ ]\{1,\} \{1,\}v[0-9]\{1,\} \{1,\}//p" "$T/sync.out"; }
sync_said() { tr '\n' ' ' <"$T/sync.out"; tr '\n' ' ' <"$T/sync.err"; }

# dm_state NAME: ACTIVE or SUSPENDED (dmsetup info), or the error.
dm_state() { dmsetup info "$1" 2>&1 | awk '/^State:/ { print $2; f = 1 } END { if (!f) print "none" }'; }
# key_flags SERIAL: the key's flags in /proc/keys ("I--..." valid, "IR..." revoked).
key_flags() { awk -v s="$(printf %08x "$1")" '$1 == s { print $2 }' /proc/keys; }

# fleet_plain_map NAME DEK HALF: a plain dm-crypt mapping on half HALF (0, 1) of the fleetp
# disk, keyed by the logon key of DEK (requested through request-key); prints the key's serial.
fleet_plain_map() {
	local name=$1 dek=$2 half=$3 k sectors
	k=$(keyctl request2 logon "vhsm:$dek" "" @u 2>"$T/err") ||
		{ why "request2 logon vhsm:$dek: $(cat "$T/err")"; return 1; }
	sectors=$(($(blockdev --getsz "$FLEET_PLAIN_DEV") / 2))
	dmsetup create "$name" --table \
		"0 $sectors crypt aes-xts-plain64 :64:logon:vhsm:$dek 0 $FLEET_PLAIN_DEV $((half * sectors))" \
		2>"$T/err" || { why "dmsetup create $name: $(cat "$T/err")"; return 1; }
	udevadm settle
	echo "$k"
}

# ---- 1. enrollment and the first pull ----
check_fleet_enroll_pull() {
	local out nonce st i
	[ -n "${FLEET_KMIP:-}" ] && [ -n "${FLEET_CTL_PORT:-}" ] || { why "no /etc/vhsm-vm/fleet.env"; return 1; }
	# The package enables the root unit that suspends the volumes of compromised KEKs.
	st=$(systemctl is-active vhsmd-fleet-shred.path)
	[ "$st" = active ] || { why "vhsmd-fleet-shred.path is $st"; return 1; }
	# The guest's network (QEMU user networking; the host is 10.0.2.2).
	systemctl start systemd-networkd.service 2>"$T/err" ||
		{ why "systemd-networkd: $(cat "$T/err")"; return 1; }
	for ((i = 0; i < 90; i++)); do
		timeout 5 bash -c "exec 3<>/dev/tcp/$FLEET_HOST/$FLEET_CTL_PORT" 2>/dev/null && break
		sleep 1
	done
	[ "$i" -lt 90 ] || { why "the host is not reachable at $FLEET_HOST: $(networkctl 2>&1 | tr '\n' ' ')"; return 1; }

	# Attested enrollment: the CSR and report go to the customer's signer on the host.
	nonce=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	out=$(vhsmctl fleet enroll --name cvm-vm --nonce "$nonce" --out "$T/enroll.json" 2>&1) ||
		{ why "fleet enroll: $out"; return 1; }
	fleet_ctl "sign $nonce $(base64 -w0 "$T/enroll.json")" ||
		{ why "fleet-sign on the host: $(cat "$T/ctl.out")"; return 1; }
	tail -n +2 "$T/ctl.out" >"$T/fleet-cert.pem"
	out=$(vhsmctl fleet install-cert "$T/fleet-cert.pem" 2>&1) || { why "install-cert: $out"; return 1; }

	# Fleet mode. The shipped unit keeps vhsmd off the network: the sync fails, naming the
	# endpoint and the sandbox, until the drop-in of `vhsmctl fleet network --install` opens it
	# to the key manager's address.
	cat >/etc/vhsm/fleet.conf <<-EOF
		{"endpoints": ["$FLEET_KMIP"], "ca": "/etc/vhsm/fleet-ca.pem", "sync_interval_s": 3600,
		 "timeout_ms": 60000,
		 "keks": [{"local": "vmdb", "name": "vm-db-kek"}, {"local": "vmapp", "name": "vm-app-kek"}]}
	EOF
	systemctl restart vhsmd.service || { why "vhsmd did not restart in fleet mode"; return 1; }
	fleet_sync && { why "a sync reached the key manager from the sandbox without network"; return 1; }
	grep -q "^last error: no key manager reachable: $FLEET_KMIP: .*may not use the network.*vhsmctl fleet network --install" "$T/sync.out" ||
		{ why "sandboxed sync: $(sync_said)"; return 1; }
	say "fleet: sync with the shipped sandbox: $(grep '^last error' "$T/sync.out")"
	out=$(vhsmctl fleet network --install 2>&1) || { why "fleet network --install: $out"; return 1; }
	grep -qx "IPAddressAllow=$FLEET_HOST" /etc/systemd/system/vhsmd.service.d/50-vhsm-fleet-network.conf ||
		{ why "the drop-in: $(cat /etc/systemd/system/vhsmd.service.d/50-vhsm-fleet-network.conf)"; return 1; }
	systemctl daemon-reload
	systemctl restart vhsmd.service || { why "vhsmd did not restart with the network drop-in"; return 1; }
	fleet_sync || { why "fleet sync: $(sync_said)"; return 1; }
	for k in vmdb vmapp; do
		[ "$(fleet_action $k)" = "pulled (1 version(s))" ] ||
			[ "$(fleet_action $k)" = unchanged ] || { why "$k: $(fleet_action $k)"; return 1; }
		out=$(vhsmctl --json kek show "$k" 2>&1)
		grep -q '"origin": *"fleet"' <<<"$out" && grep -q '"state": *"enabled"' <<<"$out" ||
			{ why "kek show $k: $out"; return 1; }
	done
	say "fleet: enrolled as cvm-vm; $(head -n 1 "$T/sync.out"); vmdb, vmapp pulled"
}

# ---- 2. volumes under the fleet KEKs, opened by hand (in no crypttab) ----
check_fleet_volumes() {
	local out v dev
	keyctl link @u @s >/dev/null || { why "keyctl link @u @s failed"; return 1; }
	for v in fleetvol:vmdb:$FLEET_DEV:fleet fleetkeep:vmapp:$FLEET_KEEP_DEV:fleetkeep; do
		local vol kek adm
		IFS=: read -r vol kek dev adm <<<"$v"
		out=$(vhsmctl luks enroll "$dev" --kek "$kek" --unlock-key-file "/etc/vhsm-vm/$adm-adm.key" 2>&1) ||
			{ why "luks enroll $vol: $out"; return 1; }
		out=$(cryptsetup open --token-only "$dev" "$vol" 2>&1) ||
			{ why "cryptsetup open --token-only $vol: $out"; return 1; }
		cryptsetup status "$vol" | grep -q 'type: *LUKS2' || { why "$vol: not an active LUKS2 mapping"; return 1; }
		grep -q "^$vol " /etc/crypttab && { why "$vol is in /etc/crypttab"; return 1; }
	done
	for v in fdek:vmdb adek:vmapp; do
		out=$(vhsmctl dek create "${v%%:*}" --kek "${v#*:}" --size 64 2>&1) ||
			{ why "dek create $v: $out"; return 1; }
	done
	fleet_plain_map fleetplain fdek 0 >"$T/fdek.serial" || return 1
	fleet_plain_map fleetkeepp adek 1 >"$T/adek.serial" || return 1
	head -c 32 /dev/urandom >"$T/fsecret"
	vhsmctl wrap --kek vmdb --context vm-fleet <"$T/fsecret" >"$T/fsecret.db" 2>"$T/err" ||
		{ why "wrap under vmdb: $(cat "$T/err")"; return 1; }
	vhsmctl wrap --kek vmapp --context vm-fleet <"$T/fsecret" >"$T/fsecret.app" 2>"$T/err" ||
		{ why "wrap under vmapp: $(cat "$T/err")"; return 1; }
	for v in fleetvol fleetplain fleetkeep fleetkeepp; do
		[ "$(dm_state "$v")" = ACTIVE ] || { why "$v is $(dm_state "$v")"; return 1; }
		timeout 60 dd if="/dev/mapper/$v" of=/dev/null bs=4096 count=1 status=none ||
			{ why "$v does not read"; return 1; }
	done
	say "fleet: fleetvol, fleetkeep (token, by hand), fleetplain, fleetkeepp (DEK logon keys) active"
}

# ---- 3. Deactivated on the key manager: disabled, nothing suspended ----
check_fleet_deactivated() {
	local out k
	fleet_ctl "revoke vm-app-kek" || { why "revoke on the host: $(cat "$T/ctl.out")"; return 1; }
	fleet_sync || { why "fleet sync: $(sync_said)"; return 1; }
	[ "$(fleet_action vmapp)" = "disabled (was enabled)" ] || { why "vmapp: $(fleet_action vmapp)"; return 1; }
	out=$(vhsmctl --json fleet status 2>&1)
	grep -q '"shred": *true' <<<"$out" && { why "a KEK marked shred: $out"; return 1; }
	[ ! -s "$FLEET_SHRED" ] || { why "$FLEET_SHRED: $(cat "$FLEET_SHRED")"; return 1; }
	out=$(vhsmctl unwrap --context vm-fleet <"$T/fsecret.app" 2>&1) &&
		{ why "a deactivated KEK still unwraps"; return 1; }
	grep -q disabled <<<"$out" || { why "unwrap under vmapp: $out"; return 1; }
	# Nothing suspended, the DEK key not revoked.
	for v in fleetkeep fleetkeepp fleetvol fleetplain; do
		[ "$(dm_state "$v")" = ACTIVE ] || { why "$v is $(dm_state "$v") after a deactivation"; return 1; }
	done
	k=$(cat "$T/adek.serial")
	[[ $(key_flags "$k") == I-* ]] || { why "adek's key after a deactivation: $(key_flags "$k")"; return 1; }
	[ -z "$(systemctl show -P InvocationID vhsmd-fleet-shred.service)" ] ||
		{ why "vhsmd-fleet-shred.service ran after a deactivation"; return 1; }
	say "fleet: vm-app-kek deactivated: vmapp disabled, its volumes active, its key valid"
}

# ---- 4. Compromised: the path unit fires, the oneshot suspends the volumes ----
check_fleet_compromised() {
	local out k i st
	fleet_ctl "compromise vm-db-kek" || { why "revoke --compromised on the host: $(cat "$T/ctl.out")"; return 1; }
	fleet_sync || { why "fleet sync: $(sync_said)"; return 1; }
	fleet_action vmdb | grep -q '^compromised: disabled and shredded (1 keyring key(s) revoked)' ||
		{ why "vmdb: $(fleet_action vmdb)"; return 1; }
	[ "$(cat "$FLEET_SHRED" 2>&1)" = vmdb ] || { why "$FLEET_SHRED: $(cat "$FLEET_SHRED" 2>&1)"; return 1; }
	# PID 1 starts the oneshot (nobody here runs vhsmctl fleet shred): wait until it ran.
	for ((i = 0; i < 300; i++)); do
		[ -n "$(systemctl show -P InvocationID vhsmd-fleet-shred.service)" ] &&
			[ "$(systemctl is-active vhsmd-fleet-shred.service)" != activating ] && break
		sleep 1
	done
	st=$(systemctl show -P Result vhsmd-fleet-shred.service)
	[ -n "$(systemctl show -P InvocationID vhsmd-fleet-shred.service)" ] ||
		{ why "vhsmd-fleet-shred.service was not started within 300 s"; return 1; }
	[ "$st" = success ] || { why "vhsmd-fleet-shred.service: result $st"; return 1; }
	journalctl -b -o cat --no-pager -u vhsmd-fleet-shred.service >"$T/shred.log"
	say "fleet: vhsmd-fleet-shred.service: $(tr '\n' ';' <"$T/shred.log" | cut -c1-400)"
	grep -q '^KEK vmdb is compromised on the key manager: shredding' "$T/shred.log" ||
		{ why "shred service log: $(cat "$T/shred.log")"; return 1; }
	grep -q '^volume fleetvol: suspended' "$T/shred.log" || { why "fleetvol: $(cat "$T/shred.log")"; return 1; }
	grep -q '^volume fleetplain: suspended, key wiped (plain dm-crypt)' "$T/shred.log" ||
		{ why "fleetplain: $(cat "$T/shred.log")"; return 1; }
	for v in fleetvol fleetplain; do
		[ "$(dm_state "$v")" = SUSPENDED ] || { why "$v is $(dm_state "$v")"; return 1; }
		if dmsetup resume "$v" 2>/dev/null; then
			why "$v resumed after the shred: its key was not wiped"
			return 1
		fi
	done
	k=$(cat "$T/fdek.serial")
	[[ $(key_flags "$k") == IR* ]] || { why "fdek's key $k: $(key_flags "$k")"; return 1; }
	out=$(keyctl describe "$k" 2>&1) && { why "keyctl describes the revoked key: $out"; return 1; }
	grep -q revoked <<<"$out" || { why "keyctl describe $k: $out"; return 1; }
	# The KEK refuses unwraps and new keyring keys.
	out=$(vhsmctl unwrap --context vm-fleet <"$T/fsecret.db" 2>&1) && { why "vmdb still unwraps"; return 1; }
	grep -q disabled <<<"$out" || { why "unwrap under vmdb: $out"; return 1; }
	out=$(keyctl request2 logon vhsm:fdek "" @u 2>&1) && { why "fdek loaded again: $out"; return 1; }
	# The cause, in vhsmd's journal and its audit log.
	journalctl -b -o cat --no-pager _SYSTEMD_UNIT=vhsmd.service |
		grep -q 'fleet sync: KEK vmdb: compromised: disabled and shredded' ||
		{ why "vhsmd's journal does not name the compromise"; return 1; }
	vhsmctl audit --verify >/dev/null 2>&1 || { why "audit does not verify"; return 1; }
	grep -q '"event":"kek.shred.volume".*"reason":"volume fleetvol: suspended' /var/lib/vhsm/audit.log ||
		{ why "the suspension of fleetvol is not in the audit log"; return 1; }
	# The deactivated KEK's volumes and key: untouched by the shred.
	for v in fleetkeep fleetkeepp; do
		[ "$(dm_state "$v")" = ACTIVE ] || { why "$v is $(dm_state "$v") after vmdb's shred"; return 1; }
	done
	k=$(cat "$T/adek.serial")
	[[ $(key_flags "$k") == I-* ]] || { why "adek's key after vmdb's shred: $(key_flags "$k")"; return 1; }
	say "fleet: vm-db-kek compromised: path unit fired, fleetvol and fleetplain SUSPENDED, fdek revoked"
}

# The suspended mappings would hold I/O at power-off: removed.
fleet_cleanup() {
	local v
	for v in fleetvol fleetplain fleetkeep fleetkeepp; do
		dmsetup remove --force "$v" >/dev/null 2>&1 || true
	done
}

fleet_checks() {
	run_check fleet-enroll-pull check_fleet_enroll_pull
	run_check fleet-volumes-by-hand check_fleet_volumes
	run_check fleet-deactivated-suspends-nothing check_fleet_deactivated
	run_check fleet-compromised-path-unit-suspends check_fleet_compromised
	fleet_cleanup
}
