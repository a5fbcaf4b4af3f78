#!/bin/bash
# 100 concurrent clients for a bounded time, mixed operations (wrap, unwrap, rewrap, kek list,
# status, and requests that must be refused): every reply is checked, vhsmd's open file
# descriptors do not grow and its resident memory stays flat between two equal rounds.
# (The SANITIZE=1 run adds ASan/LSan on the daemon.)
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
CLIENTS=${VHSM_LOAD_CLIENTS:-100}
SECONDS_LIMIT=${VHSM_LOAD_SECONDS:-5}
RSS_SLACK_KB=${VHSM_LOAD_RSS_SLACK_KB:-1024} # allocator noise between two equal rounds

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create load
expect_exit 0 ctl kek create other
# No ACL on "other": admins only, so nobody's requests on it are refused.
expect_exit 0 ctl kek acl other
ctl status >/dev/null
pid=$(pgrep -f -- "--state-dir $STATE" | head -n 1)
[ -n "$pid" ] || fail "no daemon process"
head -c 64 /dev/urandom >"$WORK/secret-other"
ctl wrap --kek other <"$WORK/secret-other" >"$WORK/wrapped-other" || fail "wrap under other"
chmod 0644 "$WORK/wrapped-other"

# client N: its op mix until the deadline; prints "OK count" or "ERR what".
client() {
	local n=$1 end=$((SECONDS + SECONDS_LIMIT)) ops=0 d=$WORK/c$1 op
	mkdir -p "$d"
	while [ $SECONDS -lt $end ]; do
		op=$(((n + ops) % 6)) # every client cycles through the mix
		case $op in
		0 | 1) # wrap + unwrap (+ rewrap) of a fresh key with a per-client context
			head -c $((16 + RANDOM % 49)) /dev/urandom >"$d/k"
			ctl wrap --kek load --context "client$n" <"$d/k" >"$d/w" ||
				{ echo "ERR wrap $n"; return; }
			if [ "$op" -eq 1 ]; then
				ctl rewrap --context "client$n" <"$d/w" >"$d/w2" ||
					{ echo "ERR rewrap $n"; return; }
				mv "$d/w2" "$d/w"
			fi
			ctl unwrap --context "client$n" <"$d/w" >"$d/u" ||
				{ echo "ERR unwrap $n"; return; }
			cmp -s "$d/k" "$d/u" || { echo "ERR mismatch $n"; return; } ;;
		2) # the wrong context must be refused, and nothing printed
			[ -s "$d/w" ] || continue
			if ctl unwrap --context "not-client$n" <"$d/w" >"$d/u" 2>"$d/e"; then
				echo "ERR wrong context accepted $n"; return
			fi
			[ ! -s "$d/u" ] || { echo "ERR output on refusal $n"; return; } ;;
		3) ctl --json kek list >"$d/l" && jq -e '[.[].kek.name] | index("load")' "$d/l" \
			>/dev/null || { echo "ERR list $n: $(head -c 200 "$d/l")"; return; } ;;
		4) ctl status >/dev/null || { echo "ERR status $n"; return; } ;;
		5) # another uid on a root-only KEK: refused (exit 1), no key material
			local rc=0
			as_user nobody "$CTL" --socket "$SOCK" unwrap <"$WORK/wrapped-other" \
				>"$d/u" 2>/dev/null || rc=$?
			[ "$rc" -eq 1 ] || { echo "ERR nobody unwrap exit $rc $n"; return; }
			[ ! -s "$d/u" ] || { echo "ERR nobody got output $n"; return; } ;;
		esac
		ops=$((ops + 1))
	done
	echo "OK $ops"
}

round() { # NAME SECONDS: CLIENTS clients; fails on any wrong reply
	local name=$1 pids=() n st cnt total=0
	SECONDS_LIMIT=$2
	for n in $(seq "$CLIENTS"); do
		client "$n" >"$WORK/client-$n.out" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}" # not a plain wait: the daemon is a child of this shell too
	for n in $(seq "$CLIENTS"); do
		read -r st cnt <"$WORK/client-$n.out" || fail "$name: client $n printed nothing"
		[ "$st" = OK ] || fail "$name: client $n: $(cat "$WORK/client-$n.out")"
		total=$((total + cnt))
	done
	ok "$name: $CLIENTS clients, $total mixed operations, every reply correct"
}
measure() { # prints "fds rss_kB" of the daemon
	echo "$(ls /proc/"$pid"/fd | wc -l) $(awk '/^VmRSS/{print $2}' /proc/"$pid"/status)"
}

# The first round brings the daemon to its steady state (allocator arenas, caches); the second
# round, as long, must not leave it with more descriptors or memory.
round warm-up "$SECONDS_LIMIT"
sleep 0.3
read -r fds1 rss1 < <(measure)
round load "$SECONDS_LIMIT"
sleep 0.3
read -r fds2 rss2 < <(measure)
[ "$fds2" -le "$fds1" ] || fail "fd growth: $fds1 after the first round, $fds2 after the second"
if [[ $(ldd "$DAEMON" 2>/dev/null) == *libasan* ]]; then # (no pipe: pipefail + grep -q)
	# ASan's quarantine keeps freed memory resident on purpose; LeakSanitizer checks at exit.
	ok "no fd growth ($fds1 -> $fds2); RSS $rss1 -> $rss2 kB not compared under ASan"
else
	[ "$rss2" -le $((rss1 + RSS_SLACK_KB)) ] ||
		fail "memory growth: RSS $rss1 kB after the first round, $rss2 kB after the second"
	ok "no fd growth ($fds1 -> $fds2), RSS flat ($rss1 -> $rss2 kB)"
fi
kill -0 "$pid" || fail "daemon died"
expect_exit 0 ctl status
ctl unwrap <"$WORK/wrapped-other" | cmp -s - "$WORK/secret-other" || fail "root's key lost"
stop_daemon
if grep -q "ERROR: \(Address\|Leak\)Sanitizer" "$WORK/daemon.log"; then
	cat "$WORK/daemon.log" >&2; fail "sanitizer report from vhsmd"
fi
ok "clean shutdown"
echo "$_checks checks passed"
