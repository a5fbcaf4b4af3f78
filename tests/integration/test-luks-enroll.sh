#!/bin/bash
# vhsmctl luks enroll as an administrator meets it, on image files (no device-mapper): a missing
# device, a LUKS1 volume, a second token for the same KEK, --wipe-slot that would leave no way in
# but vhsmd, and the passphrase prompt's three tries on a terminal. luks unlock onto an existing
# mapping needs device-mapper and is checked in the VM tier only.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v cryptsetup >/dev/null || skip "cryptsetup not installed"
command -v python3 >/dev/null || skip "python3 not installed (the terminal driver)"

# new_image FILE [luks1|luks2]: a small image with the admin passphrase in keyslot 0.
new_image() {
	rm -f "$1"
	truncate -s 24M "$1"
	cryptsetup luksFormat --type "${2:-luks2}" -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$WORK/adm.key" "$1" 2>/dev/null ||
		cryptsetup luksFormat --type "${2:-luks2}" -q --iter-time 1 --key-file "$WORK/adm.key" "$1"
}
# tokens IMG: the number of vhsm tokens in the header.
tokens() { cryptsetup luksDump --dump-json-metadata "$1" | jq '[.tokens[] | select(.type == "vhsm")] | length'; }
# header_sum IMG: a digest of the LUKS2 header's metadata, to prove a refusal changed nothing.
header_sum() { cryptsetup luksDump --dump-json-metadata "$1" | sha256sum; }

printf 'admin passphrase' >"$WORK/adm.key"
IMG=$WORK/vol.img
new_image "$IMG"
make_cvm a genoa
start_daemon a
expect_exit 0 ctl kek create disk-kek

# ---- what the device is ----
expect_exit 3 ctl luks enroll "$WORK/no-such.img" --kek disk-kek --unlock-key-file "$WORK/adm.key"
expect_out "^vhsmctl: .*/no-such.img: not found$"
new_image "$WORK/v1.img" luks1
expect_exit 1 ctl luks enroll "$WORK/v1.img" --kek disk-kek --unlock-key-file "$WORK/adm.key"
expect_out 'is a LUKS1 volume; vhsm tokens need LUKS2'
expect_out "cryptsetup convert --type luks2 $WORK/v1.img"
truncate -s 4M "$WORK/plain.img"
expect_exit 1 ctl luks enroll "$WORK/plain.img" --kek disk-kek --unlock-key-file "$WORK/adm.key"
expect_out 'is not a LUKS2 volume: no LUKS header'
expect_exit 3 ctl luks unlock --test "$WORK/no-such.img"
expect_out 'not found'
ok "missing device: not found; LUKS1: the cryptsetup convert hint; no header said"

# ---- --wipe-slot must leave a way in without vhsmd ----
sum=$(header_sum "$IMG")
for spec in all password 0; do
	expect_exit 1 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" \
		--wipe-slot="$spec"
	expect_out "--wipe-slot=$spec would leave only vhsm keyslots"
	expect_out 'add --force'
	[ "$(header_sum "$IMG")" = "$sum" ] || fail "a refused --wipe-slot=$spec changed the header"
done
# with a second passphrase the admin's may go
printf 'second passphrase' >"$WORK/second.key"
cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$WORK/adm.key" "$IMG" "$WORK/second.key"
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --wipe-slot=0
expect_out 'Wiped keyslot 0'
cryptsetup open --test-passphrase --key-file "$WORK/second.key" "$IMG" || fail "second slot lost"
not_out 'would leave only'
ok "--wipe-slot that would leave only vhsm keyslots is refused without --force, header unchanged"

# --force does it, and says nothing is left but vhsm
new_image "$IMG"
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" \
	--wipe-slot=password --force
expect_out 'Wiped keyslot 0'
if cryptsetup open --test-passphrase --key-file "$WORK/adm.key" "$IMG" 2>/dev/null; then
	fail "--force did not wipe the passphrase slot"
fi
expect_exit 0 ctl luks unlock --test "$IMG"
expect_out 'unlocked'
ok "--force wipes the last passphrase slot; the vhsm token still unlocks"

# ---- a second token for the same KEK warns; replacing it does not ----
new_image "$IMG"
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key"
not_out 'warning'
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key"
expect_out '^vhsmctl: warning: the volume already has vhsm token 0 for KEK disk-kek \(keyslot 1\)'
expect_out '--wipe-slot=vhsm'
[ "$(tokens "$IMG")" = 2 ] || fail "the second enroll did not add a token"
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key" --wipe-slot=vhsm
not_out 'warning'
[ "$(tokens "$IMG")" = 1 ] || fail "--wipe-slot=vhsm left $(tokens "$IMG") tokens"
expect_exit 0 ctl kek create other-kek
ctl luks enroll "$IMG" --kek other-kek --unlock-key-file "$WORK/adm.key" --json >"$WORK/json" \
	2>"$WORK/err" || fail "enroll --json: $(cat "$WORK/err")"
