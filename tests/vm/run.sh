#!/bin/bash
# make check-vm: boots a Debian 12 guest (systemd as PID 1) under QEMU/TCG with vhsm installed on
# the SNP simulator and two crypttab volumes, runs tests/vm/guest-check.sh in it and reports.
# Fleet mode's key manager and signer run on the host, reached over QEMU's user network
# (tests/vm/fleet-setup.sh).
#   tests/vm/run.sh [--keep] [--rebuild]
#     --keep     keep the work directory (rootfs, images, logs) even when the checks pass
#     --rebuild  rebuild the cached guest root file system and kernel
# Environment: VHSM_BUILDDIR (set by make), VHSM_VM_CACHE (default /var/cache/vhsm-vm),
# VHSM_VM_WORK (work directory; default a new /tmp/vhsm-vm.XXXXXX), VHSM_VM_TIMEOUT (seconds
# for the boot, default 1200), VHSM_VM_MIRROR (Debian mirror; default: the host's apt sources),
# VHSM_VM_INSTALL (deb: the packages of make deb in VHSM_DEB_DIR, default $VHSM_BUILDDIR/deb,
# installed with dpkg in the guest, the default; make: make install DESTDIR=).
# Needs root (debootstrap, chroot, file ownership in the image) and scripts/install-deps.sh --vm.
# Exit status 0 only when every guest check passed; the last line is "N passed, N failed".
# See docs/vm-testing.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/vm
B=${VHSM_BUILDDIR:-$top/build}
CACHE=${VHSM_VM_CACHE:-/var/cache/vhsm-vm}
BOOT_TIMEOUT=${VHSM_VM_TIMEOUT:-1200}
INSTALL_MODE=${VHSM_VM_INSTALL:-deb}
DEB_DIR=${VHSM_DEB_DIR:-$B/deb}
# The packages a guest gets in deb mode (run-initramfs.sh installs another set).
GUEST_DEBS=${GUEST_DEBS:-"vhsm libcryptsetup-token-vhsm vhsm-snp-sim vhsm-dracut vhsm-pkcs11"}
SUITE=bookworm
KERNEL_PKG=linux-image-cloud-amd64
GUEST_PKGS=${GUEST_PKGS:-"systemd-sysv udev kmod cryptsetup keyutils e2fsprogs dracut-core libcurl4 libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-mu0"}
# Bump when the way the cached root file system is built changes.
CACHE_RECIPE=1
# The checks guest-check.sh must report, in order; a missing one counts as failed.
CHECKS=(vhsmd-socket-attestation kek-wrap-unwrap dmcrypt-crypttab-data
	dmcrypt-wrong-key-stays-closed keyring-dek-dmcrypt-write keyring-nonroot-upcall
	keyring-requester-race
	no-unexpected-failed-units
	keyring-dek-after-reboot keyring-dependents-need-force keyring-shred-revokes-and-suspends)
# LUKS2 token and key-socket volumes (tests/vm/luks-setup.sh, tests/vm/guest-luks.sh).
. "$here/luks-setup.sh"
CHECKS+=("${LUKS_CHECKS[@]}")
# PKCS#11 volumes: systemd-cryptenroll and crypttab pkcs11-uri= (tests/vm/pkcs11-setup.sh,
# tests/vm/guest-pkcs11.sh).
. "$here/pkcs11-setup.sh"
CHECKS+=("${P11_CHECKS[@]}")
# Fleet mode end to end: a key manager and the customer's signer on the host, reached over
# QEMU's user network (tests/vm/fleet-setup.sh, tests/vm/guest-fleet.sh); this tier only.
. "$here/fleet-setup.sh"
[ "${VHSM_VM_LIB:-0}" = 1 ] || CHECKS+=("${FLEET_CHECKS[@]}")

keep=0 rebuild=0
for a in "$@"; do
	case $a in
	--keep) keep=1 ;;
	--rebuild) rebuild=1 ;;
	-h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done

