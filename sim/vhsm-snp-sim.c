/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-snp-sim: creates and edits simulator state files, issues the simulated certificates,
 * makes reports through the production device layer (lib/snp-dev.c), and injects faults.
 * See vhsm-snp-sim(1). Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "certtable.h"
#include "fileio.h"
#include "hcl-mode.h"
#include "json-cleanup.h"
#include "openssl-util.h"
#include "parse-util.h"
#include "seal.h"
#include "secmem.h"
#include "sim.h"
#include "snp-dev.h"
#include "text.h"

#define EXIT_USAGE 2
#define PROG "vhsm-snp-sim"

/* ---- messages and small parsers ---- */

/* --json (anywhere before "--"): results and errors as one JSON object on stdout. */
static bool arg_json;
/* The first error said, for the --json error object. */
static char first_error[512];
/* A verb's --json result; NULL: {"ok": true}. */
static json_object *json_result;

static void remember_error(const char *prefix, const char *fmt, va_list ap)
{
	int n;

	if (first_error[0])
		return;
	n = snprintf(first_error, sizeof(first_error), "%s", prefix);
	if (n >= 0 && (size_t)n < sizeof(first_error))
		vsnprintf(first_error + n, sizeof(first_error) - (size_t)n, fmt, ap);
}

static void _printf_(1, 2) err_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	remember_error("", fmt, ap);
	va_end(ap);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int usage_error(const char *verb, const char *fmt, ...) _printf_(2, 3);
static int usage_error(const char *verb, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s: ", verb);
	va_start(ap, fmt);
	remember_error(prefix, fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " %s --help'.\n", verb);
	return EXIT_USAGE;
}

