#!/bin/bash
# dracut module "vhsm": vhsmd, its socket and the LUKS2 token plugin in the initrd, so that
# systemd-cryptsetup can unlock the root volume (or any volume attached in the initrd) through
# a type "vhsm" token. See docs/boot-unlock.md, "Root volume: the initrd".
# When a crypttab entry names pkcs11-uri= (a volume enrolled with systemd-cryptenroll
# --pkcs11-token-uri), also systemd's PKCS#11 path: vhsm's PKCS#11 module and its p11-kit
# registration, libp11-kit, systemd's token plugin, and the sealed key pair files the entries
# name (docs/pkcs11.md, "Root volume"). For vhsmd's vtpm platform (no /dev/sev-guest), the
# installed state's platform root and collateral cache (docs/boot-unlock.md, "The vtpm
# platform in the initrd").
# dracut sources this file and sets $initdir, $moddir, $libdirs, $hostonly, $host_fs_types,
# $dracutsysrootdir, $systemdsystemunitdir, $systemdsystemconfdir and $SYSTEMCTL.
# shellcheck disable=SC2154

# vhsm_plugin_path: prints the installed token plugin (relative to the sysroot) or fails.
vhsm_plugin_path() {
    local d
    for d in $libdirs; do
        if [[ -e "$dracutsysrootdir$d/cryptsetup/libcryptsetup-token-vhsm.so" ]]; then
            echo "$d/cryptsetup/libcryptsetup-token-vhsm.so"
            return 0
        fi
    done
    return 1
}

# vhsm_has_token DEVICE: true when the LUKS2 header of DEVICE holds a token of type "vhsm".
vhsm_has_token() {
    cryptsetup luksDump --dump-json-metadata "$1" 2> /dev/null \
        | grep -q -E '"type"[[:space:]]*:[[:space:]]*"vhsm"'
}

