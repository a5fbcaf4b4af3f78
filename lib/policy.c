/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation policy (schema in policy.h, reference in docs/policy.md).
 *
 * Parsing: lib/json's strict parser (bounded size and depth; duplicate member names, names
 * cut short at an escaped NUL, single-quoted strings and raw control characters refused)
 * builds the tree, and the schema walk below checks every member against a table, naming the
 * member that fails.
 *
 * The digest hashes a canonical binary form of the parsed policy, never the text.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "parse-util.h"
#include "policy.h"

enum policy_list_kind {
	POLICY_LIST_MEASUREMENT,
	POLICY_LIST_HOST_DATA,
	POLICY_LIST_ID_KEY_DIGEST,
	POLICY_LIST_AUTHOR_KEY_DIGEST,
	POLICY_LIST_FAMILY_ID,
	POLICY_LIST_IMAGE_ID,
	POLICY_LIST_CHIP_ID,
	_POLICY_LIST_REPORT_MAX, /* the lists above are report fields; those below are not */
	POLICY_LIST_VTPM_AK = _POLICY_LIST_REPORT_MAX,
	_POLICY_LIST_MAX,
};

/* An allow-list of fixed-size values, sorted (memcmp order) and free of duplicates. */
struct policy_list {
	uint8_t *items;
	size_t n;
};

struct snp_policy {
	bool allow_debug;
	bool allow_migration_agent;
	bool allow_smt;
	bool require_single_socket;
	bool allow_vlek;
	unsigned products; /* bit (1 << enum snp_product) per allowed product; 0 = any */
	uint32_t min_report_version;
	struct snp_tcb min_tcb;
	struct snp_tcb min_committed_tcb;
	uint32_t min_guest_svn;
	uint8_t min_abi_major;
	uint8_t min_abi_minor;
	bool has_vmpl;
	uint32_t vmpl;
	bool has_report_data;
	uint8_t report_data[64];
	enum snp_measurement_owner measurement_owner;
	bool require_crl;                 /* no cached AMD CRL fails the gate */
	bool refuse_provider_measured_seal; /* derived-key KEKs refused when the provider owns
					     * the measurement (else: a warning) */
	struct policy_list lists[_POLICY_LIST_MAX];
};

#define REPORT_VERSION_MIN 2u
#define REPORT_VERSION_MAX 5u
#define VMPL_MAX 3u
#define HEX_MAX_BYTES 64u

static const struct list_info {
	const char *member; /* JSON member */
	const char *rule;   /* violation name */
	const char *field;  /* report field, for details */
	size_t size;
	size_t report_off;
} list_info[_POLICY_LIST_MAX] = {
	[POLICY_LIST_MEASUREMENT] = { "measurements", "measurement", "MEASUREMENT", 48,
				      offsetof(struct snp_report, measurement) },
	[POLICY_LIST_HOST_DATA] = { "host_data", "host_data", "HOST_DATA", 32,
				    offsetof(struct snp_report, host_data) },
	[POLICY_LIST_ID_KEY_DIGEST] = { "id_key_digests", "id_key_digest", "ID_KEY_DIGEST", 48,
					offsetof(struct snp_report, id_key_digest) },
	[POLICY_LIST_AUTHOR_KEY_DIGEST] = { "author_key_digests", "author_key_digest",
					    "AUTHOR_KEY_DIGEST", 48,
					    offsetof(struct snp_report, author_key_digest) },
	[POLICY_LIST_FAMILY_ID] = { "family_ids", "family_id", "FAMILY_ID", 16,
				    offsetof(struct snp_report, family_id) },
	[POLICY_LIST_IMAGE_ID] = { "image_ids", "image_id", "IMAGE_ID", 16,
				   offsetof(struct snp_report, image_id) },
	[POLICY_LIST_CHIP_ID] = { "chip_ids", "chip_id", "CHIP_ID", 64,
				  offsetof(struct snp_report, chip_id) },
	/* SHA-256 of the vTPM attestation key (DER SubjectPublicKeyInfo) an HCL report's claims
	 * name: no report field, checked by the verifier of HCL evidence (vhsm-byok). */
	[POLICY_LIST_VTPM_AK] = { "vtpm_ak_digests", "vtpm_ak", "the claims' AK SHA-256", 32, 0 },
};

/* TCB components in canonical (digest) order: Turin's byte order, microcode last. */
enum tcb_component {
	TCB_FMC,
	TCB_BOOTLOADER,
	TCB_TEE,
	TCB_SNP,
	TCB_MICROCODE,
	_TCB_MAX,
};

