#!/bin/bash
# vhsmctl platform and the platform line of vhsmctl status: what the CVM offers and what
# sealing protects against here. kek create warns where the policy says the provider owns the
# measurement, and is refused when the policy says so.
source "$(dirname "$0")/lib.sh"
command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate not installed"

M1=$(printf 'a1%.0s' $(seq 48))
make_cvm a genoa --measurement "$M1"
printf '{"measurements":["%s"]}\n' "$M1" >"$WORK/pol-tenant.json"
printf '{"measurements":["%s"],"measurement_owner":"provider"}\n' "$M1" >"$WORK/pol-prov.json"
printf '{"measurements":["%s"],"measurement_owner":"provider","provider_measured_sealing":"refuse"}\n' \
	"$M1" >"$WORK/pol-refuse.json"

expect_exit 2 ctl platform extra
expect_exit 2 ctl platform --frob
expect_exit 0 ctl platform --help
ok "usage errors of vhsmctl platform"

start_daemon a --policy "$WORK/pol-tenant.json"
expect_exit 0 ctl platform
expect_out '^report path: +simulator$'
expect_out '^VMPL: +0 \(report\)'
expect_out '^signer: +vcek, CHIP_ID masked: no'
expect_out '^certificates: +VCEK from the host.s certificate table'
expect_out '^measurement owner: +tenant'
expect_out '^protection: +SIMULATOR: nothing is protected .*the host and other tenants'
not_out 'vTPM AK'
expect_exit 0 ctl --json platform
jq -e '.report_path == "simulator" and .vmpl == 0 and .signer == "vcek" and
       .chip_id_masked == false and .measurement_owner == "tenant" and
       .vtpm_ak_sha256 == null and (.protection | startswith("SIMULATOR"))' "$WORK/out" \
	>/dev/null || fail "platform --json"
expect_exit 0 ctl status
expect_out '^platform: simulator; SIMULATOR: nothing is protected'
expect_exit 0 ctl kek create k1
not_out 'warning'
ok "platform and status describe a simulated, tenant-measured CVM"

# A guest at VMPL 2 (SVSM): reports and derived keys at the running VMPL, the policy's vmpl
# rule, and no key of the more privileged VMPL 0.
head -c 32 /dev/urandom >"$WORK/dek"
ctl wrap --kek k1 <"$WORK/dek" >"$WORK/dek.k1" || fail "wrap at VMPL 0"
stop_daemon
"$SIM" set "$WORK/a.json" --vmpl 2 >/dev/null
printf '{"measurements":["%s"],"vmpl":2}\n' "$M1" >"$WORK/pol-vmpl2.json"
printf '{"measurements":["%s"],"vmpl":0}\n' "$M1" >"$WORK/pol-vmpl0.json"
start_daemon a --policy "$WORK/pol-vmpl2.json"
expect_exit 0 ctl --json platform
jq -e '.vmpl == 2 and (.protection | test("VMPL 2.*more privileged VMPL"))' "$WORK/out" \
	>/dev/null || { cat "$WORK/out" >&2; fail "VMPL 2 platform"; }
expect_exit 0 ctl kek create kv2
ctl wrap --kek kv2 <"$WORK/dek" >"$WORK/dek.kv2" || fail "wrap at VMPL 2"
ctl unwrap <"$WORK/dek.kv2" >"$WORK/dek.out" || fail "unwrap at VMPL 2"
cmp -s "$WORK/dek" "$WORK/dek.out" || fail "unwrap at VMPL 2 returned other bytes"
# Evidence at VMPL 2 too: a BYOK exchange key and a backup carry reports at the running VMPL
# (a request for VMPL 0 is refused by the firmware of a guest at VMPL 2), and vhsm-byok
# accepts them under a policy for VMPL 2.
expect_exit 0 ctl kek export-exchange-key kx --out "$WORK/x-vmpl2.json"
expect_exit 0 "$B/vhsm-byok" verify "$WORK/x-vmpl2.json" --policy "$WORK/pol-vmpl2.json" \
	--trust-root "$WORK/a-certs/ark.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$WORK/cust.key" 2>/dev/null
openssl pkey -in "$WORK/cust.key" -pubout -out "$WORK/cust.pub"
expect_exit 0 ctl kek create kb2 --exportable
expect_exit 0 ctl kek backup kb2 --to "$WORK/cust.pub" --out "$WORK/b-vmpl2.json"
for f in "$WORK/x-vmpl2.json:.report" "$WORK/b-vmpl2.json:.vhsm.report"; do
	jq -r "${f#*:}" "${f%%:*}" | base64 -d >"$WORK/rep.bin" || fail "no report in ${f%%:*}"
	[ "$(od -An -tu4 -j48 -N4 "$WORK/rep.bin" | tr -d ' ')" = 2 ] || fail "${f%%:*}: not VMPL 2"
done
# A KEK sealed at VMPL 0 cannot be unsealed by a guest at VMPL 2.
expect_exit 1 ctl unwrap <"$WORK/dek.k1" >/dev/null
expect_out 'sealed at VMPL 0, this guest runs at VMPL 2'
stop_daemon
start_daemon a --policy "$WORK/pol-vmpl0.json"
expect_exit 1 ctl status
expect_out 'vmpl'
stop_daemon
"$SIM" set "$WORK/a.json" --vmpl 0 >/dev/null
start_daemon a --policy "$WORK/pol-tenant.json"
ctl unwrap <"$WORK/dek.k1" >"$WORK/dek.out" || fail "unwrap at VMPL 0 after the VMPL 2 run"
cmp -s "$WORK/dek" "$WORK/dek.out" || fail "unwrap at VMPL 0 returned other bytes"
stop_daemon
ok "at VMPL 2: reports (gate, BYOK exchange key, backup) and keys at VMPL 2, the policy's vmpl rule, no VMPL 0 key"

# The provider owns the measurement (AWS, GCP): a warning, or a refusal by policy.
start_daemon a --policy "$WORK/pol-prov.json"
expect_exit 0 ctl platform
expect_out '^measurement owner: +provider'
expect_out 'the provider can derive it; use a fleet key manager'
expect_exit 0 ctl kek create k2
expect_out 'warning: the policy says the provider owns the launch measurement'
expect_exit 0 ctl --json kek create k3
jq -e '.changed and (.warning | test("provider owns the launch measurement"))' "$WORK/out" \
	>/dev/null || fail "kek create --json warning"
stop_daemon
start_daemon a --policy "$WORK/pol-refuse.json"
expect_exit 1 ctl kek create k4
expect_out 'refused by the policy \(provider_measured_sealing: refuse\)'
expect_exit 1 ctl kek show k4
expect_exit 0 ctl kek show k1
ok "kek create warns where the provider owns the measurement, and refuses when the policy says so"