log() { printf 'vm: %s\n' "$*"; }
# die MESSAGE: a harness error (not a guest result); still ends with the counting line.
die() {
	printf 'vm: ERROR: %s\n' "$*" >&2
	if [ -n "${W:-}" ]; then
		trim_work
		printf 'vm: work directory kept: %s\n' "$W" >&2
	fi
	echo "0 passed, ${#CHECKS[@]} failed"
	exit 1
}
elapsed() { echo "$((SECONDS - $1)) s"; }
# trim_work: after a failure, drops the large copies from the work directory unless --keep.
trim_work() {
	[ "$keep" = 0 ] || return 0
	safe_rm "$W/rootfs" || true
	rm -f "$W/root.img"
}

[ "$(id -u)" -eq 0 ] || { W=; die "must run as root (debootstrap, chroot, image ownership)"; }
for c in qemu-system-x86_64 debootstrap mkfs.ext4 cryptsetup chroot systemctl systemd-sysusers \
	systemd-tmpfiles flock timeout readelf; do
	command -v "$c" >/dev/null || { W=; die "$c not found: run scripts/install-deps.sh --vm"; }
done
[ -x "$B/vhsm-snp-sim" ] || { W=; die "$B/vhsm-snp-sim missing: run make first"; }
if readelf -d "$B/vhsm-snp-sim" | grep -q 'libasan'; then
	W=
	die "$B is a SANITIZE=1 build; the guest has no sanitizer runtime: use a normal one"
fi

W=${VHSM_VM_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/vhsm-vm.XXXXXX")}
mkdir -p "$W"
[ -z "$(ls -A "$W")" ] || { w=$W; W=; die "work directory $w is not empty"; }
W=$(cd "$W" && pwd)
t_start=$SECONDS

# ---- helpers for chroots and safe removal ----

# mounted_under DIR: true when something is mounted at or below DIR.
mounted_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { f = 1 } END { exit !f }' \
		/proc/self/mountinfo
}

# safe_rm DIR: removes DIR unless something is still mounted in it (a bind-mounted /dev in a
# chroot must never be emptied).
safe_rm() {
	[ -e "$1" ] || return 0
	if mounted_under "$1"; then
		echo "vm: not removing $1: something is still mounted in it" >&2
		return 1
	fi
	rm -rf --one-file-system "$1"
}

# chroot_umount DIR: unmounts everything mounted below DIR, deepest first (ours and whatever an
# interrupted debootstrap left).
chroot_umount() {
	local m
	awk -v d="$1" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m"
		done
}

BUILD_TMP=
on_exit() {
	fleet_stop
	[ -n "$BUILD_TMP" ] || return 0
	chroot_umount "$BUILD_TMP"
	safe_rm "$BUILD_TMP"
}
trap on_exit EXIT

chroot_mount() {
	local r=$1
	mount -t proc proc "$r/proc"
	mount -t sysfs sysfs "$r/sys"
	mount --bind /dev "$r/dev"
	mount --bind /dev/pts "$r/dev/pts"
}

# host_suites: "URI SUITE" for each Debian bookworm suite (main) of the host's apt sources,
# in one-line and deb822 form, so that the guest comes from the same mirror.
host_suites() {
	if [ -n "${VHSM_VM_MIRROR:-}" ]; then
		echo "$VHSM_VM_MIRROR $SUITE"
		return
	fi
	{
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" {
				i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				uri = $i; suite = $(i + 1)
				for (j = i + 2; j <= NF; j++) if ($j == "main") print uri, suite
			}'
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk 'BEGIN { RS = ""; FS = "\n" }
			{
				t = u = s = c = ""; en = 1
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^#/) continue
					if ($i ~ /^Types:/) t = $i
					else if ($i ~ /^URIs:/) u = $i
					else if ($i ~ /^Suites:/) s = $i
					else if ($i ~ /^Components:/) c = $i
					else if ($i ~ /^Enabled: *no/) en = 0
				}
				if (!en || t !~ /[ \t]deb([ \t]|$)/) next
				if (c !~ /[ \t]main([ \t]|$)/) next
				sub(/^URIs:[ \t]*/, "", u); sub(/^Suites:[ \t]*/, "", s)
				nu = split(u, U, /[ \t]+/); ns = split(s, S, /[ \t]+/)
				for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) print U[a], S[b]
			}' "$f"
		done
	} | awk -v s="$SUITE" '$2 == s || $2 == s "-updates" || $2 == s "-security"' | sort -u
}

