#!/bin/bash
# make install into a DESTDIR, with PREFIX=/usr/local and the default /usr: every path in the
# installed units and configuration names the installed programs, the token plugin and the
# dracut module land where libcryptsetup and dracut look, and bash completion is installed
# and completes vhsmctl's nouns, verbs and options.
source "$(dirname "$0")/lib.sh"
command -v make >/dev/null || skip "make not installed"

# A copy of the build directory, so that a PREFIX that changes a compiled-in path rebuilds
# only the copy.
cp -a "$B" "$WORK/build"
san=0
[ "${B##*/}" = build-asan ] && san=1
triplet=$(${CC:-cc} -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
cryptsetup_libdir=$(pkg-config --variable=libdir libcryptsetup)
[ -n "$cryptsetup_libdir" ] || skip "pkg-config does not know libcryptsetup"
# What libcryptsetup searches, and the same directory without symlinks (merged /usr).
search_dir=$cryptsetup_libdir/cryptsetup
tokendir=$(readlink -f "$cryptsetup_libdir")/cryptsetup

# install PREFIX ROOT: make install WITH_SIM=1 into ROOT.
install_to() {
	nice -n 10 make -s -C "$top" BUILDDIR="$WORK/build" SANITIZE=$san PREFIX="$1" \
		DESTDIR="$2" WITH_SIM=1 install >"$WORK/make.log" 2>&1 ||
		{ cat "$WORK/make.log" >&2; fail "make install PREFIX=$1"; }
}

R=$WORK/local
install_to /usr/local "$R"
unit=$(find "$R" -name vhsmd.service)
[ -n "$unit" ] || fail "no vhsmd.service installed"
grep -qx 'ExecStart=/usr/local/sbin/vhsmd' "$unit" || fail "ExecStart: $(grep ExecStart "$unit")"
[ -x "$R/usr/local/sbin/vhsmd" ] || fail "vhsmd not in /usr/local/sbin"
# No installed unit or configuration names a program under /usr/sbin or /usr/bin.
if grep -rlE '/usr/s?bin/vhsm' "$R/etc" "$(dirname "$unit")" "$R/usr/local/lib"; then
	fail "an installed file still names /usr/sbin or /usr/bin"
fi
grep -q '/usr/local/sbin/vhsm-request-key %k' "$R/etc/request-key.d/vhsm.conf" ||
	fail "request-key.d names another handler"
ok "PREFIX=/usr/local: ExecStart and request-key.d name the installed programs"

# The plugin goes where this libcryptsetup loads tokens from, the dracut module where dracut
# reads modules; both outside PREFIX.
[ -f "$R$tokendir/libcryptsetup-token-vhsm.so" ] || fail "token plugin not in $tokendir"
[ "$(readlink -f "$search_dir")" = "$tokendir" ] || fail "$tokendir is not $search_dir"
lib=$(find /lib /usr/lib -name 'libcryptsetup.so.12*' -print -quit 2>/dev/null)
[ -z "$lib" ] || strings "$lib" | grep -x >/dev/null "$search_dir" ||
	fail "libcryptsetup does not search $search_dir"
[ -x "$R/usr/lib/dracut/modules.d/91vhsm/module-setup.sh" ] ||
	fail "dracut module not in /usr/lib/dracut/modules.d"
if find "$R/usr/local" -name 'libcryptsetup-token-vhsm.so' -o -name 91vhsm | grep -q .; then
	fail "plugin or dracut module installed under /usr/local, where nothing looks"
fi
ok "PREFIX=/usr/local: token plugin and dracut module where libcryptsetup and dracut look"

# initramfs-tools reads hooks and scripts only from /usr/share/initramfs-tools, cryptroot
# resolves keyscript=decrypt_vhsm in /lib/cryptsetup/scripts; the hook copies the programs
# from where they were installed.
for f in /usr/share/initramfs-tools/hooks/vhsm /usr/share/initramfs-tools/scripts/local-top/vhsm \
	/usr/share/initramfs-tools/scripts/init-bottom/vhsm /lib/cryptsetup/scripts/decrypt_vhsm; do
	[ -x "$R$f" ] || fail "$f not installed (executable)"
done
grep -qx 'VHSMD_BIN=/usr/local/sbin/vhsmd' "$R/usr/share/initramfs-tools/hooks/vhsm" &&
	grep -qx 'VHSMCTL_BIN=/usr/local/bin/vhsmctl' "$R/usr/share/initramfs-tools/hooks/vhsm" ||
	fail "the initramfs hook names other programs: $(grep '_BIN=' "$R/usr/share/initramfs-tools/hooks/vhsm")"
ok "PREFIX=/usr/local: initramfs-tools hook, scripts and keyscript where initramfs-tools looks, naming the installed programs"

# The PKCS#11 module under PREFIX, its p11-kit registration where p11-kit reads them, naming it.
p11conf=$(pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null || echo /usr/share/p11-kit/modules)
[ -f "$R/usr/local/lib/$triplet/pkcs11/libvhsm-pkcs11.so" ] || fail "PKCS#11 module not installed"
grep -qx "module: /usr/local/lib/$triplet/pkcs11/libvhsm-pkcs11.so" "$R$p11conf/vhsm.module" ||
	fail "vhsm.module does not name the installed module: $(cat "$R$p11conf/vhsm.module")"
ok "PREFIX=/usr/local: the PKCS#11 module and its p11-kit registration"

# The simulator module path compiled into vhsmd is the one it was installed to.
[ -f "$R/usr/local/lib/$triplet/vhsm/vhsm-snp-sim.so" ] || fail "sim module not installed"
strings "$R/usr/local/sbin/vhsmd" | grep -x >/dev/null "/usr/local/lib/$triplet/vhsm/vhsm-snp-sim.so" ||
	fail "vhsmd looks for the simulator elsewhere than it was installed"
# vhsm-kmod-check names the release it was installed from.
want=$(sed -n 's/^VERSION := //p' "$top/Makefile")
[ "$("$R/usr/local/sbin/vhsm-kmod-check" --version)" = "vhsm-kmod-check $want" ] ||
	fail "installed vhsm-kmod-check --version"
ok "PREFIX=/usr/local: vhsmd finds the installed simulator module; versions"

# Bash completion: installed, and it completes from the installed vhsmctl's own help.
comp=$R/usr/local/share/bash-completion/completions/vhsmctl
[ -f "$comp" ] || fail "bash completion not installed"
complete_words() { # WORD...: what completing the last WORD offers
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_vhsmctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@"
}
c=$(complete_words "$CTL" "")
for w in status kek dek luks attestation policy help; do grep -qx "$w" <<<"$c" || fail "nouns: $c"; done
c=$(complete_words "$CTL" kek re)
[ "$(sort <<<"$c" | tr '\n' ' ')" = "recover reseal " ] || fail "kek re: $c"
c=$(complete_words "$CTL" dek "")
for w in recover purge; do grep -qx "$w" <<<"$c" || fail "dek verbs: $c"; done
c=$(complete_words "$CTL" policy "")
[ "$(sort <<<"$c" | tr '\n' ' ')" = "--help check show " ] || fail "policy verbs: $c"
: >"$WORK/policy.json"
c=$(complete_words "$CTL" policy check "$WORK/pol")
[ "$c" = "$WORK/policy.json" ] || fail "policy check FILE: $c"
c=$(complete_words "$CTL" kek create --pu)
[ "$c" = --purge-protection ] || fail "kek create --pu: $c"
c=$(complete_words "$CTL" --socket x luks en)
[ "$c" = enroll ] || fail "luks en: $c"
ok "bash completion installed; completes nouns, verbs and options"

# The default PREFIX keeps /usr.
R=$WORK/usr
install_to /usr "$R"
unit=$(find "$R" -name vhsmd.service)
grep -qx 'ExecStart=/usr/sbin/vhsmd' "$unit" || fail "default ExecStart: $(grep ExecStart "$unit")"
[ -f "$R/usr/share/bash-completion/completions/vhsmctl" ] || fail "default completion dir"
strings "$R/usr/sbin/vhsmd" | grep -x >/dev/null "/usr/lib/$triplet/vhsm/vhsm-snp-sim.so" ||
	fail "default vhsmd's simulator path"
ok "default PREFIX=/usr: unchanged paths"

echo "$_checks checks passed"
