#!/bin/bash
# Fleet rows of make bench (called by bench/run.sh): vhsm's KMIP client (the daemon's pull,
# fleet_pull_run) against PyKMIP's own client doing the same operations against the same
# pykmip-server in the same run: one KEK pulled (Locate, GetAttributes, Get) on a new TLS
# connection each time (cold) and on one session (warm), and a sync of 100 KEKs (one pull of a
# group of 100). Per operation: wall time, the client's CPU, and the server's CPU.
#   bench/fleet/run.sh [--quick]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
B=${VHSM_BUILDDIR:-$top/build}
PY=/usr/bin/python3
REPS=20
[ "${1:-}" = --quick ] && REPS=5
command -v pykmip-server >/dev/null && "$PY" -c 'import kmip' 2>/dev/null ||
	{ echo "bench: fleet rows skipped: no pykmip-server (python3-pykmip)" >&2; exit 0; }
[ -x "$B/fleet-bench" ] || { echo "bench: $B/fleet-bench is missing" >&2; exit 1; }

WORK=$(mktemp -d /tmp/vhsm-fleet-bench.XXXXXX)
SERVER_PID=
cleanup() {
	[ -z "$SERVER_PID" ] || kill -9 -- "-$SERVER_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
PKI=$WORK/pki
mkdir -p "$PKI" "$WORK/policies"
"$PY" "$top/tests/integration/kmip-pki.py" "$PKI"
cat >"$WORK/policies/fleet.json" <<'POLICY'
{"fleet": {"preset": {"SYMMETRIC_KEY": {"GET": "ALLOW_ALL", "GET_ATTRIBUTES": "ALLOW_ALL",
	"LOCATE": "ALLOW_ALL", "ACTIVATE": "ALLOW_OWNER", "REVOKE": "ALLOW_OWNER",
	"DESTROY": "ALLOW_OWNER"}}}}
POLICY
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$port
certificate_path=$PKI/server.pem
key_path=$PKI/server.key
ca_path=$PKI/ca.pem
auth_suite=TLS1.2
policy_path=$WORK/policies
enable_tls_client_auth=True
logging_level=INFO
database_path=$WORK/server.db
CONF
# A session of its own: the server's policy monitor process dies with the group.
setsid pykmip-server -f "$WORK/server.conf" -l "$WORK/server.log" >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do
	"$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$port)))" && break
	sleep 0.1
done
# Ready once the policy monitor (a process of its own) has loaded the fleet policy: a create
# under it before that is refused (INFO logging above is for this line).
for _ in $(seq 600); do
	grep -q "Loading policy: fleet" "$WORK/server.log" 2>/dev/null && break
	sleep 0.1
done
fleet() {
	"$B/vhsm-fleet" --server "127.0.0.1:$port" --ca "$PKI/ca.pem" --cert "$PKI/admin.pem" \
		--key "$PKI/admin.key" --timeout 60000 --policy fleet "$@" >/dev/null
}
echo "bench: fleet: creating 101 keys on pykmip-server" >&2
fleet create bench-kek
for i in $(seq 100); do fleet --group bench100 create "k$i"; done

# server_cpu: the server's CPU time so far, ms.
server_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$SERVER_PID/stat"
}
# row NAME CMD...: runs CMD (prints "ms cpu_ms ops"), prints the rows; leaves the wall time,
# the client's and the server's CPU per operation in ROW_MS, ROW_CPU, ROW_SRV.
row() {
	local name=$1 s0 s1 out ms cpu ops; shift
	s0=$(server_cpu)
	out=$("$@")
	s1=$(server_cpu)
	read -r ms cpu ops <<<"$out"
	ROW_MS=$ms ROW_CPU=$cpu
	ROW_SRV=$(awk -v a="$s0" -v b="$s1" -v n="$ops" 'BEGIN { printf "%.3f", (b - a) / n }')
	echo "$name: $ms ms/op"
	echo "${name}_cpu: $cpu ms/op (server $ROW_SRV ms/op)"
}
# pair NAME VHSM-CMD -- PYKMIP-CMD: the two clients back to back (the same server, the same
# load), then the paired ratio of their wall times and what each operation's wall time
# consists of: the client's CPU, the server's CPU, and the rest (waiting: network round trips,
# and on a loaded machine the run queue).
pair() {
	local name=$1 args=() vm vc vs pm pc ps; shift
	while [ "$1" != -- ]; do args+=("$1"); shift; done
	shift
	row "${name}_vhsm" "${args[@]}"
	vm=$ROW_MS vc=$ROW_CPU vs=$ROW_SRV
	row "${name}_pykmip" "$@"
	pm=$ROW_MS pc=$ROW_CPU ps=$ROW_SRV
	awk -v vm="$vm" -v vc="$vc" -v vs="$vs" -v pm="$pm" -v pc="$pc" -v ps="$ps" -v n="$name" 'BEGIN {
		printf "%s_speedup: %.2fx (PyKMIP wall / vhsm wall; client CPU %.1f%% of the server CPU)\n",
			n, pm / vm, 100 * vc / vs
		printf "%s_parts: vhsm %.1f = client %.1f + server %.1f + wait %.1f ms; PyKMIP %.1f = client %.1f + server %.1f + wait %.1f ms\n",
			n, vm, vc, vs, vm - vc - vs, pm, pc, ps, pm - pc - ps
	}'
}
vh=(--server "127.0.0.1:$port" --ca "$PKI/ca.pem" --cert "$PKI/cvm-a.pem" --key "$PKI/cvm-a.key")
pair fleet_pull_cold "$B/fleet-bench" "${vh[@]}" --name bench-kek --mode cold --reps "$REPS" -- \
	"$PY" "$top/bench/fleet/pykmip-bench.py" "$PKI" "$port" cold "$REPS" bench-kek
pair fleet_pull_warm "$B/fleet-bench" "${vh[@]}" --name bench-kek --mode warm --reps $((REPS * 3)) -- \
	"$PY" "$top/bench/fleet/pykmip-bench.py" "$PKI" "$port" warm $((REPS * 3)) bench-kek
pair fleet_sync100 "$B/fleet-bench" "${vh[@]}" --group bench100 --mode sync --reps 1 -- \
	"$PY" "$top/bench/fleet/pykmip-bench.py" "$PKI" "$port" sync 1 bench100