# ---- 1. the cached guest root file system and kernel ----

cache_key() {
	printf 'recipe %s\nsuite %s\nvariant minbase\npackages %s\nkernel %s\n' \
		"$CACHE_RECIPE" "$SUITE" "$GUEST_PKGS" "$KERNEL_PKG" | sha256sum | cut -c1-16
}

build_cache() {
	local dst=$1 tmp=$1.tmp.$$ r suites mirror pkgs
	BUILD_TMP=$tmp
	suites=$(host_suites)
	mirror=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$suites")
	[ -n "$mirror" ] ||
		die "no Debian $SUITE mirror in the host's apt sources (set VHSM_VM_MIRROR)"
	safe_rm "$tmp" || die "cannot clear $tmp"
	mkdir -p "$tmp"
	r=$tmp/rootfs
	pkgs=$(tr ' ' ',' <<<"$GUEST_PKGS")
	log "cache miss: debootstrap $SUITE minbase +$pkgs from $mirror"
	local t=$SECONDS
	timeout --kill-after=10 900 debootstrap --variant=minbase --include="$pkgs" \
		"$SUITE" "$r" "$mirror" >"$W/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$W/debootstrap.log" >&2; die "debootstrap failed ($W/*.log)"; }
	log "debootstrap: $(elapsed $t)"

	t=$SECONDS
	# Kernel (and the point-release/security updates the host's sources offer) inside the
	# chroot; services must not start there.
	awk '{ print "deb " $1 " " $2 " main" }' <<<"$suites" >"$r/etc/apt/sources.list"
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	[ -f /etc/resolv.conf ] && cp -L /etc/resolv.conf "$r/etc/resolv.conf"
	chroot_mount "$r"
	local apt="env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -q -y"
	apt="$apt -o DPkg::Lock::Timeout=300 -o APT::Install-Recommends=false"
	if ! timeout --kill-after=10 900 chroot "$r" sh -c \
		"$apt update && $apt dist-upgrade && $apt install $KERNEL_PKG && $apt clean" \
		>"$W/kernel-install.log" 2>&1; then
		chroot_umount "$r"
		tail -n 20 "$W/kernel-install.log" >&2
		die "kernel install in the chroot failed ($W/kernel-install.log)"
	fi
	chroot_umount "$r"
	rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/resolv.conf"
	local kv
	kv=$(find "$r/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sed 's/^vmlinuz-//')
	[ "$(wc -w <<<"$kv")" -eq 1 ] || die "expected one kernel in the chroot, found: $kv"
	[ -f "$r/boot/initrd.img-$kv" ] || die "no initrd for $kv"
	cp "$r/boot/vmlinuz-$kv" "$tmp/vmlinuz"
	cp "$r/boot/initrd.img-$kv" "$tmp/initrd.img"
	{
		echo "suite $SUITE, packages $GUEST_PKGS $KERNEL_PKG"
		echo "kernel $kv"
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $mirror"
	} >"$tmp/manifest"
	log "kernel $kv and updates in the chroot: $(elapsed $t)"
	mounted_under "$tmp" && die "mounts left in $tmp"
	mv "$tmp" "$dst"
	BUILD_TMP=
}