static const struct tcb_info {
	const char *name;
	size_t off;
	const char *rule_reported;
	const char *rule_committed;
} tcb_info[_TCB_MAX] = {
	[TCB_FMC] = { "fmc", offsetof(struct snp_tcb, fmc), "min_tcb.fmc",
		      "min_committed_tcb.fmc" },
	[TCB_BOOTLOADER] = { "bootloader", offsetof(struct snp_tcb, bootloader),
			     "min_tcb.bootloader", "min_committed_tcb.bootloader" },
	[TCB_TEE] = { "tee", offsetof(struct snp_tcb, tee), "min_tcb.tee",
		      "min_committed_tcb.tee" },
	[TCB_SNP] = { "snp", offsetof(struct snp_tcb, snp), "min_tcb.snp",
		      "min_committed_tcb.snp" },
	[TCB_MICROCODE] = { "microcode", offsetof(struct snp_tcb, microcode), "min_tcb.microcode",
			    "min_committed_tcb.microcode" },
};

static uint8_t *tcb_field(struct snp_tcb *t, enum tcb_component c)
{
	return (uint8_t *)t + tcb_info[c].off;
}

static uint8_t tcb_get(const struct snp_tcb *t, enum tcb_component c)
{
	return *((const uint8_t *)t + tcb_info[c].off);
}

/* ---- errors ---- */

static _printf_(4, 5) int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* Copies an untrusted name into out for an error message: printable ASCII only, shortened. */
static const char *sanitize(char out[static 48], const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && i < 40; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' ? s[i] : '?';
	if (n > 40) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
	return out;
}

/* ---- typed member parsers; path names the member in error messages ---- */

static int parse_bool(struct json_object *v, const char *path, bool *ret, char *err,
		      size_t errlen)
{
	if (!json_object_is_type(v, json_type_boolean))
		return fail(err, errlen, -EBADMSG, "%s: expected true or false", path);
	*ret = json_object_get_boolean(v);
	return 0;
}

static int parse_uint(struct json_object *v, const char *path, uint32_t min, uint32_t max,
		      uint32_t *ret, char *err, size_t errlen)
{
	int64_t x;

	/* json-c clamps out-of-range numbers to INT64_MIN/INT64_MAX/UINT64_MAX, all of which
	 * are outside every range used here; non-integers (1.0, 1e2, NaN) have another type. */
	if (!json_object_is_type(v, json_type_int))
		return fail(err, errlen, -EBADMSG, "%s: expected an integer %" PRIu32 "..%" PRIu32,
			    path, min, max);
	x = json_object_get_int64(v);
	if (x < (int64_t)min || x > (int64_t)max)
		return fail(err, errlen, -EBADMSG, "%s: %" PRId64 " is out of range %" PRIu32
			    "..%" PRIu32, path, x, min, max);
	*ret = (uint32_t)x;
	return 0;
}

static int parse_hex(struct json_object *v, const char *path, uint8_t *out, size_t size,
		     char *err, size_t errlen)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string))
		return fail(err, errlen, -EBADMSG, "%s: expected a string of %zu hex digits", path,
			    2 * size);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len != 2 * size)
		return fail(err, errlen, -EBADMSG, "%s: expected %zu hex digits, got %zu", path,
			    2 * size, len);
	for (size_t i = 0; i < size; i++) {
		int hi = parse_hex_digit(s[2 * i]), lo = parse_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return fail(err, errlen, -EBADMSG, "%s: non-hex character at position %zu",
				    path, hi < 0 ? 2 * i : 2 * i + 1);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int parse_version(struct json_object *v, char *err, size_t errlen)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1)
		return fail(err, errlen, -EBADMSG, "version: expected 1 (the only format version)");
	return 0;
}

static int parse_products(struct json_object *v, unsigned *ret, char *err, size_t errlen)
{
	unsigned mask = 0;
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, -EBADMSG, "products: expected a list of product names");
	n = json_object_array_length(v);
	if (n == 0)
		return fail(err, errlen, -EBADMSG,
			    "products: empty list (omit the member to allow any product)");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		enum snp_product p = _SNP_PRODUCT_INVALID;
		char name[48];

		if (!json_object_is_type(e, json_type_string))
			return fail(err, errlen, -EBADMSG, "products[%zu]: expected a string", i);
		/* An embedded NUL would make strcasecmp see a shorter name. */
		if (strlen(json_object_get_string(e)) == (size_t)json_object_get_string_len(e))
			p = snp_product_from_string(json_object_get_string(e));
		if (p < 0 || p >= _SNP_PRODUCT_MAX)
			return fail(err, errlen, -EBADMSG,
				    "products[%zu]: unknown product \"%s\" (milan, genoa or turin)",
				    i, sanitize(name, json_object_get_string(e)));
		if (mask & (1u << p))
			return fail(err, errlen, -EBADMSG, "products[%zu]: duplicate \"%s\"", i,
				    snp_product_to_string(p));
		mask |= 1u << p;
	}
	*ret = mask;
	return 0;
}

