#!/bin/bash
# Rollback of one sealed file: an older kek/NAME.sealed (or exchange/NAME.sealed) put back (undoing kek acl, disable,
# delete or purge) is refused after a restart, because the store manifest (keyed by this CVM)
# names another generation; a crash between the KEK file and the manifest (kill at either
# point) recovers without losing the KEK or accepting a rollback.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

make_cvm cvm genoa
start_daemon cvm
expect_exit 0 ctl kek create a
expect_exit 0 ctl kek create b
head -c 32 /dev/urandom >"$WORK/dek"
for k in a b; do ctl wrap --kek "$k" <"$WORK/dek" >"$WORK/w-$k" || fail "wrap $k"; done
[ -s "$STATE/store.manifest" ] || fail "no store manifest"
cp "$STATE/kek/a.sealed" "$WORK/a.v1"; cp "$STATE/kek/b.sealed" "$WORK/b.v1"
expect_exit 0 ctl kek disable a
expect_exit 0 ctl kek delete b
stop_daemon

# Put back the copies from before the disable and the delete.
cp "$WORK/a.v1" "$STATE/kek/a.sealed"; cp "$WORK/b.v1" "$STATE/kek/b.sealed"
start_daemon cvm
expect_exit 1 ctl unwrap <"$WORK/w-a"
expect_out "kek/a.sealed is not the sealed file this CVM wrote last: refused as rolled back"
expect_exit 1 ctl unwrap <"$WORK/w-b"
expect_out "kek/b.sealed .*rolled back"
expect_exit 1 ctl kek enable a
expect_out "rolled back"
expect_exit 0 ctl --json status
[ "$(jq -r .store_rollbacks "$WORK/out")" -ge 3 ] || fail "status does not count the rollbacks: $(cat "$WORK/out")"
expect_exit 0 ctl status
expect_out "STORE ROLLBACK"
grep -q '"event":"unwrap".*"result":"refused".*rolled back' "$STATE/audit.log" || fail "rollback refusal not audited"
expect_exit 0 ctl audit --verify
ok "an older sealed file put back (undoing disable, delete) is refused: journal, status, audit"
stop_daemon

# BYOK exchange keys are in the manifest too: an older exchange key put back for the same KEK
# name is refused when the import reads it.
M1=$(printf 'a1%.0s' $(seq 48))
make_cvm x genoa --measurement "$M1"
printf '{"version":1,"measurements":["%s"]}\n' "$M1" >"$WORK/pol-x.json"
rm -rf "$STATE"
start_daemon x
expect_exit 0 ctl kek export-exchange-key imp --out "$WORK/ek1.json"
cp "$STATE/exchange/imp.sealed" "$WORK/ek1.sealed"
expect_exit 0 ctl kek export-exchange-key imp --out "$WORK/ek2.json"
head -c 32 /dev/urandom >"$WORK/kek-imp"
"$B/vhsm-byok" wrap --bundle "$WORK/ek2.json" --policy "$WORK/pol-x.json" \
	--trust-root "$WORK/x-certs/ark.pem" --allow-test-root --key-file "$WORK/kek-imp" --out "$WORK/imp.byok" \
	>"$WORK/byok.out" 2>&1 || fail "vhsm-byok wrap: $(cat "$WORK/byok.out")"
stop_daemon
cp "$WORK/ek1.sealed" "$STATE/exchange/imp.sealed"
start_daemon x
expect_exit 1 ctl kek import imp --byok "$WORK/imp.byok"
expect_out "exchange/imp.sealed is not the sealed file this CVM wrote last"
stop_daemon
ok "an older exchange key put back is refused"

