# Shared by the integration tests that run libcryptsetup with the vhsm token plugin; sourced
# after lib.sh.

# plugin_ns_setup CMD...: skips unless root and CMD... (plus cryptsetup, unshare and readelf)
# are installed; then defines ns CMD..., which runs CMD with our plugin directory bind-mounted
# over libcryptsetup's inside a private mount namespace (unshare -m), so the real loader finds
# our plugin and no other. An ASan build's plugin gets its runtime preloaded, since cryptsetup
# itself is not sanitized.
plugin_ns_setup() {
	local c preload=
	[ "$(id -u)" -eq 0 ] || skip "needs root (unshare -m, bind mount over the plugin directory)"
	for c in cryptsetup unshare readelf "$@"; do
		command -v "$c" >/dev/null || skip "$c not installed"
	done
	TOKDIR=$(pkg-config --variable=libdir libcryptsetup)/cryptsetup
	[ -d "$TOKDIR" ] || skip "no libcryptsetup token directory $TOKDIR"
	PLUGIN=$B/token/libcryptsetup-token-vhsm.so
	[ -f "$PLUGIN" ] || fail "$PLUGIN not built"
	mkdir -p "$WORK/plugins"
	cp "$PLUGIN" "$WORK/plugins/"
	if readelf -d "$PLUGIN" | grep -q libasan; then
		preload=$(gcc -print-file-name=libasan.so)
		export ASAN_OPTIONS=detect_leaks=0
	fi
	printf '%s\n' '#!/bin/sh' \
		"exec unshare -m sh -c 'mount --make-rprivate / && mount --bind \"\$1\" \"\$2\" && shift 2 && LD_PRELOAD=\"$preload\" exec \"\$@\"' ns \"$WORK/plugins\" \"$TOKDIR\" \"\$@\"" \
		>"$WORK/ns"
	chmod +x "$WORK/ns"
}
ns() { "$WORK/ns" "$@"; }

# luks_format IMG KEYFILE: a new 24 MiB LUKS2 image file, KEYFILE's passphrase in a keyslot
# with a fast PBKDF (tests only).
luks_format() {
	truncate -s 24M "$1"
	cryptsetup luksFormat --type luks2 -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$2" "$1"
}

# luks_token_image IMG SOCK: plugin_ns_setup, the token plugin pointed at vhsmd's SOCK, and IMG
# a new LUKS2 image whose keyslot 0 holds the admin passphrase of $WORK/adm.key.
luks_token_image() {
	plugin_ns_setup
	export VHSM_TOKEN_SOCKET=$2 VHSM_TOKEN_TIMEOUT=60
	printf 'admin passphrase' >"$WORK/adm.key"
	luks_format "$1" "$WORK/adm.key"
}