static int parse_tcb(struct json_object *v, const char *member, struct snp_tcb *ret, char *err,
		     size_t errlen)
{
	struct snp_tcb t = {};
	struct json_object_iterator it, end;
	char path[64], name[48];

	if (!json_object_is_type(v, json_type_object))
		return fail(err, errlen, -EBADMSG, "%s: expected an object", member);
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		enum tcb_component c;
		uint32_t x;
		int r;

		for (c = 0; c < _TCB_MAX; c++)
			if (strcmp(key, tcb_info[c].name) == 0)
				break;
		if (c == _TCB_MAX)
			return fail(err, errlen, -EBADMSG, "%s.%s: unknown member (fmc, "
				    "bootloader, tee, snp or microcode)", member,
				    sanitize(name, key));
		snprintf(path, sizeof(path), "%s.%s", member, key);
		r = parse_uint(json_object_iter_peek_value(&it), path, 0, 255, &x, err, errlen);
		if (r < 0)
			return r;
		*tcb_field(&t, c) = (uint8_t)x;
	}
	*ret = t;
	return 0;
}

static int parse_abi(struct json_object *v, struct snp_policy *p, char *err, size_t errlen)
{
	struct json_object_iterator it, end;
	uint32_t major = 0, minor = 0;
	char name[48];

	if (!json_object_is_type(v, json_type_object))
		return fail(err, errlen, -EBADMSG, "min_abi: expected an object");
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *x = json_object_iter_peek_value(&it);
		int r;

		if (strcmp(key, "major") == 0)
			r = parse_uint(x, "min_abi.major", 0, 255, &major, err, errlen);
		else if (strcmp(key, "minor") == 0)
			r = parse_uint(x, "min_abi.minor", 0, 255, &minor, err, errlen);
		else
			r = fail(err, errlen, -EBADMSG, "min_abi.%s: unknown member (major or "
				 "minor)", sanitize(name, key));
		if (r < 0)
			return r;
	}
	p->min_abi_major = (uint8_t)major;
	p->min_abi_minor = (uint8_t)minor;
	return 0;
}

/* Sorts n items of size bytes (insertion sort: lists hold at most POLICY_MAX_LIST items). */
static void list_sort(uint8_t *items, size_t n, size_t size)
{
	uint8_t tmp[HEX_MAX_BYTES];

	for (size_t i = 1; i < n; i++) {
		size_t j = i;

		memcpy(tmp, items + i * size, size);
		while (j > 0 && memcmp(items + (j - 1) * size, tmp, size) > 0) {
			memcpy(items + j * size, items + (j - 1) * size, size);
			j--;
		}
		memcpy(items + j * size, tmp, size);
	}
}

static int parse_list(struct json_object *v, enum policy_list_kind k, struct policy_list *ret,
		      char *err, size_t errlen)
{
	const struct list_info *li = &list_info[k];
	_cleanup_free_ uint8_t *items = NULL;
	char path[64];
	size_t n;

	if (!json_object_is_type(v, json_type_array))
		return fail(err, errlen, -EBADMSG, "%s: expected a list of %zu-digit hex strings",
			    li->member, 2 * li->size);
	n = json_object_array_length(v);
	if (n == 0)
		return fail(err, errlen, -EBADMSG,
			    "%s: empty list (omit the member to allow any value)", li->member);
	if (n > POLICY_MAX_LIST)
		return fail(err, errlen, -EBADMSG, "%s: %zu entries, more than the limit of %u",
			    li->member, n, POLICY_MAX_LIST);
	items = calloc(n, li->size);
	if (!items)
		return fail(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		uint8_t *item = items + i * li->size;
		int r;

		snprintf(path, sizeof(path), "%s[%zu]", li->member, i);
		r = parse_hex(json_object_array_get_idx(v, i), path, item, li->size, err, errlen);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (memcmp(items + j * li->size, item, li->size) == 0)
				return fail(err, errlen, -EBADMSG, "%s: duplicate of %s[%zu]", path,
					    li->member, j);
	}
	list_sort(items, n, li->size);
	free(ret->items);
	ret->items = TAKE_PTR(items);
	ret->n = n;
	return 0;
}

/* ---- top-level members ---- */

/* "tenant" (default) or "provider": who decides what the launch measurement covers. */
static int parse_measurement_owner(struct json_object *v, enum snp_measurement_owner *ret,
				   char *err, size_t errlen)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";

	if (strcmp(s, "tenant") == 0)
		*ret = SNP_MEASUREMENT_OWNER_TENANT;
	else if (strcmp(s, "provider") == 0)
		*ret = SNP_MEASUREMENT_OWNER_PROVIDER;
	else
		return fail(err, errlen, -EBADMSG,
			    "measurement_owner: expected \"tenant\" or \"provider\"");
	return 0;
}

