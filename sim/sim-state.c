/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulator state: defaults per product, the JSON file format and its strict parser. State
 * files may come from anywhere, so the parser checks the type, length and range of every
 * field and refuses unknown keys rather than guessing.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>

#include <json-c/json.h>

#include "ct.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "sim.h"

struct sim_product_defaults {
	uint8_t cpuid_fam, cpuid_mod, cpuid_step;
	uint32_t report_version;
	struct sim_fw_version fw;
	struct snp_tcb tcb;
	size_t chip_id_len;
};

/* Values seen in real reports of each product (SNP-ABI vectors). */
static const struct sim_product_defaults product_defaults[_SNP_PRODUCT_MAX] = {
	[SNP_PRODUCT_MILAN] = {
		.cpuid_fam = 0x19, .cpuid_mod = 0x01, .cpuid_step = 1,
		.report_version = 3, .fw = { 1, 55, 29 },
		.tcb = { .bootloader = 4, .tee = 0, .snp = 24, .microcode = 219 },
		.chip_id_len = 64,
	},
	[SNP_PRODUCT_GENOA] = {
		.cpuid_fam = 0x19, .cpuid_mod = 0x11, .cpuid_step = 1,
		.report_version = 3, .fw = { 1, 55, 40 },
		.tcb = { .bootloader = 10, .tee = 0, .snp = 23, .microcode = 84 },
		.chip_id_len = 64,
	},
	[SNP_PRODUCT_TURIN] = {
		.cpuid_fam = 0x1a, .cpuid_mod = 0x02, .cpuid_step = 1,
		.report_version = 5, .fw = { 1, 55, 61 },
		.tcb = { .fmc = 1, .bootloader = 1, .tee = 1, .snp = 4, .microcode = 0x51 },
		.chip_id_len = 8,
	},
};

#define PLATFORM_INFO_TURIN_BIT6 (1ull << 6)

uint64_t sim_default_platform_info(enum snp_product p, uint32_t version)
{
	uint64_t v = SNP_PLATFORM_SMT_EN | SNP_PLATFORM_ECC_EN;

	if (version >= 3)
		v |= SNP_PLATFORM_ALIAS_CHECK_COMPLETE;
	if (p == SNP_PRODUCT_TURIN)
		v |= PLATFORM_INFO_TURIN_BIT6;
	return v;
}

bool sim_report_version_ok(uint32_t version)
{
	return version == 2 || version == 3 || version == 5;
}

