/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ATTESTATION_REPORT parsing and must-be-zero checks (SNP-ABI.md sections 3 and 8). The
 * signature covers only 0x000-0x29F, so the reserved-area check is the only thing that
 * catches edits in the unsigned tail; it is table-driven so that every area is listed once,
 * in offset order, with the report versions it applies to.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "snp-report.h"

#define REPORT_VERSION_MIN 2u
#define REPORT_VERSION_MAX 5u

/* CPUID_FAM_ID values (extended family + base family). */
#define CPU_FAMILY_19H 0x19u
#define CPU_FAMILY_1AH 0x1Au

/* Turin's CHIP_ID is 8 bytes; the rest of the 64-byte field must stay zero. */
#define TURIN_CHIP_ID_LEN 8u

static const char *const product_names[_SNP_PRODUCT_MAX] = {
	[SNP_PRODUCT_MILAN] = "milan",
	[SNP_PRODUCT_GENOA] = "genoa",
	[SNP_PRODUCT_TURIN] = "turin",
};

static const char *const product_kds_names[_SNP_PRODUCT_MAX] = {
	[SNP_PRODUCT_MILAN] = "Milan",
	[SNP_PRODUCT_GENOA] = "Genoa",
	[SNP_PRODUCT_TURIN] = "Turin",
};

static bool product_valid(enum snp_product p)
{
	return p >= 0 && p < _SNP_PRODUCT_MAX;
}

const char *snp_product_to_string(enum snp_product p)
{
	return product_valid(p) ? product_names[p] : NULL;
}

enum snp_product snp_product_from_string(const char *s)
{
	if (!s)
		return _SNP_PRODUCT_INVALID;
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++)
		if (strcasecmp(s, product_names[p]) == 0)
			return p;
	return _SNP_PRODUCT_INVALID;
}

const char *snp_product_kds_name(enum snp_product p)
{
	return product_valid(p) ? product_kds_names[p] : NULL;
}

/* ---- TCB_VERSION ---- */

static uint8_t tcb_byte(uint64_t raw, unsigned i)
{
	return (uint8_t)(raw >> (8 * i));
}

/* Bit masks of the reserved bytes: legacy bytes 2-5, Turin bytes 4-6. */
#define TCB_RSVD_LEGACY 0x0000ffffffff0000ull
#define TCB_RSVD_TURIN 0x00ffffff00000000ull
/* Reserved in both layouts: what can be checked when the product is unknown. */
#define TCB_RSVD_ANY (TCB_RSVD_LEGACY & TCB_RSVD_TURIN)

int snp_tcb_decode(uint64_t raw, enum snp_product p, struct snp_tcb *ret)
{
	struct snp_tcb t = {};

	if (!ret || !product_valid(p))
		return -EINVAL;
	if (p == SNP_PRODUCT_TURIN) {
		t.fmc = tcb_byte(raw, 0);
		t.bootloader = tcb_byte(raw, 1);
		t.tee = tcb_byte(raw, 2);
		t.snp = tcb_byte(raw, 3);
	} else {
		t.bootloader = tcb_byte(raw, 0);
		t.tee = tcb_byte(raw, 1);
		t.snp = tcb_byte(raw, 6);
	}
	t.microcode = tcb_byte(raw, 7);
	*ret = t;
	return 0;
}

uint64_t snp_tcb_encode(const struct snp_tcb *t, enum snp_product p)
{
	if (!t || !product_valid(p))
		return 0;
	if (p == SNP_PRODUCT_TURIN)
		return (uint64_t)t->fmc | (uint64_t)t->bootloader << 8 | (uint64_t)t->tee << 16 |
		       (uint64_t)t->snp << 24 | (uint64_t)t->microcode << 56;
	/* The legacy layout has no FMC byte: t->fmc cannot be represented and is dropped. */
	return (uint64_t)t->bootloader | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48 |
	       (uint64_t)t->microcode << 56;
}