/* "warn" (default) or "refuse": a derived-key KEK where the provider owns the measurement. */
static int parse_provider_sealing(struct json_object *v, bool *ret, char *err, size_t errlen)
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";

	if (strcmp(s, "warn") == 0)
		*ret = false;
	else if (strcmp(s, "refuse") == 0)
		*ret = true;
	else
		return fail(err, errlen, -EBADMSG,
			    "provider_measured_sealing: expected \"warn\" or \"refuse\"");
	return 0;
}

enum member_kind {
	MEMBER_VERSION,
	MEMBER_BOOL,
	MEMBER_PRODUCTS,
	MEMBER_REPORT_VERSION,
	MEMBER_TCB,
	MEMBER_GUEST_SVN,
	MEMBER_ABI,
	MEMBER_VMPL,
	MEMBER_LIST,
	MEMBER_REPORT_DATA,
	MEMBER_MEASUREMENT_OWNER,
	MEMBER_PROVIDER_SEALING,
};

static const struct member {
	const char *name;
	enum member_kind kind;
	size_t off; /* MEMBER_BOOL: the bool; MEMBER_TCB: the struct snp_tcb */
	enum policy_list_kind list;
} members[] = {
	{ "version", MEMBER_VERSION, 0, 0 },
	{ "allow_debug", MEMBER_BOOL, offsetof(struct snp_policy, allow_debug), 0 },
	{ "allow_migration_agent", MEMBER_BOOL, offsetof(struct snp_policy, allow_migration_agent),
	  0 },
	{ "allow_smt", MEMBER_BOOL, offsetof(struct snp_policy, allow_smt), 0 },
	{ "require_single_socket", MEMBER_BOOL, offsetof(struct snp_policy, require_single_socket),
	  0 },
	{ "allow_vlek", MEMBER_BOOL, offsetof(struct snp_policy, allow_vlek), 0 },
	{ "products", MEMBER_PRODUCTS, 0, 0 },
	{ "min_report_version", MEMBER_REPORT_VERSION, 0, 0 },
	{ "min_tcb", MEMBER_TCB, offsetof(struct snp_policy, min_tcb), 0 },
	{ "min_committed_tcb", MEMBER_TCB, offsetof(struct snp_policy, min_committed_tcb), 0 },
	{ "min_guest_svn", MEMBER_GUEST_SVN, 0, 0 },
	{ "min_abi", MEMBER_ABI, 0, 0 },
	{ "vmpl", MEMBER_VMPL, 0, 0 },
	{ "measurements", MEMBER_LIST, 0, POLICY_LIST_MEASUREMENT },
	{ "host_data", MEMBER_LIST, 0, POLICY_LIST_HOST_DATA },
	{ "id_key_digests", MEMBER_LIST, 0, POLICY_LIST_ID_KEY_DIGEST },
	{ "author_key_digests", MEMBER_LIST, 0, POLICY_LIST_AUTHOR_KEY_DIGEST },
	{ "family_ids", MEMBER_LIST, 0, POLICY_LIST_FAMILY_ID },
	{ "image_ids", MEMBER_LIST, 0, POLICY_LIST_IMAGE_ID },
	{ "chip_ids", MEMBER_LIST, 0, POLICY_LIST_CHIP_ID },
	{ "report_data", MEMBER_REPORT_DATA, 0, 0 },
	{ "measurement_owner", MEMBER_MEASUREMENT_OWNER, 0, 0 },
	{ "require_crl", MEMBER_BOOL, offsetof(struct snp_policy, require_crl), 0 },
	{ "provider_measured_sealing", MEMBER_PROVIDER_SEALING, 0, 0 },
	{ "vtpm_ak_digests", MEMBER_LIST, 0, POLICY_LIST_VTPM_AK },
};

