#!/bin/bash
# The dracut module (dracut/91vhsm/module-setup.sh) against a fake system root, with dracut's
# install helpers replaced by functions that copy into a fake initrd: check() decides from
# LUKS2 headers (image files with and without a vhsm token) and crypttab, install() copies
# what the initrd needs, the simulator only when vhsmd is configured for it, and runs vhsmd
# with --luks-standalone; for crypttab pkcs11-uri= entries, the PKCS#11 pieces and the sealed
# key pairs they need. The real dracut build and boot: make check-vm-initrd.
# The mocked helpers are called from the sourced module, which shellcheck cannot follow.
# shellcheck disable=SC2317
. "$(dirname "$0")/lib.sh"

command -v cryptsetup >/dev/null || skip "cryptsetup not installed"
MODDIR=$top/dracut/91vhsm
UNITDIR=/lib/systemd/system
CONFDIR=/etc/systemd/system
LIBDIR=/usr/lib/x86_64-linux-gnu
SYSROOT=$WORK/sysroot

# A LUKS2 image (fast PBKDF2) with an optional token of TYPE. --disable-external-tokens: only
# libcryptsetup's generic checks, whatever plugin this machine has installed.
luks_image() {
	local img=$1 type=${2:-}
	truncate -s 20M "$img"
	head -c 32 /dev/urandom >"$WORK/k"
	cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$WORK/k" "$img" >/dev/null
	[ -z "$type" ] && return 0
	printf '{"type":"%s","keyslots":[]}' "$type" >"$WORK/tok.json"
	cryptsetup token import --disable-external-tokens --json-file "$WORK/tok.json" "$img"
}
luks_image "$WORK/tok.img" vhsm
luks_image "$WORK/other.img" other-type
luks_image "$WORK/plain.img"

# fake_root: an installed vhsm in $SYSROOT (binaries are empty files: nothing runs them).
fake_root() {
	rm -rf "$SYSROOT"
	mkdir -p "$SYSROOT"/{usr/sbin,usr/bin,etc/vhsm,var/lib/vhsm-sim,$LIBDIR/cryptsetup} \
		"$SYSROOT$LIBDIR/vhsm" "$SYSROOT$UNITDIR" "$SYSROOT$CONFDIR/vhsmd.service.d" \
		"$SYSROOT/lib/udev/rules.d"
	touch "$SYSROOT/usr/sbin/vhsmd" "$SYSROOT/usr/bin/vhsmctl" \
		"$SYSROOT$LIBDIR/cryptsetup/libcryptsetup-token-vhsm.so" \
		"$SYSROOT/etc/vhsm/policy.json" "$SYSROOT/etc/vhsm/ark.pem"
	chmod 0755 "$SYSROOT/usr/sbin/vhsmd"
	cp "$top/systemd/vhsmd.service" "$top/systemd/vhsmd.socket" "$top/systemd/vhsmd-luks-key.socket" \
		"$SYSROOT$UNITDIR/"
	cp "$top/udev/60-vhsm-sev-guest.rules" "$SYSROOT/lib/udev/rules.d/"
	printf 'root:x:0:0::/root:/bin/sh\nvhsm:x:990:990::/var/lib/vhsm:/usr/sbin/nologin\n' \
		>"$SYSROOT/etc/passwd"
	printf 'tss:x:100:105:TPM software stack:/var/lib/tpm:/bin/false\n' >>"$SYSROOT/etc/passwd"
	printf 'root:x:0:\nvhsm:x:990:\ntss:x:105:vhsm\n' >"$SYSROOT/etc/group"
	# The vTPM's pieces (tpm-udev, libtss2-tcti-device0): the real TCTI module, whose own
	# dependency (libtss2-mu) must come along.
	echo 'KERNEL=="tpmrm[0-9]*", MODE="0660", OWNER="tss", GROUP="tss"' \
		>"$SYSROOT/lib/udev/rules.d/60-tpm-udev.rules"
	cp /usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0 \
		"$SYSROOT$LIBDIR/libtss2-tcti-device.so.0.0.0"
	ln -sf libtss2-tcti-device.so.0.0.0 "$SYSROOT$LIBDIR/libtss2-tcti-device.so.0"
}

