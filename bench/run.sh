#!/bin/bash
# vhsm benchmarks: prints "name: value unit" lines on stdout (progress on stderr).
#   bench/run.sh [--quick]      (make bench runs it without --quick; see docs/performance.md)
# Uses the binaries in $VHSM_BUILDDIR (default build/) and the genuine Genoa report in
# $VHSM_VECTORS/genoa-v5-oak (default tests/vectors). Starts its own vhsmd on a simulated
# CVM in a temporary directory, exactly like tests/integration/lib.sh, and stops it on exit.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${VHSM_BUILDDIR:-$top/build}
VEC=${VHSM_VECTORS:-$top/tests/vectors}
export VHSM_SNP_SIM_MODULE=${VHSM_SNP_SIM_MODULE:-$B/vhsm-snp-sim.so}
export VHSMD_LOG_STDERR=1
LIMIT=${VHSM_BENCH_TIMEOUT:-150} # seconds for the whole benchmark binary

quick=()
REPS=30 # samples per LUKS / keyring median
case ${1:-} in
--quick) quick=(--quick) REPS=5 ;;
"") ;;
-h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
esac

for f in vhsm-bench vhsmd vhsmctl vhsm-snp-sim vhsm-snp-sim.so; do
	[ -e "$B/$f" ] || { echo "bench: $B/$f is missing; run make bench" >&2; exit 1; }
done
vec=$VEC/genoa-v5-oak
[ -f "$vec/report.bin" ] || { echo "bench: no test vector in $vec (set VHSM_VECTORS)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/vhsm-bench.XXXXXX)
SOCK=$WORK/vhsmd.sock
DAEMON_PID=
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}
cleanup() {
	stop_daemon
	[ -z "${RK_CONF:-}" ] || rm -f "$RK_CONF"
	[ -f "$WORK/swtpm.pid" ] && kill "$(cat "$WORK/swtpm.pid")" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) (numbers are noisy when" \
	"the machine is busy); simulated CVM and vhsmd in $WORK" >&2
"$B/vhsm-snp-sim" init "$WORK/cvm.json" --product genoa >/dev/null
"$B/vhsm-snp-sim" certs "$WORK/cvm.json" "$WORK/certs" >/dev/null
mkdir -p "$WORK/state"
daemon_args=(--state-dir "$WORK/state" --snp-device "sim:$WORK/cvm.json"
	--trust-root "$WORK/certs/ark.pem" --idle-timeout 0)
if command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate --seqpacket -l "$SOCK" -E VHSMD_LOG_STDERR=1 \
		-E VHSM_SNP_SIM_MODULE="$VHSM_SNP_SIM_MODULE" -E ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		-- "$B/vhsmd" "${daemon_args[@]}" >>"$WORK/daemon.log" 2>&1 &
else
	"$B/vhsmd" --socket "$SOCK" "${daemon_args[@]}" >>"$WORK/daemon.log" 2>&1 &
fi
DAEMON_PID=$!
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { cat "$WORK/daemon.log" >&2; echo "bench: vhsmd did not start" >&2; exit 1; }

ctl() { "$B/vhsmctl" --socket "$SOCK" "$@"; }
ctl kek create bench-kek >/dev/null
head -c 64 /dev/urandom >"$WORK/dek"
ctl wrap --kek bench-kek --context bench-volume <"$WORK/dek" >"$WORK/dek.wrapped"

# SoftHSM2 (the PKCS#11 peer) gets a fresh token directory of its own.
softhsm2_args=()
SOFTHSM2_MODULE=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
if [ -e "$SOFTHSM2_MODULE" ]; then
	mkdir -p "$WORK/softhsm2/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$WORK/softhsm2/tokens" >"$WORK/softhsm2/softhsm2.conf"
	export SOFTHSM2_CONF=$WORK/softhsm2/softhsm2.conf
	softhsm2_args=(--softhsm2 "$SOFTHSM2_MODULE")
fi

