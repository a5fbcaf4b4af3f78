#!/bin/bash
# The customer's escrow private key stays out of vhsm-byok's core: a forced core dump (gdb's
# gcore, which like the kernel leaves out MADV_DONTDUMP memory) taken while `rewrap` holds the
# loaded key contains none of its secret integers d, p, q (searched big- and little-endian,
# 16-byte windows), the search finds them where they are, and the process is not dumpable.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v gcore >/dev/null || skip "gdb (gcore) not installed"
command -v python3 >/dev/null || skip "python3 not installed"
BYOK=$B/vhsm-byok
if [[ $(ldd "$BYOK" 2>/dev/null) == *libasan* ]]; then
	skip "vhsm-byok is built with ASan: its core says nothing about the production build"
fi
ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)"

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol.json"
start_daemon a
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/cust.pem" 2>/dev/null
expect_exit 0 ctl kek export-exchange-key esc --out "$WORK/b.json"

# The secrets: d, p and q of the customer's key, as hex lines.
openssl pkey -in "$WORK/cust.pem" -noout -text >"$WORK/text"
python3 - "$WORK/text" >"$WORK/secrets" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
for name in ("privateExponent", "prime1", "prime2"):
    m = re.search(name + r":\s*\n((?:\s+[0-9a-f:]+\n)+)", t)
    h = re.sub(r"[^0-9a-f]", "", m.group(1)).lstrip("0")
    print(h if len(h) % 2 == 0 else "0" + h)
EOF
[ "$(wc -l <"$WORK/secrets")" -eq 3 ] || fail "cannot read d, p, q"

# find_secrets FILE...: "FILE: what" for every 16-byte window of d, p, q (big-endian as in
# DER, little-endian as in OpenSSL's bignum limbs) found in FILE.
find_secrets() {
	python3 - "$WORK/secrets" "$@" <<'EOF'
import sys
secrets = [bytes.fromhex(l.strip()) for l in open(sys.argv[1]) if l.strip()]
found = 0
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    for n, s in enumerate(secrets):
        for form, b in (("big-endian", s), ("little-endian", s[::-1])):
            for off in range(0, len(b) - 15, 16):
                if b[off:off + 16] in data:
                    print(f"{path}: secret {n} ({form}, offset {off})")
                    found += 1
                    break
sys.exit(1 if found else 0)
EOF
}
python3 - "$WORK/secrets" "$WORK/control" <<'EOF'
import sys
s = [bytes.fromhex(l.strip()) for l in open(sys.argv[1]) if l.strip()]
open(sys.argv[2], "wb").write(b"x" * 100 + s[0][::-1][40:80] + b"y" * 100 + s[2][10:60])
EOF
find_secrets "$WORK/control" >"$WORK/out" && fail "the search finds nothing"
expect_out 'secret 0 \(little-endian'
expect_out 'secret 2 \(big-endian'
ok "the search finds d, p, q where they are (little- and big-endian)"

# rewrap loads the private key first, verifies the bundle, then blocks opening the backup
# (a FIFO): the core is taken while the key is loaded.
mkfifo "$WORK/backup.fifo"
"$BYOK" rewrap --backup "$WORK/backup.fifo" --private-key "$WORK/cust.pem" \
	--bundle "$WORK/b.json" --policy "$WORK/pol.json" --trust-root "$WORK/a-certs/ark.pem" \
	--allow-test-root --out "$WORK/x.byok" >"$WORK/rewrap.log" 2>&1 &
pid=$!
on_exit "kill $pid 2>/dev/null || true"
for _ in $(seq 3000); do # blocked in openat (257) on the FIFO; loaded machines are slow
	[ "$(cut -d' ' -f1 "/proc/$pid/syscall" 2>/dev/null)" = 257 ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$WORK/rewrap.log" >&2; fail "rewrap exited"; }
	sleep 0.1
done
[ "$(cut -d' ' -f1 "/proc/$pid/syscall")" = 257 ] || fail "rewrap never reached the backup"
grep -q "result: VERIFIED" "$WORK/rewrap.log" || { cat "$WORK/rewrap.log" >&2; fail "the bundle did not verify"; }
python3 - "$pid" <<'EOF' || fail "vhsm-byok is dumpable"
import sys
# /proc/PID is owned by root:root exactly when the process is not dumpable (proc(5)).
import os
st = os.stat(f"/proc/{sys.argv[1]}")
sys.exit(0 if (st.st_uid, st.st_gid) == (0, 0) else 1)
EOF
gcore -o "$WORK/core" "$pid" >"$WORK/gcore.log" 2>&1 || { cat "$WORK/gcore.log" >&2; fail "gcore"; }
kill "$pid"
wait "$pid" 2>/dev/null || true
core=$WORK/core.$pid
[ -s "$core" ] || fail "gcore wrote no core"
# The core is a real image of the process: it holds the policy's measurement it parsed.
grep -c "$(echo "$M1" | head -c 32)" "$core" >/dev/null ||
	python3 -c "import sys; sys.exit(0 if bytes.fromhex('$M1') in open('$core','rb').read() else 1)" ||
	fail "the core does not hold the process's data"
find_secrets "$core" >"$WORK/out" || { cat "$WORK/out" >&2; fail "d, p or q in the core"; }
ok "a core of rewrap holding the escrow private key contains none of d, p, q"
