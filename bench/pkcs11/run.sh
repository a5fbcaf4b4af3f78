#!/bin/bash
# The PKCS#11 rows of `make bench`, called by bench/run.sh with vhsmd already listening:
#   bench/pkcs11/run.sh BUILDDIR WORKDIR VHSMD-SOCKET [--quick]
# RSA-3072 C_Decrypt (CKM_RSA_PKCS), RSA-3072 C_Sign (PSS, SHA-256), ECDSA P-256 C_Sign through
# vhsm, SoftHSM2 in process and SoftHSM2 behind `p11-kit server` (the process boundary vhsm
# has), and C_UnwrapKey CKM_AES_KEY_WRAP_PAD through vhsm and SoftHSM2 in process (p11-kit
# 0.24's RPC does not forward the AES key-wrap mechanisms). Paired: every round times each
# target once, in rotating order, so load changes hit all of them alike; the rows are medians
# over the rounds and the ratios medians of the per-round ratios.
set -euo pipefail
B=$1 WORK=$2/p11 SOCK=$3
ROUNDS=5 SECS=1
[ "${4:-}" = --quick ] && ROUNDS=3 SECS=0.3
SM=${SOFTHSM2_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
CLIENT=$(pkg-config --variable=p11_module_path p11-kit-1 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/pkcs11)/p11-kit-client.so
BENCH=$B/p11-bench MOD=$B/libvhsm-pkcs11.so
for need in "$BENCH" "$MOD" "$SM" "$CLIENT"; do
	[ -e "$need" ] || { echo "pkcs11: skipped: $need missing"; exit 0; }
done
command -v pkcs11-tool >/dev/null || { echo "pkcs11: skipped: pkcs11-tool missing (opensc)"; exit 0; }
mkdir -p "$WORK/tokens"
: >"$WORK/vhsm.pin"
echo bench-user-pin >"$WORK/soft.pin"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$WORK" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf VHSM_SOCKET=$SOCK
softhsm2-util --init-token --free --label p11bench --so-pin bench-so-pin \
	--pin bench-user-pin >/dev/null

# The same keys in both tokens: RSA-3072 (sign, decrypt), EC P-256 (sign), AES-256 (unwrap).
vt=(pkcs11-tool --module "$MOD" --login --pin "")
st=(pkcs11-tool --module "$SM" --token-label p11bench --login --pin bench-user-pin)
"${vt[@]}" --keypairgen --key-type rsa:3072 --label bench-rsa >/dev/null
"${vt[@]}" --keypairgen --key-type EC:prime256v1 --label bench-ec >/dev/null
"$B/vhsmctl" --socket "$SOCK" kek create bench-kwp >/dev/null
"${st[@]}" --keypairgen --key-type rsa:3072 --label bench-rsa --usage-sign --usage-decrypt >/dev/null
"${st[@]}" --keypairgen --key-type EC:prime256v1 --label bench-ec --usage-sign >/dev/null
"${st[@]}" --keygen --key-type AES:32 --label bench-kwp --usage-wrap >/dev/null
# A ciphertext for each RSA key, made from its public key with openssl.
for t in vhsm soft; do
	[ $t = vhsm ] && tool=("${vt[@]}") || tool=("${st[@]}")
	"${tool[@]}" --read-object --type pubkey --label bench-rsa -o "$WORK/$t.pub" >/dev/null
	head -c 32 /dev/urandom >"$WORK/pt"
	openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$WORK/$t.pub" -in "$WORK/pt" \
		-out "$WORK/$t.ct"
done

p11-kit server -f --provider "$SM" -n "$WORK/p11kit.sock" "pkcs11:token=p11bench" \
	>/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$WORK/p11kit.sock" ] && break; sleep 0.05; done

# one TARGET OP: ops/s of one timed round.
one() {
	local target=$1 op=$2 key
	case $op in rsa-*) key=bench-rsa ;; ecdsa-*) key=bench-ec ;; *) key=bench-kwp ;; esac
	case $target in
	vhsm) P11_BENCH_CT=$WORK/vhsm.ct "$BENCH" "$MOD" vhsm "$WORK/vhsm.pin" "$op" $key "$SECS" ;;
	softhsm2) P11_BENCH_CT=$WORK/soft.ct "$BENCH" "$SM" p11bench "$WORK/soft.pin" "$op" $key "$SECS" ;;
	p11kit) P11_KIT_SERVER_ADDRESS=unix:path=$WORK/p11kit.sock P11_BENCH_CT=$WORK/soft.ct \
		"$BENCH" "$CLIENT" p11bench "$WORK/soft.pin" "$op" $key "$SECS" ;;
	esac | cut -d' ' -f1
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for op in rsa-decrypt rsa-sign-pss ecdsa-sign kwp-unwrap; do
	targets=(vhsm softhsm2 p11kit)
	[ $op = kwp-unwrap ] && targets=(vhsm softhsm2)
	: >"$WORK/$op.rows"
	for r in $(seq "$ROUNDS"); do
		line=()
		for i in "${!targets[@]}"; do
			t=${targets[$(((i + r) % ${#targets[@]}))]} # rotate the order per round
			v=$(one "$t" $op)
			[ -n "$v" ] || { echo "pkcs11: $op through $t failed" >&2; exit 1; }
			echo "$t $v" >>"$WORK/$op.rows"
		done
		echo "bench: pkcs11 $op round $r/$ROUNDS" >&2
	done
	name=pkcs11_${op//-/_}
	for t in "${targets[@]}"; do
		echo "${name}_ops_per_s_$t: $(awk -v t=$t '$1 == t { print $2 }' "$WORK/$op.rows" | median) ops/s"
	done
	# Per-round ratios: the n-th vhsm row against the n-th row of the peer.
	for t in "${targets[@]:1}"; do
		paste <(awk '$1 == "vhsm" { print $2 }' "$WORK/$op.rows") \
			<(awk -v t=$t '$1 == t { print $2 }' "$WORK/$op.rows") |
			awk '{ printf "%.3f\n", $1 / $2 }' | median | sed "s/^/${name}_vhsm_vs_$t: /; s/$/ x/"
	done
done