# sim_dropin FORM: vhsmd on the simulator, with "--snp-device sim:" or "--snp-device=sim:".
sim_dropin() {
	local sep=$1
	printf '%s\n' '[Service]' 'ExecStart=' \
		"ExecStart=/usr/sbin/vhsmd --snp-device${sep}sim:/var/lib/vhsm-sim/cvm.json --trust-root /etc/vhsm/ark.pem" \
		"Environment=VHSM_SNP_SIM_MODULE=$LIBDIR/vhsm/vhsm-snp-sim.so" \
		>"$SYSROOT$CONFDIR/vhsmd.service.d/test.conf"
	touch "$SYSROOT$LIBDIR/vhsm/vhsm-snp-sim.so" "$SYSROOT/var/lib/vhsm-sim/cvm.json"
}

# in_module FUNCTION [VAR=VALUE...]: runs the module's FUNCTION with dracut's variables and
# mocked helpers; the fake initrd is $WORK/initrd, the helpers' calls go to $WORK/calls.
# Prints nothing; returns the function's status.
in_module() {
	local fn=$1
	shift
	rm -rf "$WORK/initrd"
	mkdir -p "$WORK/initrd/etc"
	printf 'root:x:0:0::/root:/bin/sh\n' >"$WORK/initrd/etc/passwd"
	printf 'root:x:0:\n' >"$WORK/initrd/etc/group"
	: >"$WORK/calls"
	(
		# dracut runs module functions without errexit, nounset or pipefail.
		set +euo pipefail
		initdir=$WORK/initrd moddir=$MODDIR libdirs="/lib64 $LIBDIR" hostonly=
		dracutsysrootdir=$SYSROOT systemdsystemunitdir=$UNITDIR systemdsystemconfdir=$CONFDIR
		declare -A host_fs_types=()
		SYSTEMCTL="mock_systemctl"
		local a
		for a in "$@"; do
			case $a in
			host_fs=*) host_fs_types[${a#host_fs=}]=crypto_LUKS ;;
			*) eval "${a%%=*}=\${a#*=}" ;;
			esac
		done
		calls=$WORK/calls
		# dracut's helpers: copy from the system root into the initrd and record the call.
		copy_in() {
			local f
			for f in "$@"; do
				[ -e "$SYSROOT$f" ] || return 1
				mkdir -p "$initdir$(dirname "$f")"
				cp -a "$SYSROOT$f" "$initdir$f"
			done
		}
		find_in_root() { [ -e "$SYSROOT/usr/sbin/$1" ] || [ -e "$SYSROOT/usr/bin/$1" ]; }
		require_binaries() { local b; for b in "$@"; do find_in_root "$b" || return 1; done; }
		inst_multiple() {
			local o=0 f rc=0
			echo "inst_multiple $*" >>"$calls"
			for f in "$@"; do
				case $f in
				-o) o=1 ;;
				-H) ;;
				/*) for g in "$SYSROOT"$f; do [ -e "$g" ] && copy_in "${g#"$SYSROOT"}"; done ;;
				*) if [ -e "$SYSROOT/usr/sbin/$f" ]; then copy_in "/usr/sbin/$f"
				   elif [ -e "$SYSROOT/usr/bin/$f" ]; then copy_in "/usr/bin/$f"
				   elif [ "$f" = chown ] || [ "$f" = chmod ]; then :
				   else rc=1; fi ;;
				esac
			done
			[ "$o" = 1 ] || return "$rc"
		}
		inst_simple() {
			[ "$1" = -H ] && shift
			echo "inst_simple $*" >>"$calls"
			if [ $# -eq 2 ]; then
				mkdir -p "$initdir$(dirname "$2")"
				cp "$1" "$initdir$2"
			else
				copy_in "$1"
			fi
		}
		inst_libdir_file() {
			local d
			echo "inst_libdir_file $*" >>"$calls"
			for d in $libdirs; do
				for g in "$SYSROOT$d"/$1; do [ -e "$g" ] && copy_in "${g#"$SYSROOT"}"; done
			done
			return 0
		}
		inst_library() { echo "inst_library $*" >>"$calls"; }
		inst_rules() { echo "inst_rules $*" >>"$calls"; copy_in "/lib/udev/rules.d/$1"; }
		instmods() { echo "instmods $*" >>"$calls"; }
		mock_systemctl() { echo "systemctl $*" >>"$calls"; }
		dfatal() { echo "dfatal $*" >>"$calls"; }
		dwarn() { echo "dwarn $*" >>"$calls"; }
		dinfo() { :; }
		# shellcheck source=dracut/91vhsm/module-setup.sh
		. "$MODDIR/module-setup.sh"
		"$fn"
	)
}

# expect_rc WANT FUNCTION [VAR=VALUE...]
expect_rc() {
	local want=$1 rc=0
	shift
	in_module "$@" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$WORK/calls" >&2; fail "$* returned $rc, expected $want"; }
}

# ---- check() ----
fake_root
expect_rc 255 check
expect_rc 0 check hostonly=yes "host_fs=$WORK/tok.img"
expect_rc 255 check hostonly=yes "host_fs=$WORK/other.img"
expect_rc 255 check hostonly=yes "host_fs=$WORK/plain.img"
# A crypttab volume attached in the initrd counts; a commented or plain one does not.
printf '# root %s none luks,x-initrd.attach\nroot %s none luks\n' "$WORK/tok.img" "$WORK/tok.img" \
	>"$SYSROOT/etc/crypttab"
expect_rc 255 check hostonly=yes
printf 'other %s none luks\n  root %s none luks,x-initrd.attach\n' "$WORK/plain.img" \
	"$WORK/tok.img" >"$SYSROOT/etc/crypttab"
expect_rc 0 check hostonly=yes
rm "$SYSROOT/etc/crypttab"
rm "$SYSROOT$LIBDIR/cryptsetup/libcryptsetup-token-vhsm.so"
expect_rc 1 check hostonly=yes "host_fs=$WORK/tok.img"
fake_root
rm "$SYSROOT/usr/sbin/vhsmd"
expect_rc 1 check hostonly=yes "host_fs=$WORK/tok.img"
ok "check(): included for a vhsm token on a host-only volume or an x-initrd.attach crypttab entry; on request otherwise; never without vhsmd or the plugin"

expect_rc 0 depends >/dev/null
in_module depends >"$WORK/out"
grep -qx 'crypt systemd' "$WORK/out" || fail "depends: $(cat "$WORK/out")"
ok "depends(): crypt systemd"

# ---- install() without the simulator ----
fake_root
expect_rc 0 install
I=$WORK/initrd
for f in /usr/sbin/vhsmd "$LIBDIR/cryptsetup/libcryptsetup-token-vhsm.so" "$UNITDIR/vhsmd.socket" \
	"$UNITDIR/vhsmd.service" "$UNITDIR/vhsmd.service.d/vhsm-initrd.conf" \
	"$UNITDIR/vhsmd.socket.d/vhsm-initrd.conf" /etc/vhsm/policy.json /etc/vhsm/ark.pem \
	/lib/udev/rules.d/60-vhsm-sev-guest.rules; do
	[ -e "$I$f" ] || fail "install: $f not in the initrd"
done
grep -qx 'vhsm:x:990:990::/var/lib/vhsm:/usr/sbin/nologin' "$I/etc/passwd" || fail "no vhsm user"
grep -qx 'vhsm:x:990:' "$I/etc/group" || fail "no vhsm group"
grep -q 'systemctl -q --root .* add-wants sockets.target vhsmd.socket' "$WORK/calls" ||
	fail "vhsmd.socket not wanted by sockets.target"
grep -q 'systemctl -q --root .* add-wants cryptsetup-pre.target vhsmd.socket' "$WORK/calls" ||
	fail "vhsmd.socket not wanted by cryptsetup-pre.target"
grep -q '^Wants=cryptsetup-pre.target' "$I$UNITDIR/vhsmd.socket.d/vhsm-initrd.conf" ||
	fail "socket drop-in does not pull in cryptsetup-pre.target"
grep -q '^Conflicts=initrd-switch-root.target' "$I$UNITDIR/vhsmd.service.d/vhsm-initrd.conf" ||
	fail "service not stopped before the switch to the real root"
grep -qx 'ExecStart=/usr/sbin/vhsmd --luks-standalone' \
	"$I$UNITDIR/vhsmd.service.d/zz-vhsm-initrd-standalone.conf" || fail "no standalone ExecStart"
[ ! -e "$I/var/lib/vhsm-sim" ] && [ ! -e "$I$LIBDIR/vhsm" ] || fail "simulator files installed"
[ ! -e "$I$UNITDIR/vhsmd.service.d/vhsm-initrd-sim.conf" ] || fail "simulator drop-in installed"
if grep -q 'SIMULATED' "$WORK/calls"; then fail "simulator announced without a simulator"; fi
# The key socket is there for vhsmd.service's Sockets=, never enabled in the initrd.
[ -e "$I$UNITDIR/vhsmd-luks-key.socket" ] || fail "vhsmd-luks-key.socket missing"
[ -e "$I$UNITDIR/vhsmd-luks-key.socket.d/vhsm-initrd.conf" ] || fail "key socket drop-in missing"
if grep -q 'vhsmd-luks-key' <(grep '^systemctl' "$WORK/calls"); then
	fail "vhsmd-luks-key.socket enabled in the initrd"
fi
ok "install(): daemon, plugin, units and initrd drop-ins, user and group, /etc/vhsm, udev rule; no simulator"

# ---- the vTPM (vtpm-profile KEKs unseal in the initrd): always, warnings when it cannot work ----
[ -e "$I$LIBDIR/libtss2-tcti-device.so.0" ] || fail "TCTI module libtss2-tcti-device not installed"
grep -qE '^inst_library /.*/libtss2-mu\.so\.0$' "$WORK/calls" ||
	fail "the TCTI module's libtss2-mu not installed: $(grep inst_library "$WORK/calls" | tr '\n' ' ')"
[ -e "$I/lib/udev/rules.d/60-tpm-udev.rules" ] || fail "tpm-udev rule for /dev/tpmrm0 not installed"
grep -qx 'tss:x:105:vhsm' "$I/etc/group" || fail "group tss with member vhsm not in the initrd"
grep -q '^tss:x:100:105:' "$I/etc/passwd" || fail "user tss not in the initrd"
if grep -q 'dwarn' "$WORK/calls"; then fail "warnings with every vTPM piece present: $(grep dwarn "$WORK/calls")"; fi
expect_rc 0 installkernel
grep -qx 'instmods tpm_tis tpm_crb' "$WORK/calls" || fail "no TPM drivers: $(grep instmods "$WORK/calls")"
ok "install(): the vTPM's TCTI module with its library, tpm-udev's rule, user and group tss with vhsm; installkernel(): tpm_tis, tpm_crb"

fake_root
rm "$SYSROOT$LIBDIR"/libtss2-tcti-device.so.0*
expect_rc 0 install
grep -q 'dwarn vhsm: libtss2-tcti-device.so.0 (package libtss2-tcti-device0) is not installed: vtpm-profile KEKs cannot unlock' \
	"$WORK/calls" || fail "missing TCTI module not named: $(cat "$WORK/calls")"
[ -e "$I/usr/sbin/vhsmd" ] || fail "no daemon without the TCTI module"
fake_root
sed -i 's/^tss:x:105:vhsm$/tss:x:105:/' "$SYSROOT/etc/group"
expect_rc 0 install
grep -q 'dwarn vhsm: user vhsm is not in group tss' "$WORK/calls" ||
	fail "vhsm outside group tss not named: $(grep dwarn "$WORK/calls")"
fake_root
sed -i '/^tss:/d' "$SYSROOT/etc/group"
expect_rc 0 install
grep -q 'dwarn vhsm: no user or group tss (package tpm-udev)' "$WORK/calls" ||
	fail "missing group tss not named: $(grep dwarn "$WORK/calls")"
if grep -q '^tss:' "$I/etc/group" "$I/etc/passwd"; then fail "tss written without a group tss"; fi
ok "install() without the TCTI module, group tss or vhsm in it: the initrd is still made, the warning names the cause"

# ---- the vtpm platform: the installed state's platform root and collateral cache ----
# vtpm_state DIR: a platform root, a collateral file and a KEK in the system root's DIR (their
# content is opaque to the module); a temporary file of an interrupted write in the cache.
vtpm_state() {
	mkdir -p "$SYSROOT$1/collateral/genoa" "$SYSROOT$1/kek"
	echo root >"$SYSROOT$1/platform-root.vtpm"
	echo vcek >"$SYSROOT$1/collateral/genoa/vcek-test.der"
	echo sealed >"$SYSROOT$1/kek/k.sealed"
	: >"$SYSROOT$1/collateral/.tmp-partial"
}
# state_in_initrd DIR: the files below DIR in the fake initrd, sorted, on one line.
state_in_initrd() { (cd "$I$1" 2>/dev/null && find . -type f | sort | tr '\n' ' '); }
fake_root
vtpm_state /var/lib/vhsm
expect_rc 0 install
[ "$(state_in_initrd /var/lib/vhsm)" = "./collateral/genoa/vcek-test.der ./platform-root.vtpm " ] ||
	fail "vtpm state in the initrd: $(state_in_initrd /var/lib/vhsm)"
cmp -s "$I/var/lib/vhsm/platform-root.vtpm" "$SYSROOT/var/lib/vhsm/platform-root.vtpm" ||
	fail "platform root differs"
if grep -q 'dwarn' "$WORK/calls"; then fail "warnings with a cache: $(grep dwarn "$WORK/calls")"; fi
# The state and cache directories the installed ExecStart= names (both spellings).
fake_root
vtpm_state /srv/st
mkdir -p "$SYSROOT/srv/cache/milan"
echo vcek >"$SYSROOT/srv/cache/milan/vcek-m.der"
printf '%s\n' '[Service]' 'ExecStart=' \
	'ExecStart=/usr/sbin/vhsmd --state-dir /srv/st --collateral-dir=/srv/cache' \
	>"$SYSROOT$CONFDIR/vhsmd.service.d/state.conf"
expect_rc 0 install
[ "$(state_in_initrd /srv/st)" = "./platform-root.vtpm " ] ||
	fail "--state-dir: $(state_in_initrd /srv/st)"
[ "$(state_in_initrd /srv/cache)" = "./milan/vcek-m.der " ] ||
	fail "--collateral-dir: $(state_in_initrd /srv/cache)"
[ ! -e "$I/var/lib/vhsm" ] || fail "the default state directory filled as well"
grep -qx 'ExecStart=/usr/sbin/vhsmd --state-dir /srv/st --collateral-dir=/srv/cache --luks-standalone' \
	"$I$UNITDIR/vhsmd.service.d/zz-vhsm-initrd-standalone.conf" || fail "standalone ExecStart"
# A platform root without a cache: built, with a warning naming the fix.
fake_root
vtpm_state /var/lib/vhsm
rm -r "$SYSROOT/var/lib/vhsm/collateral"
expect_rc 0 install
[ -e "$I/var/lib/vhsm/platform-root.vtpm" ] || fail "platform root not installed without a cache"
grep -q 'dwarn vhsm: vtpm platform (/var/lib/vhsm/platform-root.vtpm) but no collateral cache in /var/lib/vhsm/collateral: .*run vhsmctl collateral fetch .*rebuild the initrd' \
	"$WORK/calls" || fail "missing cache not named: $(grep dwarn "$WORK/calls")"
# The daemon's messages reach the console in the initrd (the reason above a prompt).
grep -qx 'StandardError=journal+console' "$I$UNITDIR/vhsmd.service.d/vhsm-initrd.conf" &&
	grep -qx 'Environment=VHSMD_LOG_STDERR=1' "$I$UNITDIR/vhsmd.service.d/vhsm-initrd.conf" ||
	fail "vhsmd's messages not on the console in the initrd"
ok "install(), vtpm platform: platform root and collateral cache of the installed state (--state-dir, --collateral-dir), nothing else of it; no cache: a warning naming the fix; vhsmd's messages on the console"

# ---- install() with the simulator, both option spellings ----
for sep in ' ' '='; do
	fake_root
	sim_dropin "$sep"
	expect_rc 0 install
	[ -e "$I$LIBDIR/vhsm/vhsm-snp-sim.so" ] || fail "simulator module not installed ($sep)"
	[ -e "$I/var/lib/vhsm-sim/cvm.json" ] || fail "simulator state not installed ($sep)"
	[ -e "$I$CONFDIR/vhsmd.service.d/test.conf" ] || fail "administrator's drop-in missing"
	grep -q 'dwarn vhsm: SIMULATED SEV-SNP' "$WORK/calls" || fail "simulator not announced ($sep)"
	grep -qx 'ExecStartPre=+chown -R vhsm:vhsm /var/lib/vhsm-sim' \
		"$I$UNITDIR/vhsmd.service.d/vhsm-initrd-sim.conf" || fail "no chown of the state ($sep)"
	grep -qx "ExecStart=/usr/sbin/vhsmd --snp-device${sep}sim:/var/lib/vhsm-sim/cvm.json --trust-root /etc/vhsm/ark.pem --luks-standalone" \
		"$I$UNITDIR/vhsmd.service.d/zz-vhsm-initrd-standalone.conf" ||
		fail "standalone ExecStart lost the simulator options ($sep)"
done
ok "install(): simulator module, state and ownership drop-in only when vhsmd runs on it, announced"

# ---- PKCS#11: crypttab pkcs11-uri= brings the module, p11-kit, systemd's plugin, key pairs ----
# p11_root: fake_root plus vhsm-pkcs11, libp11-kit, systemd's token plugin and three sealed key
# pairs (their content is opaque to the module).
p11_root() {
	fake_root
	mkdir -p "$SYSROOT$LIBDIR/pkcs11" "$SYSROOT/usr/share/p11-kit/modules" \
		"$SYSROOT/var/lib/vhsm/keypair"
	touch "$SYSROOT$LIBDIR/pkcs11/libvhsm-pkcs11.so" \
		"$SYSROOT$LIBDIR/cryptsetup/libcryptsetup-token-systemd-pkcs11.so"
	# The real libp11-kit: its own dependency (libffi) must come along.
	cp /usr/lib/x86_64-linux-gnu/libp11-kit.so.0 "$SYSROOT$LIBDIR/libp11-kit.so.0.3.0"
	ln -sf libp11-kit.so.0.3.0 "$SYSROOT$LIBDIR/libp11-kit.so.0"
	echo 'module: libvhsm-pkcs11.so' >"$SYSROOT/usr/share/p11-kit/modules/vhsm.module"
	for k in k1 k2 k3; do echo "sealed $k" >"$SYSROOT/var/lib/vhsm/keypair/$k.sealed"; done
}
# keypairs_in_initrd: the sealed key pairs the fake initrd holds, sorted, on one line.
keypairs_in_initrd() {
	find "$I/var/lib/vhsm/keypair" -name '*.sealed' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}
# A LUKS2 image with a systemd-pkcs11 token naming object k2 (pkcs11-uri=auto reads it).
luks_image "$WORK/p11.img"
printf '{"type":"systemd-pkcs11","keyslots":[],"pkcs11-uri":"pkcs11:token=vhsm;object=k2","pkcs11-key":"AAAA"}' \
	>"$WORK/tok.json"
cryptsetup token import --disable-external-tokens --json-file "$WORK/tok.json" "$WORK/p11.img"

p11_root
printf 'root %s none luks,headless=true,pkcs11-uri=pkcs11:token=vhsm;object=k1\n' \
	"$WORK/plain.img" >"$SYSROOT/etc/crypttab"
expect_rc 0 check hostonly=yes
expect_rc 0 install
for f in "$LIBDIR/pkcs11/libvhsm-pkcs11.so" /usr/share/p11-kit/modules/vhsm.module \
	"$LIBDIR/libp11-kit.so.0" "$LIBDIR/cryptsetup/libcryptsetup-token-systemd-pkcs11.so"; do
	[ -e "$I$f" ] || fail "install (pkcs11-uri): $f not in the initrd"
done
[ "$(keypairs_in_initrd)" = "k1.sealed " ] || fail "object=k1: key pairs $(keypairs_in_initrd)"
cmp -s "$I/var/lib/vhsm/keypair/k1.sealed" "$SYSROOT/var/lib/vhsm/keypair/k1.sealed" ||
	fail "k1.sealed differs from the store's"
# A shared library's dependencies are not resolved by dracut (only executables' are).
grep -qE '^inst_library /.*/libffi\.so\.8$' "$WORK/calls" ||
	fail "libp11-kit's libffi not installed: $(grep inst_library "$WORK/calls" | tr '\n' ' ')"
# auto: the object of the URI in the volume's header; all key pairs when it cannot be read.
printf 'data %s none luks,pkcs11-uri=auto\n' "$WORK/p11.img" >"$SYSROOT/etc/crypttab"
expect_rc 0 install
[ "$(keypairs_in_initrd)" = "k2.sealed " ] || fail "auto (header k2): key pairs $(keypairs_in_initrd)"
printf 'data UUID=%s none luks,pkcs11-uri=auto\n' "$(cat /proc/sys/kernel/random/uuid)" \
	>"$SYSROOT/etc/crypttab"
expect_rc 0 install
[ "$(keypairs_in_initrd)" = "k1.sealed k2.sealed k3.sealed " ] ||
	fail "auto (no header): key pairs $(keypairs_in_initrd)"
ok "install(), crypttab pkcs11-uri=: PKCS#11 module and registration, libp11-kit, systemd's token plugin, the named key pair (auto: the header's, or all)"

# Another token's URI, or no pkcs11-uri: nothing of PKCS#11, no key pair.
p11_root
printf 'root %s none luks,pkcs11-uri=pkcs11:token=other;object=k1\nd %s /k luks\n' \
	"$WORK/plain.img" "$WORK/plain.img" >"$SYSROOT/etc/crypttab"
expect_rc 255 check hostonly=yes
expect_rc 0 install
[ ! -e "$I$LIBDIR/pkcs11/libvhsm-pkcs11.so" ] && [ ! -e "$I/var/lib/vhsm" ] ||
	fail "PKCS#11 pieces for another token's URI"
# Refusals: a key pair crypttab names that vhsmd does not hold; vhsm-pkcs11 not installed.
printf 'root %s none luks,pkcs11-uri=pkcs11:token=vhsm;object=gone\n' "$WORK/plain.img" \
	>"$SYSROOT/etc/crypttab"
expect_rc 1 install
grep -q 'dfatal vhsm: crypttab names the PKCS#11 object gone but vhsmd holds no key pair gone' \
	"$WORK/calls" || fail "missing key pair not named"
p11_root
rm "$SYSROOT/usr/share/p11-kit/modules/vhsm.module"
printf 'root %s none luks,pkcs11-uri=pkcs11:token=vhsm;object=k1\n' "$WORK/plain.img" \
	>"$SYSROOT/etc/crypttab"
expect_rc 1 install
grep -q "dfatal vhsm: crypttab uses pkcs11-uri= but vhsm's p11-kit registration" "$WORK/calls" ||
	fail "missing registration not named"
ok "PKCS#11 in the initrd: not for another token; refused with the cause for a missing key pair or registration"

# ---- install() refusals ----
fake_root
sim_dropin ' '
rm "$SYSROOT/var/lib/vhsm-sim/cvm.json"
expect_rc 1 install
grep -q 'dfatal vhsm: .*state /var/lib/vhsm-sim/cvm.json does not exist' "$WORK/calls" ||
	fail "missing simulator state not named"
fake_root
sim_dropin ' '
rm "$SYSROOT$LIBDIR/vhsm/vhsm-snp-sim.so"
expect_rc 1 install
grep -q 'dfatal vhsm: .*names no installed module' "$WORK/calls" || fail "missing module not named"
fake_root
sed -i '/^vhsm:/d' "$SYSROOT/etc/group"
expect_rc 1 install
grep -q 'dfatal vhsm: no user or group vhsm' "$WORK/calls" || fail "missing group not named"
fake_root
rm "$SYSROOT$LIBDIR/cryptsetup/libcryptsetup-token-vhsm.so"
expect_rc 1 install
grep -q 'dfatal vhsm: libcryptsetup-token-vhsm.so is not installed' "$WORK/calls" ||
	fail "missing plugin not named"
ok "install() refuses: simulator state or module missing, no vhsm group, no plugin"