rc=0
timeout --kill-after=5 "$LIMIT" "$B/vhsm-bench" "${quick[@]}" --vectors "$vec" \
	--sim-state "$WORK/cvm.json" --socket "$SOCK" --wrapped "$WORK/dek.wrapped" \
	--dek "$WORK/dek" --context bench-volume --vhsmctl "$B/vhsmctl" --daemon-pid "$DAEMON_PID" \
	--floor-dir "$WORK" "${softhsm2_args[@]}" ||
	rc=$?
[ ${#softhsm2_args[@]} -gt 0 ] ||
	echo "softhsm2_unwrap_ops_per_s: skipped: $SOFTHSM2_MODULE missing (apt install softhsm2)"

# ---- PKCS#11: vhsm's module against SoftHSM2 in process and behind p11-kit server ----
"$top/bench/pkcs11/run.sh" "$B" "$WORK" "$SOCK" "${quick[@]}" || echo "pkcs11: failed (see above)"

# ---- fleet enrollment end to end per CVM (CSR + report + verify + sign + install) ----
"$top/bench/fleet-enroll.sh" "$B" "$WORK" "$SOCK" "$WORK/certs/ark.pem" "${quick[@]}" || rc=1

# ---- fleet: vhsm's KMIP pull against PyKMIP's client, same pykmip-server, same run ----
"$top/bench/fleet/run.sh" "${quick[@]}" || echo "fleet: failed (see above)"

# ---- LUKS2 unlock and keyring load: one median per way, same image, same run ----

skipped() { echo "$1: skipped: $2"; }

# median_ms CMD...: CMD once (must succeed), then $REPS timed runs; prints the median in ms.
# $MEDIAN_BEFORE, when set, is run (untimed) before every run of CMD.
median_ms() {
	local i t0 t1 us=()
	${MEDIAN_BEFORE:-true} || return 1
	"$@" >/dev/null 2>&1 || return 1
	for ((i = 0; i < REPS; i++)); do
		${MEDIAN_BEFORE:-true} || return 1
		t0=${EPOCHREALTIME/./}
		"$@" >/dev/null 2>&1 || return 1
		t1=${EPOCHREALTIME/./}
		us+=($((t1 - t0)))
	done
	printf '%s\n' "${us[@]}" | sort -n | awk '{ a[NR] = $1 } END {
		m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f\n", m / 1000 }'
}

# sample_us CMD...: runs CMD once, prints its wall time in microseconds; fails if CMD fails.
sample_us() {
	local t0=${EPOCHREALTIME/./} t1
	"$@" >/dev/null 2>&1 || return 1
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0))
}
# median_of US...: the median of microsecond samples, in ms.
median_of() {
	printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END {
		m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f\n", m / 1000 }'
}

# spread_row NAME TEXT: reads microsecond values, one a line, and prints "NAME: MEDIAN ms (min
# MIN, max MAX, N TEXT)" in ms.
spread_row() {
	sort -n | awk -v name="$1" -v text="$2" '
		{ d[NR] = $1 / 1000 } END {
		m = NR % 2 ? d[(NR + 1) / 2] : (d[NR / 2] + d[NR / 2 + 1]) / 2
		printf "%s: %.2f ms (min %.2f, max %.2f, %d %s)\n", name, m, d[1], d[NR], NR, text }'
}

# result_ms NAME CMD...: prints "NAME: MEDIAN ms", or fails the run when CMD fails.
result_ms() {
	local name=$1 m; shift
	m=$(median_ms "$@") || { echo "bench: $name: the command failed: $*" >&2; return 1; }
	echo "$name: $m ms"
	eval "ms_$name=$m"
}

LUKS_IMG=$WORK/luks.img
LUKS_KEY=$WORK/luks.key
# The layout vhsm enrolls: PBKDF2-SHA512 with 1000 iterations for a 64-byte random secret.
luks_image() {
	command -v cryptsetup >/dev/null || return 1
	head -c 64 /dev/urandom >"$LUKS_KEY"
	truncate -s 20M "$LUKS_IMG"
	cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--hash sha512 --key-file "$LUKS_KEY" "$LUKS_IMG" >/dev/null
}

bench_keyfile_unlock() {
	head -c 64 /dev/urandom >"$WORK/wrong.key"
	if cryptsetup open --test-passphrase --key-file "$WORK/wrong.key" "$LUKS_IMG" 2>/dev/null
	then
		echo "bench: a wrong key file opens the image" >&2; return 1
	fi
	result_ms keyfile_unlock_ms_median \
		cryptsetup open --test-passphrase --key-file "$LUKS_KEY" "$LUKS_IMG"
}

# Our token plugin, loaded by libcryptsetup from its token directory (bind-mounted in a
# private mount namespace, so the system's directory is untouched).
bench_token_unlock() {
	local so=$B/token/libcryptsetup-token-vhsm.so dir
	[ -e "$so" ] || { skipped token_unlock_ms_median "token plugin not built ($so)"; return 0; }
	if [[ $(ldd "$so" 2>/dev/null) == *libasan* ]]; then
		skipped token_unlock_ms_median "the plugin is built with ASan (cryptsetup is not)"
		return 0
	fi
	ctl luks enroll --help >/dev/null 2>&1 ||
		{ skipped token_unlock_ms_median "vhsmctl has no luks enroll"; return 0; }
	command -v unshare >/dev/null ||
		{ skipped token_unlock_ms_median "unshare (util-linux) missing"; return 0; }
	ctl luks enroll "$LUKS_IMG" --kek bench-kek --unlock-key-file "$LUKS_KEY" >/dev/null ||
		{ echo "bench: vhsmctl luks enroll failed" >&2; return 1; }
	dir=$(pkg-config --variable=libdir libcryptsetup 2>/dev/null)/cryptsetup
	mkdir -p "$WORK/tokens"
	cp -a "$dir"/. "$WORK/tokens/" 2>/dev/null || true
	cp "$so" "$WORK/tokens/"
	cat >"$WORK/token-bench.sh" <<EOS
mount --bind "$WORK/tokens" "$dir"
$(declare -f sample_us median_of)
key() { cryptsetup open --test-passphrase --key-file "$LUKS_KEY" "$LUKS_IMG"; }
token() { cryptsetup open --test-passphrase --token-only --token-type vhsm "$LUKS_IMG"; }
key >/dev/null 2>&1 && token >/dev/null 2>&1 || exit 1
# Key file and token alternate, so that both see the same machine load.
ks=() ts=()
for ((i = 0; i < $REPS; i++)); do
	ks+=(\$(sample_us key)) || exit 1
	ts+=(\$(sample_us token)) || exit 1
done
echo "\$(median_of "\${ks[@]}") \$(median_of "\${ts[@]}")"
EOS
	local k m
	read -r k m < <(VHSM_TOKEN_SOCKET=$SOCK unshare -m bash "$WORK/token-bench.sh") &&
		[ -n "$m" ] ||
		{ echo "bench: cryptsetup could not open the image with the vhsm token" >&2; return 1; }
	echo "token_unlock_ms_median: $m ms"
	echo "token_vs_keyfile_unlock_ratio: $(awk -v a="$m" -v b="$k" \
		'BEGIN { printf "%.2f", a / b }') x (key file $k ms, alternating with the token)"
}

# systemd's tpm2 token against swtpm on a socket. systemd 252's token finds a TPM only under
# /sys/class/tpmrm (none here), so vhsm-bench --token-open hands it the swtpm device the way
# systemd-cryptsetup does (its tpm2-device= parameter). Without the kernel's resource manager
# the token's sessions stay allocated in swtpm after each process, so every sample gets a
# fresh swtpm started from the state saved (orderly shut down) after enrollment: a reboot.
swtpm_start() {
	swtpm socket --tpm2 --server type=unixio,path="$WORK/swtpm.sock" \
		--ctrl type=unixio,path="$WORK/swtpm.sock.ctrl" --tpmstate dir="$WORK/swtpm" \
		--flags startup-clear,not-need-init --daemon --pid file="$WORK/swtpm.pid" || return 1
	for _ in $(seq 100); do [ -S "$WORK/swtpm.sock" ] && return 0; sleep 0.02; done
	return 1
}
swtpm_stop() {
	local pid
	pid=$(cat "$WORK/swtpm.pid" 2>/dev/null) || return 0
	swtpm_ioctl --unix "$WORK/swtpm.sock.ctrl" -s >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
	rm -f "$WORK/swtpm.pid" "$WORK/swtpm.sock" "$WORK/swtpm.sock.ctrl"
}
swtpm_reboot() {
	swtpm_stop
	rm -rf "$WORK/swtpm" && cp -a "$WORK/swtpm.enrolled" "$WORK/swtpm" && swtpm_start
}

bench_tpm2_unlock() {
	local t
	for t in swtpm swtpm_ioctl systemd-cryptenroll; do
		command -v "$t" >/dev/null || { skipped tpm2_token_unlock_ms_median "$t missing"; return 0; }
	done
	ls /usr/lib/*/libtss2-tcti-swtpm.so.0 >/dev/null 2>&1 ||
		{ skipped tpm2_token_unlock_ms_median "libtss2-tcti-swtpm0 missing"; return 0; }
	mkdir -p "$WORK/swtpm"
	swtpm_start || { skipped tpm2_token_unlock_ms_median "swtpm does not start"; return 0; }
	chmod 0600 "$LUKS_KEY"
	systemd-cryptenroll --tpm2-device="swtpm:path=$WORK/swtpm.sock" --tpm2-pcrs= \
		--unlock-key-file="$LUKS_KEY" "$LUKS_IMG" >/dev/null 2>&1 ||
		{ skipped tpm2_token_unlock_ms_median "systemd-cryptenroll --tpm2-device failed"; return 0; }
	swtpm_stop
	cp -a "$WORK/swtpm" "$WORK/swtpm.enrolled"
	# (libtss2-tcti-swtpm leaks its path string: not ours, so no LeakSanitizer on a SANITIZE=1 build)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
	MEDIAN_BEFORE=swtpm_reboot result_ms tpm2_token_unlock_ms_median "$B/vhsm-bench" \
		--token-open "$LUKS_IMG" --token-type systemd-tpm2 \
		--tpm2-device "swtpm:path=$WORK/swtpm.sock"
	swtpm_stop
}

# A logon DEK through request-key, cold: the key is unlinked before each sample, so every
# `keyctl request2` is an upcall (kernel -> request-key -> vhsm-request-key -> vhsmd). The
# upcall runs in init's mount namespace, so a request-key.d file for this run's own DEK name
# is installed for the duration and always removed (cleanup).
RK_CONF=/etc/request-key.d/vhsm-bench-$$.conf
bench_requestkey_load() {
	local helper=$B/vhsm-request-key name=bench$$-dek m
	[ -x "$helper" ] ||
		{ skipped requestkey_load_ms_median "request-key helper not built ($helper)"; return 0; }
	ctl dek create --help >/dev/null 2>&1 ||
		{ skipped requestkey_load_ms_median "vhsmctl has no dek create"; return 0; }
	command -v keyctl >/dev/null ||
		{ skipped requestkey_load_ms_median "keyctl (keyutils) missing"; return 0; }
	[ -d /etc/request-key.d ] && [ -w /etc/request-key.d ] ||
		{ skipped requestkey_load_ms_median "/etc/request-key.d not writable"; return 0; }
	ctl dek create "$name" --kek bench-kek >/dev/null ||
		{ echo "bench: vhsmctl dek create failed" >&2; return 1; }
	# The floor: the same upcall for another logon key whose handler is keyctl instantiating
	# a constant payload (an exec of request-key and of one small program, no vhsmd).
	{
		printf 'create\tlogon\tvhsm:%s\t*\t%s --socket %s %%k %%u %%g %%S\n' "$name" \
			"$helper" "$SOCK"
		printf 'create\tlogon\tvhsm:%s-floor\t*\t%s instantiate %%k %s %%S\n' "$name" \
			"$(command -v keyctl)" "$(printf '%064d' 0)"
	} >"$RK_CONF"
	cat >"$WORK/requestkey-bench.sh" <<EOS
$(declare -f sample_us median_of)
load() { keyctl request2 logon "vhsm:$name" "" @s; }
drop() { keyctl unlink "%logon:vhsm:$name" @s >/dev/null 2>&1; }
floor() { keyctl request2 logon "vhsm:$name-floor" "" @s; }
dropf() { keyctl unlink "%logon:vhsm:$name-floor" @s >/dev/null 2>&1; }
drop; load >/dev/null || exit 1
drop
dropf; floor >/dev/null || exit 1
dropf
# A cached key would make request2 a lookup: the first timed call must find none.
keyctl search @s logon "vhsm:$name" >/dev/null 2>&1 && exit 1
# Pairs, alternating: the same command cold (the key unlinked first, untimed: an upcall
# through request-key, vhsm-request-key and vhsmd) and warm (found in @s, no upcall), then the
# same pair for the floor's key.
cold=() warm=() fcold=() fwarm=()
for ((i = 0; i < $REPS; i++)); do
	drop
	cold+=(\$(sample_us load)) || exit 1
	warm+=(\$(sample_us load)) || exit 1
	dropf
	fcold+=(\$(sample_us floor)) || exit 1
	fwarm+=(\$(sample_us floor)) || exit 1
done
echo "\$(median_of "\${cold[@]}") \$(median_of "\${warm[@]}")"
for ((i = 0; i < $REPS; i++)); do echo "\${cold[i]} \${warm[i]} \${fcold[i]} \${fwarm[i]}"; done
EOS
	keyctl session - bash "$WORK/requestkey-bench.sh" >"$WORK/requestkey.out" \
		2>"$WORK/requestkey.err" || {
		rm -f "$RK_CONF"; cat "$WORK/requestkey.err" >&2
		echo "bench: request-key did not load the DEK" >&2; return 1
	}
	rm -f "$RK_CONF"
	read -r m w <"$WORK/requestkey.out"
	echo "requestkey_load_ms_median: $m ms"
	echo "requestkey_cached_ms_median: $w ms"
	tail -n +2 "$WORK/requestkey.out" | awk '{ print $1 - $2 }' |
		spread_row requestkey_upcall_added_ms \
			"pairs; cold minus cached, alternating; target <= 2"
	tail -n +2 "$WORK/requestkey.out" | awk '{ print $3 - $4 }' |
		spread_row requestkey_floor_added_ms \
			"pairs; the same upcall with keyctl instantiate as handler, alternating with the above"
	# What vhsm adds to any upcall: per sample, vhsm's added time minus the floor's, both of the
	# same round of the loop (vhsm-request-key's work and vhsmd's against one keyctl exec).
	tail -n +2 "$WORK/requestkey.out" | awk '{ print ($1 - $2) - ($3 - $4) }' |
		spread_row requestkey_added_over_floor_ms \
			"samples; requestkey_upcall_added minus requestkey_floor_added of the same round"
}

if [ "$rc" -eq 0 ]; then
	if luks_image; then
		bench_keyfile_unlock || rc=1
		[ "$rc" -eq 0 ] && { bench_token_unlock || rc=1; }
		[ "$rc" -eq 0 ] && { bench_tpm2_unlock || rc=1; }
	else
		skipped keyfile_unlock_ms_median "cryptsetup cannot format $LUKS_IMG"
		skipped token_unlock_ms_median "no LUKS2 image"
		skipped tpm2_token_unlock_ms_median "no LUKS2 image"
	fi
	[ "$rc" -eq 0 ] && { bench_requestkey_load || rc=1; }
fi

if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
	tail -n 20 "$WORK/daemon.log" >&2
	echo "bench: vhsmd died during the benchmark" >&2
	rc=1
fi
stop_daemon
if grep -q "ERROR: \(Address\|Leak\)Sanitizer" "$WORK/daemon.log"; then
	cat "$WORK/daemon.log" >&2
	echo "bench: sanitizer report from vhsmd" >&2
	rc=1
fi
[ "$rc" -eq 0 ] || { echo "bench: FAILED (exit $rc)" >&2; exit "$rc"; }
