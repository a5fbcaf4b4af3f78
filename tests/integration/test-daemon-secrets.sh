#!/bin/bash
# No secret leaves vhsmd by accident: a forced core dump (gdb's gcore, which like the kernel
# leaves out MADV_DONTDUMP memory) holds no KEK or DEK bytes; the kernel writes no core at
# all when vhsmd crashes; and no KEK or DEK appears in argv, the environment, the logs, the
# audit log or the journal. The keys are known: DEKs are the test's own, and the KEKs are
# read back from their sealed files with `vhsm-snp-sim unseal` (the simulator holds the
# firmware's secrets).
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v gcore >/dev/null || skip "gdb (gcore) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
since=$(date '+%Y-%m-%d %H:%M:%S')
# vhsmd starts with cores allowed: only its own PR_SET_DUMPABLE/RLIMIT_CORE may stop them.
ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)"

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create alpha
expect_exit 0 ctl kek rotate alpha
expect_exit 0 ctl kek create beta --profile author
for i in 1 2 3; do
	head -c 64 /dev/urandom >"$WORK/dek-$i"
	ctl wrap --kek alpha --context "vol$i" <"$WORK/dek-$i" >"$WORK/wrapped-$i" || fail "wrap $i"
	for _ in 1 2 3; do # in use: unwrapped and rewrapped several times
		ctl unwrap --context "vol$i" <"$WORK/wrapped-$i" | cmp -s - "$WORK/dek-$i" ||
			fail "unwrap $i"
	done
	ctl rewrap --context "vol$i" <"$WORK/wrapped-$i" >/dev/null || fail "rewrap $i"
done
ctl wrap --kek beta <"$WORK/dek-1" >/dev/null || fail "wrap under beta"

