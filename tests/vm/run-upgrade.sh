#!/bin/bash
# make check-vm-upgrade: the Debian packages' upgrade, removal and purge in the check-vm guest.
#   tests/vm/run-upgrade.sh [--keep] [--rebuild]
# Version N is the packages of make deb ($VHSM_DEB_DIR); version N+1 is the same tree rebuilt
# by tests/vm/build-debs.sh with a changelog entry N+upgradetest1 (or the packages already in
# $VHSM_DEB_N1_DIR). N is installed into the guest root as in check-vm; in the running guest
# (tests/vm/guest-upgrade.sh, systemd up), boot 1 creates a KEK, wraps a secret and enrolls
# the data volume (crypttab key "none": the token), then upgrades to N+1 with dpkg -i; boot 2
# finds the volume opened by the token and the KEK intact, then removes (apt-get remove),
# reinstalls and purges the packages: the state and its sealed KEKs stay.
# Same environment as tests/vm/run.sh, whose functions it uses. The last line is
# "N passed, N failed"; exit status 0 only when every check passed. See docs/vm-testing.md.
set -euo pipefail
GUEST_DEBS="vhsm libcryptsetup-token-vhsm vhsm-snp-sim"
VHSM_VM_LIB=1
# Four dpkg runs and their maintainer scripts in a TCG guest on top of the boot: each dpkg -i
# took about 220 s on the 2-core machine at load 18.
VHSM_VM_TIMEOUT=${VHSM_VM_TIMEOUT:-1500}
# shellcheck source=tests/vm/run.sh
. "$(dirname "$0")/run.sh"

CHECKS=(upgrade-n-installed upgrade-enroll-under-n upgrade-dpkg-to-n1-running
	upgrade-reboot-volume-unlocks upgrade-kek-and-data-intact upgrade-remove-keeps-state
	upgrade-reinstall-keeps-keks upgrade-purge-keeps-sealed-keks)
# No LUKS2 token/key-socket disks of check-vm here.
LUKS_DISKS=

# debs_n1: the N+1 packages into $W/debs-n1; sets VERSION_N and VERSION_N1.
debs_n1() {
	local t=$SECONDS f
	f=$(find "$DEB_DIR" -maxdepth 1 -name 'vhsm_*_*.deb' | sort -V | tail -n 1)
	[ -n "$f" ] || die "no vhsm package in $DEB_DIR: run make deb"
	VERSION_N=$(dpkg-deb -f "$f" Version)
	mkdir -p "$W/debs-n1"
	if [ -n "${VHSM_DEB_N1_DIR:-}" ]; then
		cp "$VHSM_DEB_N1_DIR"/*.deb "$W/debs-n1/"
	else
		"$here/build-debs.sh" "$W/debs-n1" "$VERSION_N+upgradetest1" >"$W/build-n1.log" 2>&1 ||
			{ tail -n 20 "$W/build-n1.log" >&2; die "building version N+1 failed"; }
	fi
	f=$(find "$W/debs-n1" -maxdepth 1 -name 'vhsm_*_*.deb' | sort -V | tail -n 1)
	[ -n "$f" ] || die "no vhsm package of version N+1"
	VERSION_N1=$(dpkg-deb -f "$f" Version)
	dpkg --compare-versions "$VERSION_N1" gt "$VERSION_N" ||
		die "version N+1 ($VERSION_N1) is not newer than N ($VERSION_N)"
	log "packages: N $VERSION_N, N+1 $VERSION_N1: $(elapsed $t)"
}

# configure_upgrade_guest: the check-vm guest without its checks: only the upgrade checks, no
# crypttab volume yet (boot 1 enrolls one), the N+1 packages in the guest root.
configure_upgrade_guest() {
	local r=$W/rootfs p f
	systemctl --root="$r" disable vhsm-vm-check.service >/dev/null 2>&1
	install -m 0755 "$here/guest-upgrade.sh" "$r/usr/local/lib/vhsm-vm/guest-upgrade.sh"
	sed -e 's|guest-check.sh|guest-upgrade.sh|' \
		-e 's|^Description=.*|Description=vhsm VM package upgrade check|' \
		-e 's|^After=vhsmd.socket .*|After=vhsmd.socket systemd-cryptsetup@up.service|' \
		-e 's|^TimeoutStartSec=.*|TimeoutStartSec=1400|' \
		"$here/vhsm-vm-check.service" >"$r/etc/systemd/system/vhsm-vm-upgrade.service"
	systemctl --root="$r" enable vhsm-vm-upgrade.service >/dev/null 2>&1 ||
		die "cannot enable vhsm-vm-upgrade.service"
	printf '# make check-vm-upgrade: the volume "up" is added by the first boot\n' >"$r/etc/crypttab"
	printf '/dev/vda / ext4 rw 0 0\n' >"$r/etc/fstab"
	# The guest boots the host's kernel and initrd: its own initrd is never used, and
	# rebuilding it on every dpkg run (the packages' update-initramfs trigger) would take
	# minutes under TCG.
	sed -i 's/^update_initramfs=.*/update_initramfs=no/' \
		"$r/etc/initramfs-tools/update-initramfs.conf" 2>/dev/null || true
	install -d "$r/var/lib/vhsm-vm-upgrade/n1"
	for p in $GUEST_DEBS; do
		f=$(find "$W/debs-n1" -maxdepth 1 -name "${p}_*_*.deb" | sort -V | tail -n 1)
		[ -n "$f" ] || die "no $p package of version N+1"
		cp "$f" "$r/var/lib/vhsm-vm-upgrade/n1/"
	done
	printf 'VERSION_N=%s\nVERSION_N1=%s\n' "$VERSION_N" "$VERSION_N1" >"$r/etc/vhsm-vm/upgrade.env"
}

ensure_cache
debs_n1
make_disks
install_guest
configure_upgrade_guest
boot 1
if second_boot_wanted; then
	boot 2
else
	log "the first boot left no phase marker: no second boot"
fi
ok=0
report || ok=$?
finish "$ok" "serial*.log, result.txt, build-n1.log"
