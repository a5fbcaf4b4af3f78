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