bool snp_tcb_reserved_ok(uint64_t raw, enum snp_product p)
{
	/* Fail closed: without a layout nothing can be said to be well-formed. */
	if (!product_valid(p))
		return false;
	return (raw & (p == SNP_PRODUCT_TURIN ? TCB_RSVD_TURIN : TCB_RSVD_LEGACY)) == 0;
}

bool snp_tcb_ge(const struct snp_tcb *a, const struct snp_tcb *b, enum snp_product p)
{
	if (!a || !b || !product_valid(p))
		return false;
	if (p == SNP_PRODUCT_TURIN && a->fmc < b->fmc)
		return false;
	return a->bootloader >= b->bootloader && a->tee >= b->tee && a->snp >= b->snp &&
	       a->microcode >= b->microcode;
}

/* ---- parsing ---- */

static bool version_supported(uint32_t v)
{
	return v >= REPORT_VERSION_MIN && v <= REPORT_VERSION_MAX;
}

int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret)
{
	struct snp_report r = {};

	if (!buf || !ret)
		return -EINVAL;
	if (len != SNP_REPORT_SIZE)
		return -EMSGSIZE;
	r.version = le32_get(buf + SNP_R_VERSION);
	if (!version_supported(r.version))
		return -EPROTONOSUPPORT;

	r.guest_svn = le32_get(buf + SNP_R_GUEST_SVN);
	r.policy = le64_get(buf + SNP_R_POLICY);
	memcpy(r.family_id, buf + SNP_R_FAMILY_ID, sizeof(r.family_id));
	memcpy(r.image_id, buf + SNP_R_IMAGE_ID, sizeof(r.image_id));
	r.vmpl = le32_get(buf + SNP_R_VMPL);
	r.signature_algo = le32_get(buf + SNP_R_SIGNATURE_ALGO);
	r.current_tcb = le64_get(buf + SNP_R_CURRENT_TCB);
	r.platform_info = le64_get(buf + SNP_R_PLATFORM_INFO);
	r.signer_info = le32_get(buf + SNP_R_SIGNER_INFO);
	memcpy(r.report_data, buf + SNP_R_REPORT_DATA, sizeof(r.report_data));
	memcpy(r.measurement, buf + SNP_R_MEASUREMENT, sizeof(r.measurement));
	memcpy(r.host_data, buf + SNP_R_HOST_DATA, sizeof(r.host_data));
	memcpy(r.id_key_digest, buf + SNP_R_ID_KEY_DIGEST, sizeof(r.id_key_digest));
	memcpy(r.author_key_digest, buf + SNP_R_AUTHOR_KEY_DIGEST, sizeof(r.author_key_digest));
	memcpy(r.report_id, buf + SNP_R_REPORT_ID, sizeof(r.report_id));
	memcpy(r.report_id_ma, buf + SNP_R_REPORT_ID_MA, sizeof(r.report_id_ma));
	r.reported_tcb = le64_get(buf + SNP_R_REPORTED_TCB);

	/* v2 has reserved bytes where v3 put CPUID: leave the fields zero, not garbage. */
	r.has_cpuid = r.version >= 3;
	if (r.has_cpuid) {
		r.cpuid_fam_id = buf[SNP_R_CPUID_FAM];
		r.cpuid_mod_id = buf[SNP_R_CPUID_MOD];
		r.cpuid_step = buf[SNP_R_CPUID_STEP];
	}

	memcpy(r.chip_id, buf + SNP_R_CHIP_ID, sizeof(r.chip_id));
	r.committed_tcb = le64_get(buf + SNP_R_COMMITTED_TCB);
	r.current_build = buf[SNP_R_CURRENT_BUILD];
	r.current_minor = buf[SNP_R_CURRENT_MINOR];
	r.current_major = buf[SNP_R_CURRENT_MAJOR];
	r.committed_build = buf[SNP_R_COMMITTED_BUILD];
	r.committed_minor = buf[SNP_R_COMMITTED_MINOR];
	r.committed_major = buf[SNP_R_COMMITTED_MAJOR];
	r.launch_tcb = le64_get(buf + SNP_R_LAUNCH_TCB);

	r.has_mit_vectors = r.version >= 5;
	if (r.has_mit_vectors) {
		r.launch_mit_vector = le64_get(buf + SNP_R_LAUNCH_MIT_VECTOR);
		r.current_mit_vector = le64_get(buf + SNP_R_CURRENT_MIT_VECTOR);
	}

	memcpy(r.sig_r, buf + SNP_R_SIG_R, sizeof(r.sig_r));
	memcpy(r.sig_s, buf + SNP_R_SIG_S, sizeof(r.sig_s));
	*ret = r;
	return 0;
}

