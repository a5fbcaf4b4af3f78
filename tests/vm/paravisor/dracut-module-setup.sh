#!/bin/bash
# Test guests only: the dracut module vhsm-vm-paravisor (installed into the test guest as
# /usr/lib/dracut/modules.d/99vhsm-vm-paravisor/module-setup.sh by tests/vm/root-lib.sh, added
# with --add): the paravisor's stand-in in the initrd (tests/vm/paravisor/paravisor.sh), its
# unit and the simulator states it signs with, all under /usr/local/lib/vhsm-vm. Never part of
# vhsm's own module (dracut/91vhsm).
# shellcheck disable=SC2154

check() {
    return 255
}

depends() {
    echo systemd
    return 0
}

install() {
    local d=/usr/local/lib/vhsm-vm
    inst_binary /usr/bin/vhsm-snp-sim "$d/vhsm-snp-sim" || return 1
    inst_simple "$d/paravisor.sh" || return 1
    inst_simple "$d/cvm.json" || return 1
    inst_simple "$d/cvm-other.json" || return 1
    inst_multiple cat sleep || return 1
    inst_simple "$systemdsystemconfdir/vhsm-vm-paravisor.service" || return 1
    $SYSTEMCTL -q --root "$initdir" add-wants sysinit.target vhsm-vm-paravisor.service
}
