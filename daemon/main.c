/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmd: the vhsm daemon. Socket-activated (or --socket for development), Type=notify,
 * watchdog, exit on idle. Keeps KEKs sealed to this confidential VM and releases their use
 * only after attestation. See vhsmd(8).
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "amd-cert.h"
#include "attest.h"
#include "audit-coalesce.h"
#include "audit.h"
#include "clock.h"
#include "fileio.h"
#include "fleet.h"
#include "journal.h"
#include "keypair.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "policy-file.h"
#include "root-vtpm.h"
#include "secmem.h"
#include "store.h"
#include "text.h"
#include "tpm2-nv.h"
#include "vhsmd.h"

static const char *arg_socket;
static const char *arg_state_dir = VHSMD_DEFAULT_STATE_DIR;
static const char *arg_device;
static const char *arg_platform = "auto";
static const char *arg_policy;
static const char *arg_collateral_dir;
static const char *arg_tcti;
static const char *arg_trust_roots[VHSMD_MAX_TRUST_ROOTS];
static size_t arg_n_trust_roots;
static long arg_idle = 60;
static long arg_interval = 3600;
static long arg_audit_max_bytes = (long)AUDIT_BUDGET_DEFAULT;
static long arg_audit_max_age_days;
static enum audit_durability arg_audit_durability = AUDIT_DURABILITY_GROUP;
static long arg_fresh_ms = VHSMD_ATTEST_FRESH_MS_DEFAULT;
static const char *arg_test_clock;
static bool arg_debug;
static const char *arg_luks_key_socket;
static bool arg_luks_standalone;
static const char *arg_fleet_config;

static void debug_sink(void *userdata, const char *msg)
{
	(void)userdata;
	log_msg(LOG_DEBUG, "debug: %s", msg);
}

static void help(void)
{
	printf("Usage: vhsmd [OPTIONS]\n\n"
	       "The vhsm daemon: keeps KEKs sealed to this SEV-SNP confidential VM and uses\n"
	       "them only after attestation. Normally started by vhsmd.socket.\n\n"
	       "  --socket PATH          listen on PATH when not socket-activated\n"
	       "                         (default " VHSMD_DEFAULT_SOCKET ")\n"
	       "  --state-dir DIR        sealed KEKs and audit log (default " VHSMD_DEFAULT_STATE_DIR ")\n"
	       "  --platform P           snp (an SNP guest device), vtpm (no SNP device: keys\n"
	       "                         from a root sealed to the vTPM, attestation from its\n"
	       "                         Azure HCL report) or auto (default: snp when\n"
	       "                         --snp-device is given or /dev/sev-guest exists, else\n"
	       "                         vtpm when --tcti is given or /dev/tpmrm0 exists)\n"
	       "  --snp-device SPEC      /dev/sev-guest (default) or sim:FILE (simulator)\n"
	       "  --policy FILE          attestation policy (default " VHSMD_DEFAULT_POLICY
	       " if present,\n"
	       "                         else the built-in default)\n"
	       "  --trust-root PEM       also trust this ARK (simulator); repeatable\n"
	       "  --collateral-dir DIR   cached AMD certificates and CRLs (vhsmctl collateral\n"
	       "                         fetch; default STATE-DIR/collateral)\n"
	       "  --tcti TCTI            the vTPM: vtpm sealing profile, HCL report, and on the\n"
	       "                         vtpm platform the root (default " TPM2_TCTI_DEFAULT ")\n"
	       "  --idle-timeout SEC     exit after SEC idle seconds (0 = never; default 60)\n"
	       "  --attest-interval SEC  re-attest after SEC seconds (default 3600)\n"
	       "  --audit-max-bytes N    disk budget of the audit log; the oldest segments are\n"
	       "                         pruned beyond it (default 1073741824, minimum 65536)\n"
	       "  --audit-max-age-days D prune audit segments older than D days (default 0: never)\n"
	       "  --audit-durability M   when a release's audit record is fdatasync'ed: group\n"
	       "                         (default; one shared sync right after the reply) or\n"
	       "                         sync (before each reply)\n"
	       "  --attest-fresh-ms MS   \"each use\" of an attest-each-use KEK: an attestation\n"
	       "                         of the same request or no older than MS (10..10000,\n"
	       "                         default 100)\n"
	       "  --luks-key-socket PATH serve crypttab key requests on the stream socket PATH\n"
	       "                         when not socket-activated\n"
	       "  --luks-standalone      no KEK store in use (initrd): LUKS2 tokens unlock with\n"
	       "                         their own sealed KEK copy\n"
	       "  --fleet-config FILE    KEKs pulled from a KMIP key manager (default\n"
	       "                         " FLEET_DEFAULT_CONFIG " if present; docs/fleet.md)\n"
	       "  --debug                debug messages\n"
	       "  -h, --help, --version\n");
}