/* ---- must-be-zero / must-be-one areas ---- */

enum mbz_kind {
	MBZ_BYTES,     /* [off, off+len) all zero */
	MBZ_POLICY,    /* bit 17 set, 63:26 clear */
	MBZ_SIGNER,    /* bits 31:5 clear, SIGNING_KEY not 2-6 */
	MBZ_TCB,       /* reserved bytes of the TCB_VERSION at off */
	MBZ_CHIP_TAIL, /* Turin: CHIP_ID bytes 8-63 */
};

struct mbz_area {
	uint16_t off;
	uint16_t len;
	uint8_t vmin, vmax; /* report versions the area exists in */
	enum mbz_kind kind;
	const char *name;
};

/* In offset order, so that the "first offending area" is the lowest one. */
static const struct mbz_area mbz_areas[] = {
	{ SNP_R_POLICY, 8, 2, 5, MBZ_POLICY, "policy" },
	{ SNP_R_CURRENT_TCB, 8, 2, 5, MBZ_TCB, "current_tcb_reserved" },
	{ SNP_R_SIGNER_INFO, 4, 2, 5, MBZ_SIGNER, "signer_info" },
	{ SNP_R_RSVD_04C, 0x050 - 0x04C, 2, 5, MBZ_BYTES, "reserved_0x04c" },
	{ SNP_R_REPORTED_TCB, 8, 2, 5, MBZ_TCB, "reported_tcb_reserved" },
	{ SNP_R_CPUID_FAM, SNP_R_CHIP_ID - SNP_R_CPUID_FAM, 2, 2, MBZ_BYTES, "reserved_0x188" },
	{ SNP_R_RSVD_18B, SNP_R_CHIP_ID - SNP_R_RSVD_18B, 3, 5, MBZ_BYTES, "reserved_0x18b" },
	{ SNP_R_CHIP_ID, 64, 2, 5, MBZ_CHIP_TAIL, "chip_id_tail" },
	{ SNP_R_COMMITTED_TCB, 8, 2, 5, MBZ_TCB, "committed_tcb_reserved" },
	{ SNP_R_RSVD_1EB, 1, 2, 5, MBZ_BYTES, "reserved_0x1eb" },
	{ SNP_R_RSVD_1EF, 1, 2, 5, MBZ_BYTES, "reserved_0x1ef" },
	{ SNP_R_LAUNCH_TCB, 8, 2, 5, MBZ_TCB, "launch_tcb_reserved" },
	{ SNP_R_LAUNCH_MIT_VECTOR, SNP_R_SIGNATURE - SNP_R_LAUNCH_MIT_VECTOR, 2, 4, MBZ_BYTES,
	  "reserved_0x1f8" },
	{ SNP_R_RSVD_208, SNP_R_SIGNATURE - SNP_R_RSVD_208, 5, 5, MBZ_BYTES, "reserved_0x208" },
	/* R and S are 72-byte little-endian fields holding 48-byte P-384 values. */
	{ SNP_R_SIG_R + SNP_P384_LEN, SNP_SIG_COMPONENT_LEN - SNP_P384_LEN, 2, 5, MBZ_BYTES,
	  "sig_r_high" },
	{ SNP_R_SIG_S + SNP_P384_LEN, SNP_SIG_COMPONENT_LEN - SNP_P384_LEN, 2, 5, MBZ_BYTES,
	  "sig_s_high" },
	{ SNP_R_SIG_RSVD, SNP_R_END - SNP_R_SIG_RSVD, 2, 5, MBZ_BYTES, "signature_tail" },
};

