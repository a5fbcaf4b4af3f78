# Helpers of the PKCS#11 module tests (sourced after lib.sh).
MOD=$B/libvhsm-pkcs11.so
[ -f "$MOD" ] || fail "$MOD not built"
command -v pkcs11-tool >/dev/null || skip "pkcs11-tool not installed (scripts/install-deps.sh: opensc)"
# ASan builds: the clients (pkcs11-tool, p11-kit, python3, ssh-agent, openssl, systemd) are
# not sanitized and cannot load the sanitized module without the runtime preloaded into each,
# and with it these scenarios outgrow one test's time limit. They run in the plain build.
if readelf -d "$MOD" | grep -q libasan; then
	skip "the PKCS#11 client scenarios run in the plain build (an ASan module needs sanitized clients)"
fi

# p11 ARGS...: pkcs11-tool on the vhsm module (vhsmd at $SOCK).
p11() { VHSM_SOCKET=$SOCK pkcs11-tool --module "$MOD" "$@"; }

# p11kit_ns CMD...: CMD in a mount namespace where p11-kit's system module directory holds only
# vhsm.module (p11-kit ignores a user configuration for root). systemd and p11tool load
# modules only through p11-kit.
p11kit_ns_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m, bind mount over p11-kit's module directory)"
	command -v unshare >/dev/null || skip "unshare not installed"
	P11KIT_MODDIR=$(pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null ||
		echo /usr/share/p11-kit/modules)
	[ -d "$P11KIT_MODDIR" ] || skip "no p11-kit module directory $P11KIT_MODDIR"
	mkdir -p "$WORK/p11-modules"
	sed "s|@MODULE@|$MOD|" "$top/pkcs11/vhsm.module.in" >"$WORK/p11-modules/vhsm.module"
}
p11kit_ns() {
	VHSM_SOCKET=$SOCK unshare -m sh -c \
		'mount --make-rprivate / && mount --bind "$1" "$2" && shift 2 && exec "$@"' \
		ns "$WORK/p11-modules" "$P11KIT_MODDIR" "$@"
}
