# Kernel keyring checks inside the test VM, sourced by guest-check.sh after its helpers
# (say, why, run_check). The guest boots twice (tests/vm/run.sh):
#   boot 1: a DEK is created in vhsmd, requested through request-key as logon key vhsm:vmdisk,
#           used as the key of a plain dm-crypt mapping on the disk vhsm-kr, written, torn
#           down; then a phase marker goes to the disk's plaintext first sector;
#   boot 2: the marker is found, the same DEK comes back from the registry into the keyring,
#           the mapping is recreated and the data read back; then `kek disable --shred`
#           revokes the key and suspends a LUKS2 volume enrolled with that KEK.
# Boot 2 runs only its own checks and writes its result to the second 64 KiB block of the
# result disk.
# shellcheck shell=bash disable=SC2317

KR_DEV=/dev/disk/by-id/virtio-vhsm-kr
SHRED_DEV=/dev/disk/by-id/virtio-vhsm-shred
KR_KEK=vmkr-kek
KR_DEK=vmdisk
KR_OFFSET=2048 # sectors: the first MiB of vhsm-kr stays plaintext and holds the phase marker
KR_MARKER="vhsm-vm-keyring-phase"

kr_phase() {
	local m
	m=$(dd if="$KR_DEV" bs=512 count=1 status=none 2>/dev/null | tr -d '\000')
	[[ $m == "$KR_MARKER 2 "* ]] && echo 2 || echo 1
}

# kr_request: the DEK as a logon key in root's user keyring, through request-key.
kr_request() {
	local k
	# PID 1 started us with a private session keyring: link the user keyring into it, as
	# a login session has it, so that dm-crypt (in dmsetup's context) finds the key.
	keyctl link @u @s >/dev/null || { why "keyctl link @u @s failed"; return 1; }
	k=$(keyctl request2 logon "vhsm:$KR_DEK" "" @u 2>"$T/err") ||
		{ why "request2 logon vhsm:$KR_DEK: $(cat "$T/err")"; return 1; }
	if keyctl print "$k" >/dev/null 2>&1; then
		why "the payload of logon key $k can be read"
		return 1
	fi
	keyctl show @u | grep -q "logon: vhsm:$KR_DEK\$" || { why "keyctl show @u lacks the key"; return 1; }
	say "keyring: $(keyctl rdescribe "$k")" >&2
	echo "$k"
}

kr_table() {
	local sectors
	sectors=$(($(blockdev --getsz "$KR_DEV") - KR_OFFSET))
	echo "0 $sectors crypt aes-xts-plain64 :64:logon:vhsm:$KR_DEK 0 $KR_DEV $KR_OFFSET"
}

kr_map() {
	dmsetup create vhsmkr --table "$(kr_table)" 2>"$T/err" ||
		{ why "dmsetup create with key :64:logon:vhsm:$KR_DEK: $(cat "$T/err")"; return 1; }
	udevadm settle
	dmsetup table vhsmkr | grep -q " :64:logon:vhsm:$KR_DEK " ||
		{ why "dm table does not name the keyring key: $(dmsetup table vhsmkr)"; return 1; }
}

# ---- boot 1 ----
check_keyring_write() {
	local out k data sum
	out=$(vhsmctl kek create "$KR_KEK" 2>&1) || { why "kek create: $out"; return 1; }
	out=$(vhsmctl dek create "$KR_DEK" --kek "$KR_KEK" --size 64 2>&1) ||
		{ why "dek create: $out"; return 1; }
	k=$(kr_request) || return 1
	kr_map || return 1
	data=$T/kr.data
	head -c 1048576 /dev/urandom >"$data"
	dd if="$data" of=/dev/mapper/vhsmkr bs=1M count=1 oflag=direct conv=fsync status=none ||
		{ why "write through the mapping failed"; return 1; }
	# udev probes the new device; wait for it, and retry while it still holds it open.
	udevadm settle
	dmsetup remove --retry vhsmkr 2>"$T/err" || { why "dmsetup remove: $(cat "$T/err")"; return 1; }
	# Ciphertext on the disk: the first 4 KiB of data must not appear in clear.
	if cmp -s <(head -c 4096 "$data") \
		<(dd if="$KR_DEV" bs=512 skip=$KR_OFFSET count=8 status=none); then
		why "data stored in clear"
		return 1
	fi
	sum=$(sha256sum <"$data" | cut -d' ' -f1)
	printf '%s 2 %s\n' "$KR_MARKER" "$sum" | dd of="$KR_DEV" bs=512 count=1 conv=sync,fsync status=none ||
		{ why "cannot write the phase marker"; return 1; }
	say "keyring: key $k, 1 MiB written through $(kr_table | cut -d' ' -f3-5), marker set"
}