static const char *check_policy(uint64_t policy)
{
	if (!(policy & SNP_POLICY_RSVD_MBO))
		return "policy_bit17";
	if (policy & ~SNP_POLICY_KNOWN_MASK)
		return "policy_reserved";
	return NULL;
}

static const char *check_signer(uint32_t si)
{
	uint32_t key = (si & SNP_SIGNER_SIGNING_KEY_MASK) >> SNP_SIGNER_SIGNING_KEY_SHIFT;

	if (si & SNP_SIGNER_RSVD_MASK)
		return "signer_info_reserved";
	if (key != SNP_SIGNING_KEY_VCEK && key != SNP_SIGNING_KEY_VLEK &&
	    key != SNP_SIGNING_KEY_NONE)
		return "signing_key_reserved";
	return NULL;
}

/* Returns NULL when the area is as required, else the name to report. */
static const char *check_area(const uint8_t *raw, const struct mbz_area *a, enum snp_product p)
{
	const uint8_t *f = raw + a->off;
	uint64_t tcb;

	switch (a->kind) {
	case MBZ_BYTES:
		return mem_is_zero(f, a->len) ? NULL : a->name;
	case MBZ_POLICY:
		return check_policy(le64_get(f));
	case MBZ_SIGNER:
		return check_signer(le32_get(f));
	case MBZ_TCB:
		tcb = le64_get(f);
		/* Unknown product: only the bytes reserved in every layout can be judged. */
		if (product_valid(p))
			return snp_tcb_reserved_ok(tcb, p) ? NULL : a->name;
		return (tcb & TCB_RSVD_ANY) ? a->name : NULL;
	case MBZ_CHIP_TAIL:
		if (p != SNP_PRODUCT_TURIN)
			return NULL;
		return mem_is_zero(f + TURIN_CHIP_ID_LEN, a->len - TURIN_CHIP_ID_LEN) ? NULL
										       : a->name;
	}
	return a->name;
}

int snp_report_check_reserved(const uint8_t raw[static SNP_REPORT_SIZE], enum snp_product p,
			      const char **ret_field)
{
	uint32_t version;

	if (!raw)
		return -EINVAL;
	/* Which areas are reserved depends on the version: an unknown one cannot pass. */
	version = le32_get(raw + SNP_R_VERSION);
	if (!version_supported(version)) {
		if (ret_field)
			*ret_field = "version";
		return -EBADMSG;
	}
	for (size_t i = 0; i < ELEMENTSOF(mbz_areas); i++) {
		const struct mbz_area *a = &mbz_areas[i];
		const char *bad;

		if (version < a->vmin || version > a->vmax)
			continue;
		bad = check_area(raw, a, p);
		if (bad) {
			if (ret_field)
				*ret_field = bad;
			return -EBADMSG;
		}
	}
	return 0;
}

int snp_report_product_from_cpuid(const struct snp_report *r)
{
	if (!r)
		return -EINVAL;
	if (r->version < 3 || !r->has_cpuid)
		return -ENODATA;
	switch (r->cpuid_fam_id) {
	case CPU_FAMILY_19H:
		if (r->cpuid_mod_id <= 0x0F)
			return SNP_PRODUCT_MILAN;
		/* 0xA0-0xAF is Siena, which shares Genoa's keys and TCB layout. */
		if ((r->cpuid_mod_id >= 0x10 && r->cpuid_mod_id <= 0x1F) ||
		    (r->cpuid_mod_id >= 0xA0 && r->cpuid_mod_id <= 0xAF))
			return SNP_PRODUCT_GENOA;
		break;
	case CPU_FAMILY_1AH:
		if (r->cpuid_mod_id <= 0x11)
			return SNP_PRODUCT_TURIN;
		break;
	}
	return -EPROTONOSUPPORT;
}
