#!/bin/bash
# The initramfs-tools integration (initramfs-tools/): Debian's mkinitramfs with
# cryptsetup-initramfs builds a real initramfs from a fake system root (crypttab, keyscript
# directory and /boot bound over the host's in a private mount namespace); the hook adds vhsm
# only for a volume with keyscript=decrypt_vhsm, the simulator only when vhsmd is configured for
# it (with a warning), and refuses a system without the vhsm user or with a missing simulator
# state. Then the unpacked initramfs runs in a chroot: local-top/vhsm starts vhsmd (user vhsm,
# --luks-standalone, no state), decrypt_vhsm gives the enrolled volume's secret without a
# prompt, falls back to the passphrase prompt for a volume of another CVM and on a retry, and
# init-bottom/vhsm stops vhsmd and keeps its audit log. On vhsmd's vtpm platform (swtpm and
# the simulator's hcl --watch on this host for the vTPM and its paravisor) the installed
# state's platform root and collateral cache go in, the unpacked initramfs finds the platform
# and opens a vtpm volume with no prompt, and without the cache says why and prompts. The real
# boot: make check-vm-initramfs (tests/vm/run-initramfs.sh).
. "$(dirname "$0")/lib.sh"
# The vtpm platform part: swtpm and the TPM tools.
. "$(dirname "$0")/vtpm-lib.sh"

for c in mkinitramfs unmkinitramfs cryptsetup unshare chroot systemd-socket-activate; do
	command -v "$c" >/dev/null || skip "$c not installed (initramfs-tools, cryptsetup-initramfs)"
done
[ -f /usr/share/initramfs-tools/hooks/cryptroot ] || skip "cryptsetup-initramfs not installed"
# The cryptroot hook reads /etc/crypttab only: the test binds its own over it.
[ -f /etc/crypttab ] || skip "no /etc/crypttab to bind the test's crypttab over"
[ -x "$DAEMON" ] && [ -x "$CTL" ] || fail "build vhsmd and vhsmctl first"

KVER=0.0.0-vhsm-test
ROOT=$WORK/root
CONF=$WORK/conf
KS=$WORK/keyscripts
LIBDIR=/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)

# ---- enrolled volumes: vol.img for CVM a (the initramfs's), other.img for CVM b ----
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/recovery.key"
luks_image() {
	truncate -s 20M "$1"
	cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$WORK/recovery.key" "$1" >/dev/null
}
luks_image "$WORK/vol.img"
luks_image "$WORK/other.img"
make_cvm a genoa --measurement "$(printf 'a1%.0s' $(seq 48))"
make_cvm b genoa --measurement "$(printf 'b2%.0s' $(seq 48))"
start_daemon a
expect_exit 0 ctl kek create disk-kek
expect_exit 0 ctl luks enroll "$WORK/vol.img" --kek disk-kek --unlock-key-file "$WORK/recovery.key"
stop_daemon
STATE=$WORK/state-b start_daemon b
expect_exit 0 ctl kek create disk-kek
expect_exit 0 ctl luks enroll "$WORK/other.img" --kek disk-kek --unlock-key-file "$WORK/recovery.key"
stop_daemon
ok "volumes enrolled for CVM a and for CVM b (another measurement)"