static int parse_member(struct snp_policy *p, const struct member *m, struct json_object *v,
			char *err, size_t errlen)
{
	int r;

	switch (m->kind) {
	case MEMBER_VERSION:
		return parse_version(v, err, errlen);
	case MEMBER_BOOL:
		return parse_bool(v, m->name, (bool *)((uint8_t *)p + m->off), err, errlen);
	case MEMBER_PRODUCTS:
		return parse_products(v, &p->products, err, errlen);
	case MEMBER_REPORT_VERSION:
		return parse_uint(v, m->name, REPORT_VERSION_MIN, REPORT_VERSION_MAX,
				  &p->min_report_version, err, errlen);
	case MEMBER_TCB:
		return parse_tcb(v, m->name, (struct snp_tcb *)((uint8_t *)p + m->off), err,
				 errlen);
	case MEMBER_GUEST_SVN:
		return parse_uint(v, m->name, 0, UINT32_MAX, &p->min_guest_svn, err, errlen);
	case MEMBER_ABI:
		return parse_abi(v, p, err, errlen);
	case MEMBER_VMPL:
		r = parse_uint(v, m->name, 0, VMPL_MAX, &p->vmpl, err, errlen);
		if (r >= 0)
			p->has_vmpl = true;
		return r;
	case MEMBER_LIST:
		return parse_list(v, m->list, &p->lists[m->list], err, errlen);
	case MEMBER_REPORT_DATA:
		r = parse_hex(v, m->name, p->report_data, sizeof(p->report_data), err, errlen);
		if (r >= 0)
			p->has_report_data = true;
		return r;
	case MEMBER_MEASUREMENT_OWNER:
		return parse_measurement_owner(v, &p->measurement_owner, err, errlen);
	case MEMBER_PROVIDER_SEALING:
		return parse_provider_sealing(v, &p->refuse_provider_measured_seal, err, errlen);
	}
	return -EINVAL;
}