/* Hex bytes, optional "0x". Exactly n bytes, or with pad up to n bytes (zero-filled). */
static int parse_hex_bytes(const char *s, uint8_t *out, size_t n, bool pad)
{
	size_t len, bytes;

	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0)
		s += 2;
	len = strlen(s);
	if (len == 0 || len % 2 != 0)
		return -EINVAL;
	bytes = len / 2;
	if (bytes > n || (!pad && bytes != n))
		return -EINVAL;
	memset(out, 0, n);
	for (size_t i = 0; i < bytes; i++) {
		int hi = parse_hex_digit(s[2 * i]), lo = parse_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Hexadecimal with an optional 0x. */
static int parse_u64_hex(const char *s, uint64_t *ret)
{
	return parse_uint64_full(s, 16, 0, 0, UINT64_MAX, ret) < 0 ? -EINVAL : 0;
}

/* Decimal, or hexadecimal and octal with C's prefixes. */
static int parse_uint(const char *s, unsigned long max, uint32_t *ret)
{
	uint64_t v;

	if (parse_uint64_full(s, 0, 0, 0, max, &v) < 0)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* "bl=N,tee=N,snp=N,ucode=N[,fmc=N]": updates the named components of *t. */
static int parse_tcb(const char *spec, enum snp_product p, struct snp_tcb *t)
{
	_cleanup_free_ char *copy = strdup(spec);
	char *save = NULL, *tok;

	if (!copy)
		return -ENOMEM;
	if (!*copy)
		return -EINVAL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint32_t v;

		if (!eq || parse_uint(eq + 1, UINT8_MAX, &v) < 0)
			return -EINVAL;
		*eq = '\0';
		if (strcmp(tok, "bl") == 0)
			t->bootloader = (uint8_t)v;
		else if (strcmp(tok, "tee") == 0)
			t->tee = (uint8_t)v;
		else if (strcmp(tok, "snp") == 0)
			t->snp = (uint8_t)v;
		else if (strcmp(tok, "ucode") == 0)
			t->microcode = (uint8_t)v;
		else if (strcmp(tok, "fmc") == 0 && (p == SNP_PRODUCT_TURIN || v == 0))
			t->fmc = (uint8_t)v;
		else
			return -EINVAL;
	}
	return 0;
}

static void print_hex(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
}

/* ---- options shared by init and set ---- */

enum {
	OPT_HELP = 'h',
	OPT_MEASUREMENT = 0x100,
	OPT_POLICY,
	OPT_FAMILY_ID,
	OPT_IMAGE_ID,
	OPT_HOST_DATA,
	OPT_ID_KEY_DIGEST,
	OPT_AUTHOR_KEY_DIGEST,
	OPT_GUEST_SVN,
	OPT_VMPL,
	OPT_HOST_CERTS,
	OPT_REPORT_VERSION,
	OPT_PLATFORM_INFO,
	OPT_CHIP_ID,
	OPT_TCB,
	OPT_CURRENT_TCB,
	OPT_COMMITTED_TCB,
	OPT_REPORTED_TCB,
	OPT_LAUNCH_TCB,
	OPT_FW_VERSION,
	OPT_CPUID,
	OPT_PRODUCT,
	OPT_CA,
	OPT_FORCE,
	OPT_OUT,
	OPT_REPORT_DATA,
	OPT_CERTS_DIR,
	OPT_BUSY,
	OPT_DISABLE_VMPCK,
	OPT_FAIL_STATUS,
	OPT_TRANSPORT_ERROR,
	OPT_CLEAR,
	_OPT_MAX,
};

/* clang-format off */
#define LAUNCH_LONGOPTS \
	{ "measurement", required_argument, NULL, OPT_MEASUREMENT }, \
	{ "policy", required_argument, NULL, OPT_POLICY }, \
	{ "family-id", required_argument, NULL, OPT_FAMILY_ID }, \
	{ "image-id", required_argument, NULL, OPT_IMAGE_ID }, \
	{ "host-data", required_argument, NULL, OPT_HOST_DATA }, \
	{ "id-key-digest", required_argument, NULL, OPT_ID_KEY_DIGEST }, \
	{ "author-key-digest", required_argument, NULL, OPT_AUTHOR_KEY_DIGEST }, \
	{ "guest-svn", required_argument, NULL, OPT_GUEST_SVN }, \
	{ "vmpl", required_argument, NULL, OPT_VMPL }, \
	{ "host-certs", required_argument, NULL, OPT_HOST_CERTS }, \
	{ "report-version", required_argument, NULL, OPT_REPORT_VERSION }, \
	{ "platform-info", required_argument, NULL, OPT_PLATFORM_INFO }, \
	{ "tcb", required_argument, NULL, OPT_TCB }, \
	{ "help", no_argument, NULL, OPT_HELP }
/* clang-format on */

/* Option values as given, applied once the product is known. */
struct edit_opts {
	const char *val[_OPT_MAX];
	bool any;
};

/* Applies a byte-string option; returns 0 or prints and returns -EINVAL. */
static int apply_hex(const struct edit_opts *o, int opt, const char *name, uint8_t *dst,
		     size_t n)
{
	if (!o->val[opt])
		return 0;
	if (parse_hex_bytes(o->val[opt], dst, n, false) < 0) {
		err_msg("--%s: expected %zu bytes of hex (%zu digits)", name, n, 2 * n);
		return -EINVAL;
	}
	return 0;
}

static int apply_u32(const struct edit_opts *o, int opt, const char *name, unsigned long max,
		     uint32_t *dst)
{
	if (!o->val[opt])
		return 0;
	if (parse_uint(o->val[opt], max, dst) < 0) {
		err_msg("--%s: expected a number from 0 to %lu", name, max);
		return -EINVAL;
	}
	return 0;
}

static int apply_u64(const struct edit_opts *o, int opt, const char *name, uint64_t *dst)
{
	if (!o->val[opt])
		return 0;
	if (parse_u64_hex(o->val[opt], dst) < 0) {
		err_msg("--%s: expected a 64-bit hex number", name);
		return -EINVAL;
	}
	return 0;
}

static int apply_tcb(const struct edit_opts *o, int opt, const char *name,
		     enum snp_product p, struct snp_tcb *dst)
{
	if (!o->val[opt])
		return 0;
	if (parse_tcb(o->val[opt], p, dst) < 0) {
		err_msg("--%s: expected bl=N,tee=N,snp=N,ucode=N%s (each 0-255)", name,
			p == SNP_PRODUCT_TURIN ? "[,fmc=N]" : "");
		return -EINVAL;
	}
	return 0;
}

static int apply_launch(struct sim_state *s, const struct edit_opts *o)
{
	int r = 0;

	r = apply_hex(o, OPT_MEASUREMENT, "measurement", s->measurement, sizeof(s->measurement));
	if (r >= 0)
		r = apply_u64(o, OPT_POLICY, "policy", &s->policy);
	if (r >= 0)
		r = apply_hex(o, OPT_FAMILY_ID, "family-id", s->family_id, sizeof(s->family_id));
	if (r >= 0)
		r = apply_hex(o, OPT_IMAGE_ID, "image-id", s->image_id, sizeof(s->image_id));
	if (r >= 0)
		r = apply_hex(o, OPT_HOST_DATA, "host-data", s->host_data, sizeof(s->host_data));
	if (r >= 0)
		r = apply_hex(o, OPT_ID_KEY_DIGEST, "id-key-digest", s->id_key_digest,
			      sizeof(s->id_key_digest));
	if (r >= 0)
		r = apply_hex(o, OPT_AUTHOR_KEY_DIGEST, "author-key-digest", s->author_key_digest,
			      sizeof(s->author_key_digest));
	if (r >= 0 && o->val[OPT_AUTHOR_KEY_DIGEST])
		s->author_key_en = !mem_is_zero(s->author_key_digest, sizeof(s->author_key_digest));
	if (r >= 0)
		r = apply_u32(o, OPT_GUEST_SVN, "guest-svn", UINT32_MAX, &s->guest_svn);
	if (r >= 0)
		r = apply_u32(o, OPT_VMPL, "vmpl", SIM_VMPL_MAX, &s->vmpck_vmpl);
	if (r >= 0 && o->val[OPT_HOST_CERTS]) {
		/* "none": a bare-metal host's empty certificate table */
		if (strcmp(o->val[OPT_HOST_CERTS], "none") == 0)
			s->host_certs_none = true;
		else if (strcmp(o->val[OPT_HOST_CERTS], "all") == 0)
			s->host_certs_none = false;
		else {
			err_msg("--host-certs: all or none expected");
			r = -EINVAL;
		}
	}
	return r;
}

static int apply_version(struct sim_state *s, const struct edit_opts *o)
{
	uint32_t v;

	if (!o->val[OPT_REPORT_VERSION])
		return 0;
	if (parse_uint(o->val[OPT_REPORT_VERSION], UINT32_MAX, &v) < 0 ||
	    !sim_report_version_ok(v)) {
		err_msg("--report-version: expected 2, 3 or 5");
		return -EINVAL;
	}
	s->report_version = v;
	/* PLATFORM_INFO follows the version (ALIAS_CHECK_COMPLETE is v3+) unless given. */
	if (!o->val[OPT_PLATFORM_INFO])
		s->platform_info = sim_default_platform_info(s->product, v);
	return 0;
}

static int apply_platform(struct sim_state *s, const struct edit_opts *o)
{
	struct snp_tcb t = s->committed_tcb;
	int r;

	r = apply_version(s, o);
	if (r >= 0)
		r = apply_u64(o, OPT_PLATFORM_INFO, "platform-info", &s->platform_info);
	/* --tcb: a firmware update that is committed; the VCEK follows the new TCB. */
	if (r >= 0 && o->val[OPT_TCB]) {
		r = apply_tcb(o, OPT_TCB, "tcb", s->product, &t);
		if (r >= 0) {
			s->current_tcb = s->committed_tcb = t;
			s->reported_tcb_set = false;
		}
	}
	if (r >= 0)
		r = apply_tcb(o, OPT_CURRENT_TCB, "current-tcb", s->product, &s->current_tcb);
	if (r >= 0)
		r = apply_tcb(o, OPT_COMMITTED_TCB, "committed-tcb", s->product,
			      &s->committed_tcb);
	if (r >= 0)
		r = apply_tcb(o, OPT_LAUNCH_TCB, "launch-tcb", s->product, &s->launch_tcb);
	return r;
}

static int apply_reported(struct sim_state *s, const struct edit_opts *o)
{
	struct snp_tcb t = sim_state_reported_tcb(s);

	if (!o->val[OPT_REPORTED_TCB])
		return 0;
	if (strcmp(o->val[OPT_REPORTED_TCB], "committed") == 0) {
		s->reported_tcb_set = false;
		return 0;
	}
	if (apply_tcb(o, OPT_REPORTED_TCB, "reported-tcb", s->product, &t) < 0)
		return -EINVAL;
	s->reported_tcb = t;
	s->reported_tcb_set = true;
	return 0;
}

static int apply_fw(struct sim_state *s, const struct edit_opts *o)
{
	unsigned a, b, c;
	char extra;

	if (!o->val[OPT_FW_VERSION])
		return 0;
	if (sscanf(o->val[OPT_FW_VERSION], "%u.%u.%u%c", &a, &b, &c, &extra) != 3 || a > 255 ||
	    b > 255 || c > 255) {
		err_msg("--fw-version: expected MAJOR.MINOR.BUILD, e.g. 1.55.29");
		return -EINVAL;
	}
	s->fw_current = s->fw_committed = (struct sim_fw_version){ (uint8_t)a, (uint8_t)b,
								   (uint8_t)c };
	return 0;
}

static int apply_cpuid(struct sim_state *s, const struct edit_opts *o)
{
	unsigned f, m, st;
	char extra;

	if (!o->val[OPT_CPUID])
		return 0;
	if (sscanf(o->val[OPT_CPUID], "%x/%x/%x%c", &f, &m, &st, &extra) != 3 || f > 255 ||
	    m > 255 || st > 255) {
		err_msg("--cpuid: expected FAMILY/MODEL/STEPPING in hex, e.g. 19/11/1");
		return -EINVAL;
	}
	s->cpuid_fam = (uint8_t)f;
	s->cpuid_mod = (uint8_t)m;
	s->cpuid_step = (uint8_t)st;
	return 0;
}

static int apply_chip_id(struct sim_state *s, const struct edit_opts *o)
{
	size_t n = s->product == SNP_PRODUCT_TURIN ? 8 : 64;

	if (!o->val[OPT_CHIP_ID])
		return 0;
	memset(s->chip_id, 0, sizeof(s->chip_id));
	return apply_hex(o, OPT_CHIP_ID, "chip-id", s->chip_id, n);
}

static int apply_all(struct sim_state *s, const struct edit_opts *o)
{
	int r;

	r = apply_launch(s, o);
	if (r >= 0)
		r = apply_platform(s, o);
	if (r >= 0)
		r = apply_reported(s, o);
	if (r >= 0)
		r = apply_fw(s, o);
	if (r >= 0)
		r = apply_cpuid(s, o);
	if (r >= 0)
		r = apply_chip_id(s, o);
	if (r >= 0 && sim_state_validate(s) < 0) {
		err_msg("the resulting state is inconsistent");
		r = -EINVAL;
	}
	return r;
}

/*
 * Runs getopt_long over a verb's arguments, storing option values in o and positional
 * arguments in pos (at most npos). Returns 0, 1 when --help was given, or EXIT_USAGE.
 */
static int parse_args(const char *verb, int argc, char **argv, const struct option *longopts,
		      struct edit_opts *o, const char **pos, size_t npos, size_t *ret_npos)
{
	size_t n = 0;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == OPT_HELP)
			return 1;
		if (c == '?' || c == ':' || c < 0 || c >= _OPT_MAX)
			return usage_error(verb, "unknown option or missing argument: %s",
					   argv[optind - 1]);
		o->val[c] = optarg ? optarg : "";
		o->any = true;
	}
	for (; optind < argc; optind++) {
		if (n >= npos)
			return usage_error(verb, "unexpected argument: %s", argv[optind]);
		pos[n++] = argv[optind];
	}
	*ret_npos = n;
	return 0;
}

