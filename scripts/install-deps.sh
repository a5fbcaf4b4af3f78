#!/bin/sh
# Installs every Debian package vhsm needs to build, test and benchmark.
# Usage: scripts/install-deps.sh [--vm]   (--vm adds what `make check-vm` needs)
# Idempotent: packages already present are skipped by apt.
set -eu

BUILD="build-essential pkg-config libssl-dev libkeyutils-dev libsystemd-dev \
libcryptsetup-dev libdevmapper-dev libjson-c-dev libp11-kit-dev libcurl4-openssl-dev libtss2-dev"
TEST="keyutils cryptsetup-bin util-linux systemd openssl xxd jq python3 mandoc \
clang-14 libclang-rt-14-dev valgrind softhsm2 gdb python3-pykmip \
initramfs-tools cryptsetup-initramfs busybox \
p11-kit p11-kit-modules opensc gnutls-bin libengine-pkcs11-openssl python3-pykcs11 openssh-client \
strace swtpm swtpm-tools tpm2-tools"
# make deb and its test: Debian packaging tools and lintian.
DEB="dpkg-dev debhelper lintian fakeroot"
# make bench: SoftHSM2 (above) as the PKCS#11 peer, swtpm for systemd's tpm2 token.
BENCH="swtpm swtpm-tools libtss2-esys-3.0.2-0 libtss2-rc0 libtss2-mu0 libtss2-tcti-swtpm0"
VM="qemu-system-x86 qemu-utils debootstrap e2fsprogs busybox-static kmod cpio"

pkgs="$BUILD $TEST $DEB $BENCH"
[ "${1:-}" = "--vm" ] && pkgs="$pkgs $VM"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing:$missing (run as root to install)" >&2
	exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing
