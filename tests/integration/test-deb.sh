#!/bin/bash
# The Debian packages (debian/, make deb): built from a copy of this tree, checked with
# lintian (no errors), split as documented (each file in the right package, nothing test-only
# in the daemon's), dependencies from the libraries actually linked, maintainer scripts (user
# before tmpfiles, socket enabled, key socket not), and the purge script run against a
# scratch root: configuration deleted, sealed KEKs kept unless the flag file says otherwise.
. "$(dirname "$0")/lib.sh"

for c in dpkg-buildpackage dh lintian fakeroot; do
	command -v "$c" >/dev/null || skip "$c not installed (scripts/install-deps.sh)"
done
dpkg-checkbuilddeps -d "$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$top/debian/control" |
	sed '$d;s/^Build-Depends://' | tr -d '\n')" /dev/null 2>"$WORK/bd" ||
	skip "build dependencies missing: $(cat "$WORK/bd")"

# A copy of the working tree (dpkg-buildpackage writes the packages beside it).
SRC=$WORK/src/vhsm
mkdir -p "$SRC"
tar -C "$top" --exclude=./.git --exclude='./build*' --exclude=./debian/build \
	--exclude=./debian/tmp --exclude=./debian/.debhelper -cf - . | tar -C "$SRC" -xf -