# ---- the system root the hook reads, and mkinitramfs's configuration ----
fake_root() {
	rm -rf "$ROOT"
	mkdir -p "$ROOT"/{usr/sbin,usr/bin,etc/vhsm,lib/systemd/system,etc/systemd/system}
	cp "$DAEMON" "$ROOT/usr/sbin/vhsmd"
	cp "$CTL" "$ROOT/usr/bin/vhsmctl"
	cp "$top/systemd/vhsmd.service" "$ROOT/lib/systemd/system/"
	cp "$WORK/a-certs/ark.pem" "$ROOT/etc/vhsm/ark.pem"
	printf 'root:x:0:0::/root:/bin/sh\nvhsm:x:990:991::/var/lib/vhsm:/usr/sbin/nologin\n' \
		>"$ROOT/etc/passwd"
	printf 'root:x:0:\nvhsm:x:991:\n' >"$ROOT/etc/group"
}
# sim_dropin: vhsmd on the simulator (CVM a's state), as a test image's drop-in would say.
sim_dropin() {
	mkdir -p "$ROOT/etc/systemd/system/vhsmd.service.d" "$ROOT/var/lib/vhsm-sim" "$ROOT$LIBDIR/vhsm"
	printf '%s\n' '[Service]' 'ExecStart=' \
		"ExecStart=/usr/sbin/vhsmd --snp-device sim:/var/lib/vhsm-sim/cvm.json --trust-root /etc/vhsm/ark.pem" \
		"Environment=VHSM_SNP_SIM_MODULE=$LIBDIR/vhsm/vhsm-snp-sim.so" \
		>"$ROOT/etc/systemd/system/vhsmd.service.d/test.conf"
	cp "$VHSM_SNP_SIM_MODULE" "$ROOT$LIBDIR/vhsm/vhsm-snp-sim.so"
	cp "$WORK/a.json" "$ROOT/var/lib/vhsm-sim/cvm.json"
}
mkdir -p "$CONF/hooks" "$CONF/scripts/local-top" "$CONF/scripts/init-bottom" "$KS"
printf 'MODULES=list\nBUSYBOX=y\nCOMPRESS=gzip\n' >"$CONF/initramfs.conf"
cp "$top/initramfs-tools/hooks/vhsm" "$CONF/hooks/"
cp "$top/initramfs-tools/scripts/local-top/vhsm" "$CONF/scripts/local-top/"
cp "$top/initramfs-tools/scripts/init-bottom/vhsm" "$CONF/scripts/init-bottom/"
cp -a /lib/cryptsetup/scripts/. "$KS/"
cp "$top/initramfs-tools/decrypt_vhsm" "$KS/"

# mkinitrd CRYPTTAB-LINES: mkinitramfs into $WORK/initrd.img (log $WORK/mkinitramfs.log),
# then unpacked into $X. Returns mkinitramfs's status.
X=$WORK/x
mkinitrd() {
	local rc=0
	printf '%s\n' "$@" >"$WORK/crypttab"
	rm -rf "$X" "$WORK/initrd.img"
	mkdir -p "$WORK/tmp"
	unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" /lib/cryptsetup/scripts &&
		mount --bind "$2" /etc/crypttab && mount -t tmpfs tmpfs /boot &&
		echo CONFIG_RD_GZIP=y >"/boot/config-$3" &&
		TMPDIR=$4 VHSM_SYSROOT=$5 mkinitramfs -d "$6" -o "$7" "$3"' sh \
		"$KS" "$WORK/crypttab" "$KVER" "$WORK/tmp" "$ROOT" "$CONF" "$WORK/initrd.img" \
		>"$WORK/mkinitramfs.log" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || return "$rc"
	unmkinitramfs "$WORK/initrd.img" "$X"
	[ ! -d "$X/main" ] || X=$X/main
}
has() { [ -e "$X/$1" ] || [ -L "$X/$1" ]; }

# ---- a crypttab without the keyscript: nothing of vhsm goes in ----
fake_root
mkinitrd "plain $WORK/vol.img none luks,initramfs" || { cat "$WORK/mkinitramfs.log"; fail "mkinitramfs"; }
has cryptroot/crypttab || fail "cryptroot did not take the test's crypttab"
for f in usr/sbin/vhsmd usr/bin/vhsmctl conf/vhsm.conf etc/vhsm/ark.pem lib/cryptsetup/scripts/decrypt_vhsm; do
	! has "$f" || fail "$f in an initramfs that does not use vhsm"
done
ok "hook: nothing added when no initramfs volume uses keyscript=decrypt_vhsm"

# ---- the keyscript on the root volume, real SEV-SNP device ----
fake_root
mkinitrd "testvol $WORK/vol.img none luks,initramfs,keyscript=decrypt_vhsm" ||
	{ cat "$WORK/mkinitramfs.log"; fail "mkinitramfs"; }
for f in usr/sbin/vhsmd usr/bin/vhsmctl usr/lib/vhsm/setpriv lib/cryptsetup/askpass \
	lib/cryptsetup/scripts/decrypt_vhsm scripts/local-top/vhsm scripts/init-bottom/vhsm \
	etc/vhsm/ark.pem conf/vhsm.conf sbin/cryptsetup; do
	has "$f" || fail "$f not in the initramfs"
