#!/bin/bash
# vhsm-kmod-check on fake system roots: each requirement found, missing, or misconfigured,
# with the fix it names; exit status 0 only when everything required is present.
source "$(dirname "$0")/lib.sh"
CHECK=$top/kmod-helpers/vhsm-kmod-check
R=$WORK/root

mkroot() {
	rm -rf "$R"
	mkdir -p "$R/proc" "$R/sys/module/dm_crypt" "$R/dev" "$R/sbin" "$R/usr/sbin" \
		"$R/etc/request-key.d" "$R/sys/kernel/config/tsm/report" "$R/lib/udev/rules.d"
	: >"$R/proc/keys"
	printf '#!/bin/sh\n' >"$R/sbin/request-key"
	cp "$top/kmod-helpers/vhsm.conf" "$R/etc/request-key.d/vhsm.conf"
	printf '#!/bin/sh\n' >"$R/usr/sbin/vhsm-request-key"
	chmod 0755 "$R/sbin/request-key" "$R/usr/sbin/vhsm-request-key"
	cp "$top/udev/60-vhsm-sev-guest.rules" "$R/lib/udev/rules.d/"
}

mkroot
expect_exit 1 "$CHECK" --root "$R"
expect_out '^ok +keyrings'
expect_out '^ok +dm-crypt'
expect_out '^ok +request-key +logon vhsm:\* -> /usr/sbin/vhsm-request-key'
expect_out '^ok +configfs-tsm'
expect_out '^ok +udev'
expect_out '^missing sev-guest +no /dev/sev-guest'
expect_out 'fix: run in an SEV-SNP CVM'
ok "all present but /dev/sev-guest: exit 1, names the fix"

# A paravisor CVM: no /dev/sev-guest, but the vTPM's resource manager (vhsmd's vtpm platform).
if mknod "$R/dev/tpmrm0" c 10 224 2>/dev/null; then
	expect_exit 0 "$CHECK" --root "$R"
	expect_out '^ok +sev-guest +no /dev/sev-guest, but a vTPM \(/dev/tpmrm0\): vhsmd runs on the vtpm platform'
	rm "$R/dev/tpmrm0"
	: >"$R/dev/tpmrm0"
	expect_exit 1 "$CHECK" --root "$R"
	expect_out '^missing sev-guest +no /dev/sev-guest'
	rm "$R/dev/tpmrm0"
	ok "no /dev/sev-guest but a vTPM: the vtpm platform, exit 0; a regular file named tpmrm0 is no vTPM"
fi

if mknod "$R/dev/sev-guest" c 10 123 2>/dev/null; then
	chmod 0600 "$R/dev/sev-guest"
	expect_exit 1 "$CHECK" --root "$R"
	expect_out "^missing sev-guest +/dev/sev-guest is '600 root'"
	expect_out 'fix: install 60-vhsm-sev-guest.rules'
	if getent group vhsm >/dev/null; then
		chgrp vhsm "$R/dev/sev-guest"; chmod 0660 "$R/dev/sev-guest"
		expect_exit 0 "$CHECK" --root "$R"
		expect_exit 0 "$CHECK" --quiet --root "$R"
		[ ! -s "$WORK/out" ] || fail "--quiet printed: $(cat "$WORK/out")"
	fi
	ok "device permissions checked against the udev rule (0660, group vhsm)"
fi

mkroot
rm "$R/proc/keys" "$R/etc/request-key.d/vhsm.conf"
rm -r "$R/sys/module/dm_crypt" "$R/sys/kernel/config/tsm" "$R/lib/udev/rules.d/60-vhsm-sev-guest.rules"
expect_exit 1 "$CHECK" --root "$R"
expect_out '^missing keyrings +no /proc/keys'
expect_out '^missing dm-crypt'
expect_out "^missing request-key +no 'create logon vhsm:\*' line"
expect_out 'fix: install kmod-helpers/vhsm.conf as /etc/request-key.d/vhsm.conf'
expect_out '^warn +configfs-tsm'
expect_out '^warn +udev'
ok "missing keyrings, dm-crypt, request-key line, optional configfs-tsm and udev rule"

mkroot
chmod 0644 "$R/usr/sbin/vhsm-request-key"
expect_exit 1 "$CHECK" --root "$R"
expect_out 'handler /usr/sbin/vhsm-request-key is not executable'
rm "$R/sbin/request-key"
expect_exit 1 "$CHECK" --root "$R"
expect_out 'fix: install keyutils'
ok "request-key handler not executable; request-key itself missing"

expect_exit 2 "$CHECK" --bogus
expect_exit 2 "$CHECK" --root
expect_exit 2 "$CHECK" --root "$WORK/nonexistent"
expect_exit 0 "$CHECK" --help
expect_out '^Usage: vhsm-kmod-check'
ok "usage errors exit 2"

# --json: one object with every check, the exit status kept; errors as an object too
mkroot
rc=0; "$CHECK" --root "$R" --json >"$WORK/json" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "--json exit $rc"
jq -e '.ready == false and .missing == 1 and
	([.checks[] | select(.status == "missing") | .name] == ["sev-guest"]) and
	([.checks[] | select(.name == "keyrings") | .status] == ["ok"]) and
	(.checks[] | select(.name == "sev-guest") | .fix | test("SEV-SNP CVM"))' "$WORK/json" \
	>/dev/null || fail "--json report: $(cat "$WORK/json")"
rc=0; "$CHECK" --json --root "$WORK/nonexistent" >"$WORK/json" 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--json usage error exit $rc"
jq -e '.exit_status == 2 and (.error | test("not a directory"))' "$WORK/json" >/dev/null ||
	fail "--json error object: $(cat "$WORK/json")"
expect_exit 0 "$CHECK" --version
expect_out '^vhsm-kmod-check [0-9]+\.[0-9]+'
ok "--json report and error object; --version"
