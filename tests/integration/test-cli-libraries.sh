#!/bin/bash
# vhsmctl loads libcurl and libcryptsetup/libdevmapper only when a verb needs them, and
# vhsm-request-key links nothing but libkeyutils and libc (start-up cost, docs/performance.md):
# the link lines say so, every other verb works with those libraries unreadable (hidden in a
# mount namespace of the test's own), and a verb that needs one exits 3 naming it.
. "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v unshare >/dev/null || skip "unshare (util-linux) not installed"
[ "$(id -u)" = 0 ] || skip "needs root (a mount namespace hides libraries)"
unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace here"

# needed FILE: its NEEDED libraries, but the sanitizer runtimes of a SANITIZE=1 build.
needed() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -vE '^lib(a|ub)san\.so'
}
! needed "$CTL" | grep -E 'libcurl|libcryptsetup|libdevmapper' ||
	fail "vhsmctl links a library it should load when used: $(needed "$CTL" | tr '\n' ' ')"
[ "$(needed "$B/vhsm-request-key" | sort | tr '\n' ' ')" = "libc.so.6 libkeyutils.so.1 " ] ||
	fail "vhsm-request-key links $(needed "$B/vhsm-request-key" | tr '\n' ' ')"
ok "vhsmctl links neither libcurl nor libcryptsetup nor libdevmapper; vhsm-request-key libc and libkeyutils"

lib_path() { ldconfig -p | sed -n "s/^[[:space:]]*$1 (.*) => //p" | head -n 1; }
CURL=$(lib_path 'libcurl\.so\.4') CS=$(lib_path 'libcryptsetup\.so\.12')
[ -n "$CURL" ] && [ -n "$CS" ] || skip "libcurl.so.4 or libcryptsetup.so.12 not installed"
CURL=$(readlink -f "$CURL") CS=$(readlink -f "$CS")
# hidden CMD...: CMD with both libraries unreadable (an empty file over each).
hidden() {
	unshare -m --propagation private sh -c 'mount --bind /dev/null "$1" &&
		mount --bind /dev/null "$2" && shift 2 && exec "$@"' sh "$CURL" "$CS" "$@"
}

make_cvm cvm genoa
start_daemon cvm
ctl kek create "k$$" >/dev/null
head -c 64 /dev/urandom >"$WORK/dek"
ctl wrap --kek "k$$" --context c <"$WORK/dek" >"$WORK/dek.wrapped"
expect_exit 0 hidden "$CTL" --version
hidden "$CTL" --socket "$SOCK" unwrap --context c <"$WORK/dek.wrapped" >"$WORK/dek.out" ||
	fail "unwrap without libcurl and libcryptsetup"
cmp -s "$WORK/dek" "$WORK/dek.out" || fail "unwrap gave another key"
expect_exit 0 hidden "$CTL" --socket "$SOCK" kek list
ok "--version, unwrap and kek list need neither library"

head -c 1048576 /dev/zero >"$WORK/img"
expect_exit 3 hidden "$CTL" --socket "$SOCK" luks list "$WORK/img"
expect_out 'cannot load libcryptsetup\.so\.12 \(install libcryptsetup12\)'
expect_exit 3 hidden "$CTL" --socket "$SOCK" collateral fetch --dir "$WORK/cache" \
	--kds-url http://127.0.0.1:1
expect_out 'cannot load libcurl\.so\.4 \(install libcurl4\)'
ok "luks list and collateral fetch without their library exit 3 and name it"