# ensure_cache: sets CDIR to a complete cache entry, building it when needed, and copies its
# rootfs into the work directory.
ensure_cache() {
	local key
	key=$(cache_key)
	CDIR=$CACHE/$key
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock -w 1200 9 || die "cache $CACHE is locked by another run"
	if [ "$rebuild" = 1 ] && [ -d "$CDIR" ]; then
		safe_rm "$CDIR" || die "cannot remove $CDIR"
	fi
	if [ -f "$CDIR/manifest" ]; then
		log "cache hit: $CDIR ($(sed -n 's/^kernel //p' "$CDIR/manifest"))"
	else
		safe_rm "$CDIR" || die "cannot remove the incomplete $CDIR"
		build_cache "$CDIR"
	fi
	# This run's copy; then other runs may use or rebuild the cache.
	local t=$SECONDS
	cp -a "$CDIR/rootfs" "$W/rootfs"
	cp "$CDIR/vmlinuz" "$CDIR/initrd.img" "$CDIR/manifest" "$W/"
	flock -u 9
	exec 9>&-
	log "rootfs copied: $(elapsed $t)"
}

# ---- 2. this run's guest ----

# install_debs ROOT PACKAGE...: the newest .deb of each PACKAGE in $DEB_DIR, installed with dpkg
# in the guest root (its dependencies are in the cached root file system: no network). The
# maintainer scripts run as on a real system (user, tmpfiles, socket enabled); no service
# starts in the chroot, and the initramfs triggers stay pending: the VM tiers build the initrd
# they boot themselves.
install_debs() {
	local r=$1 p f debs=() rc=0
	shift
	for p in "$@"; do
		f=$(find "$DEB_DIR" -maxdepth 1 -name "${p}_*_*.deb" 2>/dev/null | sort -V | tail -n 1)
		[ -n "$f" ] || die "no $p package in $DEB_DIR: run make deb (or VHSM_VM_INSTALL=make)"
		debs+=("$f")
	done
	rm -rf "$r/tmp/vhsm-debs"
	mkdir -p "$r/tmp/vhsm-debs"
	cp "${debs[@]}" "$r/tmp/vhsm-debs/"
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod 0755 "$r/usr/sbin/policy-rc.d"
	chroot_mount "$r"
	chroot "$r" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
		sh -c 'dpkg --no-triggers -i /tmp/vhsm-debs/*.deb' >"$W/install.log" 2>&1 || rc=$?
	chroot_umount "$r"
	rm -rf "$r/tmp/vhsm-debs" "$r/usr/sbin/policy-rc.d"
	[ "$rc" -eq 0 ] || { tail -n 20 "$W/install.log" >&2; die "dpkg -i failed ($W/install.log)"; }
	log "installed from packages: $(printf '%s ' "${debs[@]##*/}")"
}

install_guest() {
	local r=$W/rootfs uid gid simmod t=$SECONDS

	# The project, as a user would install it (the guest is bookworm like the host): the
	# Debian packages, or make install.
	case $INSTALL_MODE in
	deb)
		# shellcheck disable=SC2086 # a list of package names
		install_debs "$r" $GUEST_DEBS
		[ -L "$r/etc/systemd/system/sockets.target.wants/vhsmd.socket" ] ||
			die "the vhsm package did not enable vhsmd.socket"
		[ -L "$r/etc/systemd/system/multi-user.target.wants/vhsmd-fleet-shred.path" ] ||
			die "the vhsm package did not enable vhsmd-fleet-shred.path"
		;;
	make)
		make -C "$top" install DESTDIR="$r" WITH_SIM=1 BUILDDIR="$B" >"$W/install.log" 2>&1 ||
			{ tail -n 20 "$W/install.log" >&2; die "make install failed ($W/install.log)"; }
		# As the package does (debian/rules).
		systemctl --root="$r" enable vhsmd-fleet-shred.path >/dev/null 2>&1 ||
			die "cannot enable vhsmd-fleet-shred.path"
		;;
	*) die "VHSM_VM_INSTALL=$INSTALL_MODE: expected deb or make" ;;
	esac
	simmod=$(cd "$r" && find usr/lib -name vhsm-snp-sim.so -path '*/vhsm/*' | head -n 1)
	[ -n "$simmod" ] || die "vhsm-snp-sim.so not installed (WITH_SIM=1)"
	simmod=/$simmod
	local missing
	missing=$(chroot "$r" ldd /usr/sbin/vhsmd /usr/bin/vhsmctl "$simmod" 2>&1 |
		grep 'not found' || true)
	[ -z "$missing" ] || die "libraries missing in the guest: $missing"

	# User, state and configuration directories, as systemd would make them at boot.
	systemd-sysusers --root="$r" "$r/usr/lib/sysusers.d/vhsm.conf" >/dev/null 2>&1 ||
		die "systemd-sysusers failed in the rootfs"
	systemd-tmpfiles --root="$r" --create "$r/usr/lib/tmpfiles.d/vhsm.conf" >/dev/null 2>&1 ||
		die "systemd-tmpfiles failed in the rootfs"
	uid=$(awk -F: '$1 == "vhsm" { print $3 }' "$r/etc/passwd")
	gid=$(awk -F: '$1 == "vhsm" { print $3 }' "$r/etc/group")
	[ -n "$uid" ] && [ -n "$gid" ] || die "no vhsm user or group in the rootfs"

	# The simulated CVM: its state (chip secret, CA keys) for vhsmd, its ARK as a trust root.
	"$B/vhsm-snp-sim" init "$W/cvm.json" --product genoa >/dev/null ||
		die "vhsm-snp-sim init failed"
	"$B/vhsm-snp-sim" certs "$W/cvm.json" "$W/cvm-certs" >/dev/null ||
		die "vhsm-snp-sim certs failed"
	local simstate=/var/lib/vhsm-sim/cvm.json ark=/etc/vhsm/sim-ark.pem
	install -d -m 0700 -o "$uid" -g "$gid" "$r${simstate%/*}"
	install -m 0600 -o "$uid" -g "$gid" "$W/cvm.json" "$r$simstate"
	install -m 0644 "$W/cvm-certs/ark.pem" "$r$ark"
	install -d "$r/etc/systemd/system/vhsmd.service.d"
	cat >"$r/etc/systemd/system/vhsmd.service.d/vhsm-vm.conf" <<-EOF
		# make check-vm: vhsmd on the SNP simulator instead of /dev/sev-guest.
		[Service]
		ExecStart=
		ExecStart=/usr/sbin/vhsmd --snp-device sim:$simstate --trust-root $ark
		Environment=VHSM_SNP_SIM_MODULE=$simmod
		# ProtectSystem=strict: the simulator persists injected faults in its state file.
		ReadWritePaths=/var/lib/vhsm-sim
	EOF
	systemctl --root="$r" enable vhsmd.socket >/dev/null 2>&1 ||
		die "cannot enable vhsmd.socket"

	# The check and its unit.
	install -D -m 0755 "$here/guest-check.sh" "$r/usr/local/lib/vhsm-vm/guest-check.sh"
	install -m 0644 "$here/guest-lib.sh" "$r/usr/local/lib/vhsm-vm/guest-lib.sh"
	install -m 0644 "$here/guest-keyring.sh" "$r/usr/local/lib/vhsm-vm/guest-keyring.sh"
	install -m 0644 "$here/vhsm-vm-check.service" "$r/etc/systemd/system/"
	systemctl --root="$r" enable vhsm-vm-check.service >/dev/null 2>&1 ||
		die "cannot enable vhsm-vm-check.service"

	# Volumes: data opens with its key file; bad is formatted with another key than the one
	# crypttab names (negative control; nofail so that the boot goes on).
	install -d -m 0700 "$r/etc/vhsm-vm"
	install -m 0400 "$W/data.key" "$W/bad.key" "$W/shred.key" "$r/etc/vhsm-vm/"
	cat >"$r/etc/crypttab" <<-'EOF'
		# make check-vm volumes (tests/vm/run.sh)
		data /dev/disk/by-id/virtio-vhsm-data /etc/vhsm-vm/data.key luks,headless=true
		bad /dev/disk/by-id/virtio-vhsm-bad /etc/vhsm-vm/bad.key luks,headless=true,nofail
	EOF
	# The data file system is made in the guest (vhsm-vm-mkfs-data.service), then mounted.
	install -m 0644 "$here/vhsm-vm-mkfs-data.service" "$r/etc/systemd/system/"
	local fsopts=nofail,x-systemd.device-timeout=300s
	fsopts+=,x-systemd.requires=vhsm-vm-mkfs-data.service
	cat >"$r/etc/fstab" <<-EOF
		/dev/vda / ext4 rw 0 0
		/dev/mapper/data /srv/data ext4 $fsopts 0 0
	EOF
	install -d "$r/srv/data"

	# A quiet, deterministic boot: no timers, no login on tty1 (serial-getty stays for
	# interactive debugging of a kept image, with an empty root password).
	echo vhsm-vm >"$r/etc/hostname"
	sed -i 's/^root:[^:]*:/root::/' "$r/etc/shadow"
	systemctl --root="$r" set-default multi-user.target >/dev/null 2>&1
	systemctl --root="$r" mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
		e2scrub_reap.service fstrim.timer getty@tty1.service systemd-timesyncd.service \
		>/dev/null 2>&1
	log "guest configured: $(elapsed $t)"
}

