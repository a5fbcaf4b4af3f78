#!/bin/bash
# The PKCS#11 rows of `make bench`, called by bench/run.sh with vhsmd already listening:
#   bench/pkcs11/run.sh BUILDDIR WORKDIR VHSMD-SOCKET [--quick]
# RSA-3072 C_Decrypt (CKM_RSA_PKCS), RSA-3072 C_Sign (PSS, SHA-256), ECDSA P-256 C_Sign through
# vhsm, SoftHSM2 in process and SoftHSM2 behind `p11-kit server` (the process boundary vhsm
# has), and C_UnwrapKey CKM_AES_KEY_WRAP_PAD through vhsm and SoftHSM2 in process (p11-kit
# 0.24's RPC does not forward the AES key-wrap mechanisms), and the bare OpenSSL operation (the
# floor). Paired: vhsm and each peer take turns in samples of 0.3 s in one process (A B A B),
# and each _vs_ row is the median of the per-pair ratios with their minimum and maximum.
# $P11_BENCH_OPS picks rows (default: rsa-decrypt rsa-sign-pss ecdsa-sign kwp-unwrap) and
# $P11_BENCH_PAIRS the pairs per peer (default 11, 3 with --quick), e.g. to profile vhsmd
# during one of them.
set -euo pipefail
B=$1 WORK=$2/p11 SOCK=$3
PAIRS=${P11_BENCH_PAIRS:-11} SLICE=0.3
[ "${4:-}" = --quick ] && PAIRS=${P11_BENCH_PAIRS:-3} SLICE=0.1
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
head -c 32 /dev/urandom >"$WORK/pt"
for t in vhsm soft; do
	[ $t = vhsm ] && tool=("${vt[@]}") || tool=("${st[@]}")
	"${tool[@]}" --read-object --type pubkey --label bench-rsa -o "$WORK/$t.pub" >/dev/null
	openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$WORK/$t.pub" -in "$WORK/pt" \
		-out "$WORK/$t.ct"
done

p11-kit server -f --provider "$SM" -n "$WORK/p11kit.sock" "pkcs11:token=p11bench" \
	>/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$WORK/p11kit.sock" ] && break; sleep 0.05; done

# Each op in one p11-bench process with every target loaded: vhsm against each peer in paired
# alternating samples (bench/pkcs11/p11-bench.c); the RSA and ECDSA rows also against the bare
# OpenSSL operation in process (--floor). KWP has neither p11-kit (its 0.24 RPC does not forward
# the AES key-wrap mechanisms) nor a floor here (vhsm-bench's kwp_* rows time OpenSSL's).
export P11_KIT_SERVER_ADDRESS=unix:path=$WORK/p11kit.sock P11_BENCH_PT=$WORK/pt
for op in ${P11_BENCH_OPS:-rsa-decrypt rsa-sign-pss ecdsa-sign kwp-unwrap}; do
	vct= sct=
	case $op in
	rsa-decrypt) key=bench-rsa vct=:$WORK/vhsm.ct sct=:$WORK/soft.ct ;;
	rsa-sign-pss) key=bench-rsa ;;
	ecdsa-sign) key=bench-ec ;;
	kwp-unwrap) key=bench-kwp ;;
	esac
	targets=("vhsm=$MOD:vhsm:$WORK/vhsm.pin$vct" "softhsm2=$SM:p11bench:$WORK/soft.pin$sct")
	extra=(--floor)
	if [ $op = kwp-unwrap ]; then
		extra=()
	else
		targets+=("p11kit=$CLIENT:p11bench:$WORK/soft.pin$sct")
	fi
	echo "bench: pkcs11 $op ($PAIRS pairs of $SLICE s per peer)" >&2
	"$BENCH" --pairs "$PAIRS" --slice "$SLICE" "${extra[@]}" $op $key "${targets[@]}" ||
		{ echo "pkcs11: $op failed" >&2; exit 1; }
done