# The DEK registry is in the manifest too: an older DEK file put back (undoing its deletion),
# a deleted_at edited to end a purge-protected retention early, and a purged DEK's file put
# back are each refused, and the file is kept.
command -v jq >/dev/null || skip "jq not installed"
rm -rf "$STATE"
start_daemon cvm
expect_exit 0 ctl kek create kp --purge-protection --retention-days 30
expect_exit 0 ctl dek create d1 --kek kp --size 32
expect_exit 0 ctl dek create d2 --kek kp --size 32
expect_exit 0 ctl kek create k
expect_exit 0 ctl dek create d3 --kek k --size 32
cp "$STATE/dek/d1.dek" "$WORK/d1.active"; cp "$STATE/dek/d3.dek" "$WORK/d3.active"
expect_exit 0 ctl dek drop d1 --delete
expect_exit 0 ctl dek drop d2 --delete
expect_exit 0 ctl dek drop d3 --delete
expect_exit 0 ctl dek purge d3
expect_exit 1 ctl dek purge d2
expect_out "purge protection of KEK kp"
stop_daemon
cp "$WORK/d1.active" "$STATE/dek/d1.dek"
cp "$STATE/dek/d2.dek" "$WORK/d2.current"
jq -c '.deleted_at -= 31 * 86400' "$STATE/dek/d2.dek" >"$WORK/d2.edited" || fail "jq d2"
cp "$WORK/d2.edited" "$STATE/dek/d2.dek"
cp "$WORK/d3.active" "$STATE/dek/d3.dek"
start_daemon cvm
expect_exit 1 ctl dek load d1
expect_out "dek/d1.dek is not the registry file this CVM wrote last: refused as rolled back"
expect_exit 1 ctl dek purge d2
expect_out "dek/d2.dek is not the registry file this CVM wrote last"
[ -f "$STATE/dek/d2.dek" ] || fail "an edited deleted_at purged the DEK"
expect_exit 1 ctl dek recover d2
expect_out "dek/d2.dek .*rolled back"
expect_exit 1 ctl dek load d3
expect_out "dek/d3.dek .*rolled back"
expect_exit 0 ctl --json dek list
[ "$(jq -r '[.[] | select(.state=="rolled-back") | .name] | join(",")' "$WORK/out")" = d1,d2,d3 ] ||
	fail "dek list does not show the refused files: $(cat "$WORK/out")"
expect_exit 0 ctl --json status
[ "$(jq -r .store_rollbacks "$WORK/out")" -ge 3 ] || fail "status does not count the DEK rollbacks"
ok "DEK registry: an older file put back, an edited deleted_at and a purged DEK put back are refused"
# The current file restored is accepted again (nothing was lost): still under purge
# protection, recoverable; the purged DEK's name can be used again once its file is gone.
stop_daemon
cp "$WORK/d2.current" "$STATE/dek/d2.dek"
rm -f "$STATE/dek/d3.dek"
start_daemon cvm
expect_exit 1 ctl dek purge d2
expect_out "purge protection of KEK kp: DEK d2 can be purged from"
expect_exit 0 ctl dek recover d2
expect_exit 0 ctl dek create d3 --kek k --size 32
expect_exit 0 ctl --json dek list
[ "$(jq -r '[.[] | .name + ":" + .state] | join(",")' "$WORK/out")" = d1:rolled-back,d2:active,d3:active ] ||
	fail "after the restore: $(cat "$WORK/out")"
ok "the current DEK file restored works again; a purged name can be reused"
stop_daemon

# Crash between the manifest and the KEK file, both orders: the KEK is in its old or new
# state, never lost, and the next start accepts it.
for point in manifest-pending file-written; do
	rm -rf "$STATE"
	start_daemon cvm
	expect_exit 0 ctl kek create k
	ctl wrap --kek k <"$WORK/dek" >"$WORK/w-k" || fail "wrap k"
	cp "$STATE/kek/k.sealed" "$WORK/k.v1"
	stop_daemon
	VHSMD_TEST_CRASH=$point start_daemon cvm
	expect_exit 3 ctl kek acl k "uid:4242:unwrap"
	stop_daemon
	start_daemon cvm
	ctl unwrap <"$WORK/w-k" | cmp -s - "$WORK/dek" || fail "$point: KEK k lost after the crash"
	expect_exit 0 ctl kek show k
	if [ "$point" = file-written ]; then
		expect_out "uid:4242"
		# the new state is committed: the copy from before is now a rollback
		stop_daemon
		cp "$WORK/k.v1" "$STATE/kek/k.sealed"
		start_daemon cvm
		expect_exit 1 ctl unwrap <"$WORK/w-k"
		expect_out "rolled back"
	else
		not_out "uid:4242"
	fi
	stop_daemon
	ok "kill -9 at $point: KEK intact, the store starts, no rollback accepted"
done
echo "$_checks checks passed"