/* ---- verbs ---- */

static int load_state(const char *path, struct sim_state **ret)
{
	int r = sim_state_load(path, ret);

	if (r == -EBADMSG)
		err_msg("%s: not a valid simulator state file", path);
	else if (r == -EMSGSIZE)
		err_msg("%s: file too large for a simulator state", path);
	else if (r < 0)
		err_msg("%s: %s", path, strerror(-r));
	return r;
}

static int save_state(const struct sim_state *s, const char *path, bool create)
{
	int r = sim_state_save(s, path, create);

	if (r == -EEXIST)
		err_msg("%s exists; use --force to replace it", path);
	else if (r < 0)
		err_msg("cannot write %s: %s", path, strerror(-r));
	return r;
}

static const char init_usage[] =
	"Usage: " PROG " init FILE [PRODUCT | --product milan|genoa|turin] [--measurement HEX]\n"
	"        [--policy HEX] [--family-id HEX] [--image-id HEX] [--host-data HEX]\n"
	"        [--id-key-digest HEX] [--author-key-digest HEX] [--guest-svn N] [--vmpl N]\n"
	"        [--host-certs all|none]\n"
	"        [--tcb bl=N,tee=N,snp=N,ucode=N[,fmc=N]] [--report-version 2|3|5]\n"
	"        [--platform-info HEX] [--chip-id HEX] [--ca OTHER_STATE] [--force]\n"
	"Creates a simulated chip and guest launch. Without --ca, a new simulated ARK and ASK\n"
	"(RSA-4096) are generated; --ca reuses those of another state of the same product.\n";

