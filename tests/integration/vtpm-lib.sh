# Shared helpers for the vTPM tests (sourced after lib.sh): software TPMs on private sockets.
for t in swtpm swtpm_ioctl tpm2_nvread tpm2_nvwrite tpm2_pcrextend; do
	command -v "$t" >/dev/null || skip "$t not installed (scripts/install-deps.sh)"
done

# swtpm_start NAME: a software TPM with its state in $WORK/NAME, on a private socket (the
# TCTI finds its control socket at SOCKET.ctrl). Starting it again keeps the state: a reboot.
swtpm_start() {
	local n=$1
	mkdir -p "$WORK/$n"
	swtpm socket --tpm2 --server type=unixio,path="$WORK/$n.sock" \
		--ctrl type=unixio,path="$WORK/$n.sock.ctrl" --tpmstate dir="$WORK/$n" \
		--flags startup-clear,not-need-init --daemon --pid file="$WORK/$n.pid" ||
		fail "swtpm $n did not start"
	wait_listening "$WORK/$n.sock" || fail "swtpm $n socket did not appear"
	on_exit "swtpm_stop $n"
}
# swtpm_stop NAME: an orderly shutdown (the state is saved), else a kill.
swtpm_stop() {
	local pid i
	pid=$(cat "$WORK/$1.pid" 2>/dev/null) || return 0
	swtpm_ioctl --unix "$WORK/$1.sock.ctrl" -s >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	rm -f "$WORK/$1.pid" "$WORK/$1.sock" "$WORK/$1.sock.ctrl"
}
tcti() { echo "swtpm:path=$WORK/$1.sock"; }

# On a machine with /dev/sev-guest, auto would pick it: the platform is named there instead.
PLATFORM=()
[ ! -e /dev/sev-guest ] || PLATFORM=(--platform vtpm)

# The paravisor of CVM $1 on vTPM $2: rewrites the HCL report whenever the user data changes.
watch_start() {
	local cvm=$1 t=$2; shift 2
	"$SIM" hcl "$WORK/$cvm.json" --tcti "$(tcti "$t")" --watch "$@" >>"$WORK/watch.log" 2>&1 &
	WATCH_PID=$!
	on_exit "kill $WATCH_PID 2>/dev/null"
	# The first report is written before the loop starts: wait until it is whole (its
	# claims bound by the SNP report's REPORT_DATA). The bound is generous (a sanitizer build
	# on a loaded machine is slow); a paravisor that exits ends the wait at once.
	local i
	# Not a pipe: a report refused by a later check (another AK) exits 1, which pipefail
	# would take for a missing report until the bound.
	for i in $(seq 1200); do
		"$CTL" --json attestation hcl --tcti "$(tcti "$t")" --collateral-dir "$WORK/cache" \
			--trust-root "$WORK/a-certs/ark.pem" >"$WORK/watch.json" 2>/dev/null || true
		jq -e '.checks[] | select(.name == "snp_report") | .result == "pass"' \
			"$WORK/watch.json" >/dev/null 2>&1 && return 0
		kill -0 "$WATCH_PID" 2>/dev/null ||
			fail "the paravisor stand-in for $t exited: $(tail -5 "$WORK/watch.log")"
		sleep 0.1
	done
	fail "no HCL report appeared in $t: $(tail -5 "$WORK/watch.log")"
}
watch_stop() { [ -z "$WATCH_PID" ] || { kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; WATCH_PID=; }; }

# vd TPM [options]: vhsmd with no SNP device, on the vTPM TPM (the platform found by auto
# unless an option names it), under systemd-socket-activate as start_daemon does.
vd() {
	local t=$1; shift
	mkdir -p "$STATE"
	rm -f "$SOCK"
	systemd-socket-activate --seqpacket -l "$SOCK" -E VHSMD_LOG_STDERR=1 \
		-E ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		-- "$DAEMON" --state-dir "$STATE" --tcti "$(tcti "$t")" \
		--trust-root "$WORK/a-certs/ark.pem" --idle-timeout 0 ${PLATFORM[@]+"${PLATFORM[@]}"} \
		"$@" >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_listening "$SOCK" || { cat "$WORK/daemon.log" >&2; fail "daemon socket did not appear"; }
	chmod 0666 "$SOCK"
}
