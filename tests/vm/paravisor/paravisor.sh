#!/bin/sh
# Test guests only (make check-vm-initrd, check-vm-initramfs): the paravisor's stand-in in a
# guest on vhsmd's vtpm platform. On an Azure CVM the paravisor answers a nonce written to the
# vTPM's NV 0x01400002 with a fresh HCL report in NV 0x01400001; here the simulator's
# `hcl --watch` does so against the guest's TPM (swtpm), signing with the simulated chip.
# Installed into the test guest and its initrd by the tests only, never by vhsm's packages.
# The kernel command line chooses: vhsm_vm.paravisor=none (no stand-in: nobody answers),
# =other-measurement (the same chip, another launch measurement), anything else the guest's.
#   paravisor.sh DIR   (DIR holds cvm.json and cvm-other.json)
dir=${1:-/usr/local/lib/vhsm-vm}
mode=good
for a in $(cat /proc/cmdline); do
	case $a in vhsm_vm.paravisor=*) mode=${a#vhsm_vm.paravisor=} ;; esac
done
case $mode in
none)
	echo "vhsm-vm: paravisor stand-in off (vhsm_vm.paravisor=none): no fresh HCL reports"
	exit 0
	;;
other-measurement) state=$dir/cvm-other.json ;;
*) state=$dir/cvm.json ;;
esac
# The TPM driver may still be probing (at most 30 s).
i=0
while [ ! -c /dev/tpmrm0 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "vhsm-vm: paravisor stand-in ($mode, ${state##*/}) on /dev/tpmrm0"
exec "$dir/vhsm-snp-sim" hcl "$state" --tcti device:/dev/tpmrm0 --watch