static int init_ca(struct sim_state *s, const char *ca_path)
{
	_cleanup_(sim_state_freep) struct sim_state *other = NULL;
	int r;

	if (!ca_path) {
		r = sim_ca_generate(s);
		if (r < 0)
			err_msg("cannot generate the simulated CA: %s", strerror(-r));
		return r;
	}
	r = load_state(ca_path, &other);
	if (r < 0)
		return r;
	r = sim_ca_copy(s, other);
	if (r == -EXDEV)
		err_msg("--ca %s: its product is %s, not %s", ca_path,
			snp_product_to_string(other->product), snp_product_to_string(s->product));
	else if (r < 0)
		err_msg("--ca %s: %s", ca_path, strerror(-r));
	return r;
}

static int verb_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "product", required_argument, NULL, OPT_PRODUCT },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "chip-id", required_argument, NULL, OPT_CHIP_ID },
		LAUNCH_LONGOPTS,
		{},
	};
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	struct edit_opts o = {};
	enum snp_product p = SNP_PRODUCT_MILAN;
	const char *pos[2], *file, *product;
	size_t n;
	int r;

	r = parse_args("init", argc, argv, longopts, &o, pos, 2, &n);
	if (r == 1)
		return fputs(init_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n < 1)
		return usage_error("init", "expected one state FILE");
	file = pos[0];
	/* "init FILE PRODUCT" is accepted as a short form of --product. */
	product = n == 2 ? pos[1] : o.val[OPT_PRODUCT];
	if (n == 2 && o.val[OPT_PRODUCT] && strcmp(o.val[OPT_PRODUCT], pos[1]) != 0)
		return usage_error("init", "two different products given");
	if (product) {
		p = snp_product_from_string(product);
		if (p < 0)
			return usage_error("init", "unknown product '%s'", product);
	}
	/* Check early: generating the CA takes a while. create_atomic re-checks safely. */
	if (!o.val[OPT_FORCE] && access(file, F_OK) == 0) {
		err_msg("%s exists; use --force to replace it", file);
		return EXIT_FAILURE;
	}
	r = sim_state_new(p, &s);
	if (r < 0) {
		err_msg("cannot create a state: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	if (apply_all(s, &o) < 0)
		return EXIT_FAILURE;
	/* A fresh launch: the launch TCB is the current one (after --tcb). */
	s->launch_tcb = s->current_tcb;
	if (init_ca(s, o.val[OPT_CA]) < 0)
		return EXIT_FAILURE;
	return save_state(s, file, !o.val[OPT_FORCE]) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

static const char set_usage[] =
	"Usage: " PROG " set FILE [--tcb T] [--current-tcb T] [--committed-tcb T]\n"
	"        [--reported-tcb T|committed] [--launch-tcb T] [--fw-version MAJ.MIN.BUILD]\n"
	"        [--measurement HEX] [--policy HEX] [--family-id HEX] [--image-id HEX]\n"
	"        [--host-data HEX] [--id-key-digest HEX] [--author-key-digest HEX]\n"
	"        [--guest-svn N] [--vmpl N] [--report-version 2|3|5] [--platform-info HEX]\n"
	"        [--cpuid FAM/MOD/STEP] [--host-certs all|none]\n"
	"T is bl=N,tee=N,snp=N,ucode=N[,fmc=N]; unnamed components keep their values.\n"
	"--tcb updates the current and committed TCB (a committed firmware update); the\n"
	"reported TCB, and with it the VCEK, follow the committed TCB unless --reported-tcb\n"
	"pins it. --host-certs none: the host supplies no certificates with the extended\n"
	"report (a bare-metal host without certificate support).\n";

static int verb_set(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "current-tcb", required_argument, NULL, OPT_CURRENT_TCB },
		{ "committed-tcb", required_argument, NULL, OPT_COMMITTED_TCB },
		{ "reported-tcb", required_argument, NULL, OPT_REPORTED_TCB },
		{ "launch-tcb", required_argument, NULL, OPT_LAUNCH_TCB },
		{ "fw-version", required_argument, NULL, OPT_FW_VERSION },
		{ "cpuid", required_argument, NULL, OPT_CPUID },
		LAUNCH_LONGOPTS,
		{},
	};
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	struct edit_opts o = {};
	const char *file;
	size_t n;
	int r;

	r = parse_args("set", argc, argv, longopts, &o, &file, 1, &n);
	if (r == 1)
		return fputs(set_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 1)
		return usage_error("set", "expected one state FILE");
	if (!o.any)
		return usage_error("set", "nothing to change");
	if (load_state(file, &s) < 0 || apply_all(s, &o) < 0)
		return EXIT_FAILURE;
	return save_state(s, file, false) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- certs ---- */

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
	_cleanup_free_ char *path = NULL;
	int r;

	path = text_printf("%s/%s", dir, name);
	if (!path)
		return -ENOMEM;
	r = fileio_write_atomic(path, data, len, 0644);
	if (r < 0)
		err_msg("cannot write %s: %s", path, strerror(-r));
	return r;
}

static int write_pem(const char *dir, const char *name, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	int r;

	if (!bio || !PEM_write_bio_X509(bio, x)) {
		BIO_free(bio);
		ERR_clear_error();
		err_msg("cannot encode %s", name);
		return -ENOMEM;
	}
	len = BIO_get_mem_data(bio, &data);
	r = write_file(dir, name, data, (size_t)len);
	BIO_free(bio);
	return r;
}

static int make_dir(const char *dir)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		err_msg("cannot create %s: %m", dir);
		return negative_errno();
	}
	return 0;
}

static const char certs_usage[] =
	"Usage: " PROG " certs FILE DIR\n"
	"Writes the simulated ark.pem, ask.pem, vcek.pem and vcek.der (for the reported TCB)\n"
	"to DIR. Give ark.pem to verifiers as --trust-root.\n";