static int random_bytes(void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t k = getrandom(b, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

int sim_state_new(enum snp_product p, struct sim_state **ret)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	const struct sim_product_defaults *d;
	int r;

	if (p < 0 || p >= _SNP_PRODUCT_MAX || !ret)
		return -EINVAL;
	d = &product_defaults[p];
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->product = p;
	r = random_bytes(s->chip_secret, sizeof(s->chip_secret));
	if (r >= 0)
		r = random_bytes(s->chip_id, d->chip_id_len);
	if (r >= 0)
		r = random_bytes(s->report_id, sizeof(s->report_id));
	if (r >= 0)
		r = random_bytes(s->measurement, sizeof(s->measurement));
	if (r < 0)
		return r;
	s->policy = SNP_POLICY_SMT | SNP_POLICY_RSVD_MBO;
	s->current_tcb = s->committed_tcb = s->launch_tcb = d->tcb;
	s->fw_current = s->fw_committed = d->fw;
	s->cpuid_fam = d->cpuid_fam;
	s->cpuid_mod = d->cpuid_mod;
	s->cpuid_step = d->cpuid_step;
	s->report_version = d->report_version;
	s->platform_info = sim_default_platform_info(p, d->report_version);
	/* No migration agent: REPORT_ID_MA is all ones, as on every real report. */
	memset(s->report_id_ma, 0xff, sizeof(s->report_id_ma));
	*ret = TAKE_PTR(s);
	return 0;
}

static char *pem_free(char *p)
{
	if (p) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
	return NULL;
}

struct sim_state *sim_state_free(struct sim_state *s)
{
	if (!s)
		return NULL;
	pem_free(s->ark_key_pem);
	pem_free(s->ark_cert_pem);
	pem_free(s->ask_key_pem);
	pem_free(s->ask_cert_pem);
	explicit_bzero(s, sizeof(*s));
	free(s);
	return NULL;
}

struct snp_tcb sim_state_reported_tcb(const struct sim_state *s)
{
	return s->reported_tcb_set ? s->reported_tcb : s->committed_tcb;
}

static bool tcb_ok(const struct snp_tcb *t, enum snp_product p)
{
	/* Only Turin has an FMC component; elsewhere it has no byte to live in. */
	return p == SNP_PRODUCT_TURIN || t->fmc == 0;
}

int sim_state_validate(const struct sim_state *s)
{
	if (!s || s->product < 0 || s->product >= _SNP_PRODUCT_MAX)
		return -EINVAL;
	if (!sim_report_version_ok(s->report_version) || s->vmpck_vmpl > SIM_VMPL_MAX)
		return -EINVAL;
	if (!tcb_ok(&s->current_tcb, s->product) || !tcb_ok(&s->committed_tcb, s->product) ||
	    !tcb_ok(&s->launch_tcb, s->product) || !tcb_ok(&s->reported_tcb, s->product))
		return -EINVAL;
	if (s->product == SNP_PRODUCT_TURIN && !mem_is_zero(s->chip_id + 8, 56))
		return -EINVAL;
	if (s->faults.fail_status_set && s->faults.fail_status == 0)
		return -EINVAL;
	return 0;
}

/* ---- JSON writing ---- */

struct json_out {
	struct json_object *obj;
	int err;
};

static void put(struct json_out *o, const char *key, struct json_object *v)
{
	if (!v) {
		o->err = -ENOMEM;
		return;
	}
	if (json_object_object_add(o->obj, key, v) < 0) {
		json_object_put(v);
		o->err = -ENOMEM;
	}
}

static void put_hex(struct json_out *o, const char *key, const uint8_t *b, size_t n)
{
	char buf[2 * 64 + 1];

	assert(n <= 64);
	ct_hex_encode(buf, b, n);
	put(o, key, json_object_new_string_len(buf, (int)(2 * n)));
	explicit_bzero(buf, sizeof(buf));
}

static void put_u64hex(struct json_out *o, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
	put(o, key, json_object_new_string(buf));
}

static void put_int(struct json_out *o, const char *key, int64_t v)
{
	put(o, key, json_object_new_int64(v));
}

static void put_bool(struct json_out *o, const char *key, bool v)
{
	put(o, key, json_object_new_boolean(v));
}

static void put_str(struct json_out *o, const char *key, const char *v)
{
	put(o, key, v ? json_object_new_string(v) : NULL);
}

static void put_tcb(struct json_out *o, const char *key, const struct snp_tcb *t)
{
	struct json_out sub = { .obj = json_object_new_object() };

	if (!sub.obj) {
		o->err = -ENOMEM;
		return;
	}
	put_int(&sub, "fmc", t->fmc);
	put_int(&sub, "bl", t->bootloader);
	put_int(&sub, "tee", t->tee);
	put_int(&sub, "snp", t->snp);
	put_int(&sub, "ucode", t->microcode);
	if (sub.err < 0) {
		json_object_put(sub.obj);
		o->err = sub.err;
		return;
	}
	put(o, key, sub.obj);
}

static void put_fw(struct json_out *o, const char *key, const struct sim_fw_version *v)
{
	struct json_out sub = { .obj = json_object_new_object() };

	if (!sub.obj) {
		o->err = -ENOMEM;
		return;
	}
	put_int(&sub, "major", v->major);
	put_int(&sub, "minor", v->minor);
	put_int(&sub, "build", v->build);
	if (sub.err < 0) {
		json_object_put(sub.obj);
		o->err = sub.err;
		return;
	}
	put(o, key, sub.obj);
}

static void put_faults(struct json_out *o, const struct sim_faults *f)
{
	struct json_out sub = { .obj = json_object_new_object() };

	if (!sub.obj) {
		o->err = -ENOMEM;
		return;
	}
	put_int(&sub, "busy_count", f->busy_count);
	put_bool(&sub, "vmpck_disabled", f->vmpck_disabled);
	if (f->fail_status_set)
		put_int(&sub, "fail_status", f->fail_status);
	put_bool(&sub, "transport_error", f->transport_error);
	if (sub.err < 0) {
		json_object_put(sub.obj);
		o->err = sub.err;
		return;
	}
	put(o, "faults", sub.obj);
}

static void put_state(struct json_out *o, const struct sim_state *s)
{
	put_int(o, "format", SIM_STATE_FORMAT);
	put_str(o, "product", snp_product_to_string(s->product));
	put_hex(o, "chip_secret", s->chip_secret, sizeof(s->chip_secret));
	put_hex(o, "chip_id", s->chip_id, sizeof(s->chip_id));
	put_hex(o, "measurement", s->measurement, sizeof(s->measurement));
	put_u64hex(o, "policy", s->policy);
	put_hex(o, "family_id", s->family_id, sizeof(s->family_id));
	put_hex(o, "image_id", s->image_id, sizeof(s->image_id));
	put_hex(o, "host_data", s->host_data, sizeof(s->host_data));
	put_hex(o, "id_key_digest", s->id_key_digest, sizeof(s->id_key_digest));
	put_hex(o, "author_key_digest", s->author_key_digest, sizeof(s->author_key_digest));
	put_bool(o, "author_key_en", s->author_key_en);
	put_int(o, "guest_svn", s->guest_svn);
	put_int(o, "vmpck_vmpl", s->vmpck_vmpl);
	if (s->host_certs_none)
		put_str(o, "host_certs", "none");
	put_tcb(o, "current_tcb", &s->current_tcb);
	put_tcb(o, "committed_tcb", &s->committed_tcb);
	put_tcb(o, "launch_tcb", &s->launch_tcb);
	if (s->reported_tcb_set)
		put_tcb(o, "reported_tcb", &s->reported_tcb);
	put_fw(o, "firmware_current", &s->fw_current);
	put_fw(o, "firmware_committed", &s->fw_committed);
	put_u64hex(o, "platform_info", s->platform_info);
	put_int(o, "cpuid_family", s->cpuid_fam);
	put_int(o, "cpuid_model", s->cpuid_mod);
	put_int(o, "cpuid_stepping", s->cpuid_step);
	put_int(o, "report_version", s->report_version);
	put_u64hex(o, "launch_mit_vector", s->launch_mit_vector);
	put_u64hex(o, "current_mit_vector", s->current_mit_vector);
	put_hex(o, "report_id", s->report_id, sizeof(s->report_id));
	put_hex(o, "report_id_ma", s->report_id_ma, sizeof(s->report_id_ma));
	put_str(o, "ark_key", s->ark_key_pem);
	put_str(o, "ark_cert", s->ark_cert_pem);
	put_str(o, "ask_key", s->ask_key_pem);
	put_str(o, "ask_cert", s->ask_cert_pem);
	put_faults(o, &s->faults);
}

int sim_state_to_json(const struct sim_state *s, char **ret, size_t *ret_len)
{
	struct json_out o = {};
	const char *text;
	size_t len;
	char *copy;
	int r;

	r = sim_state_validate(s);
	if (r < 0)
		return r;
	if (!s->ark_key_pem || !s->ark_cert_pem || !s->ask_key_pem || !s->ask_cert_pem)
		return -ENOKEY;
	o.obj = json_object_new_object();
	if (!o.obj)
		return -ENOMEM;
	put_state(&o, s);
	if (o.err < 0) {
		json_object_put(o.obj);
		return o.err;
	}
	text = json_object_to_json_string_length(o.obj,
						 JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE,
						 &len);
	copy = text ? malloc(len + 2) : NULL;
	if (copy) {
		memcpy(copy, text, len);
		copy[len++] = '\n';
		copy[len] = '\0';
	}
	json_object_put(o.obj);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	*ret_len = len;
	return 0;
}

int sim_state_save(const struct sim_state *s, const char *path, bool create)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!path)
		return -EINVAL;
	r = sim_state_to_json(s, &text, &len);
	if (r < 0)
		return r;
	if (create)
		r = fileio_create_atomic(path, text, len, 0600);
	else
		r = fileio_write_atomic(path, text, len, 0600);
	explicit_bzero(text, len);
	return r;
}