[ ! -s "$WORK/err" ] || fail "another KEK warned: $(cat "$WORK/err")"
jq -e '.kek == "other-kek" and .kek_version == 1 and .profile == "strict" and
	(.keyslot | type) == "number" and (.token | type) == "number"' "$WORK/json" >/dev/null ||
	fail "enroll --json: $(cat "$WORK/json")"
ok "a second token for the same KEK warns; --wipe-slot=vhsm and another KEK do not; --json"

# ---- the passphrase prompt on a terminal: three tries, like cryptsetup ----
# tty_enroll ANSWER...: runs luks enroll on a pseudo-terminal and types each ANSWER after a
# prompt; prints the terminal's text, exits with vhsmctl's status.
tty_enroll() {
	python3 - "$CTL" "$SOCK" "$IMG" "$@" <<'EOF'
import os, pty, select, sys
ctl, sock, img, answers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ctl, [ctl, "--socket", sock, "luks", "enroll", img, "--kek", "disk-kek"])
out, seen = b"", 0
while True:
    # A bound against a hang only: the test asserts what is said, never how fast.
    r, _, _ = select.select([fd], [], [], 600)
    if not r:
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    while out.count(b"passphrase for the volume:") > seen and seen < len(answers):
        os.write(fd, answers[seen].encode() + b"\n")
        seen += 1
sys.stdout.write(out.decode(errors="replace"))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}
new_image "$IMG"
sum=$(header_sum "$IMG")
rc=0; tty_enroll wrong1 wrong2 wrong3 >"$WORK/tty" || rc=$?
[ "$rc" = 1 ] || { cat "$WORK/tty"; fail "three wrong passphrases: exit $rc"; }
[ "$(grep -c 'Current passphrase for the volume:' "$WORK/tty")" = 3 ] || { cat "$WORK/tty"; fail "not 3 prompts"; }
[ "$(grep -c 'try again' "$WORK/tty")" = 2 ] || { cat "$WORK/tty"; fail "not 2 retries"; }
grep -q 'the passphrase opens no keyslot of this volume (3 tries)' "$WORK/tty" || fail "final message"
if grep -q 'wrong[123]' "$WORK/tty"; then fail "the passphrase was echoed"; fi
[ "$(header_sum "$IMG")" = "$sum" ] || fail "failed tries changed the header"
rc=0; tty_enroll wrong1 'admin passphrase' >"$WORK/tty" || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/tty"; fail "second try: exit $rc"; }
[ "$(grep -c 'try again' "$WORK/tty")" = 1 ] || { cat "$WORK/tty"; fail "not 1 retry"; }
grep -q 'Enrolled keyslot 1 with vhsm token 0' "$WORK/tty" || { cat "$WORK/tty"; fail "not enrolled"; }
if grep -q 'admin passphrase' "$WORK/tty"; then fail "the passphrase was echoed"; fi
# a key file gets one try: nobody is there to type another
expect_exit 1 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file /dev/null
expect_out 'the unlock key opens no keyslot'
not_out 'try again'
ok "the terminal prompt gives 3 tries without echo; a key file gets one"

# ---- --json on the other luks verbs ----
new_image "$IMG"
expect_exit 0 ctl luks enroll "$IMG" --kek disk-kek --unlock-key-file "$WORK/adm.key"
ctl luks unlock --test "$IMG" --json >"$WORK/json" || fail "unlock --test --json"
jq -e '.keyslot == 1 and .activated == ""' "$WORK/json" >/dev/null || fail "unlock json: $(cat "$WORK/json")"
expect_exit 0 ctl kek rotate disk-kek
ctl luks rewrap --json "$IMG" >"$WORK/json" || fail "rewrap --json"
jq -e '. == [{"token": 0, "kek_version": 2, "kek": "disk-kek"}]' "$WORK/json" >/dev/null ||
	fail "rewrap json: $(cat "$WORK/json")"
ctl luks remove "$IMG" --json >"$WORK/json" || fail "remove --json"
jq -e '. == [{"token": 0, "keyslot": 1}]' "$WORK/json" >/dev/null || fail "remove json: $(cat "$WORK/json")"
[ "$(tokens "$IMG")" = 0 ] || fail "remove --json left a token"
ok "luks unlock --test, rewrap and remove with --json"

# ---- luks unlock onto a name that is taken ----
# A real open mapping needs device-mapper (VM tier); /dev/mapper/control is the node every
# device-mapper host has, so the check before asking vhsmd is exercised here.
if [ -e /dev/mapper/control ]; then
	grep -c '"event":"luks.unlock"' "$STATE/audit.log" >"$WORK/n0" || true
	expect_exit 1 ctl luks unlock "$IMG" control
	expect_out '^vhsmctl: luks unlock: /dev/mapper/control already exists; is the volume already open\? \(cryptsetup status control\)$'
	[ "$(wc -l <"$WORK/out")" = 1 ] || fail "more than one message: $(cat "$WORK/out")"
	grep -c '"event":"luks.unlock"' "$STATE/audit.log" >"$WORK/n1" || true
	cmp -s "$WORK/n0" "$WORK/n1" || fail "vhsmd was asked for the key of a taken name"
	ok "luks unlock onto a taken mapping name: one clear message, vhsmd not asked"
fi

stop_daemon
echo "$_checks checks passed"