static int verb_certs(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, OPT_HELP }, {} };
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(sim_keys_freep) struct sim_keys *k = NULL;
	_cleanup_free_ uint8_t *der = NULL;
	struct edit_opts o = {};
	const char *pos[2];
	size_t n, der_len = 0;
	int r;

	r = parse_args("certs", argc, argv, longopts, &o, pos, 2, &n);
	if (r == 1)
		return fputs(certs_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 2)
		return usage_error("certs", "expected a state FILE and a DIR");
	if (load_state(pos[0], &s) < 0)
		return EXIT_FAILURE;
	r = sim_keys_load(s, &k);
	if (r >= 0)
		r = sim_cert_der(k->vcek, &der, &der_len);
	if (r < 0) {
		err_msg("%s: cannot load the simulated keys: %s", pos[0], strerror(-r));
		return EXIT_FAILURE;
	}
	if (make_dir(pos[1]) < 0 || write_pem(pos[1], "ark.pem", k->ark) < 0 ||
	    write_pem(pos[1], "ask.pem", k->ask) < 0 ||
	    write_pem(pos[1], "vcek.pem", k->vcek) < 0 ||
	    write_file(pos[1], "vcek.der", der, der_len) < 0)
		return EXIT_FAILURE;
	return EXIT_SUCCESS;
}

/* ---- report ---- */

static int write_cert_from_table(const char *dir, const char *name, const struct certtable *t,
				 enum snp_cert_kind kind, bool pem)
{
	const struct certtable_entry *e = certtable_find(t, kind);
	X509 *x;
	int r;

	if (!e) {
		err_msg("the certificate table has no %s", snp_cert_kind_to_string(kind));
		return -ENOENT;
	}
	if (!pem)
		return write_file(dir, name, e->data, e->len);
	x = openssl_x509_from_der(e->data, e->len, SIZE_MAX);
	if (!x) {
		ERR_clear_error();
		err_msg("the %s in the certificate table is malformed",
			snp_cert_kind_to_string(kind));
		return -EBADMSG;
	}
	r = write_pem(dir, name, x);
	X509_free(x);
	return r;
}

static int write_certs_dir(const char *dir, const uint8_t *certs, size_t len)
{
	struct certtable t;

	if (make_dir(dir) < 0)
		return -EIO;
	if (certtable_parse(certs, len, &t) < 0) {
		err_msg("the returned certificate table is malformed");
		return -EBADMSG;
	}
	if (write_cert_from_table(dir, "ark.pem", &t, SNP_CERT_ARK, true) < 0 ||
	    write_cert_from_table(dir, "ask.pem", &t, SNP_CERT_ASK, true) < 0 ||
	    write_cert_from_table(dir, "vcek.der", &t, SNP_CERT_VCEK, false) < 0 ||
	    write_file(dir, "certs.bin", certs, len) < 0)
		return -EIO;
	return 0;
}

static void report_error(int r, const struct snp_status *st)
{
	if (r == -EREMOTEIO)
		err_msg("the firmware refused the request: status 0x%x (%s)", st->msg_status,
			snp_fw_status_name(st->msg_status));
	else if (r == -ENOTTY)
		err_msg("guest requests are disabled (VMPCK lockout); run '" PROG " reboot'");
	else if (r == -EIO)
		err_msg("report request failed: transport error; the VMPCK is now disabled");
	else
		err_msg("report request failed: %s (fw_error 0x%x, vmm_error 0x%x)", strerror(-r),
			st->fw_error, st->vmm_error);
}

static const char report_usage[] =
	"Usage: " PROG " report FILE --out REPORT.bin [--report-data HEX] [--vmpl N]\n"
	"        [--certs-dir DIR]\n"
	"Makes an extended report through the vhsm device layer. REPORT_DATA is up to 64\n"
	"bytes, zero-padded. --vmpl defaults to the VMPL of the guest's VMPCK. With\n"
	"--certs-dir, writes ark.pem, ask.pem, vcek.der and the raw certificate table\n"
	"certs.bin from the host's answer.\n";

static int report_run(const char *file, const uint8_t data[static 64], uint32_t vmpl,
		      const char *out, const char *certs_dir)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	_cleanup_free_ uint8_t *certs = NULL;
	const struct snp_transport_ops *ops;
	uint8_t report[SNP_REPORT_SIZE];
	struct snp_status st = {};
	size_t certs_len = 0;
	void *ctx;
	int r;

	r = vhsm_snp_sim_open(file, &ops, &ctx);
	if (r < 0) {
		err_msg("%s: %s", file,
			r == -EBADMSG ? "not a valid simulator state file" : strerror(-r));
		return EXIT_FAILURE;
	}
	r = snp_dev_open_transport(ops, ctx, &d);
	if (r >= 0)
		r = snp_dev_get_ext_report(d, data, vmpl, report, &certs, &certs_len, &st);
	if (r < 0) {
		report_error(r, &st);
		return EXIT_FAILURE;
	}
	r = fileio_write_atomic(out, report, sizeof(report), 0644);
	if (r < 0) {
		err_msg("cannot write %s: %s", out, strerror(-r));
		return EXIT_FAILURE;
	}
	if (certs_dir && write_certs_dir(certs_dir, certs, certs_len) < 0)
		return EXIT_FAILURE;
	return EXIT_SUCCESS;
}

static int verb_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "report-data", required_argument, NULL, OPT_REPORT_DATA },
		{ "vmpl", required_argument, NULL, OPT_VMPL },
		{ "certs-dir", required_argument, NULL, OPT_CERTS_DIR },
		{ "help", no_argument, NULL, OPT_HELP },
		{},
	};
	struct edit_opts o = {};
	uint8_t data[64] = {};
	uint32_t vmpl = 0;
	const char *file;
	size_t n;
	int r;

	r = parse_args("report", argc, argv, longopts, &o, &file, 1, &n);
	if (r == 1)
		return fputs(report_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 1)
		return usage_error("report", "expected one state FILE");
	if (!o.val[OPT_OUT])
		return usage_error("report", "--out is required");
	if (o.val[OPT_REPORT_DATA] && parse_hex_bytes(o.val[OPT_REPORT_DATA], data, 64, true) < 0)
		return usage_error("report", "--report-data: expected up to 64 bytes of hex");
	if (o.val[OPT_VMPL] && parse_uint(o.val[OPT_VMPL], SIM_VMPL_MAX, &vmpl) < 0)
		return usage_error("report", "--vmpl: expected 0-3");
	if (!o.val[OPT_VMPL]) {
		/* The guest's own VMPL: the lowest one its VMPCK may ask for. */
		_cleanup_(sim_state_freep) struct sim_state *s = NULL;

		if (load_state(file, &s) < 0)
			return EXIT_FAILURE;
		vmpl = s->vmpck_vmpl;
	}
	return report_run(file, data, vmpl, o.val[OPT_OUT], o.val[OPT_CERTS_DIR]);
}