static int parse_long(const char *s, long min, long max, long *ret)
{
	int64_t v;

	if (parse_int64(s, min, max, &v) < 0)
		return -EINVAL;
	*ret = (long)v;
	return 0;
}

static int parse_argv(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_STATE, O_DEV, O_POLICY, O_TRUST, O_IDLE, O_INTERVAL, O_DEBUG,
	       O_VERSION, O_KEYSOCK, O_STANDALONE, O_AUDIT_BYTES, O_AUDIT_AGE, O_FRESH, O_TEST_CLOCK,
	       O_COLLATERAL, O_AUDIT_DURABILITY, O_TCTI, O_FLEET, O_PLATFORM };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "snp-device", required_argument, NULL, O_DEV },
		{ "platform", required_argument, NULL, O_PLATFORM },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "trust-root", required_argument, NULL, O_TRUST },
		{ "collateral-dir", required_argument, NULL, O_COLLATERAL },
		{ "tcti", required_argument, NULL, O_TCTI },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "attest-interval", required_argument, NULL, O_INTERVAL },
		{ "audit-max-bytes", required_argument, NULL, O_AUDIT_BYTES },
		{ "audit-max-age-days", required_argument, NULL, O_AUDIT_AGE },
		{ "audit-durability", required_argument, NULL, O_AUDIT_DURABILITY },
		{ "attest-fresh-ms", required_argument, NULL, O_FRESH },
		{ "test-clock", required_argument, NULL, O_TEST_CLOCK },
		{ "debug", no_argument, NULL, O_DEBUG },
		{ "luks-key-socket", required_argument, NULL, O_KEYSOCK },
		{ "luks-standalone", no_argument, NULL, O_STANDALONE },
		{ "fleet-config", required_argument, NULL, O_FLEET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_SOCKET: arg_socket = optarg; break;
		case O_STATE: arg_state_dir = optarg; break;
		case O_DEV: arg_device = optarg; break;
		case O_PLATFORM:
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "snp") != 0 &&
			    strcmp(optarg, "vtpm") != 0) {
				log_msg(LOG_ERR, "invalid --platform '%s' (auto, snp or vtpm)",
					optarg);
				return -EINVAL;
			}
			arg_platform = optarg;
			break;
		case O_POLICY: arg_policy = optarg; break;
		case O_COLLATERAL: arg_collateral_dir = optarg; break;
		case O_TCTI: arg_tcti = optarg; break;
		case O_TRUST:
			if (arg_n_trust_roots >= VHSMD_MAX_TRUST_ROOTS) {
				log_msg(LOG_ERR, "at most %u --trust-root", VHSMD_MAX_TRUST_ROOTS);
				return -EINVAL;
			}
			arg_trust_roots[arg_n_trust_roots++] = optarg;
			break;
		case O_IDLE:
			if (parse_long(optarg, 0, 86400 * 365, &arg_idle) < 0) {
				log_msg(LOG_ERR, "invalid --idle-timeout '%s'", optarg);
				return -EINVAL;
			}
			break;
		case O_INTERVAL:
			if (parse_long(optarg, 1, 86400 * 365, &arg_interval) < 0) {
				log_msg(LOG_ERR, "invalid --attest-interval '%s'", optarg);
				return -EINVAL;
			}
			break;
		case O_AUDIT_BYTES:
			if (parse_long(optarg, AUDIT_BUDGET_MIN, LONG_MAX, &arg_audit_max_bytes) < 0) {
				log_msg(LOG_ERR, "invalid --audit-max-bytes '%s' (at least %u)",
					optarg, AUDIT_BUDGET_MIN);
				return -EINVAL;
			}
			break;
		case O_AUDIT_AGE:
			if (parse_long(optarg, 0, 36500, &arg_audit_max_age_days) < 0) {
				log_msg(LOG_ERR, "invalid --audit-max-age-days '%s' (0..36500)",
					optarg);
				return -EINVAL;
			}
			break;
		case O_AUDIT_DURABILITY:
			arg_audit_durability = audit_durability_from_string(optarg);
			if (arg_audit_durability < 0) {
				log_msg(LOG_ERR, "invalid --audit-durability '%s' (group or sync)",
					optarg);
				return -EINVAL;
			}
			break;
		case O_FRESH:
			if (parse_long(optarg, VHSMD_ATTEST_FRESH_MS_MIN, VHSMD_ATTEST_FRESH_MS_MAX,
				       &arg_fresh_ms) < 0) {
				log_msg(LOG_ERR, "invalid --attest-fresh-ms '%s' (%u..%u)", optarg,
					VHSMD_ATTEST_FRESH_MS_MIN, VHSMD_ATTEST_FRESH_MS_MAX);
				return -EINVAL;
			}
			break;
		case O_TEST_CLOCK: arg_test_clock = optarg; break;
		case O_DEBUG: arg_debug = true; break;
		case O_KEYSOCK: arg_luks_key_socket = optarg; break;
		case O_STANDALONE: arg_luks_standalone = true; break;
		case O_FLEET: arg_fleet_config = optarg; break;
		case 'h': help(); return 0;
		case O_VERSION: printf("vhsmd %s\n", VHSM_VERSION); return 0;
		default: return -EINVAL;
		}
	}
	if (optind < argc) {
		log_msg(LOG_ERR, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (arg_device && strcmp(arg_platform, "vtpm") == 0) {
		log_msg(LOG_ERR, "--platform vtpm uses no SNP device: drop --snp-device");
		return -EINVAL;
	}
	return 1;
}

/* The platform --platform names, or the one auto finds (see help()). */
static bool platform_is_vtpm(void)
{
	if (strcmp(arg_platform, "auto") != 0)
		return strcmp(arg_platform, "vtpm") == 0;
	if (arg_device || access(VHSMD_DEFAULT_DEVICE, F_OK) == 0)
		return false;
	return arg_tcti || access("/dev/tpmrm0", F_OK) == 0;
}

/* The SNP guest device, or on the vtpm platform the root that answers its key requests. */
static int open_device(struct manager *m, bool vtpm)
{
	const char *device = arg_device ?: VHSMD_DEFAULT_DEVICE;
	int r;

	if (vtpm) {
		r = root_vtpm_open(m->tcti, m->state_dir, &m->dev, &m->root);
		if (r < 0)
			return r;
		log_msg(LOG_INFO, "vtpm platform: no SNP guest device; keys come from the platform "
			"root sealed to the vTPM at %s, attestation from its Azure HCL report",
			m->tcti);
		return 0;
	}
	r = snp_dev_open(device, &m->dev);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot open SNP device %s: %s%s", device, strerror(-r),
			r == -ENOPKG ? " (the simulator module is not installed)" :
			r == -ENOENT && !arg_device ? " (and no vTPM for --platform vtpm: "
			"/dev/tpmrm0 is absent and no --tcti was given)" : "");
		return r;
	}
	if (snp_dev_is_simulated(m->dev))
		log_msg(LOG_WARNING, "SIMULATED SNP device %s: evidence is not AMD-signed; for "
			"tests and development only", device);
	return 0;
}