/* ---- JSON parsing ---- */

/*
 * The state file through the strict JSON layer (lib/json): one table per object, every member
 * typed and bounded, unknown members refused with their path named. The handlers below turn
 * the file's encodings (hex, "0x" numbers, PEM, product names) into the state's fields.
 */

/* uint8_t[f->max]: exactly f->max bytes as hex. */
static int dispatch_hex(struct json_object *v, const char *path, const struct json_field *f,
			void *p, char *err, size_t errlen)
{
	if (ct_hex_decode(p, (size_t)f->max, json_object_get_string(v),
			  (size_t)json_object_get_string_len(v)) < 0)
		return json_fail(err, errlen, -EBADMSG, "%s: is not %" PRId64 " bytes of hex", path,
				 f->max);
	return 0;
}

/* Strict "0x" followed by 1-16 hex digits. */
static int parse_u64hex(const char *s, size_t len, uint64_t *ret)
{
	uint64_t v = 0;

	if (len < 3 || len > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EBADMSG;
	for (size_t i = 2; i < len; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EBADMSG;
		v = v << 4 | d;
	}
	*ret = v;
	return 0;
}

/* uint64_t written as "0x..." (a u64 does not survive JSON readers that use doubles). */
static int dispatch_u64hex(struct json_object *v, const char *path, const struct json_field *f,
			   void *p, char *err, size_t errlen)
{
	(void)f;
	if (parse_u64hex(json_object_get_string(v), (size_t)json_object_get_string_len(v), p) < 0)
		return json_fail(err, errlen, -EBADMSG,
				 "%s: is not a 0x-prefixed 64-bit hex number", path);
	return 0;
}

/* uint8_t in min..max. */
static int dispatch_u8(struct json_object *v, const char *path, const struct json_field *f,
		       void *p, char *err, size_t errlen)
{
	uint32_t x;
	int r = json_dispatch_uint32(v, path, f, &x, err, errlen);

	if (r < 0)
		return r;
	*(uint8_t *)p = (uint8_t)x;
	return 0;
}

/* char *: a PEM block of at most SIM_PEM_MAX bytes, copied (the state owns it). */
static int dispatch_pem(struct json_object *v, const char *path, const struct json_field *f,
			void *p, char *err, size_t errlen)
{
	const char *s = json_object_get_string(v);
	size_t len = (size_t)json_object_get_string_len(v);
	char **ret = p;

	(void)f;
	if (len == 0 || len > SIM_PEM_MAX || strlen(s) != len || strncmp(s, "-----BEGIN ", 11) != 0)
		return json_fail(err, errlen, -EBADMSG, "%s: is not a PEM block", path);
	free(*ret);
	*ret = strndup(s, len);
	return *ret ? 0 : -ENOMEM;
}

#define TCB_U8(n, m) { n, json_type_int, dispatch_u8, offsetof(struct snp_tcb, m), JSON_MANDATORY, 0, UINT8_MAX }
static const struct json_field tcb_table[] = {
	TCB_U8("fmc", fmc), TCB_U8("bl", bootloader), TCB_U8("tee", tee), TCB_U8("snp", snp),
	TCB_U8("ucode", microcode), {}
};

#define FW_U8(n, m) { n, json_type_int, dispatch_u8, offsetof(struct sim_fw_version, m), JSON_MANDATORY, 0, UINT8_MAX }
static const struct json_field fw_table[] = {
	FW_U8("major", major), FW_U8("minor", minor), FW_U8("build", build), {}
};

/* "fail_status": also marks it set. */
static int dispatch_fail_status(struct json_object *v, const char *path,
				const struct json_field *f, void *p, char *err, size_t errlen)
{
	struct sim_faults *faults = p;
	int r = json_dispatch_uint32(v, path, f, &faults->fail_status, err, errlen);

	if (r >= 0)
		faults->fail_status_set = true;
	return r;
}

#define FAULT(n, t, fn, m, fl, lo, hi) { n, t, fn, offsetof(struct sim_faults, m), fl, lo, hi }
static const struct json_field faults_table[] = {
	FAULT("busy_count", json_type_int, json_dispatch_uint32, busy_count, JSON_MANDATORY, 0,
	      INT32_MAX),
	FAULT("vmpck_disabled", json_type_boolean, json_dispatch_bool, vmpck_disabled,
	      JSON_MANDATORY, 0, 0),
	FAULT("transport_error", json_type_boolean, json_dispatch_bool, transport_error,
	      JSON_MANDATORY, 0, 0),
	{ "fail_status", json_type_int, dispatch_fail_status, 0, 0, 0, UINT32_MAX },
	{}
};

static int dispatch_tcb(struct json_object *v, const char *path, const struct json_field *f,
			void *p, char *err, size_t errlen)
{
	(void)f;
	return json_dispatch(v, path, tcb_table, p, err, errlen);
}

static int dispatch_fw(struct json_object *v, const char *path, const struct json_field *f,
		       void *p, char *err, size_t errlen)
{
	(void)f;
	return json_dispatch(v, path, fw_table, p, err, errlen);
}

static int dispatch_faults(struct json_object *v, const char *path, const struct json_field *f,
			   void *p, char *err, size_t errlen)
{
	(void)f;
	return json_dispatch(v, path, faults_table, p, err, errlen);
}

/* "reported_tcb": also marks it set (else REPORTED_TCB = COMMITTED_TCB). */
static int dispatch_reported_tcb(struct json_object *v, const char *path,
				 const struct json_field *f, void *p, char *err, size_t errlen)
{
	struct sim_state *s = p;
	int r = dispatch_tcb(v, path, f, &s->reported_tcb, err, errlen);

	if (r >= 0)
		s->reported_tcb_set = true;
	return r;
}

/* "format": only SIM_STATE_FORMAT is read. */
static int dispatch_format(struct json_object *v, const char *path, const struct json_field *f,
			   void *p, char *err, size_t errlen)
{
	uint32_t format;
	int r = json_dispatch_uint32(v, path, f, &format, err, errlen);

	(void)p;
	if (r >= 0 && format != SIM_STATE_FORMAT)
		r = json_fail(err, errlen, -EBADMSG, "%s: state format %" PRIu32
			      " is not supported", path, format);
	return r;
}

static int dispatch_product(struct json_object *v, const char *path, const struct json_field *f,
			    void *p, char *err, size_t errlen)
{
	enum snp_product prod = snp_product_from_string(json_object_get_string(v));

	(void)f;
	if (prod < 0)
		return json_fail(err, errlen, -EBADMSG, "%s: unknown product", path);
	*(enum snp_product *)p = prod;
	return 0;
}

/* "host_certs": "none" is the only value (the host sends an empty certificate table). */
static int dispatch_host_certs(struct json_object *v, const char *path,
			       const struct json_field *f, void *p, char *err, size_t errlen)
{
	(void)f;
	if (strcmp(json_object_get_string(v), "none") != 0)
		return json_fail(err, errlen, -EBADMSG, "%s: expected \"none\"", path);
	*(bool *)p = true;
	return 0;
}

#define ST(n, t, fn, m, lo, hi) { n, t, fn, offsetof(struct sim_state, m), JSON_MANDATORY, lo, hi }
#define ST_HEX(n, m) ST(n, json_type_string, dispatch_hex, m, 0, sizeof(((struct sim_state *)0)->m))
#define ST_U64HEX(n, m) ST(n, json_type_string, dispatch_u64hex, m, 0, 0)
#define ST_U8(n, m) ST(n, json_type_int, dispatch_u8, m, 0, UINT8_MAX)
#define ST_U32(n, m, hi) ST(n, json_type_int, json_dispatch_uint32, m, 0, hi)
#define ST_OBJ(n, fn, m) ST(n, json_type_object, fn, m, 0, 0)
#define ST_PEM(n, m) ST(n, json_type_string, dispatch_pem, m, 0, 0)
static const struct json_field state_table[] = {
	{ "format", json_type_int, dispatch_format, 0, JSON_MANDATORY, 0, UINT32_MAX },
	ST("product", json_type_string, dispatch_product, product, 0, 0),
	ST_HEX("chip_secret", chip_secret),
	ST_HEX("chip_id", chip_id),
	ST_HEX("measurement", measurement),
	ST_U64HEX("policy", policy),
	ST_HEX("family_id", family_id),
	ST_HEX("image_id", image_id),
	ST_HEX("host_data", host_data),
	ST_HEX("id_key_digest", id_key_digest),
	ST_HEX("author_key_digest", author_key_digest),
	ST("author_key_en", json_type_boolean, json_dispatch_bool, author_key_en, 0, 0),
	ST_U32("guest_svn", guest_svn, UINT32_MAX),
	ST_U32("vmpck_vmpl", vmpck_vmpl, SIM_VMPL_MAX),
	{ "host_certs", json_type_string, dispatch_host_certs,
	  offsetof(struct sim_state, host_certs_none), 0, 0, 0 },
	ST_OBJ("current_tcb", dispatch_tcb, current_tcb),
	ST_OBJ("committed_tcb", dispatch_tcb, committed_tcb),
	ST_OBJ("launch_tcb", dispatch_tcb, launch_tcb),
	{ "reported_tcb", json_type_object, dispatch_reported_tcb, 0, 0, 0, 0 },
	ST_OBJ("firmware_current", dispatch_fw, fw_current),
	ST_OBJ("firmware_committed", dispatch_fw, fw_committed),
	ST_U64HEX("platform_info", platform_info),
	ST_U8("cpuid_family", cpuid_fam),
	ST_U8("cpuid_model", cpuid_mod),
	ST_U8("cpuid_stepping", cpuid_step),
	ST_U32("report_version", report_version, UINT32_MAX),
	ST_U64HEX("launch_mit_vector", launch_mit_vector),
	ST_U64HEX("current_mit_vector", current_mit_vector),
	ST_HEX("report_id", report_id),
	ST_HEX("report_id_ma", report_id_ma),
	ST_PEM("ark_key", ark_key_pem),
	ST_PEM("ark_cert", ark_cert_pem),
	ST_PEM("ask_key", ask_key_pem),
	ST_PEM("ask_cert", ask_cert_pem),
	ST_OBJ("faults", dispatch_faults, faults),
	{}
};

static int parse_json(const char *text, size_t len, struct json_object **ret)
{
	char err[JSON_ERR_MAX] = "";
	int r = json_parse(text, len, SIM_STATE_MAX, "simulator state", ret, err, sizeof(err));

	if (r < 0)
		vhsm_log_debug("sim: state: %s", err);
	return r;
}

int sim_state_from_json(const char *text, size_t len, struct sim_state **ret)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	char err[JSON_ERR_MAX] = "";
	int r;

	if (!text || !ret)
		return -EINVAL;
	r = parse_json(text, len, &o);
	if (r < 0)
		return r;
	if (!json_object_is_type(o, json_type_object))
		return -EBADMSG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	/* Into s, which frees any PEM copied before a later member failed. */
	r = json_dispatch(o, NULL, state_table, s, err, sizeof(err));
	if (r < 0) {
		vhsm_log_debug("sim: state: %s", err);
		return r;
	}
	if (sim_state_validate(s) < 0) {
		vhsm_log_debug("sim: state: inconsistent values");
		return -EBADMSG;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

int sim_state_load(const char *path, struct sim_state **ret)
{
	_cleanup_free_ uint8_t *data = NULL;
	size_t len = 0;
	int r;

	if (!path || !ret)
		return -EINVAL;
	r = fileio_read_all(path, SIM_STATE_MAX, &data, &len);
	if (r < 0)
		return r;
	r = sim_state_from_json((const char *)data, len, ret);
	explicit_bzero(data, len);
	return r;
}