/* ---- show ---- */

static void show_tcb(const char *label, const struct snp_tcb *t, enum snp_product p,
		     const char *note)
{
	printf("%-19s bl=%u tee=%u snp=%u ucode=%u", label, t->bootloader, t->tee, t->snp,
	       t->microcode);
	if (p == SNP_PRODUCT_TURIN)
		printf(" fmc=%u", t->fmc);
	printf(" (0x%016" PRIx64 ")%s\n", snp_tcb_encode(t, p), note);
}

static void show_bytes(const char *label, const uint8_t *b, size_t n)
{
	printf("%-19s ", label);
	print_hex(stdout, b, n);
	putchar('\n');
}

static void show_launch(const struct sim_state *s)
{
	printf("%-19s %s\n", "product:", snp_product_kds_name(s->product));
	printf("%-19s %" PRIu32 "\n", "report version:", s->report_version);
	show_bytes("chip id:", s->chip_id, s->product == SNP_PRODUCT_TURIN ? 8 : 64);
	show_bytes("measurement:", s->measurement, sizeof(s->measurement));
	printf("%-19s 0x%016" PRIx64 "%s\n", "policy:", s->policy,
	       s->policy & SNP_POLICY_DEBUG ? " (DEBUG allowed)" : "");
	show_bytes("family id:", s->family_id, sizeof(s->family_id));
	show_bytes("image id:", s->image_id, sizeof(s->image_id));
	show_bytes("host data:", s->host_data, sizeof(s->host_data));
	show_bytes("id key digest:", s->id_key_digest, sizeof(s->id_key_digest));
	if (s->author_key_en)
		show_bytes("author key digest:", s->author_key_digest,
			   sizeof(s->author_key_digest));
	printf("%-19s %" PRIu32 "\n", "guest svn:", s->guest_svn);
	printf("%-19s %" PRIu32 "\n", "vmpck vmpl:", s->vmpck_vmpl);
}

static void show_platform(const struct sim_state *s)
{
	struct snp_tcb rep = sim_state_reported_tcb(s);

	show_tcb("current tcb:", &s->current_tcb, s->product, "");
	show_tcb("committed tcb:", &s->committed_tcb, s->product, "");
	show_tcb("launch tcb:", &s->launch_tcb, s->product, "");
	show_tcb("reported tcb:", &rep, s->product,
		 s->reported_tcb_set ? " (pinned)" : " (= committed)");
	printf("%-19s %u.%u.%u (committed %u.%u.%u)\n", "firmware:", s->fw_current.major,
	       s->fw_current.minor, s->fw_current.build, s->fw_committed.major,
	       s->fw_committed.minor, s->fw_committed.build);
	printf("%-19s 0x%016" PRIx64 "\n", "platform info:", s->platform_info);
	printf("%-19s family 0x%02x model 0x%02x stepping %u%s\n", "cpuid:", s->cpuid_fam,
	       s->cpuid_mod, s->cpuid_step, s->report_version < 3 ? " (not in v2 reports)" : "");
	if (s->report_version >= 5)
		printf("%-19s launch 0x%" PRIx64 " current 0x%" PRIx64 "\n", "mit vectors:",
		       s->launch_mit_vector, s->current_mit_vector);
}

static void show_faults(const struct sim_faults *f)
{
	printf("%-19s %s\n", "vmpck:", f->vmpck_disabled ? "DISABLED (reboot to clear)" : "ok");
	printf("%-19s busy=%" PRIu32 " transport-error=%s", "pending faults:", f->busy_count,
	       f->transport_error ? "yes" : "no");
	if (f->fail_status_set)
		printf(" fail-status=0x%x", f->fail_status);
	putchar('\n');
}

static void show_ark(const struct sim_keys *k)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!X509_digest(k->ark, EVP_sha256(), md, &len)) {
		ERR_clear_error();
		return;
	}
	show_bytes("ark sha256:", md, len);
}

static const char show_usage[] = "Usage: " PROG " show FILE [--json]\n"
				 "Prints the state without its secrets.\n";

static void jadd(json_object *o, const char *k, json_object *v)
{
	if (json_object_object_add(o, k, v) < 0)
		json_object_put(v);
}

static json_object *jhex(const uint8_t *b, size_t n)
{
	char buf[2 * 64 + 1];

	n = n > 64 ? 64 : n;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", b[i]);
	buf[2 * n] = 0;
	return json_object_new_string(buf);
}

static json_object *jhex64(uint64_t v)
{
	char buf[19];

	snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
	return json_object_new_string(buf);
}

static json_object *jversion(const struct sim_fw_version *v)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%u.%u.%u", v->major, v->minor, v->build);
	return json_object_new_string(buf);
}