make_disks() {
	local t=$SECONDS lf=(--batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000)
	head -c 64 /dev/urandom >"$W/data.key"
	head -c 64 /dev/urandom >"$W/bad.key"
	head -c 64 /dev/urandom >"$W/bad-real.key"
	chmod 0400 "$W"/*.key
	truncate -s 64M "$W/data.img"
	truncate -s 32M "$W/bad.img"
	truncate -s 1M "$W/result.img"
	cryptsetup luksFormat "${lf[@]}" --key-file "$W/data.key" "$W/data.img" ||
		die "luksFormat data.img failed"
	cryptsetup luksFormat "${lf[@]}" --key-file "$W/bad-real.key" "$W/bad.img" ||
		die "luksFormat bad.img failed"
	# Preconditions, checked without device-mapper: the keys are what the guest expects.
	cryptsetup open --test-passphrase --key-file "$W/data.key" "$W/data.img" ||
		die "data.key does not open data.img"
	if cryptsetup open --test-passphrase --key-file "$W/bad.key" "$W/bad.img" 2>/dev/null; then
		die "bad.key opens bad.img: the negative control would prove nothing"
	fi
	# Keyring checks (guest-keyring.sh): a plain disk for a mapping keyed by a vhsm logon key
	# (its first sector carries the phase marker between the two boots), and a LUKS2 volume
	# enrolled with the KEK that `kek disable --shred` must suspend.
	truncate -s 16M "$W/kr.img"
	truncate -s 32M "$W/shred.img"
	head -c 64 /dev/urandom >"$W/shred.key"
	chmod 0400 "$W/shred.key"
	cryptsetup luksFormat "${lf[@]}" --key-file "$W/shred.key" "$W/shred.img" ||
		die "luksFormat shred.img failed"
	printf '{"type":"vhsm","keyslots":["0"],"vhsm_version":1,"kek":"vmkr-kek","kek_version":1}' \
		>"$W/shred-token.json"
	cryptsetup token import --json-file "$W/shred-token.json" "$W/shred.img" ||
		die "token import into shred.img failed"
	log "LUKS2 volumes made: $(elapsed $t)"
}

# ---- 3. boot ----

# boot N: boots the guest (N = 1, 2: the second boot finds the state the first one left).
boot() {
	local t=$SECONDS cmdline qpid rc=0 n=${1:-1} serial=$W/serial.log
	[ "$n" = 1 ] || serial=$W/serial-$n.log
	# tests/vm/run-initrd.sh brings its own (encrypted) root image and root= arguments.
	if [ "$n" = 1 ] && [ ! -f "$W/root.img" ]; then
		mkfs.ext4 -q -F -L vhsm-root -d "$W/rootfs" "$W/root.img" 1G >/dev/null ||
			die "mkfs.ext4 -d failed"
		log "root image: $(elapsed $t)"
	fi
	cmdline="${ROOT_ARGS:-root=/dev/vda rw} console=ttyS0 panic=-1 systemd.show_status=1 systemd.log_color=0"
	# -cpu max shows SVM, and udev's load of kvm_amd stalls a TCG guest for a minute or more.
	# no_timer_check: the kernel's early IO-APIC timer check panics a TCG guest at random on a
	# loaded host ("IO-APIC + timer doesn't work!"); virtual machines usually skip it.
	cmdline+=" modprobe.blacklist=kvm_amd,kvm_intel,kvm no_timer_check"
	# BOOT_CONSOLE: a program that talks to the serial console (run-initramfs.sh types a
	# passphrase), called as PROGRAM SOCKET; the console is then a unix socket, logged as usual.
	local serial_args=(-serial "file:$serial")
	if [ -n "${BOOT_CONSOLE:-}" ]; then
		serial_args=(-chardev "socket,id=ser0,path=$W/console-$n.sock,server=on,wait=off,logfile=$serial"
			-serial chardev:ser0)
	fi
	QEMU=(timeout --kill-after=10 "$BOOT_TIMEOUT" qemu-system-x86_64
		-accel tcg -cpu max -smp 2 -m 1024
		-nodefaults -no-reboot -display none -nic "${BOOT_NIC:-none}" -device virtio-rng-pci
		"${serial_args[@]}"
		-kernel "$W/vmlinuz" -initrd "$W/initrd.img" -append "$cmdline")
	# BOOT_QEMU_ARGS: devices a tier adds (tests/vm/vtpm-lib.sh: the guest's TPM).
	QEMU+=(${BOOT_QEMU_ARGS[@]+"${BOOT_QEMU_ARGS[@]}"})
	local d
	for d in root data bad kr shred result $LUKS_DISKS $P11_DISKS ${FLEET_BOOT_DISKS:-}; do
		QEMU+=(-drive "file=$W/$d.img,format=raw,if=none,id=$d,cache=unsafe"
			-device "virtio-blk-pci,drive=$d,serial=vhsm-$d")
	done
	printf '%q ' "${QEMU[@]}" >"$W/qemu.cmd"
	echo >>"$W/qemu.cmd"
	t=$SECONDS
	: >"$serial"
	"${QEMU[@]}" >>"$W/qemu.log" 2>&1 &
	qpid=$!
	local cpid=
	if [ -n "${BOOT_CONSOLE:-}" ]; then
		"$BOOT_CONSOLE" "$W/console-$n.sock" >"$W/console-$n.log" 2>&1 &
		cpid=$!
	fi
	# A guest stuck in emergency mode would wait for the full timeout: end it early. So does
	# a boot that has shown what it had to (BOOT_STOP_AT, a regular expression).
	while kill -0 "$qpid" 2>/dev/null; do
		if grep -q 'You are in emergency mode' "$serial"; then
			log "guest entered emergency mode; stopping it"
			kill -TERM "$qpid" 2>/dev/null || true
			break
		fi
		if [ -n "${BOOT_STOP_AT:-}" ] && grep -qE "$BOOT_STOP_AT" "$serial"; then
			log "boot $n reached /$BOOT_STOP_AT/; stopping it"
			kill -TERM "$qpid" 2>/dev/null || true
			break
		fi
		sleep 2
	done
	wait "$qpid" || rc=$?
	[ -z "$cpid" ] || { kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true; }
	BOOT_SECS=$((${BOOT_SECS:-0} + SECONDS - t))
	case $rc in
	0) log "boot $n: guest ran $((SECONDS - t)) s and powered off" ;;
	124 | 137) log "boot $n: guest killed after $((SECONDS - t)) s (timeout ${BOOT_TIMEOUT} s)" ;;
	*) log "boot $n: qemu exited $rc after $((SECONDS - t)) s: $(tail -n 3 "$W/qemu.log" | tr '\n' ' ')" ;;
	esac
}

# The first boot leaves this marker on the kr disk when the second boot has work to do.
second_boot_wanted() {
	dd if="$W/kr.img" bs=512 count=1 status=none | tr -d '\000' |
		grep -q '^vhsm-vm-keyring-phase 2 '
}

# ---- 4. result ----

# report: prints each check and the counting line; returns 0 only when all checks passed.
report() {
	local text first name line passed=0 failed=0 found text2 first2
	text=$(head -c 65536 "$W/result.img" | tr -d '\000')
	# The second boot's result, in the second 64 KiB block.
	text2=$(tail -c +65537 "$W/result.img" | head -c 65536 | tr -d '\000')
	first2=$(head -n 1 <<<"$text2")
	printf '%s\n%s\n' "$text" "$text2" >"$W/result.txt"
	first=$(head -n 1 <<<"$text")
	if [ -z "$text" ]; then
		log "no result on the result disk; last serial lines:"
		tail -n 25 "$W/serial.log" | sed 's/^/    /'
		echo
	else
		log "guest result: $first"
	fi
	for name in "${CHECKS[@]}"; do
		found=0
		while IFS= read -r line; do
			if [[ $line =~ ^ok\ [0-9]+\ -\ $name$ ]]; then
				found=1; passed=$((passed + 1)); echo "PASS vm/$name"
				break
			elif [[ $line =~ ^not\ ok\ [0-9]+\ -\ $name:\ (.*)$ ]]; then
				found=1; failed=$((failed + 1))
				echo "FAIL vm/$name: ${BASH_REMATCH[1]}"
				break
			fi
		done < <(tail -n +2 <<<"$text"; tail -n +2 <<<"$text2")
		if [ "$found" = 0 ]; then
			failed=$((failed + 1)); echo "FAIL vm/$name: not reported by the guest"
		fi
	done
	# The guest's own verdict must agree.
	if [ "$failed" -eq 0 ] && [ "$first" != PASS ]; then
		failed=1; echo "FAIL vm: the guest reported '$first'"
	fi
	if [ "$failed" -eq 0 ] && [ "$first2" != PASS ]; then
		failed=1; echo "FAIL vm: the second boot reported '$first2'"
	fi
	RESULT_LINE="$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# finish OK LOGS: the end of a run with report's verdict OK (0 = passed). Removes the work
# directory after a pass (unless --keep); after a failure keeps the logs, keys and small
# images, drops the large copies and names LOGS. Prints RESULT_LINE last; returns OK.
finish() {
	local ok=$1 logs=$2
	log "total $(elapsed $t_start) (boot $BOOT_SECS s)"
	if [ "$ok" -eq 0 ] && [ "$keep" = 0 ]; then
		safe_rm "$W"
	elif [ "$ok" -eq 0 ]; then
		log "work directory kept (--keep): $W"
	else
		trim_work
		log "FAILED; work directory kept: $W ($logs)"
	fi
	echo "$RESULT_LINE"
	[ "$ok" -eq 0 ]
}

# tests/vm/run-initrd.sh sources this file for its functions.
[ "${VHSM_VM_LIB:-0}" = 1 ] && return 0
ensure_cache
make_disks
install_guest
p11_setup
luks_setup
fleet_setup
boot 1
if second_boot_wanted; then
	boot 2
else
	log "the first boot left no phase marker: no second boot"
fi
ok=0
report || ok=$?
finish "$ok" "serial.log, result.txt, qemu.cmd"
