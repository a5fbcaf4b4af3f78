#!/bin/bash
# A fleet of 50 simulated CVMs (50 vhsmd instances on the simulator, each its own chip) pulling
# one KEK from one pykmip-server at once: every one succeeds and holds the same key (a key
# wrapped on one unwraps on all).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kmip-lib.sh"
[ -x "$FT" ] || fail "missing $FT (make all)"
N=50

start_kmip k
K=127.0.0.1:$KMIP_PORT_k
expect_exit 0 fleet_as admin "$K" -- --policy fleet create shared-kek
# A generous step timeout: 50 handshakes at once against a Python server on a loaded machine.
cat >"$WORK/fleet.conf" <<CONF
{"endpoints": ["$K"], "ca": "$PKI/ca.pem", "sync_interval_s": 3600, "timeout_ms": 120000,
 "keks": [{"local": "shared", "name": "shared-kek"}]}
CONF
M=$(printf 'cd%.0s' $(seq 48))
for i in $(seq $N); do
	make_cvm "v$i" genoa --measurement "$M"
done
for i in $(seq $N); do
	start_cvm "v$i" cvm-fleet
done
# All at once: the first request starts each vhsmd (socket activation), whose start-up sync
# and this one overlap with the 49 others.
pids=()
for i in $(seq $N); do
	on "v$i" fleet sync --json >"$WORK/sync-$i.json" 2>&1 &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
[ "$failed" -eq 0 ] || fail "$failed of $N syncs failed: $(cat "$WORK"/sync-*.json | grep -v '"ok"' | head -20)"
for i in $(seq $N); do
	jq -e '.last_result == "ok" and .keks[0].action != null' "$WORK/sync-$i.json" >/dev/null ||
		fail "v$i: $(cat "$WORK/sync-$i.json")"
done
head -c 32 /dev/urandom >"$WORK/dek"
on v1 wrap --kek shared <"$WORK/dek" >"$WORK/w" || fail "wrap on v1"
for i in $(seq $N); do
	on "v$i" unwrap <"$WORK/w" | cmp -s - "$WORK/dek" || fail "v$i cannot unwrap v1's key"
done
ok "$N simulated CVMs (vhsmd instances) pull one KEK at once: all succeed and hold the same key"