/* show --json: what show prints, hex as strings, counts as integers. */
static json_object *show_json(const struct sim_state *s, const struct sim_keys *k)
{
	json_object *o = json_object_new_object();
	struct snp_tcb rep = sim_state_reported_tcb(s);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!o)
		return NULL;
	jadd(o, "product", json_object_new_string(snp_product_kds_name(s->product)));
	jadd(o, "report_version", json_object_new_int64(s->report_version));
	jadd(o, "chip_id", jhex(s->chip_id, s->product == SNP_PRODUCT_TURIN ? 8 : 64));
	jadd(o, "measurement", jhex(s->measurement, sizeof(s->measurement)));
	jadd(o, "policy", jhex64(s->policy));
	jadd(o, "debug_allowed", json_object_new_boolean(s->policy & SNP_POLICY_DEBUG));
	jadd(o, "family_id", jhex(s->family_id, sizeof(s->family_id)));
	jadd(o, "image_id", jhex(s->image_id, sizeof(s->image_id)));
	jadd(o, "host_data", jhex(s->host_data, sizeof(s->host_data)));
	jadd(o, "id_key_digest", jhex(s->id_key_digest, sizeof(s->id_key_digest)));
	jadd(o, "author_key_digest", s->author_key_en ? jhex(s->author_key_digest,
							     sizeof(s->author_key_digest))
						      : json_object_new_string(""));
	jadd(o, "guest_svn", json_object_new_int64(s->guest_svn));
	jadd(o, "vmpck_vmpl", json_object_new_int64(s->vmpck_vmpl));
	jadd(o, "current_tcb", jhex64(snp_tcb_encode(&s->current_tcb, s->product)));
	jadd(o, "committed_tcb", jhex64(snp_tcb_encode(&s->committed_tcb, s->product)));
	jadd(o, "launch_tcb", jhex64(snp_tcb_encode(&s->launch_tcb, s->product)));
	jadd(o, "reported_tcb", jhex64(snp_tcb_encode(&rep, s->product)));
	jadd(o, "reported_tcb_pinned", json_object_new_boolean(s->reported_tcb_set));
	jadd(o, "firmware", jversion(&s->fw_current));
	jadd(o, "firmware_committed", jversion(&s->fw_committed));
	jadd(o, "platform_info", jhex64(s->platform_info));
	jadd(o, "cpuid_family", json_object_new_int64(s->cpuid_fam));
	jadd(o, "cpuid_model", json_object_new_int64(s->cpuid_mod));
	jadd(o, "cpuid_stepping", json_object_new_int64(s->cpuid_step));
	if (X509_digest(k->ark, EVP_sha256(), md, &len))
		jadd(o, "ark_sha256", jhex(md, len));
	ERR_clear_error();
	jadd(o, "vmpck_disabled", json_object_new_boolean(s->faults.vmpck_disabled));
	jadd(o, "busy", json_object_new_int64(s->faults.busy_count));
	jadd(o, "transport_error", json_object_new_boolean(s->faults.transport_error));
	jadd(o, "fail_status", s->faults.fail_status_set ? jhex64(s->faults.fail_status)
							 : json_object_new_string(""));
	return o;
}

static int verb_show(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, OPT_HELP }, {} };
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(sim_keys_freep) struct sim_keys *k = NULL;
	struct edit_opts o = {};
	const char *file;
	size_t n;
	int r;

	r = parse_args("show", argc, argv, longopts, &o, &file, 1, &n);
	if (r == 1)
		return fputs(show_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 1)
		return usage_error("show", "expected one state FILE");
	if (load_state(file, &s) < 0)
		return EXIT_FAILURE;
	r = sim_keys_load(s, &k);
	if (r < 0) {
		err_msg("%s: the simulated CA is unusable: %s", file, strerror(-r));
		return EXIT_FAILURE;
	}
	if (arg_json) {
		json_result = show_json(s, k);
		return json_result ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	show_launch(s);
	show_platform(s);
	show_ark(k);
	show_faults(&s->faults);
	return EXIT_SUCCESS;
}

/* ---- fault, reboot ---- */

static const char fault_usage[] =
	"Usage: " PROG " fault FILE [--busy N] [--disable-vmpck] [--fail-status HEX]\n"
	"        [--transport-error] [--clear]\n"
	"--busy N: the next N requests are throttled (EAGAIN). --disable-vmpck: every request\n"
	"fails with ENOTTY until reboot. --fail-status: the next request is refused by the\n"
	"firmware with that STATUS. --transport-error: the next request fails with EIO and\n"
	"disables the VMPCK, as the kernel does. --clear: removes every fault, lockout too.\n";

static int apply_faults(struct sim_faults *f, const struct edit_opts *o)
{
	uint32_t v;

	if (o->val[OPT_CLEAR])
		*f = (struct sim_faults){};
	if (o->val[OPT_BUSY]) {
		if (parse_uint(o->val[OPT_BUSY], INT32_MAX, &v) < 0)
			return usage_error("fault", "--busy: expected a count");
		f->busy_count = v;
	}
	if (o->val[OPT_FAIL_STATUS]) {
		uint64_t st;

		if (parse_u64_hex(o->val[OPT_FAIL_STATUS], &st) < 0 || st == 0 || st > UINT32_MAX)
			return usage_error("fault", "--fail-status: expected a non-zero 32-bit "
						    "hex status, e.g. 0x16");
		f->fail_status = (uint32_t)st;
		f->fail_status_set = true;
	}
	if (o->val[OPT_DISABLE_VMPCK])
		f->vmpck_disabled = true;
	if (o->val[OPT_TRANSPORT_ERROR])
		f->transport_error = true;
	return 0;
}

static int verb_fault(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "busy", required_argument, NULL, OPT_BUSY },
		{ "disable-vmpck", no_argument, NULL, OPT_DISABLE_VMPCK },
		{ "fail-status", required_argument, NULL, OPT_FAIL_STATUS },
		{ "transport-error", no_argument, NULL, OPT_TRANSPORT_ERROR },
		{ "clear", no_argument, NULL, OPT_CLEAR },
		{ "help", no_argument, NULL, OPT_HELP },
		{},
	};
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	struct edit_opts o = {};
	const char *file;
	size_t n;
	int r;

	r = parse_args("fault", argc, argv, longopts, &o, &file, 1, &n);
	if (r == 1)
		return fputs(fault_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 1)
		return usage_error("fault", "expected one state FILE");
	if (!o.any)
		return usage_error("fault", "no fault given");
	if (load_state(file, &s) < 0)
		return EXIT_FAILURE;
	r = apply_faults(&s->faults, &o);
	if (r != 0)
		return r;
	return save_state(s, file, false) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- unseal ---- */