done
ls "$X"/usr/lib/*/libcryptsetup.so.12 >/dev/null 2>&1 || fail "vhsmctl's libcryptsetup not copied"
# The vTPM's TCTI module (vtpm-profile KEKs), which libtss2-tctildr loads with dlopen, and its
# own library.
ls "$X"/usr/lib/*/libtss2-tcti-device.so.0 >/dev/null 2>&1 || fail "TCTI module libtss2-tcti-device not copied"
ls "$X"/usr/lib/*/libtss2-mu.so.0 >/dev/null 2>&1 || fail "libtss2-mu (the TCTI module's) not copied"
grep -qx 'VHSM_UID=990' "$X/conf/vhsm.conf" && grep -qx 'VHSM_GID=991' "$X/conf/vhsm.conf" ||
	fail "vhsm ids: $(cat "$X/conf/vhsm.conf")"
grep -qx "VHSMD_ARGS=''" "$X/conf/vhsm.conf" || fail "daemon args: $(cat "$X/conf/vhsm.conf")"
grep -qx "VHSM_SIM_STATE=''" "$X/conf/vhsm.conf" || fail "simulator configured without one"
! has var/lib/vhsm || fail "a state directory in the initramfs"
! has var/lib/vhsm-sim && ! ls "$X"/usr/lib/*/vhsm/vhsm-snp-sim.so >/dev/null 2>&1 ||
	fail "simulator files in an image whose vhsmd is not configured for it"