OUT=$WORK/debs
make -C "$SRC" deb DEB_OUT="$OUT" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log"; fail "make deb"; }
V=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
A=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb() { echo "$OUT/$1_${V}_$2.deb"; }
for p in vhsm:$A libcryptsetup-token-vhsm:$A vhsm-byok:$A vhsm-snp-sim:$A vhsm-pkcs11:$A \
	vhsm-dracut:all vhsm-initramfs-tools:all; do
	[ -f "$(deb "${p%:*}" "${p#*:}")" ] || fail "package ${p%:*} not built"
done
ok "make deb: seven binary packages (and debug symbols)"

# ---- lintian: no errors ----
lintian --pedantic --tag-display-limit 0 "$OUT/vhsm_${V}_$A.changes" >"$WORK/lintian" 2>&1 || true
grep -v 'running with root privileges' "$WORK/lintian" | sed 's/^/  lintian: /' || true
if grep -q '^E: ' "$WORK/lintian"; then fail "lintian errors"; fi
ok "lintian: no errors"

# ---- contents ----
files() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|'; }
# has PKG PATH...: each PATH is in PKG. lacks PKG REGEX: no path of PKG matches REGEX.
has() {
	local f p=$1
	shift
	files "$(deb "$p" "$ARCH_OF")" >"$WORK/list"
	for f in "$@"; do grep -qx -- "$f" "$WORK/list" || fail "$p lacks $f"; done
}
lacks() {
	files "$(deb "$1" "$ARCH_OF")" >"$WORK/list"
	if grep -E -- "$2" "$WORK/list"; then fail "$1 has files matching $2"; fi
}
ARCH_OF=$A
has vhsm /usr/sbin/vhsmd /usr/bin/vhsmctl /usr/sbin/vhsm-request-key /usr/sbin/vhsm-kmod-check \
	/etc/request-key.d/vhsm.conf /lib/systemd/system/vhsmd.service /lib/systemd/system/vhsmd.socket \
	/lib/systemd/system/vhsmd-luks-key.socket /usr/lib/sysusers.d/vhsm.conf \
	/usr/lib/tmpfiles.d/vhsm.conf /lib/udev/rules.d/60-vhsm-sev-guest.rules \
	/usr/share/bash-completion/completions/vhsmctl /usr/share/man/man1/vhsmctl.1.gz \
	/usr/share/man/man8/vhsmd.8.gz /usr/share/doc/vhsm/README.Debian
lacks vhsm 'snp-sim|vhsm-byok|vhsm-fleet|cryptsetup/|dracut|initramfs|^/var/|^/etc/vhsm'
has libcryptsetup-token-vhsm "/usr/lib/$MA/cryptsetup/libcryptsetup-token-vhsm.so"
lacks libcryptsetup-token-vhsm 'bin/'
has vhsm-byok /usr/bin/vhsm-byok /usr/bin/vhsm-fleet /usr/share/man/man1/vhsm-byok.1.gz
lacks vhsm-byok 'vhsmd|vhsmctl|systemd|snp-sim'
has vhsm-snp-sim /usr/bin/vhsm-snp-sim "/usr/lib/$MA/vhsm/vhsm-snp-sim.so" \
	/usr/share/man/man1/vhsm-snp-sim.1.gz
has vhsm-pkcs11 "/usr/lib/$MA/pkcs11/libvhsm-pkcs11.so" /usr/share/p11-kit/modules/vhsm.module \
	/usr/share/man/man8/vhsm-pkcs11.8.gz
lacks vhsm-pkcs11 'bin/|vhsmd'
dpkg-deb --fsys-tarfile "$(deb vhsm-pkcs11 "$A")" | tar -xOf - ./usr/share/p11-kit/modules/vhsm.module |
	grep -qx "module: /usr/lib/$MA/pkcs11/libvhsm-pkcs11.so" || fail "vhsm.module does not name the packaged module"
ARCH_OF=all
has vhsm-dracut /usr/lib/dracut/modules.d/91vhsm/module-setup.sh
has vhsm-initramfs-tools /usr/share/initramfs-tools/hooks/vhsm \
	/usr/share/initramfs-tools/scripts/local-top/vhsm \
	/usr/share/initramfs-tools/scripts/init-bottom/vhsm /lib/cryptsetup/scripts/decrypt_vhsm
# Installed paths substituted (PREFIX=/usr): the hook copies the packaged programs.
dpkg-deb --fsys-tarfile "$(deb vhsm-initramfs-tools all)" |
	tar -xOf - ./usr/share/initramfs-tools/hooks/vhsm >"$WORK/hook"
grep -qx 'VHSMD_BIN=/usr/sbin/vhsmd' "$WORK/hook" || fail "hook: VHSMD_BIN not /usr/sbin/vhsmd"
ok "contents: daemon, plugin, PKCS#11 module, customer tools, simulator and initrd integrations each in its own package"

# ---- dependencies from the linked libraries ----
dep() { dpkg-deb -f "$(deb "$1" "$2")" Depends; }
for l in libcryptsetup12 libssl3 libjson-c5 libsystemd0 libkeyutils1 libdevmapper1.02.1 systemd; do
	dep vhsm "$A" | grep -qw -- "$l" || fail "vhsm does not depend on $l: $(dep vhsm "$A")"
done
# Loaded with dlopen, so listed by hand: libcryptsetup and libdevmapper above (vhsmctl's volume
# verbs), libcurl for fetching collateral.
rec=$(dpkg-deb -f "$(deb vhsm "$A")" Recommends)
grep -qw libcurl4 <<<"$rec" || fail "vhsm does not recommend libcurl4: $rec"
dep vhsm-byok "$A" | grep -qw libcurl4 || fail "vhsm-byok does not depend on libcurl4"
dep libcryptsetup-token-vhsm "$A" | grep -qw libcryptsetup12 || fail "plugin: $(dep libcryptsetup-token-vhsm "$A")"
# The customer tool runs outside any CVM: no daemon, no systemd, no cryptsetup.
if dep vhsm-byok "$A" | grep -Eqw 'vhsm|systemd|libcryptsetup12'; then
	fail "vhsm-byok pulls in the CVM side: $(dep vhsm-byok "$A")"
fi
dep vhsm-initramfs-tools all | grep -qw cryptsetup-initramfs || fail "initramfs-tools package deps"
dep vhsm-dracut all | grep -qw dracut-core || fail "dracut package deps"
# Read whole before grep: grep -q leaves at its first match, and under pipefail the writer's
# SIGPIPE (a long description still being written) would fail the check on a loaded machine.
desc=$(dpkg-deb -f "$(deb vhsm-snp-sim "$A")" Description)
grep -q 'NOT for production' <<<"$desc" || fail "the simulator package is not marked as test-only"
ok "dependencies: \${shlibs:Depends} per package; vhsm-byok needs no CVM side; simulator marked test-only"

# ---- maintainer scripts ----
dpkg-deb -e "$(deb vhsm "$A")" "$WORK/ctl"
post=$WORK/ctl/postinst
u=$(grep -n 'systemd-sysusers' "$post" | head -n 1 | cut -d: -f1)
t=$(grep -n 'systemd-tmpfiles' "$post" | head -n 1 | cut -d: -f1)
[ -n "$u" ] && [ -n "$t" ] && [ "$u" -lt "$t" ] || fail "postinst: sysusers (line $u) must precede tmpfiles (line $t)"
grep -q "deb-systemd-helper enable 'vhsmd.socket'" "$post" || fail "vhsmd.socket not enabled"
grep -q "deb-systemd-invoke \$_dh_action 'vhsmd.socket'" "$post" || fail "vhsmd.socket not started"
if grep -q "deb-systemd-invoke .*'vhsmd-luks-key.socket'" "$post"; then fail "key socket started"; fi
grep -B3 "deb-systemd-helper enable 'vhsmd-luks-key.socket'" "$post" | grep -q 'was-enabled' ||
	fail "key socket enabled without the administrator"
grep -qx 'activate-noawait update-initramfs' "$WORK/ctl/triggers" || fail "no initramfs trigger"
# The key socket the administrator enabled is started again after upgrades and reinstalls (only when enabled, on
# upgrade or reinstall: "$2" set) and is stopped on remove (make check-vm-upgrade runs them).
grep -B2 'deb-systemd-invoke start vhsmd-luks-key.socket' "$post" | grep -q 'is-enabled vhsmd-luks-key.socket' ||
	fail "postinst starts the key socket without checking that the administrator enabled it"
grep -B2 'deb-systemd-invoke start vhsmd-luks-key.socket' "$post" | grep -q '"$1" = "configure" \] && \[ -n "$2" \]' ||
	fail "postinst starts the key socket on a first install"
grep -B2 'deb-systemd-invoke stop vhsmd-luks-key.socket' "$WORK/ctl/prerm" | grep -q '"$1" = remove' ||
	fail "prerm does not stop the key socket on remove"
ok "postinst: user before tmpfiles, vhsmd.socket enabled and started, key socket left to the admin (started again on upgrade when enabled, stopped on remove); initramfs trigger"

# The purge script against a scratch root (DPKG_ROOT), with the state directory filled.
R=$WORK/dpkgroot
purge_case() {
	rm -rf "$R"
	mkdir -p "$R/etc/vhsm" "$R/var/lib/vhsm/keks"
	echo '{}' >"$R/etc/vhsm/policy.json"
	echo sealed >"$R/var/lib/vhsm/keks/disk-kek.json"
	[ -z "${1:-}" ] || touch "$R/var/lib/vhsm/PURGE-STATE-ON-PACKAGE-PURGE"
	# The debhelper parts need deb-systemd-helper; only ours acts under DPKG_ROOT here.
	DPKG_ROOT=$R PATH=/nonexistent:$PATH sh "$WORK/ctl/postrm" "$2" >"$WORK/out" 2>&1 ||
		{ cat "$WORK/out"; fail "postrm $2"; }
}
purge_case "" remove
[ -f "$R/etc/vhsm/policy.json" ] && [ -f "$R/var/lib/vhsm/keks/disk-kek.json" ] ||
	fail "remove touched /etc/vhsm or /var/lib/vhsm"
purge_case "" purge
[ ! -e "$R/etc/vhsm" ] || fail "purge kept /etc/vhsm"
[ -f "$R/var/lib/vhsm/keks/disk-kek.json" ] || fail "purge deleted the sealed KEKs without the flag"
expect_out 'kept /var/lib/vhsm'
purge_case flag purge
[ ! -e "$R/var/lib/vhsm" ] || fail "purge kept /var/lib/vhsm despite the flag file"
ok "postrm: remove keeps config and state; purge deletes config, keeps sealed KEKs unless PURGE-STATE-ON-PACKAGE-PURGE"
