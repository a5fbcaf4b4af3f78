#!/bin/bash
# What depends on a KEK: vhsmctl kek volumes lists crypttab entries whose device has a vhsm
# token of the KEK (and open LUKS2 and plain dm-crypt mappings, which need device-mapper: VM
# tier); kek disable and kek delete list them and refuse without --force, changing nothing.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"
command -v cryptsetup >/dev/null || skip "cryptsetup not installed"

# token_image FILE KEK: a LUKS2 image with a vhsm token naming KEK (the header is all that
# kek volumes reads).
token_image() {
	truncate -s 20M "$1"
	cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$WORK/pass" "$1" >/dev/null
	printf '{"type":"vhsm","keyslots":["0"],"kek":"%s"}' "$2" >"$WORK/tok.json"
	cryptsetup token import --json-file "$WORK/tok.json" "$1"
}
state() { ctl --json kek show "$1" | jq -r .kek.state; }

head -c 32 /dev/urandom >"$WORK/pass"
token_image "$WORK/data.img" db-kek
token_image "$WORK/other.img" other-kek
truncate -s 4M "$WORK/plain.img"
CT=$WORK/crypttab
cat >"$CT" <<EOF
# a comment, then entries as crypttab(5) has them
data    $WORK/data.img    none    luks,headless=true
other	$WORK/other.img	none	luks
swap    $WORK/plain.img   /dev/urandom swap,cipher=aes-xts-plain64
gone    UUID=00000000-0000-4000-8000-00000000dead none luks
short
EOF

make_cvm a genoa
start_daemon a
for k in db-kek other-kek idle-kek; do expect_exit 0 ctl kek create "$k"; done

# ---- kek volumes: the preview ----
expect_split() {
	local want=$1 rc=0; shift
	"$@" >"$WORK/stdout" 2>"$WORK/stderr" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$WORK/stdout" "$WORK/stderr" >&2; fail "expected exit $want, got $rc: $*"; }
}
expect_split 0 ctl kek volumes db-kek --crypttab "$CT"
grep -qE "^data +crypttab +$WORK/data.img$" "$WORK/stdout" || fail "data not listed: $(cat "$WORK/stdout")"
[ "$(wc -l <"$WORK/stdout")" = 1 ] || fail "more than data listed: $(cat "$WORK/stdout")"
grep -q "note: crypttab line 5 (gone): /dev/disk/by-uuid/00000000-0000-4000-8000-00000000dead not found; not checked" \
	"$WORK/stderr" || fail "missing device not noted: $(cat "$WORK/stderr")"
expect_split 0 ctl kek volumes other-kek --crypttab "$CT"
grep -qE "^other +crypttab " "$WORK/stdout" || fail "other not listed"
expect_split 0 ctl kek volumes idle-kek --crypttab "$CT"
[ ! -s "$WORK/stdout" ] || fail "idle-kek lists $(cat "$WORK/stdout")"
expect_split 0 ctl --json kek volumes db-kek --crypttab "$CT"
jq -e --arg d "$WORK/data.img" '. == [{"volume": "data", "kind": "crypttab", "device": $d}]' \
	"$WORK/stdout" >/dev/null || fail "json: $(cat "$WORK/stdout")"
expect_split 3 ctl kek volumes db-kek --crypttab "$WORK/no-such-crypttab"
grep -q 'no-such-crypttab: No such file or directory' "$WORK/stderr" || fail "missing crypttab"
ok "kek volumes lists crypttab entries whose device has a token of the KEK; --json"

# ---- disable and delete refuse without --force, and change nothing ----
expect_split 1 ctl kek disable db-kek --crypttab "$CT"
grep -q '^vhsmctl: kek disable: volumes depend on KEK db-kek and could no longer be unlocked:$' \
	"$WORK/stderr" || fail "disable refusal: $(cat "$WORK/stderr")"
grep -qE "^  data +crypttab +$WORK/data.img$" "$WORK/stderr" || fail "disable does not list data"
grep -q 'add --force' "$WORK/stderr" || fail "no --force hint"
[ "$(state db-kek)" = enabled ] || fail "a refused disable changed the KEK"
expect_split 1 ctl kek delete db-kek --crypttab "$CT"
grep -q 'kek delete: volumes depend on KEK db-kek' "$WORK/stderr" || fail "delete refusal"
[ "$(state db-kek)" = enabled ] || fail "a refused delete changed the KEK"
expect_split 1 ctl --json kek delete db-kek --crypttab "$CT"
jq -e '.exit_status == 1 and (.error | test("volumes depend on KEK db-kek"))' "$WORK/stdout" \
	>/dev/null || fail "json refusal: $(cat "$WORK/stdout")"
# a KEK nothing depends on needs no --force
expect_split 0 ctl kek disable idle-kek --crypttab "$CT"
expect_split 0 ctl kek delete idle-kek --crypttab "$CT"
ok "kek disable/delete list the dependent volumes and refuse without --force"

expect_split 0 ctl kek disable db-kek --crypttab "$CT" --force
[ "$(state db-kek)" = disabled ] || fail "--force did not disable"
# disabling again changes nothing: no list, "already disabled"
expect_split 0 ctl kek disable db-kek --crypttab "$CT"
grep -qx 'KEK db-kek is already disabled' "$WORK/stdout" || fail "already disabled"
expect_split 1 ctl kek delete db-kek --crypttab "$CT"
expect_split 0 ctl kek delete db-kek --crypttab "$CT" --force
[ "$(state db-kek)" = deleted ] || fail "--force did not delete"
expect_split 0 ctl kek delete db-kek --crypttab "$CT"
grep -qx 'KEK db-kek is already deleted' "$WORK/stdout" || fail "already deleted"
ok "--force disables and deletes; repeating them is 'already', not a list"

stop_daemon
echo "$_checks checks passed"