static int parse_members(struct json_object *root, struct snp_policy *p, char *err,
			 size_t errlen)
{
	struct json_object_iterator it = json_object_iter_begin(root);
	struct json_object_iterator end = json_object_iter_end(root);

	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		const struct member *m = NULL;
		char name[48];
		int r;

		for (size_t i = 0; i < ELEMENTSOF(members); i++)
			if (strcmp(key, members[i].name) == 0) {
				m = &members[i];
				break;
			}
		if (!m)
			return fail(err, errlen, -EBADMSG, "%s: unknown member",
				    sanitize(name, key));
		r = parse_member(p, m, json_object_iter_peek_value(&it), err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

static struct snp_policy *policy_alloc(void)
{
	struct snp_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->allow_smt = true;
	p->allow_vlek = true;
	p->min_report_version = REPORT_VERSION_MIN;
	return p;
}

int snp_policy_parse(const char *json, size_t len, struct snp_policy **ret, char *err,
		     size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *root = NULL;
	_cleanup_(snp_policy_freep) struct snp_policy *p = NULL;
	int r;

	if (err && errlen > 0)
		err[0] = 0;
	if (!ret || (!json && len > 0))
		return fail(err, errlen, -EINVAL, "invalid arguments");
	r = json_parse(json, len, POLICY_MAX_SIZE, "policy", &root, err, errlen);
	if (r < 0)
		return r;
	p = policy_alloc();
	if (!p)
		return fail(err, errlen, -ENOMEM, "out of memory");
	r = parse_members(root, p, err, errlen);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(p);
	return 0;
}

int snp_policy_new_default(struct snp_policy **ret)
{
	struct snp_policy *p;

	if (!ret)
		return -EINVAL;
	p = policy_alloc();
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

void snp_policy_get_pins(const struct snp_policy *p, struct snp_policy_pins *ret)
{
	*ret = (struct snp_policy_pins){
		.measurement = p->lists[POLICY_LIST_MEASUREMENT].n > 0,
		.id_key = p->lists[POLICY_LIST_ID_KEY_DIGEST].n > 0,
		.author_key = p->lists[POLICY_LIST_AUTHOR_KEY_DIGEST].n > 0,
		.host_data = p->lists[POLICY_LIST_HOST_DATA].n > 0,
		.chip_id = p->lists[POLICY_LIST_CHIP_ID].n > 0,
		.has_vmpl = p->has_vmpl,
		.vmpl = p->vmpl,
		.measurement_owner = p->measurement_owner,
		.require_crl = p->require_crl,
		.refuse_provider_measured_seal = p->refuse_provider_measured_seal,
		.vtpm_ak = p->lists[POLICY_LIST_VTPM_AK].n > 0,
	};
}

bool snp_policy_allows_vtpm_ak(const struct snp_policy *p, const uint8_t ak_sha256[static 32])
{
	const struct policy_list *l = &p->lists[POLICY_LIST_VTPM_AK];

	for (size_t i = 0; i < l->n; i++)
		if (CRYPTO_memcmp(l->items + i * 32, ak_sha256, 32) == 0)
			return true;
	return false;
}

struct snp_policy *snp_policy_free(struct snp_policy *p)
{
	if (!p)
		return NULL;
	for (size_t k = 0; k < _POLICY_LIST_MAX; k++)
		free(p->lists[k].items);
	free(p);
	return NULL;
}

/* ---- digest ---- */

/*
 * Canonical form, version 1 (all integers little-endian):
 *   "vhsm-policy" NUL, u8 1,
 *   u8 flags (bit 0 allow_debug, 1 allow_migration_agent, 2 allow_smt,
 *             3 require_single_socket, 4 allow_vlek),
 *   u8 products bitmask (bit 0 milan, 1 genoa, 2 turin; 0 = any),
 *   u32 min_report_version,
 *   5 x u8 min_tcb, 5 x u8 min_committed_tcb (fmc, bootloader, tee, snp, microcode),
 *   u32 min_guest_svn, u8 min_abi major, u8 min_abi minor,
 *   u8 has_vmpl, u8 vmpl,
 *   per list (measurements, host_data, id_key_digests, author_key_digests, family_ids,
 *   image_ids, chip_ids): u32 count, then the entries in ascending byte order,
 *   u8 has_report_data, 64 bytes report_data (zero when absent),
 *   and only when measurement_owner is "provider": the bytes "measurement_owner=provider"
 *   (so that every policy without the member keeps the digest it had before the member
 *   existed); likewise "require_crl" when require_crl is true and
 *   "provider_measured_sealing=refuse" when that member is "refuse";
 *   and only when "vtpm_ak_digests" is present: the bytes "vtpm_ak_digests", u32 count, then
 *   the entries (32 bytes each) in ascending byte order.
 * An absent member and the member at its default are the same policy and serialise alike.
 */
#define POLICY_DIGEST_TAG "vhsm-policy"
#define POLICY_DIGEST_VERSION 1

static void put_u32(uint8_t **q, uint32_t v)
{
	le32_put(*q, v);
	*q += 4;
}

static size_t policy_fixed_serialise(const struct snp_policy *p, uint8_t *buf)
{
	uint8_t *q = buf;

	memcpy(q, POLICY_DIGEST_TAG, sizeof(POLICY_DIGEST_TAG));
	q += sizeof(POLICY_DIGEST_TAG);
	*q++ = POLICY_DIGEST_VERSION;
	*q++ = (uint8_t)(p->allow_debug << 0 | p->allow_migration_agent << 1 | p->allow_smt << 2 |
			 p->require_single_socket << 3 | p->allow_vlek << 4);
	*q++ = (uint8_t)p->products;
	put_u32(&q, p->min_report_version);
	for (enum tcb_component c = 0; c < _TCB_MAX; c++)
		*q++ = tcb_get(&p->min_tcb, c);
	for (enum tcb_component c = 0; c < _TCB_MAX; c++)
		*q++ = tcb_get(&p->min_committed_tcb, c);
	put_u32(&q, p->min_guest_svn);
	*q++ = p->min_abi_major;
	*q++ = p->min_abi_minor;
	*q++ = p->has_vmpl;
	*q++ = (uint8_t)p->vmpl;
	return (size_t)(q - buf);
}

/* The vTPM AK pins, only when there are any (older policies keep their digest). */
static int digest_vtpm_ak(EVP_MD_CTX *ctx, const struct policy_list *l)
{
	uint8_t cnt[4];

	if (l->n == 0)
		return 1;
	le32_put(cnt, (uint32_t)l->n);
	return EVP_DigestUpdate(ctx, "vtpm_ak_digests", 15) &&
	       EVP_DigestUpdate(ctx, cnt, sizeof(cnt)) &&
	       EVP_DigestUpdate(ctx, l->items, l->n * list_info[POLICY_LIST_VTPM_AK].size);
}

void snp_policy_digest(const struct snp_policy *p, uint8_t out[static 32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[64], rd[1 + sizeof(p->report_data)] = {};
	unsigned int n = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(ctx, buf, policy_fixed_serialise(p, buf));
	for (size_t k = 0; ok && k < _POLICY_LIST_REPORT_MAX; k++) {
		uint8_t cnt[4];

		le32_put(cnt, (uint32_t)p->lists[k].n);
		ok = EVP_DigestUpdate(ctx, cnt, sizeof(cnt)) &&
		     (p->lists[k].n == 0 ||
		      EVP_DigestUpdate(ctx, p->lists[k].items, p->lists[k].n * list_info[k].size));
	}
	rd[0] = p->has_report_data;
	if (p->has_report_data)
		memcpy(rd + 1, p->report_data, sizeof(p->report_data));
	ok = ok && EVP_DigestUpdate(ctx, rd, sizeof(rd));
	if (p->measurement_owner == SNP_MEASUREMENT_OWNER_PROVIDER)
		ok = ok && EVP_DigestUpdate(ctx, "measurement_owner=provider", 26);
	if (p->require_crl)
		ok = ok && EVP_DigestUpdate(ctx, "require_crl", 11);
	if (p->refuse_provider_measured_seal)
		ok = ok && EVP_DigestUpdate(ctx, "provider_measured_sealing=refuse", 32);
	ok = ok && digest_vtpm_ak(ctx, &p->lists[POLICY_LIST_VTPM_AK]);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &n) &&
	     n == 32;
	EVP_MD_CTX_free(ctx);
	/* The digest pins the policy in sealed blobs and the API has no error return: any
	 * made-up value could equal another policy's. SHA-256 only fails without memory. */
	if (!ok)
		abort();
	ERR_clear_error();
}

/* ---- evaluation ---- */

static _printf_(3, 4) void add(struct snp_policy_result *res, const char *rule,
			       const char *fmt, ...)
{
	struct snp_policy_violation *v;
	va_list ap;

	if (res->n >= POLICY_MAX_VIOLATIONS)
		return;
	v = &res->v[res->n++];
	v->rule = rule;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
}

static void hex_string(char *out, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

static void eval_flags(const struct snp_policy *p, const struct snp_report *r,
		       struct snp_policy_result *res)
{
	if ((r->policy & SNP_POLICY_DEBUG) && !p->allow_debug)
		add(res, "debug", "POLICY.DEBUG=1 (guest memory readable by the host)");
	if ((r->policy & SNP_POLICY_MIGRATE_MA) && !p->allow_migration_agent)
		add(res, "migration_agent", "POLICY.MIGRATE_MA=1");
	if ((r->platform_info & SNP_PLATFORM_SMT_EN) && !p->allow_smt)
		add(res, "smt", "PLATFORM_INFO.SMT_EN=1");
	if (p->require_single_socket && !(r->policy & SNP_POLICY_SINGLE_SOCKET))
		add(res, "single_socket", "POLICY.SINGLE_SOCKET=0");
	if (snp_report_signing_key(r) == SNP_SIGNING_KEY_VLEK && !p->allow_vlek)
		add(res, "vlek", "signed with a VLEK");
}

static void eval_tcb(const struct snp_tcb *min, uint64_t raw, enum snp_product prod,
		     bool committed, struct snp_policy_result *res)
{
	struct snp_tcb t;

	if (snp_tcb_decode(raw, prod, &t) < 0)
		return; /* prod was checked by the caller */
	for (enum tcb_component c = 0; c < _TCB_MAX; c++) {
		/* FMC exists only in Turin's layout; elsewhere the byte means something else. */
		if (c == TCB_FMC && prod != SNP_PRODUCT_TURIN)
			continue;
		if (tcb_get(&t, c) < tcb_get(min, c))
			add(res, committed ? tcb_info[c].rule_committed : tcb_info[c].rule_reported,
			    "%s %s=%u < %u", committed ? "COMMITTED_TCB" : "REPORTED_TCB",
			    tcb_info[c].name, tcb_get(&t, c), tcb_get(min, c));
	}
}

static void eval_platform(const struct snp_policy *p, const struct snp_report *r,
			  enum snp_product prod, struct snp_policy_result *res)
{
	bool known = prod >= 0 && prod < _SNP_PRODUCT_MAX;

	/* Without a product the TCB cannot be decoded: refuse rather than guess a layout. */
	if (!known)
		add(res, "product", "unknown product (%d)", (int)prod);
	else if (p->products && !(p->products & (1u << prod)))
		add(res, "product", "product %s not allowed", snp_product_to_string(prod));
	if (r->version < p->min_report_version)
		add(res, "report_version", "report version %" PRIu32 " < %" PRIu32, r->version,
		    p->min_report_version);
	if (known) {
		eval_tcb(&p->min_tcb, r->reported_tcb, prod, false, res);
		eval_tcb(&p->min_committed_tcb, r->committed_tcb, prod, true, res);
	}
	if (r->guest_svn < p->min_guest_svn)
		add(res, "guest_svn", "GUEST_SVN %" PRIu32 " < %" PRIu32, r->guest_svn,
		    p->min_guest_svn);
	if (r->current_major < p->min_abi_major ||
	    (r->current_major == p->min_abi_major && r->current_minor < p->min_abi_minor))
		add(res, "abi_version", "firmware %u.%u (build %u) < %u.%u", r->current_major,
		    r->current_minor, r->current_build, p->min_abi_major, p->min_abi_minor);
	if (p->has_vmpl && r->vmpl != p->vmpl)
		add(res, "vmpl", "VMPL %" PRIu32 " != %" PRIu32, r->vmpl, p->vmpl);
}

static bool list_contains(const struct policy_list *l, const uint8_t *v, size_t size)
{
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(l->items + i * size, v, size) == 0)
			return true;
	return false;
}

static void eval_values(const struct snp_policy *p, const struct snp_report *r,
			struct snp_policy_result *res)
{
	char hex[2 * HEX_MAX_BYTES + 1];

	for (size_t k = 0; k < _POLICY_LIST_REPORT_MAX; k++) {
		const struct list_info *li = &list_info[k];
		const uint8_t *v = (const uint8_t *)r + li->report_off;

		if (p->lists[k].n == 0 || list_contains(&p->lists[k], v, li->size))
			continue;
		hex_string(hex, v, li->size);
		add(res, li->rule, "%s %s not allowed", li->field, hex);
	}
	if (p->has_report_data && memcmp(r->report_data, p->report_data, 64) != 0) {
		hex_string(hex, r->report_data, sizeof(r->report_data));
		add(res, "report_data", "REPORT_DATA %s differs", hex);
	}
}

int snp_policy_eval(const struct snp_policy *p, const struct snp_report *r, enum snp_product prod,
		    struct snp_policy_result *ret)
{
	if (!ret)
		return -EINVAL;
	ret->n = 0;
	if (!p || !r)
		return -EINVAL;
	eval_flags(p, r, ret);
	eval_platform(p, r, prod, ret);
	eval_values(p, r, ret);
	return ret->n > 0 ? -EKEYREJECTED : 0;
}

/* ---- effective policy as JSON ---- */

static json_object *tcb_json(const struct snp_tcb *t)
{
	json_object *o = json_object_new_object();

	for (enum tcb_component c = 0; o && c < _TCB_MAX; c++)
		json_object_object_add(o, tcb_info[c].name, json_object_new_int(tcb_get(t, c)));
	return o;
}

static json_object *list_json(const struct policy_list *l, size_t size)
{
	json_object *a = json_object_new_array();
	char hex[2 * HEX_MAX_BYTES + 1];

	for (size_t i = 0; a && i < l->n; i++) {
		hex_string(hex, l->items + i * size, size);
		json_object_array_add(a, json_object_new_string(hex));
	}
	return a;
}

static void add_flags_json(json_object *o, const struct snp_policy *p)
{
	json_object_object_add(o, "allow_debug", json_object_new_boolean(p->allow_debug));
	json_object_object_add(o, "allow_migration_agent",
			       json_object_new_boolean(p->allow_migration_agent));
	json_object_object_add(o, "allow_smt", json_object_new_boolean(p->allow_smt));
	json_object_object_add(o, "require_single_socket",
			       json_object_new_boolean(p->require_single_socket));
	json_object_object_add(o, "allow_vlek", json_object_new_boolean(p->allow_vlek));
}

int snp_policy_to_json(const struct snp_policy *p, struct json_object **ret)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	json_object *abi;
	char hex[2 * sizeof(p->report_data) + 1];

	if (!p || !ret)
		return -EINVAL;
	o = json_object_new_object();
	abi = json_object_new_object();
	if (!o || !abi) {
		json_object_put(abi);
		return -ENOMEM;
	}
	json_object_object_add(o, "version", json_object_new_int(1));
	add_flags_json(o, p);
	if (p->products) {
		json_object *a = json_object_new_array();
		for (enum snp_product k = 0; a && k < _SNP_PRODUCT_MAX; k++)
			if (p->products & (1u << k))
				json_object_array_add(a, json_object_new_string(
								 snp_product_to_string(k)));
		json_object_object_add(o, "products", a);
	}
	json_object_object_add(o, "min_report_version", json_object_new_int64(p->min_report_version));
	json_object_object_add(o, "min_tcb", tcb_json(&p->min_tcb));
	json_object_object_add(o, "min_committed_tcb", tcb_json(&p->min_committed_tcb));
	json_object_object_add(o, "min_guest_svn", json_object_new_int64(p->min_guest_svn));
	json_object_object_add(abi, "major", json_object_new_int(p->min_abi_major));
	json_object_object_add(abi, "minor", json_object_new_int(p->min_abi_minor));
	json_object_object_add(o, "min_abi", abi);
	if (p->has_vmpl)
		json_object_object_add(o, "vmpl", json_object_new_int64(p->vmpl));
	/* An absent list allows any value; an explicit one is listed (sorted). */
	for (size_t k = 0; k < _POLICY_LIST_MAX; k++)
		if (p->lists[k].n)
			json_object_object_add(o, list_info[k].member,
					       list_json(&p->lists[k], list_info[k].size));
	if (p->has_report_data) {
		hex_string(hex, p->report_data, sizeof(p->report_data));
		json_object_object_add(o, "report_data", json_object_new_string(hex));
	}
	if (p->measurement_owner == SNP_MEASUREMENT_OWNER_PROVIDER)
		json_object_object_add(o, "measurement_owner", json_object_new_string("provider"));
	if (p->require_crl)
		json_object_object_add(o, "require_crl", json_object_new_boolean(true));
	if (p->refuse_provider_measured_seal)
		json_object_object_add(o, "provider_measured_sealing",
				       json_object_new_string("refuse"));
	*ret = TAKE_PTR(o);
	return 0;
}