# vhsm_needed: true when a LUKS volume the initrd opens (the root file system or another
# host-only device, or a crypttab entry marked x-initrd.attach) carries a vhsm token, or when
# a crypttab entry unlocks through vhsm's PKCS#11 token (pkcs11-uri=).
vhsm_needed() {
    local dev _name _dev _rest
    for dev in "${!host_fs_types[@]}"; do
        [[ ${host_fs_types[$dev]} == crypto_LUKS ]] || continue
        vhsm_has_token "$dev" && return 0
    done
    [[ -f $dracutsysrootdir/etc/crypttab ]] || return 1
    [[ $(vhsm_pkcs11_keypairs) ]] && return 0
    while read -r _name _dev _rest || [[ -n $_name ]]; do
        [[ -z $_name || $_name == \#* ]] && continue
        [[ $_rest == *x-initrd.attach* ]] || continue
        case $_dev in
            UUID=*) _dev=/dev/disk/by-uuid/${_dev#UUID=} ;;
            PARTUUID=*) _dev=/dev/disk/by-partuuid/${_dev#PARTUUID=} ;;
            LABEL=*) _dev=/dev/disk/by-label/${_dev#LABEL=} ;;
        esac
        vhsm_has_token "$_dev" && return 0
    done < "$dracutsysrootdir"/etc/crypttab
    return 1
}

# vhsm_crypttab_pkcs11: "DEVICE URI" for each crypttab entry with a pkcs11-uri= option (one a
# line; DEVICE as crypttab names it).
vhsm_crypttab_pkcs11() {
    local _name _dev _key _opts _o _v
    [[ -f $dracutsysrootdir/etc/crypttab ]] || return 0
    while read -r _name _dev _key _opts || [[ -n $_name ]]; do
        [[ -z $_name || $_name == \#* ]] && continue
        IFS=, read -r -a _v <<< "$_opts"
        for _o in "${_v[@]}"; do
            [[ $_o == pkcs11-uri=* ]] && echo "$_dev ${_o#pkcs11-uri=}"
        done
    done < "$dracutsysrootdir"/etc/crypttab
}

# vhsm_header_pkcs11_uri DEVICE: the URI of the systemd-pkcs11 token in DEVICE's LUKS2 header
# (what pkcs11-uri=auto uses), when the device can be read here.
vhsm_header_pkcs11_uri() {
    local _dev=$1
    case $_dev in
        UUID=*) _dev=/dev/disk/by-uuid/${_dev#UUID=} ;;
        PARTUUID=*) _dev=/dev/disk/by-partuuid/${_dev#PARTUUID=} ;;
        LABEL=*) _dev=/dev/disk/by-label/${_dev#LABEL=} ;;
    esac
    [[ -e $_dev ]] || return 1
    cryptsetup luksDump --dump-json-metadata "$_dev" 2> /dev/null \
        | grep -o -E '"pkcs11-uri"[[:space:]]*:[[:space:]]*"[^"]*"' \
        | sed -E 's/.*:[[:space:]]*"([^"]*)"/\1/' | head -n 1
}

# vhsm_pkcs11_keypairs: the names of the key pairs the initrd needs, one a line: the object=
# of each vhsm URI in crypttab (for pkcs11-uri=auto, of the URI in the volume's header); "*"
# (all of them) when that URI names no object or the header cannot be read here (a generic
# image). URIs of another token (token=NAME other than vhsm) are not vhsm's.
vhsm_pkcs11_keypairs() {
    local _dev _uri _attr _obj _tok _a
    while read -r _dev _uri; do
        [[ $_uri ]] || continue
        if [[ $_uri == auto ]]; then
            _uri=$(vhsm_header_pkcs11_uri "$_dev") || _uri=''
            if [[ -z $_uri ]]; then
                echo '*'
                continue
            fi
        fi
        [[ $_uri == pkcs11:* ]] || continue
        _obj='' _tok=vhsm
        IFS=';' read -r -a _a <<< "${_uri#pkcs11:}"
        for _attr in "${_a[@]}"; do
            case $_attr in
                object=*) _obj=${_attr#object=} ;;
                token=*) _tok=${_attr#token=} ;;
            esac
        done
        [[ $_tok == vhsm ]] || continue
        if [[ $_obj =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; then
            echo "$_obj"
        else
            echo '*'
        fi
    done < <(vhsm_crypttab_pkcs11)
}

# vhsm_unit_text: the installed vhsmd.service with the administrator's drop-ins.
vhsm_unit_text() {
    cat "$dracutsysrootdir$systemdsystemunitdir"/vhsmd.service \
        "$dracutsysrootdir$systemdsystemconfdir"/vhsmd.service.d/*.conf 2> /dev/null
}

# vhsm_exec_start: the installed daemon's command line (unit and drop-ins, the last
# ExecStart= wins).
vhsm_exec_start() {
    vhsm_unit_text | sed -n -E 's/^[[:space:]]*ExecStart=[[:space:]]*(.+)$/\1/p' | tail -n 1
}

# vhsm_exec_option NAME: the value of the last --NAME VALUE (or --NAME=VALUE) in it.
vhsm_exec_option() {
    sed -n -E "s/.*[[:space:]]--$1[= ]([^[:space:]]+).*/\1/p" <<< " $(vhsm_exec_start) "
}

# vhsm_state_dir: the installed daemon's state directory (--state-dir, default /var/lib/vhsm).
vhsm_state_dir() {
    local d
    d=$(vhsm_exec_option state-dir)
    echo "${d:-/var/lib/vhsm}"
}

# vhsm_sim_state: prints the simulator state file when the installed daemon is configured
# for the SNP simulator (ExecStart with --snp-device sim:FILE or --snp-device=sim:FILE).
vhsm_sim_state() {
    vhsm_unit_text | sed -n -E \
        's/^[[:space:]]*ExecStart=.*--snp-device[= ]sim:([^[:space:]]+).*/\1/p' | tail -n 1
}

# vhsm_sim_module: prints the simulator module named by VHSM_SNP_SIM_MODULE in the unit.
vhsm_sim_module() {
    vhsm_unit_text | sed -n -E \
        's/^[[:space:]]*Environment=.*VHSM_SNP_SIM_MODULE=([^[:space:]"]+).*/\1/p' | tail -n 1
}

# called by dracut
check() {
    require_binaries vhsmd || return 1
    vhsm_plugin_path > /dev/null || return 1
    # Host-only images get the module when the volumes they open need it; generic images
    # only when asked for (--add vhsm, add_dracutmodules+=" vhsm ").
    if [[ $hostonly ]] && vhsm_needed; then
        return 0
    fi
    return 255
}

# called by dracut
depends() {
    echo crypt systemd
    return 0
}

# called by dracut
installkernel() {
    # The SEV-SNP guest driver (/dev/sev-guest); absent from kernels built without it.
    hostonly='' instmods sev-guest
    # The TPM drivers (/dev/tpmrm0, the vTPM that unseals vtpm-profile KEKs); built into
    # many kernels (Debian's cloud kernel), modules in others.
    hostonly='' instmods tpm_tis tpm_crb
    return 0
}

# vhsm_install_simulator: copies the simulator module and state named by the installed
# daemon's configuration. Test images only: the state holds the simulated chip's secrets.
vhsm_install_simulator() {
    local state module
    state=$(vhsm_sim_state)
    [[ $state ]] || return 0
    module=$(vhsm_sim_module)
    if [[ -z $module || ! -e $dracutsysrootdir$module ]]; then
        dfatal "vhsm: vhsmd uses the SNP simulator ($state) but VHSM_SNP_SIM_MODULE names no installed module"
        return 1
    fi
    if [[ ! -e $dracutsysrootdir$state ]]; then
        dfatal "vhsm: vhsmd uses the SNP simulator but its state $state does not exist"
        return 1
    fi
    dwarn "vhsm: ************************************************************************"
    dwarn "vhsm: SIMULATED SEV-SNP: vhsmd is configured with --snp-device sim:$state"
    dwarn "vhsm: this initrd contains the simulator $module and its state, which holds the"
    dwarn "vhsm: simulated chip's secrets. It protects nothing. For tests only."
    dwarn "vhsm: ************************************************************************"
    inst_simple "$module" || return 1
    inst_simple "$state" || return 1
    # The image's files all belong to root; the daemon runs as user vhsm.
    inst_multiple chown chmod || return 1
    mkdir -p "$initdir$systemdsystemunitdir/vhsmd.service.d"
    cat > "$initdir$systemdsystemunitdir/vhsmd.service.d/vhsm-initrd-sim.conf" << EOT
# Written by the dracut module vhsm: SIMULATED SEV-SNP, test images only.
# The files of an initrd belong to root; the simulator's state must belong to the daemon's user.
[Service]
ExecStartPre=+chown -R vhsm:vhsm ${state%/*}
ExecStartPre=+chmod 0700 ${state%/*}
EOT
    return 0
}

# vhsm_install_standalone: the initrd has no KEK store, so its vhsmd unlocks with the tokens'
# own sealed KEK copies (--luks-standalone). The daemon's command line is the installed one
# (unit and drop-ins, the last ExecStart= wins) plus that option; the drop-in's name sorts
# after the administrator's so that it is applied last.
vhsm_install_standalone() {
    local cmd
    cmd=$(vhsm_exec_start)
    [[ $cmd == */vhsmd* ]] || {
        dfatal "vhsm: cannot find vhsmd's ExecStart= in the installed vhsmd.service"
        return 1
    }
    [[ $cmd == *--luks-standalone* ]] || cmd+=" --luks-standalone"
    mkdir -p "$initdir$systemdsystemunitdir/vhsmd.service.d"
    cat > "$initdir$systemdsystemunitdir/vhsmd.service.d/zz-vhsm-initrd-standalone.conf" << EOT
# Written by the dracut module vhsm: no KEK store in the initrd.
[Service]
ExecStart=
ExecStart=$cmd
EOT
}

# vhsm_inst_lib_deps FILE...: the shared libraries the image's FILEs need. dracut resolves
# dependencies lazily for executable files only, and shared libraries (mode 0644) such as
# libp11-kit.so.0, which needs libffi, would otherwise not load in the initrd.
vhsm_inst_lib_deps() {
    local f l
    for f in "$@"; do
        while read -r l; do
            [[ -e $initdir$l ]] || inst_library "$l" || return 1
        done < <(ldd "$dracutsysrootdir$f" 2> /dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }')
    done
    return 0
}

# vhsm_install_pkcs11: when crypttab uses pkcs11-uri=, systemd-cryptsetup's PKCS#11 path:
# systemd loads modules only through p11-kit, so the module's registration and libp11-kit come
# with the module; dracut's own pkcs11 module installs neither the registrations nor
# libcryptsetup-token-systemd-pkcs11.so. The key pairs the entries name come as their sealed
# files into the initrd's state directory, where its vhsmd finds them: sealed with this CVM's
# derived key like the tokens' KEK copies, so the initrd holds no usable private key; their
# state (enabled, disabled) and ACL are those of the copy made now.
vhsm_install_pkcs11() {
    local names n f found=0 sd
    mapfile -t names < <(vhsm_pkcs11_keypairs | sort -u)
    [[ ${#names[@]} -gt 0 ]] || return 0
    inst_libdir_file "pkcs11/libvhsm-pkcs11.so"
    inst_libdir_file "libp11-kit.so.0*"
    inst_libdir_file "cryptsetup/libcryptsetup-token-systemd-pkcs11.so"
    inst_multiple -o /usr/share/p11-kit/modules/vhsm.module /etc/pkcs11/modules/vhsm.module \
        /etc/pkcs11/pkcs11.conf
    if [[ ! -e $initdir/usr/share/p11-kit/modules/vhsm.module ]] \
        && [[ ! -e $initdir/etc/pkcs11/modules/vhsm.module ]]; then
        dfatal "vhsm: crypttab uses pkcs11-uri= but vhsm's p11-kit registration (vhsm.module, package vhsm-pkcs11) is not installed"
        return 1
    fi
    for f in "$initdir"/usr/lib*/pkcs11/libvhsm-pkcs11.so "$initdir"/usr/lib/*/pkcs11/libvhsm-pkcs11.so; do
        [[ -e $f ]] && found=1
    done
    [[ $found == 1 ]] || {
        dfatal "vhsm: crypttab uses pkcs11-uri= but libvhsm-pkcs11.so is not installed"
        return 1
    }
    found=0
    for f in "$initdir"/usr/lib*/cryptsetup/libcryptsetup-token-systemd-pkcs11.so \
        "$initdir"/usr/lib/*/cryptsetup/libcryptsetup-token-systemd-pkcs11.so; do
        [[ -e $f ]] && found=1
    done
    [[ $found == 1 ]] || dwarn "vhsm: systemd's libcryptsetup-token-systemd-pkcs11.so not found; systemd-cryptsetup uses its built-in PKCS#11 code"
    for f in "$initdir"/usr/lib*/pkcs11/libvhsm-pkcs11.so "$initdir"/usr/lib/*/pkcs11/libvhsm-pkcs11.so \
        "$initdir"/usr/lib*/libp11-kit.so.0 "$initdir"/usr/lib/*/libp11-kit.so.0 \
        "$initdir"/usr/lib*/cryptsetup/libcryptsetup-token-systemd-pkcs11.so \
        "$initdir"/usr/lib/*/cryptsetup/libcryptsetup-token-systemd-pkcs11.so; do
        [[ -e $f ]] || continue
        vhsm_inst_lib_deps "${f#"$initdir"}" || {
            dfatal "vhsm: cannot install the libraries ${f#"$initdir"} needs"
            return 1
        }
    done
    sd=$(vhsm_state_dir)
    for n in "${names[@]}"; do
        if [[ $n == '*' ]]; then
            for f in "$dracutsysrootdir$sd"/keypair/*.sealed; do
                [[ -f $f ]] && inst_simple "${f#"$dracutsysrootdir"}"
            done
            continue
        fi
        f=$sd/keypair/$n.sealed
        if [[ ! -f $dracutsysrootdir$f ]]; then
            dfatal "vhsm: crypttab names the PKCS#11 object $n but vhsmd holds no key pair $n ($f)"
            return 1
        fi
        inst_simple "$f" || return 1
    done
    dinfo "vhsm: PKCS#11 key pairs in the initrd (sealed): ${names[*]}"
    return 0
}

# vhsm_install_tpm: what vhsmd needs to reach the vTPM in the initrd, where vtpm-profile KEKs
# (sealed by the vTPM, PCR 7) are unsealed: the TCTI module libtss2-tctildr loads with dlopen
# (dracut only follows linked libraries), the udev rule that gives /dev/tpmrm0 to user and
# group tss, and those with their members (vhsm, whose sysusers.d entry adds it to tss).
# Always, and cheap (one small library, one rule): the token's sealed KEK copy does not say
# its profile, and a host-only image made before the first vtpm KEK must still open it. A
# system without them gets a warning, not a failure: KEKs of the other profiles still unlock.
vhsm_install_tpm() {
    local tss_g f found=
    inst_libdir_file "libtss2-tcti-device.so.0*"
    for f in "$initdir"/usr/lib*/libtss2-tcti-device.so.0 "$initdir"/usr/lib/*/libtss2-tcti-device.so.0 \
        "$initdir"/lib*/libtss2-tcti-device.so.0 "$initdir"/lib/*/libtss2-tcti-device.so.0; do
        [[ -e $f ]] && found=${f#"$initdir"}
    done
    if [[ -z $found ]]; then
        dwarn "vhsm: libtss2-tcti-device.so.0 (package libtss2-tcti-device0) is not installed: vtpm-profile KEKs cannot unlock in this initrd"
        return 0
    fi
    # A shared library: dracut does not resolve its dependencies (libtss2-mu).
    vhsm_inst_lib_deps "$found" || dwarn "vhsm: cannot install the libraries $found needs"
    inst_rules 60-tpm-udev.rules
    tss_g=$(grep '^tss:' "$dracutsysrootdir"/etc/group)
    if [[ -z $tss_g ]] || ! grep -q '^tss:' "$dracutsysrootdir"/etc/passwd; then
        dwarn "vhsm: no user or group tss (package tpm-udev): vhsmd cannot open /dev/tpmrm0 in this initrd, vtpm-profile KEKs cannot unlock"
        return 0
    fi
    [[ ,${tss_g##*:}, == *,vhsm,* ]] \
        || dwarn "vhsm: user vhsm is not in group tss (systemd-sysusers vhsm.conf): vhsmd cannot open /dev/tpmrm0 in this initrd, vtpm-profile KEKs cannot unlock"
    grep -q '^tss:' "$initdir/etc/passwd" || grep '^tss:' "$dracutsysrootdir"/etc/passwd >> "$initdir/etc/passwd"
    grep -q '^tss:' "$initdir/etc/group" || echo "$tss_g" >> "$initdir/etc/group"
    return 0
}

# vhsm_install_platform_state: what vhsmd needs in the initrd on its vtpm platform (an Azure
# paravisor CVM, which has no /dev/sev-guest: docs/platforms.md), at the paths the installed
# daemon uses: the platform root its own keys come from (STATE/platform-root.vtpm, sealed to
# this vTPM's PCR 7, so the initrd holds no usable secret; without it the initrd's vhsmd would
# make a root of its own, and refuses to while the state holds sealed key pairs), and the
# collateral cache (--collateral-dir, default STATE/collateral), which holds the VCEK that
# verifies the vTPM's HCL report: Azure hosts give no certificates and the initrd has no
# network. The cache also serves SNP hosts that give none (bare metal). The state directory
# is vhsmd.service's StateDirectory=, so systemd gives the copies to user vhsm at start.
vhsm_install_platform_state() {
    local sd col f n=0
    sd=$(vhsm_state_dir)
    col=$(vhsm_exec_option collateral-dir)
    col=${col:-$sd/collateral}
    if [[ -d $dracutsysrootdir$col ]]; then
        while IFS= read -r -d '' f; do
            inst_simple "${f#"$dracutsysrootdir"}" || return 1
            n=$((n + 1))
        done < <(find "$dracutsysrootdir$col" -type f ! -name '.*' -print0)
    fi
    [[ -f $dracutsysrootdir$sd/platform-root.vtpm ]] || return 0
    inst_simple "$sd/platform-root.vtpm" || return 1
    if [[ $n -eq 0 ]]; then
        dwarn "vhsm: vtpm platform ($sd/platform-root.vtpm) but no collateral cache in $col: the initrd's vhsmd cannot verify the vTPM's HCL report; run vhsmctl collateral fetch (or collateral import of Azure's THIM JSON), then rebuild the initrd"
    fi
    dinfo "vhsm: vtpm platform: the platform root and $n collateral file(s) in the initrd"
    return 0
}

# called by dracut
install() {
    local plugin f
    plugin=$(vhsm_plugin_path) || {
        dfatal "vhsm: libcryptsetup-token-vhsm.so is not installed"
        return 1
    }
    inst_multiple vhsmd || return 1
    inst_multiple -o vhsmctl
    # dracut-install also copies the plugin's libraries.
    inst_libdir_file "cryptsetup/libcryptsetup-token-vhsm.so"
    [[ -e $initdir$plugin ]] || {
        dfatal "vhsm: could not install $plugin"
        return 1
    }

    inst_multiple "$systemdsystemunitdir"/vhsmd.socket "$systemdsystemunitdir"/vhsmd.service \
        || return 1
    inst_multiple -H -o \
        "$systemdsystemconfdir/vhsmd.service.d/*.conf" \
        "$systemdsystemconfdir/vhsmd.socket.d/*.conf"
    inst_simple "$moddir/vhsmd-initrd.conf" "$systemdsystemunitdir/vhsmd.service.d/vhsm-initrd.conf"
    inst_simple "$moddir/vhsmd-socket-initrd.conf" \
        "$systemdsystemunitdir/vhsmd.socket.d/vhsm-initrd.conf"
    # The crypttab key socket, when installed (vhsmd.service lists it in Sockets=): present so
    # that the service looks as on the host, never enabled here. It answers from per-volume
    # bindings in the state directory, which the initrd does not have; root uses the token.
    if [[ -e $dracutsysrootdir$systemdsystemunitdir/vhsmd-luks-key.socket ]]; then
        inst_simple "$systemdsystemunitdir"/vhsmd-luks-key.socket || return 1
        inst_simple "$moddir/vhsmd-socket-initrd.conf" \
            "$systemdsystemunitdir/vhsmd-luks-key.socket.d/vhsm-initrd.conf"
    fi
    vhsm_install_standalone || return 1
    $SYSTEMCTL -q --root "$initdir" add-wants sockets.target vhsmd.socket || return 1
    $SYSTEMCTL -q --root "$initdir" add-wants cryptsetup-pre.target vhsmd.socket || return 1

    # User and group vhsm, as on the host (the initrd has no systemd-sysusers run for them).
    if ! grep -q '^vhsm:' "$dracutsysrootdir"/etc/passwd \
        || ! grep -q '^vhsm:' "$dracutsysrootdir"/etc/group; then
        dfatal "vhsm: no user or group vhsm on the host (systemd-sysusers vhsm.conf)"
        return 1
    fi
    grep '^vhsm:' "$dracutsysrootdir"/etc/passwd >> "$initdir/etc/passwd"
    grep '^vhsm:' "$dracutsysrootdir"/etc/group >> "$initdir/etc/group"

    # Policy and trust roots; of the state directory (tokens are self-contained) only the
    # platform root and collateral of vhsm_install_platform_state and the sealed key pairs of
    # vhsm_install_pkcs11.
    for f in "$dracutsysrootdir"/etc/vhsm/*; do
        [[ -f $f ]] && inst_simple -H "${f#"$dracutsysrootdir"}"
    done
    inst_rules 60-vhsm-sev-guest.rules

    vhsm_install_tpm
    vhsm_install_platform_state || return 1
    vhsm_install_pkcs11 || return 1
    vhsm_install_simulator || return 1
    return 0
}
