# Shared helpers for integration tests (sourced). Each test is a bash script that exits 0 on
# success, 77 when it must be skipped (with the reason as its last line), anything else on
# failure. Run through tests/check.sh, which sets VHSM_BUILDDIR and VHSM_VECTORS.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${VHSM_BUILDDIR:-$top/build}
VEC=${VHSM_VECTORS:-$top/tests/vectors}
export VHSM_SNP_SIM_MODULE=${VHSM_SNP_SIM_MODULE:-$B/vhsm-snp-sim.so}
CTL=$B/vhsmctl
SIM=$B/vhsm-snp-sim
WORK=$(mktemp -d /tmp/vhsm-it.XXXXXX)
chmod 0711 "$WORK" # other test users must reach the daemon socket in it
_cleanups=()
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" || true; done
	rm -rf "$WORK"
}
trap _run_cleanups EXIT
on_exit() { _cleanups+=("$*"); }

_checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
ok() { _checks=$((_checks + 1)); echo "ok $_checks - $*"; }

# expect_exit CODE CMD...: runs CMD, stdout+stderr to $WORK/out, asserts its exit status.
expect_exit() {
	local want=$1 rc=0; shift
	"$@" >"$WORK/out" 2>&1 || rc=$?
	if [ "$rc" -ne "$want" ]; then
		cat "$WORK/out" >&2
		fail "expected exit $want, got $rc: $*"
	fi
}

# expect_out REGEX: the last command's output matches REGEX (grep -E).
expect_out() {
	grep -qE -- "$1" "$WORK/out" || { cat "$WORK/out" >&2; fail "output lacks /$1/"; }
}

# not_out REGEX: the last command's output does not match.
not_out() {
	if grep -qE -- "$1" "$WORK/out"; then cat "$WORK/out" >&2; fail "output has /$1/"; fi
}

# ---- daemon helpers ----
DAEMON=$B/vhsmd
SOCK=$WORK/vhsmd.sock
STATE=$WORK/state
DAEMON_PID=
export VHSMD_LOG_STDERR=1

# make_cvm NAME [vhsm-snp-sim init options]: a simulated CVM state in $WORK/NAME.json and its
# certificates in $WORK/NAME-certs (for --trust-root). Reuses the product's CA when present.
make_cvm() {
	local name=$1; shift
	local product=genoa ca=() rest=() a
	for a in "$@"; do
		case $a in milan|genoa|turin) product=$a ;; *) rest+=("$a") ;; esac
	done
	[ -f "$WORK/ca-$product.json" ] && ca=(--ca "$WORK/ca-$product.json")
	"$SIM" init "$WORK/$name.json" "${ca[@]}" --product "$product" "${rest[@]}" >/dev/null
	[ -f "$WORK/ca-$product.json" ] || cp "$WORK/$name.json" "$WORK/ca-$product.json"
	"$SIM" certs "$WORK/$name.json" "$WORK/$name-certs" >/dev/null
}

# test_clock_init: a clock the test controls for vhsmd --test-clock "$WORK/now" (simulator
# only): the file holds "WALL BOOT", the wall clock and CLOCK_BOOTTIME, from T0 and B0 (DAY is
# its seconds). Defines at SECONDS: the wall clock at T0 + SECONDS, the boot-time clock running
# on as real time would (only forwards: when the wall clock goes back it moves by a second);
# jump SECONDS: the wall clock moved there while the boot-time clock saw 1 s.
test_clock_init() {
	DAY=86400
	T0=1900000000
	B0=1000
	BOOT=$B0
	echo "$T0 $B0" >"$WORK/now"
	at() {
		local b=$((B0 + $1))
		[ "$b" -gt "$BOOT" ] && BOOT=$b || BOOT=$((BOOT + 1))
		echo "$((T0 + $1)) $BOOT" >"$WORK/now"
	}
	jump() { BOOT=$((BOOT + 1)); echo "$((T0 + $1)) $BOOT" >"$WORK/now"; }
}

# start_daemon CVM [vhsmd options]: vhsmd under systemd-socket-activate on $SOCK.
start_daemon() {
	local cvm=$1; shift
	mkdir -p "$STATE"
	rm -f "$SOCK"
	systemd-socket-activate --seqpacket -l "$SOCK" -E VHSMD_LOG_STDERR=1 \
		-E VHSM_SNP_SIM_MODULE="$VHSM_SNP_SIM_MODULE" -E ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		${VHSMD_TEST_CRASH:+-E VHSMD_TEST_CRASH="$VHSMD_TEST_CRASH"} \
		-- "$DAEMON" --state-dir "$STATE" \
		--snp-device "sim:$WORK/$cvm.json" --trust-root "$WORK/$cvm-certs/ark.pem" \
		--idle-timeout 0 "$@" >>"$WORK/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_listening "$SOCK" || { cat "$WORK/daemon.log" >&2; fail "daemon socket did not appear"; }
	chmod 0666 "$SOCK" # as the unit's SocketMode=0666: authorization is per request
}

# make_crl CVM OUT.der [CERT]: the ARK's CRL (RSA-PSS like AMD's), signed with CVM's simulated
# ARK key, revoking CERT when given.
make_crl() {
	local d=$WORK/ca.$RANDOM
	jq -r .ark_key "$WORK/$1.json" >"$d.ark.key" || fail "no ARK key in $1.json"
	mkdir -p "$d"; : >"$d/index.txt"; echo 01 >"$d/crlnumber"
	printf '[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\ndefault_md = sha384\ndefault_crl_days = 30\n' \
		"$d" "$d" >"$d/ca.cnf"
	if [ -n "${3:-}" ]; then
		openssl ca -batch -config "$d/ca.cnf" -keyfile "$d.ark.key" \
			-cert "$WORK/$1-certs/ark.pem" -revoke "$3" >/dev/null 2>&1 ||
			fail "openssl ca -revoke"
	fi
	openssl ca -batch -config "$d/ca.cnf" -keyfile "$d.ark.key" -cert "$WORK/$1-certs/ark.pem" \
		-gencrl -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -out "$2.pem" \
		>/dev/null 2>&1 || fail "openssl ca -gencrl"
	openssl crl -in "$2.pem" -outform DER -out "$2"
}

# wait_listening PATH: until a unix socket at PATH listens (at most 10 s). The path exists from
# bind() on, but connect() is refused until listen(): on a loaded machine the socket activator
# can be preempted between the two, so the file alone is no sign of a listening socket.
wait_listening() {
	local i
	for i in $(seq 200); do
		# /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is
		# __SO_ACCEPTCON, a listening socket.
		awk -v p="$1" '$8 == p && $4 == "00010000" { found = 1 } END { exit !found }' \
			/proc/net/unix && return 0
		sleep 0.05
	done
	return 1
}

stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}
on_exit stop_daemon

ctl() { "$CTL" --socket "$SOCK" "$@"; }
# as_user USER CMD...: runs CMD with USER's uid/gid and no supplementary groups.
as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups "$@"; }

# need_reachable UID: the tests run the built programs as UID; say so plainly when the build
# directory cannot be reached by it (a clone inside a 0700 directory).
need_reachable() {
	setpriv --reuid="$1" --regid="$1" --clear-groups test -x "$B/vhsmd" ||
		fail "uid $1 cannot run $B/vhsmd: make the directories above the build directory o+x"
}