# The known secrets: every KEK version (32 bytes each) and every DEK, one hex string a line.
: >"$WORK/secrets"
for k in alpha beta; do
	kh=$("$SIM" unseal "$WORK/cvm.json" "$STATE/kek/$k.sealed") || fail "cannot unseal $k"
	[ $(( ${#kh} % 64 )) -eq 0 ] && [ ${#kh} -ge 64 ] || fail "unexpected KEK size for $k"
	fold -w 64 <<<"$kh" >>"$WORK/secrets"
done
for i in 1 2 3; do od -An -tx1 -v "$WORK/dek-$i" | tr -d ' \n' >>"$WORK/secrets"; echo >>"$WORK/secrets"; done
[ "$(wc -l <"$WORK/secrets")" -eq 6 ] || fail "expected 3 KEK versions and 3 DEKs"

# find_secrets FILE...: prints "FILE: what" for every secret found in FILE, raw or encoded as
# hex (either case) or base64; searches 16-byte windows of each secret, so a partial copy counts.
find_secrets() {
	python3 - "$WORK/secrets" "$@" <<'EOF'
import base64, binascii, sys
secrets = [binascii.unhexlify(l.strip()) for l in open(sys.argv[1]) if l.strip()]
found = 0
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    for n, s in enumerate(secrets):
        for off in range(0, len(s) - 15, 8):
            w = s[off:off + 16]
            for form, needle in (("raw", w), ("hex", binascii.hexlify(w)),
                                 ("HEX", binascii.hexlify(w).upper()),
                                 ("base64", base64.b64encode(s)[:20] if off == 0 else None)):
                if needle and needle in data:
                    print(f"{path}: secret {n} ({form}, offset {off})")
                    found += 1
sys.exit(1 if found else 0)
EOF
}
# The search must find what is there: a file holding the secrets (raw and hex) is caught.
cp "$WORK/secrets" "$WORK/control"
cat "$WORK/dek-2" >>"$WORK/control"
find_secrets "$WORK/control" >/dev/null && fail "the secret search finds nothing"
ok "known secrets: 3 KEK versions from the sealed files, 3 DEKs; the search finds them"

pid=$(pgrep -f -- "--state-dir $STATE" | head -n 1)
[ -n "$pid" ] || fail "no daemon process"

# ---- forced core dump of the running daemon ----
# (Under ASan the process maps terabytes of shadow memory: a core says nothing about the
# production build, and gcore takes minutes. The SANITIZE=0 run does this part.)
if [[ $(ldd "$DAEMON" 2>/dev/null) == *libasan* ]]; then # (no pipe: pipefail + grep -q)
	echo "# gcore part not run: vhsmd is built with ASan"
else
gcore -o "$WORK/core" "$pid" >"$WORK/gcore.log" 2>&1 || { cat "$WORK/gcore.log" >&2; fail "gcore"; }
core=$WORK/core.$pid
[ -s "$core" ] || fail "gcore wrote no core"
kill -0 "$pid" || fail "the daemon died under gcore"
# The core is the daemon's memory: it holds non-secret things the daemon knows.
grep -qa -- "$STATE" "$core" || fail "the core does not look like vhsmd's memory"
grep -qa "alpha" "$core" || fail "the core lacks the KEK names"
find_secrets "$core" || fail "the core dump holds key material"
ok "gcore of vhsmd ($(($(stat -c %s "$core") / 1024)) KiB): no KEK or DEK bytes"
rm -f "$core"
# And the daemon still serves after the dump.
ctl unwrap --context vol1 <"$WORK/wrapped-1" | cmp -s - "$WORK/dek-1" || fail "unwrap after gcore"
fi

# ---- argv, environment ----
for f in cmdline environ; do
	cp "/proc/$pid/$f" "$WORK/proc-$f"
	find_secrets "$WORK/proc-$f" || fail "a secret in vhsmd's $f"
done
ok "no secret in vhsmd's argv or environment"

# ---- the kernel writes no core when vhsmd crashes (PR_SET_DUMPABLE 0, RLIMIT_CORE 0) ----
if [ -w /proc/sys/kernel/core_pattern ]; then
	old_pattern=$(cat /proc/sys/kernel/core_pattern)
	mkdir -p "$WORK/cores"
	restore_pattern() { printf '%s\n' "$old_pattern" >/proc/sys/kernel/core_pattern; }
	on_exit restore_pattern
	printf '%s\n' "$WORK/cores/core.%e.%p" >/proc/sys/kernel/core_pattern
	# Control: an ordinary process with cores allowed does dump here.
	(ulimit -c unlimited; exec sleep 30) &
	ctrl=$!
	sleep 0.2
	kill -SEGV "$ctrl"
	wait "$ctrl" 2>/dev/null || true
	for _ in $(seq 20); do ls "$WORK"/cores/core.sleep.* >/dev/null 2>&1 && break; sleep 0.1; done
	if ls "$WORK"/cores/core.sleep.* >/dev/null 2>&1; then
		kill -SEGV "$pid"
		wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_PID=
		sleep 0.5
		restore_pattern
		if ls "$WORK"/cores/core.vhsmd.* >/dev/null 2>&1; then
			fail "the kernel dumped vhsmd's core"
		fi
		ok "SIGSEGV of vhsmd: the kernel writes no core (an ordinary process does)"
		start_daemon cvm
		pid=$(pgrep -f -- "--state-dir $STATE" | head -n 1)
	else
		restore_pattern
		echo "# kernel core test not run: core_pattern $old_pattern ignored (container?)"
	fi
else
	echo "# kernel core test not run: /proc/sys/kernel/core_pattern is read-only"
fi

# ---- logs: stderr log, audit log, journal; with a refused and a failed request too ----
ctl unwrap --context wrong <"$WORK/wrapped-1" >/dev/null 2>&1 && fail "wrong context accepted"
head -c 10 "$WORK/wrapped-2" | ctl unwrap >/dev/null 2>&1 && fail "truncated blob accepted"
ctl --debug unwrap --context vol3 <"$WORK/wrapped-3" >"$WORK/u3" 2>"$WORK/ctl-debug.log" ||
	fail "unwrap --debug"
cmp -s "$WORK/u3" "$WORK/dek-3" || fail "unwrap --debug returned other bytes"
stop_daemon
logs=("$WORK/daemon.log" "$WORK/ctl-debug.log" "$STATE"/audit.log*)
find_secrets "${logs[@]}" || fail "a secret in the logs"
if command -v journalctl >/dev/null && journalctl -q --since "$since" -n 1 >/dev/null 2>&1 &&
	[ -S /run/systemd/journal/socket ]; then
	journalctl -q --since "$since" -o export >"$WORK/journal" 2>/dev/null || true
	find_secrets "$WORK/journal" || fail "a secret in the journal"
	ok "no secret in the daemon log, vhsmctl --debug, the audit log or the journal"
else
	ok "no secret in the daemon log, vhsmctl --debug or the audit log (no journald here)"
fi
echo "$_checks checks passed"
