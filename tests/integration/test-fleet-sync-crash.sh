#!/bin/bash
# kill -9 of vhsmd during fleet pulls and syncs (docs/fleet.md): whatever the moment, every
# KEK on disk is whole (the store's atomic, durable writes), a KEK sealed before stays, and the
# next sync completes what the killed one left: all keys pulled, rotations added, keys wrapped
# before every crash still unwrap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kmip-lib.sh"
[ -x "$FT" ] || fail "missing $FT (make all)"
N=16 # keys in the mapped group: a sync writes that many sealed files

make_cvm c genoa
start_kmip k
K=127.0.0.1:$KMIP_PORT_k
adm() { fleet_as admin "$K" -- "$@"; }
cat >"$WORK/fleet.conf" <<CONF
{"endpoints": ["$K"], "ca": "$PKI/ca.pem", "sync_interval_s": 3600, "timeout_ms": 20000,
 "keks": [{"group": "crash", "prefix": "c-"}]}
CONF
for i in $(seq $N); do
	expect_exit 0 adm --policy fleet --group crash create "k$i"
done

# whole NAME: every KEK listed is whole (none damaged) and each shows.
whole() {
	on c --json kek list >"$WORK/list.json" || fail "kek list after a crash"
	jq -e 'all(.[]; .kek.state != "damaged")' "$WORK/list.json" >/dev/null ||
		fail "a damaged KEK after kill -9: $(cat "$WORK/list.json")"
	local k
	for k in $(jq -r '.[].kek.name' "$WORK/list.json"); do
		on c kek show "$k" >/dev/null || fail "KEK $k does not unseal after kill -9"
	done
}

head -c 32 /dev/urandom >"$WORK/dek"
wrapped=()
for round in 1 2 3 4 5 6; do
	start_cvm c cvm-a
	whole
	# The previous rounds' wrapped keys still unwrap.
	for w in "${wrapped[@]}"; do
		on c unwrap <"$w" | cmp -s - "$WORK/dek" || fail "round $round: $w does not unwrap"
	done
	# A rotation of some keys on the key manager, so that this round's sync writes versions.
	expect_exit 0 adm --policy fleet rotate "k$round"
	on c fleet sync --wait 0 >/dev/null 2>&1 || true
	# Somewhere in the pull or the writes (the first sync of start-up runs too).
	sleep "0.$((RANDOM % 8))"
	eval "kill -9 \$PID_c"
	wait "$PID_c" 2>/dev/null || true
	start_cvm c cvm-a
	whole
	on c fleet sync >/dev/null || fail "round $round: the sync after the crash failed"
	on c --json kek list >"$WORK/list.json"
	[ "$(jq length "$WORK/list.json")" -eq $N ] || fail "round $round: $(jq length "$WORK/list.json") KEKs, not $N"
	on c --json kek show "c-k$round" >"$WORK/show.json"
	jq -e '.kek.versions | length == 2' "$WORK/show.json" >/dev/null ||
		fail "round $round: rotation not applied: $(cat "$WORK/show.json")"
	on c wrap --kek "c-k$round" <"$WORK/dek" >"$WORK/w$round" || fail "wrap"
	wrapped+=("$WORK/w$round")
	stop_cvm c
done
ok "kill -9 during pulls and syncs (6 rounds, $N KEKs): never a damaged or lost KEK; the next sync completes the pull and the rotations; wrapped keys still unwrap"