static int setup(struct manager *m)
{
	int r;

	m->idle_usec = (uint64_t)arg_idle * 1000000ULL;
	m->luks_standalone = arg_luks_standalone;
	m->attest_interval_usec = (uint64_t)arg_interval * 1000000ULL;
	m->attest_fresh_usec = (uint64_t)arg_fresh_ms * 1000ULL;
	bool vtpm = platform_is_vtpm();

	m->state_dir = strdup(arg_state_dir);
	/* The vTPM, when one is configured or the kernel's resource manager exists. */
	if (vtpm || arg_tcti || access("/dev/tpmrm0", F_OK) == 0) {
		m->tcti = strdup(arg_tcti ?: TPM2_TCTI_DEFAULT);
		if (!m->tcti)
			return -ENOMEM;
	}
	m->device_spec = vtpm ? text_printf(ROOT_VTPM_DEVICE_PREFIX "%s", m->tcti) :
				strdup(arg_device ?: VHSMD_DEFAULT_DEVICE);
	m->collateral_dir = arg_collateral_dir ? strdup(arg_collateral_dir) :
						 text_printf("%s/collateral", arg_state_dir);
	if (!m->state_dir || !m->device_spec || !m->collateral_dir)
		return -ENOMEM;
	if (arg_test_clock) {
		/* A clock the caller controls would let it move purge protection: tests only. */
		if (!arg_device || strncmp(arg_device, "sim:", 4) != 0) {
			log_msg(LOG_ERR,
				"--test-clock is for tests on the simulator (sim:FILE) only");
			return -EINVAL;
		}
		m->test_clock_path = strdup(arg_test_clock);
		if (!m->test_clock_path)
			return -ENOMEM;
	}
	m->policy_path = strdup(arg_policy ? arg_policy : VHSMD_DEFAULT_POLICY);
	if (!m->policy_path)
		return -ENOMEM;
	m->policy_required = arg_policy != NULL;
	/* A broken policy does not stop the daemon (a restart loop would end in the socket's
	 * start limit and lock every volume at boot): it fails closed and says why. */
	(void)policy_file_load(m);
	for (size_t i = 0; i < arg_n_trust_roots; i++) {
		r = amd_cert_load_file_role(arg_trust_roots[i], AMD_CERT_ARK, &m->trust_roots[i],
					    &m->trust_root_lens[i]);
		if (r < 0) {
			log_msg(LOG_ERR, "--trust-root %s: %s", arg_trust_roots[i], strerror(-r));
			return r;
		}
		m->n_trust_roots++;
	}
	r = open_device(m, vtpm);
	if (r < 0)
		return r;
	r = store_open(m);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot open state directory %s: %s", arg_state_dir, strerror(-r));
		return r;
	}
	r = clock_load(m);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot read the clock high-water mark %s/clock: %s",
			arg_state_dir, strerror(-r));
		return r;
	}
	r = audit_open(m, &m->audit);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot open the audit log in %s: %s%s", arg_state_dir,
			strerror(-r),
			r == -EREMOTEIO || r == -ENODEV ? " (the audit key cannot be derived)" : "");
		return r;
	}
	audit_set_retention(m->audit, (uint64_t)arg_audit_max_bytes,
			    (uint64_t)arg_audit_max_age_days * 86400u);
	audit_set_durability(m->audit, arg_audit_durability);
	/* Not in the initrd (no network there; tokens unlock with their sealed copy). */
	if (!arg_luks_standalone) {
		r = fleet_setup(m, arg_fleet_config);
		if (r < 0)
			return r;
	}
	return 0;
}