# Requesters other than root: the kernel runs the upcall for them as well (some container
# hosts run it for uid 0 only, where test-keyring-user.sh skips). An ACL-admitted uid gets a
# root-owned logon key in vhsmd's group that it cannot read; nobody is rejected by vhsmd.
check_keyring_nonroot() {
	local u=52341 out got gid
	out=$(vhsmctl kek create vmuser-kek 2>&1) || { why "kek create: $out"; return 1; }
	out=$(vhsmctl dek create vmuser --kek vmuser-kek --size 32 --acl "uid:$u:unwrap,read" 2>&1) ||
		{ why "dek create: $out"; return 1; }
	out=$(setpriv --reuid=$u --regid=$u --clear-groups keyctl session - sh -c '
		keyctl link @u @s
		k=$(keyctl request2 logon vhsm:vmuser "" @u) || exit 10
		keyctl print "$k" >/dev/null 2>&1 && exit 11
		keyctl rdescribe "$k"' 2>&1) || { why "uid $u request2 (exit $?): $out"; return 1; }
	got=$(tail -n 1 <<<"$out")
	gid=$(getent group vhsm | cut -d: -f3)
	[ "$got" = "logon;0;$gid;19212100;vhsm:vmuser" ] ||
		{ why "uid $u key owner/group/permissions: $out"; return 1; }
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups keyctl session - \
		keyctl request2 logon vhsm:vmuser "" @s 2>&1) && { why "nobody got the key: $out"; return 1; }
	grep -q "Key was rejected by service" <<<"$out" || { why "nobody not rejected: $out"; return 1; }
	grep -q '"event":"keyring.request".*may not load DEK vmuser' /var/lib/vhsm/audit.log ||
		{ why "the refusal of nobody is not audited"; return 1; }
	say "keyring: non-root upcall: uid $u got $got; nobody rejected"
}

# A non-root requester races vhsm-request-key: while the helper asks vhsmd and after, a loop
# of the requester's keeps widening the permissions of its key (under construction, then
# instantiated), clearing its timeout and moving it to the requester's group. However the race ends, the key is refused
# (or revoked by the helper) or it is vhsm's: owner root, vhsmd's group, 0x19212100, a timeout,
# no read. (The host
# kernel of `make check` runs request-key upcalls for uid 0 only, so this runs here.)
KR_RACE_UID=4711
KR_RACE_ROUNDS=20
kr_race_round() {
	# shellcheck disable=SC2016
	setpriv --reuid=$KR_RACE_UID --regid=$KR_RACE_UID --clear-groups keyctl session - sh -c '
		keyctl link @u @s >/dev/null; keyctl clear @u
		(while :; do
			for h in $(awk "\$9 == \"vhsm:vmrace\" || \$9 == \"vhsm:vmrace:\" {print \$1}" /proc/keys); do
				keyctl setperm $((0x$h)) 0x3f3f3f3f 2>/dev/null
				keyctl timeout $((0x$h)) 0 2>/dev/null
				keyctl chgrp $((0x$h)) '"$KR_RACE_UID"' 2>/dev/null
			done
		done) &
		racer=$!
		k=$(keyctl request2 logon vhsm:vmrace "" @u 2>/dev/null) || k=refused
		sleep 0.3; kill $racer; wait $racer 2>/dev/null
		echo "key=$k"
		[ "$k" = refused ] && exit 0
		keyctl print $k >/dev/null 2>&1 && echo READABLE-print
		keyctl pipe $k >/dev/null 2>&1 && echo READABLE-pipe
		echo "describe=$(keyctl rdescribe $k 2>&1)"
		echo "proc=$(awk -v s=$(printf %08x $k) "\$1 == s" /proc/keys)"
		echo "expiry=$(awk -v s=$(printf %08x $k) "\$1 == s {print \$4}" /proc/keys)"
		keyctl unlink $k @u >/dev/null 2>&1' 2>&1
}

