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

static const char *const state_keys[] = {
	"format", "product", "chip_secret", "chip_id", "measurement", "policy", "family_id",
	"image_id", "host_data", "id_key_digest", "author_key_digest", "author_key_en",
	"guest_svn", "vmpck_vmpl", "current_tcb", "committed_tcb", "launch_tcb", "reported_tcb",
	"firmware_current", "firmware_committed", "platform_info", "cpuid_family", "cpuid_model",
	"cpuid_stepping", "report_version", "launch_mit_vector", "current_mit_vector",
	"report_id", "report_id_ma", "ark_key", "ark_cert", "ask_key", "ask_cert", "faults",
	"host_certs", NULL,
};
static const char *const tcb_keys[] = { "fmc", "bl", "tee", "snp", "ucode", NULL };
static const char *const fw_keys[] = { "major", "minor", "build", NULL };
static const char *const fault_keys[] = {
	"busy_count", "vmpck_disabled", "fail_status", "transport_error", NULL,
};

static bool key_known(const char *key, const char *const *known)
{
	for (; *known; known++)
		if (strcmp(key, *known) == 0)
			return true;
	return false;
}

static int check_keys(struct json_object *o, const char *const *known)
{
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (!key_known(key, known)) {
			vhsm_log_debug("sim: state: unknown key \"%.64s\"", key);
			return -EBADMSG;
		}
	}
	return 0;
}

static struct json_object *get_typed(struct json_object *o, const char *key, json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type)) {
		vhsm_log_debug("sim: state: \"%s\" missing or of the wrong type", key);
		return NULL;
	}
	return v;
}

