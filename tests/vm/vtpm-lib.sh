# shellcheck shell=bash
# The guest's TPM for the root-volume tiers (sourced by root-lib.sh): swtpm, TPM 2.0, its state
# in the run's work directory, standing in for the vTPM of a paravisor CVM. The same state
# serves this host's tools (the enrollment vhsmd seals the root volume's vtpm KEK, the
# simulator writes the HCL report it checks) through swtpm's TCTI, and then the guest through
# QEMU's TPM emulator backend (a TIS device: /dev/tpm0 and /dev/tpmrm0 in the guest). Each
# start is a power-on: PCRs reset, persistent objects, NV indices and seeds kept. Every swtpm
# is started and stopped here by its PID; sockets are in the work directory.

VTPM_PID=
# vtpm_stop: stops the running swtpm (its state is on disk after each change) and waits.
vtpm_stop() {
	[ -n "$VTPM_PID" ] || return 0
	kill -TERM "$VTPM_PID" 2>/dev/null || true
	wait "$VTPM_PID" 2>/dev/null || true
	VTPM_PID=
}

# vtpm_start STATE MODE: swtpm on the state directory STATE (made when missing). MODE host: a
# server socket for the swtpm TCTI (vtpm_tcti), started up like a booted TPM; MODE qemu: only
# the control socket, which QEMU's emulator backend connects to (the guest's firmware starts
# the TPM up). The control socket is SOCKET.ctrl, where the swtpm TCTI looks for it. Dies when
# swtpm does not come up.
vtpm_start() {
	local state=$1 mode=$2 i opts=()
	vtpm_stop
	mkdir -p "$state"
	chmod 0700 "$state"
	rm -f "$W/tpm.sock" "$W/tpm.sock.ctrl"
	case $mode in
	host) opts=(--server "type=unixio,path=$W/tpm.sock" --flags "startup-clear,not-need-init") ;;
	qemu) opts=(--terminate) ;;
	*) die "vtpm_start: unknown mode $mode" ;;
	esac
	swtpm socket --tpm2 --tpmstate "dir=$state" --ctrl "type=unixio,path=$W/tpm.sock.ctrl" \
		"${opts[@]}" --log "file=$W/swtpm.log" &
	VTPM_PID=$!
	for ((i = 0; i < 100; i++)); do
		if [ -S "$W/tpm.sock.ctrl" ] && { [ "$mode" = qemu ] || [ -S "$W/tpm.sock" ]; }; then
			[ "$mode" = qemu ] || vtpm_firmware_pcrs
			return 0
		fi
		kill -0 "$VTPM_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "swtpm did not start on $state ($W/swtpm.log)"
}

# vtpm_firmware_pcrs: PCR 7 of the host-mode swtpm as the guest's firmware leaves it when it
# hands over to the kernel: SeaBIOS (QEMU's BIOS) measures one EV_SEPARATOR event (the four
# bytes ff ff ff ff) into each of PCRs 0-7, and nothing else into PCR 7; the kernel and systemd
# 252 measure nothing there. So a KEK sealed here (PCR 7 under the storage root key) is sealed
# to the guest's boot state, as if the administrator had enrolled on the booted guest.
vtpm_firmware_pcrs() {
	local sep
	sep=$(printf '\377\377\377\377' | sha256sum | cut -d' ' -f1)
	tpm2_pcrextend -T "$(vtpm_tcti)" "7:sha256=$sep" >>"$W/swtpm.log" 2>&1 ||
		die "tpm2_pcrextend on the guest's TPM failed ($W/swtpm.log)"
}

# vtpm_tcti: the TCTI of the host-mode swtpm (for vhsmd --tcti and the simulator).
vtpm_tcti() { echo "swtpm:path=$W/tpm.sock"; }

# vtpm_boot N [STATE]: boot N (run.sh's boot) with the swtpm on STATE (default: $W/tpm, the
# TPM the root volume's KEK was sealed with) as the guest's TPM; the guest's PCRs start from
# reset as on any power-on.
vtpm_boot() {
	local n=$1 state=${2:-$W/tpm}
	vtpm_start "$state" qemu
	# shellcheck disable=SC2034 # read by run.sh's boot
	BOOT_QEMU_ARGS=(-chardev "socket,id=vtpm,path=$W/tpm.sock.ctrl"
		-tpmdev "emulator,id=vtpm0,chardev=vtpm" -device "tpm-tis,tpmdev=vtpm0")
	boot "$n"
	# shellcheck disable=SC2034
	BOOT_QEMU_ARGS=()
	vtpm_stop
}

# vtpm_platform_root STATE POLICY: vhsmd's platform root for the guest's TPM, made as vhsmd
# makes it on a CVM without an SNP device: a vhsmd on this host with --platform vtpm on the
# guest's TPM (host mode: PCR 7 as the guest's firmware leaves it), the simulator in the
# paravisor's place answering its nonces for the guest's simulated chip, the chip's collateral
# cache in STATE and the guest's POLICY; the root appears at the first attestation that passes.
# STATE keeps only what an initrd takes from a booted CVM: platform-root.vtpm and collateral/.
# Needs the guest's TPM state (enroll_vtpm). Dies when no root is made.
vtpm_platform_root() {
	local st=$1 policy=$2 sock=$W/vtpm-root.sock log=$W/vtpm-root.log wpid dpid i
	mkdir -p "$W/enroll-state"
	enroll_vtpm
	mkdir -p "$st"
	"$B/vhsmctl" collateral import --dir "$st/collateral" "$W"/cvm-certs/*.pem >>"$log" 2>&1 ||
		die "collateral import for the guest's vtpm state failed ($log)"
	"$B/vhsm-snp-sim" hcl "$W/cvm.json" --tcti "$(vtpm_tcti)" --watch >>"$log" 2>&1 &
	wpid=$!
	rm -f "$sock"
	systemd-socket-activate --seqpacket -l "$sock" -E VHSMD_LOG_STDERR=1 -- "$B/vhsmd" \
		--platform vtpm --state-dir "$st" --tcti "$(vtpm_tcti)" \
		--trust-root "$W/cvm-certs/ark.pem" --policy "$policy" --idle-timeout 0 >>"$log" 2>&1 &
	dpid=$!
	for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.1; done
	# The stand-in's first report may come after vhsmd's first nonce: ask until the gate passes
	# (each attempt waits for a fresh report; a failed one is retried after a pause).
	for ((i = 0; i < 30; i++)); do
		"$B/vhsmctl" --socket "$sock" status >>"$log" 2>&1 && [ -s "$st/platform-root.vtpm" ] &&
			break
		sleep 2
	done
	kill -TERM "$dpid" "$wpid" 2>/dev/null || true
	wait "$dpid" "$wpid" 2>/dev/null || true
	vtpm_stop
	[ -s "$st/platform-root.vtpm" ] || die "no platform root made on the guest's TPM ($log)"
	find "$st" -mindepth 1 -maxdepth 1 ! -name platform-root.vtpm ! -name collateral \
		-exec rm -rf {} +
}