# The keyscript path needs no token plugin in the initramfs (cryptsetup would try it first).
! ls "$X"/usr/lib/*/cryptsetup/libcryptsetup-token-vhsm.so >/dev/null 2>&1 || fail "plugin copied"
if grep -q 'SIMULATED' "$WORK/mkinitramfs.log"; then fail "simulator announced without one"; fi
ok "hook: vhsmd, vhsmctl and libraries, the vTPM's TCTI module, setpriv, askpass, keyscript, boot scripts, /etc/vhsm, vhsm ids; no state, no simulator, no plugin"

# ---- the vtpm platform: the installed state's platform root and collateral cache go in ----
# (vtpm_state DIR: a platform root and a collateral file in the system root's DIR; their
# content is opaque to the hook.)
vtpm_state() {
	mkdir -p "$ROOT$1/collateral/genoa" "$ROOT$1/kek"
	echo root >"$ROOT$1/platform-root.vtpm"
	echo vcek >"$ROOT$1/collateral/genoa/vcek-test.der"
	echo sealed >"$ROOT$1/kek/k.sealed"
	: >"$ROOT$1/collateral/.tmp-partial"
}
fake_root
vtpm_state /var/lib/vhsm
mkinitrd "testvol $WORK/vol.img none luks,initramfs,keyscript=decrypt_vhsm" ||
	{ cat "$WORK/mkinitramfs.log"; fail "mkinitramfs (vtpm platform)"; }
cmp -s "$X/var/lib/vhsm/platform-root.vtpm" "$ROOT/var/lib/vhsm/platform-root.vtpm" ||
	fail "platform root not copied"
cmp -s "$X/var/lib/vhsm/collateral/genoa/vcek-test.der" \
	"$ROOT/var/lib/vhsm/collateral/genoa/vcek-test.der" || fail "collateral not copied"
found=$(cd "$X/var/lib/vhsm" && find . -type f | sort | tr '\n' ' ')
[ "$found" = "./collateral/genoa/vcek-test.der ./platform-root.vtpm " ] ||
	fail "state in the image beyond the platform root and collateral: $found"
if grep -q 'W: vhsm: vtpm platform' "$WORK/mkinitramfs.log"; then fail "warned with a cache"; fi
# A state directory named by the installed ExecStart=; no cache: a warning naming the command.
fake_root
vtpm_state /srv/vhsm-state
rm -r "$ROOT/srv/vhsm-state/collateral"
mkdir -p "$ROOT/etc/systemd/system/vhsmd.service.d"
printf '%s\n' '[Service]' 'ExecStart=' 'ExecStart=/usr/sbin/vhsmd --state-dir=/srv/vhsm-state' \
	>"$ROOT/etc/systemd/system/vhsmd.service.d/state.conf"
mkinitrd "testvol $WORK/vol.img none luks,initramfs,keyscript=decrypt_vhsm" ||
	{ cat "$WORK/mkinitramfs.log"; fail "mkinitramfs (vtpm platform, --state-dir)"; }
cmp -s "$X/var/lib/vhsm/platform-root.vtpm" "$ROOT/srv/vhsm-state/platform-root.vtpm" ||
	fail "platform root of --state-dir not copied"
! has var/lib/vhsm/collateral || fail "a collateral cache from nowhere"
grep -q 'W: vhsm: vtpm platform (/srv/vhsm-state/platform-root.vtpm) but no collateral cache in /srv/vhsm-state/collateral: .*run vhsmctl collateral fetch .*update-initramfs -u' \
	"$WORK/mkinitramfs.log" || { cat "$WORK/mkinitramfs.log"; fail "missing cache not named"; }
ok "hook, vtpm platform: the platform root and collateral cache of the installed state directory (--state-dir too), nothing else of it; no cache: a warning naming the fix"

# ---- refusals ----
fake_root
sed -i '/^vhsm:/d' "$ROOT/etc/passwd"
expect_exit 1 mkinitrd "testvol $WORK/vol.img none luks,initramfs,keyscript=decrypt_vhsm"
grep -q 'E: vhsm: no user or group vhsm' "$WORK/mkinitramfs.log" ||
	{ cat "$WORK/mkinitramfs.log"; fail "missing user not named"; }
fake_root
sim_dropin
rm "$ROOT/var/lib/vhsm-sim/cvm.json"
expect_exit 1 mkinitrd "testvol $WORK/vol.img none luks,initramfs,keyscript=decrypt_vhsm"
grep -q 'E: vhsm: .*its state /var/lib/vhsm-sim/cvm.json does not exist' "$WORK/mkinitramfs.log" ||
	{ cat "$WORK/mkinitramfs.log"; fail "missing simulator state not named"; }
fake_root
sim_dropin
rm "$ROOT$LIBDIR/vhsm/vhsm-snp-sim.so"
expect_exit 1 mkinitrd "testvol $WORK/vol.img none luks,initramfs,keyscript=decrypt_vhsm"
grep -q 'E: vhsm: .*names no installed module' "$WORK/mkinitramfs.log" || fail "missing module not named"
ok "hook refuses (mkinitramfs fails): no vhsm user, simulator state or module missing"

# ---- the simulator, when vhsmd is configured for it ----
fake_root
sim_dropin
mkinitrd "testvol /vol.img none luks,initramfs,keyscript=decrypt_vhsm" \
	"othervol /other.img none luks,initramfs,keyscript=decrypt_vhsm" ||
	{ cat "$WORK/mkinitramfs.log"; fail "mkinitramfs with the simulator"; }
grep -q 'W: vhsm: SIMULATED SEV-SNP: vhsmd is configured with --snp-device sim:/var/lib/vhsm-sim/cvm.json' \
	"$WORK/mkinitramfs.log" || { cat "$WORK/mkinitramfs.log"; fail "simulator not announced"; }
has var/lib/vhsm-sim/cvm.json && has "${LIBDIR#/}/vhsm/vhsm-snp-sim.so" || fail "simulator not copied"
grep -qx "VHSMD_ARGS='--snp-device sim:/var/lib/vhsm-sim/cvm.json --trust-root /etc/vhsm/ark.pem'" \
	"$X/conf/vhsm.conf" || fail "daemon args: $(cat "$X/conf/vhsm.conf")"
ok "hook: simulator module and state only when vhsmd runs on it, with a loud warning"

# scripted_askpass: the console prompt in the unpacked image $X, scripted: records its prompt
# and "types" the recovery passphrase.
scripted_askpass() {
	cat >"$X/lib/cryptsetup/askpass" <<'EOT'
#!/bin/sh
echo "$1" >>/askpass.prompts
cat /recovery.key
EOT
	chmod 0755 "$X/lib/cryptsetup/askpass"
}

# ---- the unpacked initramfs at work (chroot, private mount and pid namespaces) ----
mkdir -p "$X/proc" "$X/dev" "$X/run" # made by init at boot
cp "$WORK/vol.img" "$WORK/other.img" "$X/"
cp "$WORK/recovery.key" "$X/recovery.key"
scripted_askpass
cat >"$X/boot-test.sh" <<'EOT'
#!/bin/sh
# Runs in the initramfs: what init's local-top, cryptroot and init-bottom phases do for vhsm.
r() { echo "$1 $2" >>/results; }
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
/scripts/local-top/vhsm
cp /run/vhsm-initramfs/vhsmd.log /vhsmd.log 2>/dev/null
pid=$(cat /run/vhsm-initramfs/vhsmd.pid 2>/dev/null)
[ -S /run/vhsm-initramfs/vhsmd.sock ] && r socket ok || r socket fail
uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
[ "$uid" = 990 ] && r daemon-user ok || r daemon-user "fail:$uid"
unlock() { # NAME IMAGE TRIED
	CRYPTTAB_NAME=$1 CRYPTTAB_SOURCE=$2 CRYPTTAB_TRIED=$3 CRYPTTAB_KEY=none \
		/lib/cryptsetup/scripts/decrypt_vhsm none 2>>/keyscript.log |
		cryptsetup open --test-passphrase --disable-external-tokens --key-file - "$2"
}
rm -f /askpass.prompts
unlock testvol /vol.img 0 && r vhsm-unlock ok || r vhsm-unlock fail
[ ! -e /askpass.prompts ] && r no-prompt ok || r no-prompt "fail:$(cat /askpass.prompts)"
unlock othervol /other.img 0 && r fallback-unlock ok || r fallback-unlock fail
grep -qx 'Please unlock disk othervol: ' /askpass.prompts && r fallback-prompt ok || r fallback-prompt fail
rm -f /askpass.prompts
unlock testvol /vol.img 1 && r retry-unlock ok || r retry-unlock fail
grep -qx 'Please unlock disk testvol: ' /askpass.prompts && r retry-prompt ok || r retry-prompt fail
/scripts/init-bottom/vhsm
kill -0 "$pid" 2>/dev/null && r stopped fail || r stopped ok
[ ! -e /run/vhsm-initramfs ] && r cleaned ok || r cleaned fail
# The audit log of the initramfs's vhsmd outlives it: the release and the refusal are there.
grep -qE '"event": ?"luks\.unlock".*"result": ?"ok"' /run/vhsm/initramfs-audit.log &&
	grep -qE '"event": ?"luks\.unlock".*"result": ?"refused"' /run/vhsm/initramfs-audit.log &&
	r audit-kept ok || r audit-kept "fail:$(head -c 300 /run/vhsm/initramfs-audit.log)"
EOT
chmod 0755 "$X/boot-test.sh"
unshare -m -p -f sh -c 'mount --make-rprivate / && mount -t proc proc "$1/proc" &&
	mount --bind /dev "$1/dev" && mount -t tmpfs tmpfs "$1/run" &&
	chroot "$1" /boot-test.sh' sh "$X" >"$WORK/boot.log" 2>&1 ||
	{ cat "$WORK/boot.log"; fail "the initramfs run failed"; }
want="socket daemon-user vhsm-unlock no-prompt fallback-unlock fallback-prompt retry-unlock retry-prompt stopped cleaned audit-kept"
for w in $want; do
	grep -qx "$w ok" "$X/results" || {
		cat "$X/results" "$WORK/boot.log" "$X/keyscript.log" "$X/vhsmd.log" >&2
		fail "initramfs: $w"
	}
done
grep -q 'vhsm: othervol: vhsmd did not release the key' "$X/keyscript.log" ||
	{ cat "$X/keyscript.log"; fail "the fallback does not say why"; }
ok "initramfs: vhsmd as user vhsm; vol of this CVM opened with no prompt; another CVM's vol and a retry go to the prompt and the recovery passphrase opens them; vhsmd stopped and cleaned up, its audit log kept"

# ---- the unpacked initramfs on the vtpm platform: no SNP device, a vTPM and its paravisor ----
# A software TPM stands in for the vTPM and the simulator's `hcl --watch` (on this host) for
# the paravisor, answering the nonces of CVM a. A vhsmd on that vTPM makes the platform root
# and enrolls vtpm.img under a vtpm KEK; the image gets the root and the collateral cache of
# its state directory (nothing else of it) and finds the platform by itself (--tcti names the
# vTPM). Then, in the chroot: no prompt; without the cache, the prompt and the cause.
VT=$WORK/vt
VSTATE=$WORK/vstate
# vt_start SOCKET: the TPM (its state in $VT) on SOCKET, control channel SOCKET.ctrl; PCRs
# reset as at a power-on. vt_stop ends it (the state is saved).
VT_PID=
vt_start() {
	mkdir -p "$VT"
	swtpm socket --tpm2 --server type=unixio,path="$1" --ctrl type=unixio,path="$1.ctrl" \
		--tpmstate dir="$VT" --flags startup-clear,not-need-init >>"$WORK/vt.log" 2>&1 &
	VT_PID=$!
	on_exit "kill $VT_PID 2>/dev/null"
	wait_listening "$1" || fail "swtpm on $1 did not start"
	chmod 0666 "$1" "$1.ctrl"
}
vt_stop() { [ -z "$VT_PID" ] || { kill "$VT_PID"; wait "$VT_PID" 2>/dev/null; VT_PID=; }; }
# paravisor_start SOCKET: the stand-in for CVM a on the TPM at SOCKET.
PV_PID=
paravisor_start() {
	"$SIM" hcl "$WORK/a.json" --tcti "swtpm:path=$1" --watch >>"$WORK/pv.log" 2>&1 &
	PV_PID=$!
	on_exit "kill $PV_PID 2>/dev/null"
}
paravisor_stop() { [ -z "$PV_PID" ] || { kill "$PV_PID"; wait "$PV_PID" 2>/dev/null; PV_PID=; }; }

luks_image "$WORK/vtpm.img"
vt_start "$WORK/vt.sock"
paravisor_start "$WORK/vt.sock"
mkdir -p "$VSTATE"
"$CTL" collateral import --dir "$VSTATE/collateral" "$WORK"/a-certs/*.pem >/dev/null ||
	fail "collateral import"
rm -f "$SOCK"
systemd-socket-activate --seqpacket -l "$SOCK" -- "$DAEMON" --platform vtpm --state-dir "$VSTATE" \
	--tcti "swtpm:path=$WORK/vt.sock" --trust-root "$WORK/a-certs/ark.pem" --idle-timeout 0 \
	>>"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_listening "$SOCK" || fail "vhsmd (vtpm platform) did not start"
for i in $(seq 30); do ctl status >/dev/null 2>&1 && break; sleep 1; done
expect_exit 0 ctl kek create vkek --profile vtpm
expect_exit 0 ctl luks enroll "$WORK/vtpm.img" --kek vkek --unlock-key-file "$WORK/recovery.key"
stop_daemon
paravisor_stop
vt_stop
[ -s "$VSTATE/platform-root.vtpm" ] && [ -s "$VSTATE/kek/vkek.sealed" ] || fail "no root or KEK"

fake_root
mkdir -p "$ROOT/var/lib/vhsm" "$ROOT/etc/systemd/system/vhsmd.service.d"
cp -a "$VSTATE/." "$ROOT/var/lib/vhsm/"
printf '%s\n' '[Service]' 'ExecStart=' \
	'ExecStart=/usr/sbin/vhsmd --tcti swtpm:path=/tpm.sock --trust-root /etc/vhsm/ark.pem' \
	>"$ROOT/etc/systemd/system/vhsmd.service.d/vtpm.conf"
X=$WORK/x
mkinitrd "vtpmvol /vtpm.img none luks,initramfs,keyscript=decrypt_vhsm" ||
	{ cat "$WORK/mkinitramfs.log"; fail "mkinitramfs (vtpm platform)"; }
found=$(cd "$X/var/lib/vhsm" && find . -type f | grep -v '^./collateral/' | sort | tr '\n' ' ')
[ "$found" = "./platform-root.vtpm " ] || fail "state in the image: $found"
ls "$X"/var/lib/vhsm/collateral/genoa/vcek-*.der >/dev/null 2>&1 || fail "no VCEK in the image"
# The chroot reaches the TPM through the swtpm TCTI (a test image: the hook copies the device's).
cp -L /usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0 "$X/usr/lib/x86_64-linux-gnu/"
mkdir -p "$X/proc" "$X/dev" "$X/run"
cp "$WORK/vtpm.img" "$WORK/recovery.key" "$X/"
scripted_askpass
cat >"$X/boot-test.sh" <<'EOT'
#!/bin/sh
# local-top, the keyscript and init-bottom on the vtpm platform; $1 names the run.
r() { echo "$1 $2" >>/results; }
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
rm -f /askpass.prompts /results
/scripts/local-top/vhsm 2>/localtop.log
CRYPTTAB_NAME=vtpmvol CRYPTTAB_SOURCE=/vtpm.img CRYPTTAB_TRIED=0 CRYPTTAB_KEY=none \
	/lib/cryptsetup/scripts/decrypt_vhsm none 2>/keyscript.log |
	cryptsetup open --test-passphrase --disable-external-tokens --key-file - /vtpm.img &&
	r unlock ok || r unlock fail
[ ! -e /askpass.prompts ] && r no-prompt ok || r no-prompt fail
cp /run/vhsm-initramfs/vhsmd.log /vhsmd.log 2>/dev/null
/scripts/init-bottom/vhsm
EOT
chmod 0755 "$X/boot-test.sh"
# vtpm_chroot: boot-test.sh in the chroot, the TPM and the paravisor up for it.
vtpm_chroot() {
	vt_start "$X/tpm.sock"
	paravisor_start "$X/tpm.sock"
	unshare -m -p -f sh -c 'mount --make-rprivate / && mount -t proc proc "$1/proc" &&
		mount --bind /dev "$1/dev" && mount -t tmpfs tmpfs "$1/run" &&
		chroot "$1" /boot-test.sh' sh "$X" >"$WORK/boot.log" 2>&1 ||
		{ cat "$WORK/boot.log"; fail "the initramfs run (vtpm platform) failed"; }
	paravisor_stop
	vt_stop
}
vtpm_chroot
for w in unlock no-prompt; do
	grep -qx "$w ok" "$X/results" ||
		{ cat "$X/results" "$X/localtop.log" "$X/keyscript.log" "$X/vhsmd.log" >&2; fail "vtpm platform: $w"; }
done
grep -q 'no /dev/sev-guest: vhsmd runs on the vtpm platform' "$X/localtop.log" ||
	fail "local-top does not name the platform: $(cat "$X/localtop.log")"
grep -q 'vtpm platform: no SNP guest device' "$X/vhsmd.log" || fail "vhsmd not on the vtpm platform"
if grep -q 'no collateral cache\|no platform root' "$X/localtop.log"; then
	fail "local-top says something is missing: $(cat "$X/localtop.log")"
fi
ok "initramfs on the vtpm platform: the platform found, root and cache from the image, the vtpm volume opened with no prompt"

# The image without the cache: the gate cannot verify the HCL report; the console says why.
rm -r "$X/var/lib/vhsm/collateral"
vtpm_chroot
grep -qx 'unlock ok' "$X/results" || fail "the recovery passphrase did not open the volume"
grep -qx 'no-prompt fail' "$X/results" || fail "no prompt without the collateral cache"
grep -q 'no collateral cache in the initramfs: .*vhsmctl collateral fetch .*update-initramfs -u' \
	"$X/localtop.log" || fail "missing cache not named at boot: $(cat "$X/localtop.log")"
grep -q 'no VCEK for the report.s chip' "$X/keyscript.log" ||
	fail "the keyscript does not show the gate's cause: $(cat "$X/keyscript.log")"
grep -q 'update-initramfs -u' "$X/keyscript.log" || fail "no rebuild hint: $(cat "$X/keyscript.log")"
ok "initramfs on the vtpm platform without the collateral cache: the cause and the fix on the console, the prompt"