static int get_hex(struct json_object *o, const char *key, uint8_t *out, size_t n)
{
	struct json_object *v = get_typed(o, key, json_type_string);
	int r;

	if (!v)
		return -EBADMSG;
	r = ct_hex_decode(out, n, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	if (r < 0)
		vhsm_log_debug("sim: state: \"%s\" is not %zu bytes of hex", key, n);
	return r < 0 ? -EBADMSG : 0;
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

static int get_u64hex(struct json_object *o, const char *key, uint64_t *ret)
{
	struct json_object *v = get_typed(o, key, json_type_string);

	if (!v)
		return -EBADMSG;
	if (parse_u64hex(json_object_get_string(v), (size_t)json_object_get_string_len(v), ret) <
	    0) {
		vhsm_log_debug("sim: state: \"%s\" is not a 0x-prefixed 64-bit hex number", key);
		return -EBADMSG;
	}
	return 0;
}

static int get_uint(struct json_object *o, const char *key, uint32_t max, uint32_t *ret)
{
	struct json_object *v = get_typed(o, key, json_type_int);
	int64_t i;

	if (!v)
		return -EBADMSG;
	errno = 0;
	i = json_object_get_int64(v);
	if (errno != 0 || i < 0 || (uint64_t)i > max) {
		vhsm_log_debug("sim: state: \"%s\" out of range 0..%" PRIu32, key, max);
		return -EBADMSG;
	}
	*ret = (uint32_t)i;
	return 0;
}

static int get_u8(struct json_object *o, const char *key, uint8_t *ret)
{
	uint32_t v;
	int r = get_uint(o, key, UINT8_MAX, &v);

	if (r >= 0)
		*ret = (uint8_t)v;
	return r;
}

static int get_bool(struct json_object *o, const char *key, bool *ret)
{
	struct json_object *v = get_typed(o, key, json_type_boolean);

	if (!v)
		return -EBADMSG;
	*ret = json_object_get_boolean(v);
	return 0;
}

static int get_tcb(struct json_object *o, const char *key, struct snp_tcb *ret)
{
	struct json_object *t = get_typed(o, key, json_type_object);
	int r;

	if (!t)
		return -EBADMSG;
	r = check_keys(t, tcb_keys);
	if (r >= 0)
		r = get_u8(t, "fmc", &ret->fmc);
	if (r >= 0)
		r = get_u8(t, "bl", &ret->bootloader);
	if (r >= 0)
		r = get_u8(t, "tee", &ret->tee);
	if (r >= 0)
		r = get_u8(t, "snp", &ret->snp);
	if (r >= 0)
		r = get_u8(t, "ucode", &ret->microcode);
	return r;
}

static int get_fw(struct json_object *o, const char *key, struct sim_fw_version *ret)
{
	struct json_object *t = get_typed(o, key, json_type_object);
	int r;

	if (!t)
		return -EBADMSG;
	r = check_keys(t, fw_keys);
	if (r >= 0)
		r = get_u8(t, "major", &ret->major);
	if (r >= 0)
		r = get_u8(t, "minor", &ret->minor);
	if (r >= 0)
		r = get_u8(t, "build", &ret->build);
	return r;
}

static int get_pem(struct json_object *o, const char *key, char **ret)
{
	struct json_object *v = get_typed(o, key, json_type_string);
	const char *s;
	size_t len;

	if (!v)
		return -EBADMSG;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0 || len > SIM_PEM_MAX || strlen(s) != len ||
	    strncmp(s, "-----BEGIN ", 11) != 0) {
		vhsm_log_debug("sim: state: \"%s\" is not a PEM block", key);
		return -EBADMSG;
	}
	*ret = strndup(s, len);
	return *ret ? 0 : -ENOMEM;
}

static int get_faults(struct json_object *o, struct sim_faults *f)
{
	struct json_object *t = get_typed(o, "faults", json_type_object);
	int r;

	if (!t)
		return -EBADMSG;
	r = check_keys(t, fault_keys);
	if (r >= 0)
		r = get_uint(t, "busy_count", INT32_MAX, &f->busy_count);
	if (r >= 0)
		r = get_bool(t, "vmpck_disabled", &f->vmpck_disabled);
	if (r >= 0)
		r = get_bool(t, "transport_error", &f->transport_error);
	if (r >= 0 && json_object_object_get_ex(t, "fail_status", NULL)) {
		r = get_uint(t, "fail_status", UINT32_MAX, &f->fail_status);
		f->fail_status_set = true;
	}
	return r;
}

static int get_product(struct json_object *o, enum snp_product *ret)
{
	struct json_object *v = get_typed(o, "product", json_type_string);
	enum snp_product p;

	if (!v)
		return -EBADMSG;
	p = snp_product_from_string(json_object_get_string(v));
	if (p < 0)
		return -EBADMSG;
	*ret = p;
	return 0;
}

static int get_header(struct json_object *o, struct sim_state *s)
{
	uint32_t format = 0;
	int r;

	r = check_keys(o, state_keys);
	if (r >= 0)
		r = get_uint(o, "format", UINT32_MAX, &format);
	if (r >= 0 && format != SIM_STATE_FORMAT) {
		vhsm_log_debug("sim: state format %" PRIu32 " is not supported", format);
		r = -EBADMSG;
	}
	if (r >= 0)
		r = get_product(o, &s->product);
	return r;
}

static int get_launch(struct json_object *o, struct sim_state *s)
{
	int r;

	r = get_hex(o, "chip_secret", s->chip_secret, sizeof(s->chip_secret));
	if (r >= 0)
		r = get_hex(o, "chip_id", s->chip_id, sizeof(s->chip_id));
	if (r >= 0)
		r = get_hex(o, "measurement", s->measurement, sizeof(s->measurement));
	if (r >= 0)
		r = get_u64hex(o, "policy", &s->policy);
	if (r >= 0)
		r = get_hex(o, "family_id", s->family_id, sizeof(s->family_id));
	if (r >= 0)
		r = get_hex(o, "image_id", s->image_id, sizeof(s->image_id));
	if (r >= 0)
		r = get_hex(o, "host_data", s->host_data, sizeof(s->host_data));
	if (r >= 0)
		r = get_hex(o, "id_key_digest", s->id_key_digest, sizeof(s->id_key_digest));
	if (r >= 0)
		r = get_hex(o, "author_key_digest", s->author_key_digest,
			    sizeof(s->author_key_digest));
	if (r >= 0)
		r = get_bool(o, "author_key_en", &s->author_key_en);
	if (r >= 0)
		r = get_uint(o, "guest_svn", UINT32_MAX, &s->guest_svn);
	if (r >= 0)
		r = get_uint(o, "vmpck_vmpl", SIM_VMPL_MAX, &s->vmpck_vmpl);
	if (r >= 0 && json_object_object_get_ex(o, "host_certs", NULL)) {
		struct json_object *v = get_typed(o, "host_certs", json_type_string);
		if (!v || strcmp(json_object_get_string(v), "none") != 0)
			return -EBADMSG;
		s->host_certs_none = true;
	}
	return r;
}

static int get_platform(struct json_object *o, struct sim_state *s)
{
	int r;

	r = get_tcb(o, "current_tcb", &s->current_tcb);
	if (r >= 0)
		r = get_tcb(o, "committed_tcb", &s->committed_tcb);
	if (r >= 0)
		r = get_tcb(o, "launch_tcb", &s->launch_tcb);
	if (r >= 0 && json_object_object_get_ex(o, "reported_tcb", NULL)) {
		r = get_tcb(o, "reported_tcb", &s->reported_tcb);
		s->reported_tcb_set = true;
	}
	if (r >= 0)
		r = get_fw(o, "firmware_current", &s->fw_current);
	if (r >= 0)
		r = get_fw(o, "firmware_committed", &s->fw_committed);
	if (r >= 0)
		r = get_u64hex(o, "platform_info", &s->platform_info);
	if (r >= 0)
		r = get_u8(o, "cpuid_family", &s->cpuid_fam);
	if (r >= 0)
		r = get_u8(o, "cpuid_model", &s->cpuid_mod);
	if (r >= 0)
		r = get_u8(o, "cpuid_stepping", &s->cpuid_step);
	if (r >= 0)
		r = get_uint(o, "report_version", UINT32_MAX, &s->report_version);
	if (r >= 0)
		r = get_u64hex(o, "launch_mit_vector", &s->launch_mit_vector);
	if (r >= 0)
		r = get_u64hex(o, "current_mit_vector", &s->current_mit_vector);
	if (r >= 0)
		r = get_hex(o, "report_id", s->report_id, sizeof(s->report_id));
	if (r >= 0)
		r = get_hex(o, "report_id_ma", s->report_id_ma, sizeof(s->report_id_ma));
	return r;
}

static int get_ca(struct json_object *o, struct sim_state *s)
{
	int r;

	r = get_pem(o, "ark_key", &s->ark_key_pem);
	if (r >= 0)
		r = get_pem(o, "ark_cert", &s->ark_cert_pem);
	if (r >= 0)
		r = get_pem(o, "ask_key", &s->ask_key_pem);
	if (r >= 0)
		r = get_pem(o, "ask_cert", &s->ask_cert_pem);
	return r;
}

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
	r = get_header(o, s);
	if (r >= 0)
		r = get_launch(o, s);
	if (r >= 0)
		r = get_platform(o, s);
	if (r >= 0)
		r = get_ca(o, s);
	if (r >= 0)
		r = get_faults(o, &s->faults);
	if (r < 0)
		return r;
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