static int run(int argc, char **argv)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	int r;

	r = parse_argv(argc, argv);
	if (r <= 0)
		return r;
	if (arg_debug)
		vhsm_log_set_sink(debug_sink, NULL);
	r = secmem_harden_process();
	if (r < 0)
		log_msg(LOG_WARNING, "cannot disable core dumps: %s", strerror(-r));
	/* Every request allocates and frees small secrets (KEK versions, DEKs); keep a few
	 * wiped, locked pages for them rather than mapping and unmapping each time. */
	(void)secmem_pool_enable(VHSMD_SECMEM_POOL);
	if (keypair_secure_heap_init() <= 0)
		log_msg(LOG_WARNING, "OpenSSL's secure heap for key pairs is not locked in memory");
	r = manager_new(&m);
	if (r < 0)
		return r;
	r = setup(m);
	if (r < 0)
		return r;
	r = manager_start(m, arg_socket, arg_luks_key_socket);
	if (r < 0)
		return r;
	/* The attestation first: the audit key is derived after vhsmd's first report. */
	r = attest_now(m);
	if (fleet_start(m) < 0)
		log_msg(LOG_WARNING, "cannot start the fleet sync timer");
	manager_status_attest(m);
	if (r < 0)
		log_msg(LOG_WARNING, "initial attestation failed (%s): nothing will be released "
			"until it passes",
			m->attest.error[0] ? m->attest.error : m->attest.failures);
	struct audit_record rec = { .event = "daemon.start", .result = 0 };
	if (audit_log(m->audit, &rec) < 0 && audit_key_status(m->audit) < 0)
		log_msg(LOG_WARNING, "the audit log is not open yet (%s): requests that need an "
			"audit record are refused until it is",
			strerror(-audit_key_status(m->audit)));
	sd_notify(false, "READY=1");
	r = sd_event_loop(m->event);
	sd_notify(false, "STOPPING=1");
	(void)audit_coalesce_flush(m);
	keypair_cache_clear();
	rec.event = "daemon.stop";
	(void)audit_log(m->audit, &rec);
	return r;
}

int main(int argc, char **argv)
{
	int r = run(argc, argv);

	return r < 0 ? 1 : 0;
}