static const char unseal_usage[] =
	"Usage: " PROG " unseal FILE BLOB\n"
	"Prints, in hex, the plaintext of a blob that vhsmd sealed in the simulated CVM of\n"
	"FILE: derives the sealing key the blob's header names, as the firmware would for\n"
	"that guest. For tests that look for known key bytes (core dumps, logs); a real\n"
	"AMD Secure Processor gives a derived key only to the guest itself.\n";

static int unseal_run(const char *file, const uint8_t *blob, size_t len)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	_cleanup_secmem_ uint8_t *key = secmem_alloc(32), *pt = NULL;
	const struct snp_transport_ops *ops;
	struct snp_key_request kr;
	struct seal_header h;
	struct snp_status st = {};
	size_t pt_len;
	void *ctx;
	int r;

	if (!key || seal_parse_header(blob, len, &h) < 0) {
		err_msg("not a sealed blob");
		return EXIT_FAILURE;
	}
	r = vhsm_snp_sim_open(file, &ops, &ctx);
	if (r < 0) {
		err_msg("%s: %s", file, strerror(-r));
		return EXIT_FAILURE;
	}
	seal_key_request(&h.params, &kr);
	r = snp_dev_open_transport(ops, ctx, &d);
	if (r >= 0)
		r = snp_dev_get_derived_key(d, &kr, key, &st);
	if (r >= 0)
		r = unseal_blob(key, blob, len, &pt, &pt_len);
	if (r < 0) {
		err_msg("cannot unseal: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	print_hex(stdout, pt, pt_len);
	putchar('\n');
	return EXIT_SUCCESS;
}

static int verb_unseal(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, OPT_HELP }, {} };
	_cleanup_free_ uint8_t *blob = NULL;
	struct edit_opts o = {};
	const char *pos[2];
	size_t n, len;
	int r;

	r = parse_args("unseal", argc, argv, longopts, &o, pos, 2, &n);
	if (r == 1)
		return fputs(unseal_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 2)
		return usage_error("unseal", "expected a state FILE and a BLOB");
	if (arg_json) /* the plaintext is a secret: never through json-c */
		return usage_error("unseal", "--json is not offered: the output is key material");
	r = fileio_read_all(pos[1], SEAL_BLOB_MAX, &blob, &len);
	if (r < 0) {
		err_msg("%s: %s", pos[1], strerror(-r));
		return EXIT_FAILURE;
	}
	return unseal_run(pos[0], blob, len);
}

static const char reboot_usage[] = "Usage: " PROG " reboot FILE\n"
				   "Clears the VMPCK lockout, as rebooting the guest would.\n";

static int verb_reboot(int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL, OPT_HELP }, {} };
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	struct edit_opts o = {};
	const char *file;
	size_t n;
	int r;

	r = parse_args("reboot", argc, argv, longopts, &o, &file, 1, &n);
	if (r == 1)
		return fputs(reboot_usage, stdout), EXIT_SUCCESS;
	if (r != 0)
		return r;
	if (n != 1)
		return usage_error("reboot", "expected one state FILE");
	if (load_state(file, &s) < 0)
		return EXIT_FAILURE;
	s->faults.vmpck_disabled = false;
	return save_state(s, file, false) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ---- main ---- */

static const struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} verbs[] = {
	{ "init", verb_init, "create a state file (a simulated chip and guest launch)" },
	{ "certs", verb_certs, "write the simulated ARK, ASK and VCEK certificates" },
	{ "report", verb_report, "make an attestation report through the device layer" },
	{ "show", verb_show, "print a state without its secrets" },
	{ "set", verb_set, "change TCBs or launch parameters" },
	{ "fault", verb_fault, "inject BUSY, VMPCK lockout, firmware status, transport error" },
	{ "reboot", verb_reboot, "clear the VMPCK lockout" },
	{ "unseal", verb_unseal, "print what a blob sealed in this CVM holds (tests)" },
	{ "hcl", sim_verb_hcl, "write an Azure HCL report into a (software) TPM" },
};

static void main_usage(FILE *f)
{
	fputs("Usage: " PROG " VERB [ARGS...]\n"
	      "SEV-SNP guest-request simulator for vhsm (testing only; its evidence is not\n"
	      "AMD-signed).\n\nVerbs:\n",
	      f);
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		fprintf(f, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fputs("\nRun '" PROG " VERB --help' for the options of a verb.\n", f);
}

/* Takes every --json out of argv (up to "--"); returns the new argc. */
static int take_json(int argc, char **argv)
{
	int n = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			arg_json = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/* With --json: the verb's result, {"ok": true}, or {"error", "exit_status"} on failure. */
static void print_json(int status, const char *verb)
{
	_cleanup_(json_object_putp) json_object *o = json_result ?: json_object_new_object();

	json_result = NULL;
	if (!o)
		return;
	if (status != EXIT_SUCCESS) {
		jadd(o, "error", json_object_new_string(first_error[0] ? first_error
								       : "failed"));
		jadd(o, "exit_status", json_object_new_int(status));
	} else if (!json_object_object_length(o)) {
		jadd(o, "ok", json_object_new_boolean(true));
		if (verb)
			jadd(o, "verb", json_object_new_string(verb));
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int run(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		if (!first_error[0])
			snprintf(first_error, sizeof(first_error), "a verb is needed");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		main_usage(stdout);
		return -1;
	}
	if (strcmp(argv[1], "--version") == 0) {
		puts(PROG " " VHSM_VERSION);
		return -1;
	}
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (strcmp(argv[1], verbs[i].name) == 0) {
			bool help = false;
			for (int a = 2; a < argc; a++)
				help |= strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0;
			int r = verbs[i].run(argc - 1, argv + 1);
			return r == EXIT_SUCCESS && help ? -1 : r;
		}
	err_msg("unknown verb '%s'", argv[1]);
	main_usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	int r;

	argc = take_json(argc, argv);
	r = run(argc, argv);
	if (r < 0) /* help or version: printed as text */
		return EXIT_SUCCESS;
	if (arg_json)
		print_json(r, argc > 1 ? argv[1] : NULL);
	return r;
}