check_keyring_requester_race() {
	local out i served=0 refused=0 desc exp
	out=$(vhsmctl dek create vmrace --kek "$KR_KEK" --timeout 120 \
		--acl "uid:$KR_RACE_UID:unwrap" 2>&1) || { why "dek create vmrace: $out"; return 1; }
	for ((i = 1; i <= KR_RACE_ROUNDS; i++)); do
		out=$(kr_race_round)
		case $out in
		*key=refused*) refused=$((refused + 1)); continue ;;
		*key=[0-9]*) ;;
		*) why "round $i: $out"; return 1 ;;
		esac
		[[ $out != *READABLE* ]] || { why "round $i: the payload can be read: $out"; return 1; }
		desc=$(sed -n 's/^describe=//p' <<<"$out")
		# The helper revokes a key whose timeout a racer cleared: refused, not served.
		if [[ $desc == *"has been revoked"* ]]; then
			refused=$((refused + 1))
			continue
		fi
		exp=$(sed -n 's/^expiry=//p' <<<"$out")
		[[ $desc =~ ^logon\;0\;([0-9]+)\;19212100\;vhsm:vmrace$ ]] &&
			[ "${BASH_REMATCH[1]}" != "$KR_RACE_UID" ] ||
			{ why "round $i: key not vhsm's after the race: $(tr '\n' ' ' <<<"$out")"; return 1; }
		[[ $exp =~ ^[0-9]+[smh]$ ]] || { why "round $i: timeout lost in the race: '$exp'"; return 1; }
		served=$((served + 1))
	done
	say "keyring race: $served served, $refused refused of $KR_RACE_ROUNDS"
	# A race may make the helper refuse, never succeed with a weaker key; but a check in
	# which every round was refused has shown nothing.
	[ "$served" -gt 0 ] || { why "all $KR_RACE_ROUNDS racing requests were refused"; return 1; }
}

