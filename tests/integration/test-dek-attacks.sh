#!/bin/bash
# Attacks on DEKs and their keyring keys by local users, each refused:
#  - forged /proc/keys lines (a user key's description with newlines) must not make vhsmd list
#    phantom keys, revoke another DEK's key, or fail dek drop --delete and kek disable --shred;
#  - vhsm-request-key must not serve "vhsm:NAME<more>" as DEK NAME;
#  - a DEK's wrapped key is no generic wrapped key: UNWRAP refuses it, WRAP cannot mint one.
# Only root's requests go through the kernel's upcall here (hosts that run upcalls for root
# only); the non-root races are attacked in the VM tier (tests/vm/guest-keyring.sh).
source "$(dirname "$0")/lib.sh"
# The keyring tests' set-up: unprivileged vhsmd, request-key.d file for $P, key cleanup.
source "$(dirname "$0")/keyring-lib.sh"

expect_exit 0 ctl kek create "$P-kek"
expect_exit 0 ctl dek create "$P-disk" --kek "$P-kek" --timeout 300 --acl "uid:$USER_OK:unwrap,read"

# A DEK's wrapped key is no generic wrapped key (purpose bound into the AAD): a principal
# with unwrap and wrap on the KEK who has the DEK file cannot unwrap it with the DEK's
# context (bypassing the DEK's own ACL), nor wrap under a DEK context.
expect_exit 0 ctl kek acl "$P-kek" "uid:4243:unwrap,wrap"
python3 -c 'import json, sys
sys.stdout.buffer.write(bytes.fromhex(json.load(open(sys.argv[1]))["wrapped"]))' \
	"$STATE/dek/$P-disk.dek" >"$WORK/dekblob"
dctx=$(printf 'vhsm-dek-v1\n%s\n64\n300\n%s' "$P-disk" "$(jq -r .acl "$STATE/dek/$P-disk.dek")")
expect_exit 1 as_uid 4243 "$CTL" --socket "$SOCK" unwrap --context "$dctx" <"$WORK/dekblob"
expect_out 'input is a DEK, not a generic wrapped key'
expect_exit 1 ctl unwrap --context "$dctx" <"$WORK/dekblob"
expect_out 'input is a DEK'
expect_exit 1 as_uid 4243 "$CTL" --socket "$SOCK" wrap --kek "$P-kek" --context "$dctx" <"$WORK/dekblob"
expect_out 'reserved for DEK blobs'
expect_exit 0 ctl kek acl "$P-kek"
expect_exit 0 "$HELPER" --debug --socket "$SOCK" --description "vhsm:$P-disk" 77 $USER_OK $USER_OK -3
ok "UNWRAP refuses a DEK's wrapped key, WRAP cannot mint one; the DEK still loads"

# Forged /proc/keys lines: the kernel prints a key's description raw, so a user key whose
# description holds a newline adds lines that look like vhsmd's keys. Such lines name a
# phantom serial, a key of another DEK (to have it revoked) and a keyring vhsmd cannot
# revoke (to make drop --delete and --shred fail). vhsmd confirms every serial with
# keyctl_describe, so none of them is listed or acted on.
ATK=4244
expect_exit 0 ctl dek create "$P-f1" --kek "$P-kek"
expect_exit 0 ctl dek create "$P-f2" --kek "$P-kek"
real=$(keyctl request2 logon "vhsm:$P-f1" '' @u) || fail "request $P-f1"
victim=$(keyctl request2 logon "vhsm:$P-f2" '' @u) || fail "request $P-f2"
atkring=$(as_uid $ATK keyctl show @u | awk 'NR == 2 {print $1}')
# (the kernel appends the user key's ": <payload size>" to the last line)
forge() { printf '%08x I------     1 perm 19212100     0 %5d logon     vhsm:%s' "$1" "$DGID" "$2"; }
fdesc="x: 1"$'\n'"$(forge $((0x7ffffff0)) "$P-f1"): 64"$'\n'"$(forge "$victim" "$P-f1"): 64"$'\n'"$(forge "$atkring" "$P-f1")"
atk=$(as_uid $ATK keyctl add user "$fdesc" payload @u) || fail "attacker's user key"
on_exit "setpriv --reuid=$ATK --regid=$ATK --clear-groups keyctl unlink $atk @u >/dev/null 2>&1"
as_uid $ATK keyctl setperm "$atk" 0x3f010001 || fail "setperm of the attacker's key"
[ "$(grep -cE " logon +vhsm:$P-f1: [0-9]+\$" /proc/keys)" -ge 4 ] || fail "forged lines not in /proc/keys"
expect_exit 0 ctl --json dek list
[ "$(jq -c ".[] | select(.name==\"$P-f1\") | .loaded | map(.serial)" "$WORK/out")" = "[$real]" ] ||
	fail "dek list fooled by forged lines: $(jq -c ".[] | select(.name==\"$P-f1\")" "$WORK/out")"
expect_exit 0 ctl dek drop "$P-f1"
expect_out "^DEK $P-f1: 1 key\\(s\\) revoked"
not_out 'could not'
grep -qE "^$(printf %08x "$real") IR" /proc/keys || fail "the real key of $P-f1 not revoked"
grep -qE "^$(printf %08x "$victim") I-" /proc/keys || fail "dek drop $P-f1 revoked $P-f2's key $victim"
expect_exit 0 ctl dek drop "$P-f1" --delete
# the same lines now claim to be keys of $P-f2 too
fdesc2="y: 1"$'\n'"$(forge $((0x7ffffff1)) "$P-f2"): 64"$'\n'"$(forge "$atkring" "$P-f2")"
atk2=$(as_uid $ATK keyctl add user "$fdesc2" payload @u) || fail "attacker's second key"
on_exit "setpriv --reuid=$ATK --regid=$ATK --clear-groups keyctl unlink $atk2 @u >/dev/null 2>&1"
as_uid $ATK keyctl setperm "$atk2" 0x3f010001 || fail "setperm of the attacker's key"
expect_exit 0 ctl kek disable "$P-kek" --shred
expect_out "^1 DEK key\(s\) revoked"
not_out 'could not|fail'
grep -qE "^$(printf %08x "$victim") IR" /proc/keys || fail "shred did not revoke $victim"
grep -qE "^$(printf %08x "$atk") I-" /proc/keys || fail "vhsmd touched the attacker's key"
keyctl unlink "$victim" @u >/dev/null
expect_exit 0 ctl kek enable "$P-kek"
ok "forged /proc/keys lines: dek list, drop, drop --delete and kek disable --shred not fooled"

# The helper takes the key's whole description: "vhsm:NAME" with anything after it is no
# DEK's key, whether asked through the kernel or on the --debug command line.
out=$(keyctl session - keyctl request2 logon "vhsm:$P-disk"$'\n'"x" '' @s 2>&1) &&
	fail "vhsm:$P-disk<newline>x was served as DEK $P-disk"
grep -qE "Invalid argument|rejected" <<<"$out" || fail "expected a rejection: $out"
out=$(keyctl session - keyctl request2 logon "vhsm:$P-disk x" '' @s 2>&1) &&
	fail "vhsm:$P-disk<space>x was served"
expect_exit 1 "$HELPER" --debug --socket "$SOCK" --description "vhsm:$P-disk"$'\n'"x" 77 0 0 -3
expect_out "^reject .*vhsm:<DEK name>"
ok "helper: a description with bytes after vhsm:NAME is refused"
echo "$_checks checks"
