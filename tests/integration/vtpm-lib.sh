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