# ---- boot 2 ----
check_keyring_after_reboot() {
	local k want got
	want=$(dd if="$KR_DEV" bs=512 count=1 status=none | tr -d '\000' | awk '{print $3}')
	vhsmctl dek list | grep -qE "^$KR_DEK +$KR_KEK +64 .* no$" ||
		{ why "dek list before the request: $(vhsmctl dek list 2>&1)"; return 1; }
	k=$(kr_request) || return 1
	vhsmctl dek list | grep -qE "^$KR_DEK .* $k " ||
		{ why "dek list does not show key $k: $(vhsmctl dek list 2>&1)"; return 1; }
	kr_map || return 1
	got=$(dd if=/dev/mapper/vhsmkr bs=1M count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
	# The mapping stays active: --shred must wipe its key (next check).
	[ -n "$want" ] && [ "$got" = "$want" ] ||
		{ why "data read back after the reboot differs ($got, want $want)"; return 1; }
	echo "$k" >"$T/kr.serial"
}

# An open LUKS2 volume with a token of the KEK and a plain dm-crypt mapping keyed by its DEK:
# kek volumes lists both, kek disable and kek delete refuse without --force and list them.
check_keyring_dependents() {
	local out verb state
	[ -e /dev/mapper/vhsmkr ] || { why "the plain mapping vhsmkr is not active"; return 1; }
	cryptsetup open --key-file /etc/vhsm-vm/shred.key "$SHRED_DEV" vmshred 2>"$T/err" ||
		{ why "cannot open the LUKS volume: $(cat "$T/err")"; return 1; }
	out=$(vhsmctl kek volumes "$KR_KEK" 2>&1) || { why "kek volumes: $out"; return 1; }
	grep -qE '^vmshred +luks2 ' <<<"$out" && grep -qE '^vhsmkr +plain ' <<<"$out" ||
		{ why "kek volumes: $out"; return 1; }
	for verb in disable delete; do
		out=$(vhsmctl kek "$verb" "$KR_KEK" 2>&1) &&
			{ why "kek $verb without --force succeeded with volumes open"; return 1; }
		grep -q "kek $verb: volumes depend on KEK $KR_KEK" <<<"$out" &&
			grep -qE '^ +vmshred +luks2 ' <<<"$out" && grep -qE '^ +vhsmkr +plain ' <<<"$out" ||
			{ why "kek $verb refusal: $out"; return 1; }
		state=$(vhsmctl --json kek show "$KR_KEK" | sed -n 's/^ *"state": *"\([a-z]*\)".*/\1/p' | head -n 1)
		[ "$state" = enabled ] || { why "refused kek $verb left $KR_KEK $state"; return 1; }
	done
	say "dependents: kek disable/delete $KR_KEK refused, vmshred (luks2) and vhsmkr (plain) listed"
}

check_keyring_shred() {
	local k out state
	k=$(cat "$T/kr.serial" 2>/dev/null)
	[ -n "$k" ] || { why "no key from the previous check"; return 1; }
	[ -e /dev/mapper/vmshred ] ||
		cryptsetup open --key-file /etc/vhsm-vm/shred.key "$SHRED_DEV" vmshred 2>"$T/err" ||
		{ why "cannot open the LUKS volume: $(cat "$T/err")"; return 1; }
	out=$(vhsmctl kek volumes "$KR_KEK" 2>&1)
	grep -q '^vmshred ' <<<"$out" || { why "kek volumes: $out"; return 1; }
	out=$(vhsmctl kek disable "$KR_KEK" --shred 2>&1) || { why "kek disable --shred: $out"; return 1; }
	say "shred: $(tr '\n' ';' <<<"$out")"
	grep -q '^1 DEK key(s) revoked' <<<"$out" || { why "revocation: $out"; return 1; }
	grep -q '^volume vmshred: suspended' <<<"$out" || { why "suspend: $out"; return 1; }
	grep -q '^volume vhsmkr: suspended, key wiped (plain dm-crypt)' <<<"$out" ||
		{ why "plain mapping: $out"; return 1; }
	for m in vmshred vhsmkr; do
		state=$(dmsetup info "$m" | awk '/^State:/ {print $2}')
		[ "$state" = SUSPENDED ] || { why "$m is $state after --shred"; return 1; }
	done
	# Both keys are gone from the kernel: neither mapping can resume.
	for m in vmshred vhsmkr; do
		if dmsetup resume "$m" 2>/dev/null; then
			why "$m resumed after --shred: its key was not wiped"
			return 1
		fi
	done
	grep -qE "^$(printf %08x "$k") IR" /proc/keys ||
		{ why "key $k not revoked: $(grep "^$(printf %08x "$k")" /proc/keys)"; return 1; }
	if dmsetup create vhsmkr2 --table "$(kr_table)" 2>"$T/err"; then
		dmsetup remove vhsmkr2
		why "a mapping could still be created from the revoked key"
		return 1
	fi
	say "shred: new mapping refused: $(tr '\n' ' ' <"$T/err")"
	dmsetup remove --force vhsmkr2 >/dev/null 2>&1
	vhsmctl audit --verify >/dev/null 2>&1 || { why "audit does not verify"; return 1; }
	grep -q '"event":"kek.shred.volume".*"reason":"volume vmshred: suspended' /var/lib/vhsm/audit.log ||
		{ why "the suspension is not in the audit log"; return 1; }
	dmsetup remove --force vmshred >/dev/null 2>&1
	dmsetup remove --force vhsmkr >/dev/null 2>&1
	return 0
}

if [ "$(kr_phase)" = 2 ]; then
	say "keyring: second boot"
	run_check keyring-dek-after-reboot check_keyring_after_reboot
	run_check keyring-dependents-need-force check_keyring_dependents
	run_check keyring-shred-revokes-and-suspends check_keyring_shred
	{
		[ "$nfailed" -eq 0 ] && echo PASS || echo "FAIL $first_failure"
		printf '%s\n' "${results[@]}"
	} >"$T/result2"
	echo "VHSM-VM-RESULT boot 2: $(head -n 1 "$T/result2")"
	dd if="$T/result2" of="$RESULT_DEV" bs=64K seek=1 count=1 conv=sync,fsync status=none || exit 1
	exit 0
fi
