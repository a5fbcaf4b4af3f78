/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl attestation show: decodes an ATTESTATION_REPORT for humans (or as JSON). */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "json-cleanup.h"
#include "snp-report.h"
#include "vhsmctl.h"


struct show_ctx {
	json_object *obj; /* JSON mode when not NULL */
};

static void show_hex(struct show_ctx *c, const char *name, const uint8_t *p, size_t n)
{
	_cleanup_free_ char *hex = cli_hex(p, n);

	if (c->obj)
		json_object_object_add(c->obj, name, json_object_new_string(hex ? hex : ""));
	else
		printf("%-20s %s\n", name, hex ? hex : "?");
}

static void show_u64(struct show_ctx *c, const char *name, uint64_t v, bool as_hex)
{
	if (c->obj)
		json_object_object_add(c->obj, name, json_object_new_int64((int64_t)v));
	else if (as_hex)
		printf("%-20s 0x%" PRIx64 "\n", name, v);
	else
		printf("%-20s %" PRIu64 "\n", name, v);
}

static void show_str(struct show_ctx *c, const char *name, const char *v)
{
	if (c->obj)
		json_object_object_add(c->obj, name, json_object_new_string(v));
	else
		printf("%-20s %s\n", name, v);
}

static void show_tcb(struct show_ctx *c, const char *name, uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = {};
	char buf[128];

	(void)snp_tcb_decode(raw, p, &t);
	if (c->obj) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "raw", json_object_new_int64((int64_t)raw));
		if (p == SNP_PRODUCT_TURIN)
			json_object_object_add(o, "fmc", json_object_new_int(t.fmc));
		json_object_object_add(o, "bootloader", json_object_new_int(t.bootloader));
		json_object_object_add(o, "tee", json_object_new_int(t.tee));
		json_object_object_add(o, "snp", json_object_new_int(t.snp));
		json_object_object_add(o, "microcode", json_object_new_int(t.microcode));
		json_object_object_add(c->obj, name, o);
		return;
	}
	if (p == SNP_PRODUCT_TURIN)
		snprintf(buf, sizeof(buf), "fmc=%u bl=%u tee=%u snp=%u ucode=%u", t.fmc,
			 t.bootloader, t.tee, t.snp, t.microcode);
	else
		snprintf(buf, sizeof(buf), "bl=%u tee=%u snp=%u ucode=%u", t.bootloader, t.tee,
			 t.snp, t.microcode);
	printf("%-20s %s (0x%016" PRIx64 ")\n", name, buf, raw);
}

static void show_flags(struct show_ctx *c, const char *name, uint64_t v,
		       const char *const *names, size_t n)
{
	char buf[512] = "";
	size_t off = 0;

	for (size_t i = 0; i < n && off < sizeof(buf); i++)
		if (names[i] && (v & (1ull << i)))
			off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
						off ? "," : "", names[i]);
	if (c->obj) {
		json_object_object_add(c->obj, name, json_object_new_int64((int64_t)v));
		return;
	}
	printf("%-20s 0x%" PRIx64 " %s\n", name, v, buf);
}

static void show_report(struct show_ctx *c, const struct snp_report *r, enum snp_product p,
			bool product_known)
{
	static const char *const policy_bits[26] = {
		[16] = "SMT", [17] = "RSVD17", [18] = "MIGRATE_MA", [19] = "DEBUG",
		[20] = "SINGLE_SOCKET", [21] = "CXL_ALLOW", [22] = "AES_256_XTS",
		[23] = "RAPL_DIS", [24] = "CIPHERTEXT_HIDING", [25] = "PAGE_SWAP_DISABLE",
	};
	static const char *const plat_bits[8] = {
		"SMT_EN", "TSME_EN", "ECC_EN", "RAPL_DIS", "CIPHERTEXT_HIDING_EN",
		"ALIAS_CHECK_COMPLETE", "BIT6", "TIO_EN",
	};
	char buf[64];

	show_u64(c, "version", r->version, false);
	show_str(c, "product", product_known ? snp_product_to_string(p) : "unknown (v2: legacy TCB layout)");
	show_u64(c, "guest_svn", r->guest_svn, false);
	show_flags(c, "policy", r->policy, policy_bits, ELEMENTSOF(policy_bits));
	snprintf(buf, sizeof(buf), "%u.%u", (unsigned)((r->policy >> 8) & 0xff),
		 (unsigned)(r->policy & 0xff));
	show_str(c, "policy_min_abi", buf);
	show_hex(c, "family_id", r->family_id, sizeof(r->family_id));
	show_hex(c, "image_id", r->image_id, sizeof(r->image_id));
	show_u64(c, "vmpl", r->vmpl, false);
	show_u64(c, "signature_algo", r->signature_algo, false);
	show_tcb(c, "current_tcb", r->current_tcb, p);
	show_flags(c, "platform_info", r->platform_info, plat_bits, ELEMENTSOF(plat_bits));
	uint32_t sk = snp_report_signing_key(r);
	show_str(c, "signing_key", sk == SNP_SIGNING_KEY_VCEK   ? "vcek"
				   : sk == SNP_SIGNING_KEY_VLEK ? "vlek"
				   : sk == SNP_SIGNING_KEY_NONE ? "none"
								: "reserved");
	show_u64(c, "author_key_en", !!(r->signer_info & SNP_SIGNER_AUTHOR_KEY_EN), false);
	show_u64(c, "mask_chip_key", !!(r->signer_info & SNP_SIGNER_MASK_CHIP_KEY), false);
	show_hex(c, "report_data", r->report_data, sizeof(r->report_data));
	show_hex(c, "measurement", r->measurement, sizeof(r->measurement));
	show_hex(c, "host_data", r->host_data, sizeof(r->host_data));
	show_hex(c, "id_key_digest", r->id_key_digest, sizeof(r->id_key_digest));
	show_hex(c, "author_key_digest", r->author_key_digest, sizeof(r->author_key_digest));
	show_hex(c, "report_id", r->report_id, sizeof(r->report_id));
	show_hex(c, "report_id_ma", r->report_id_ma, sizeof(r->report_id_ma));
	show_tcb(c, "reported_tcb", r->reported_tcb, p);
	if (r->has_cpuid) {
		snprintf(buf, sizeof(buf), "family 0x%02x model 0x%02x stepping 0x%02x",
			 r->cpuid_fam_id, r->cpuid_mod_id, r->cpuid_step);
		show_str(c, "cpuid", buf);
	}
	show_hex(c, "chip_id", r->chip_id, sizeof(r->chip_id));
	show_tcb(c, "committed_tcb", r->committed_tcb, p);
	snprintf(buf, sizeof(buf), "%u.%u.%u", r->current_major, r->current_minor,
		 r->current_build);
	show_str(c, "current_firmware", buf);
	snprintf(buf, sizeof(buf), "%u.%u.%u", r->committed_major, r->committed_minor,
		 r->committed_build);
	show_str(c, "committed_firmware", buf);
	show_tcb(c, "launch_tcb", r->launch_tcb, p);
	if (r->has_mit_vectors) {
		show_u64(c, "launch_mit_vector", r->launch_mit_vector, true);
		show_u64(c, "current_mit_vector", r->current_mit_vector, true);
	}
}

int verb_attestation_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "report", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(json_object_putp) json_object *obj = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	const char *path = NULL;
	struct snp_report rep;
	size_t len;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'r':
			path = optarg;
			break;
		case 'j':
			arg_json = true;
			break;
		case 'h':
			printf("Usage: vhsmctl attestation show --report FILE [--json]\n\n"
			       "Decodes a raw SEV-SNP ATTESTATION_REPORT (1184 bytes). Decoding is\n"
			       "not verification: use 'vhsmctl attestation verify'.\n");
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !path) {
		cli_error(path ? "unexpected argument '%s'" : "--report FILE is required%s",
			  path ? argv[optind] : "");
		return EXIT_USAGE;
	}
	r = fileio_read_all(path, 64 * 1024, &buf, &len);
	if (r < 0) {
		cli_error("%s: %s", path, r == -EMSGSIZE ? "file too large" : strerror(-r));
		return EXIT_ERROR;
	}
	r = snp_report_parse(buf, len, &rep);
	if (r == -EMSGSIZE) {
		cli_error("%s: %zu bytes, an SNP report has exactly %u", path, len,
			  SNP_REPORT_SIZE);
		return EXIT_REJECTED;
	}
	if (r < 0) {
		cli_error("%s: unsupported report version %u", path, len >= 4 ? le32_get(buf) : 0);
		return EXIT_REJECTED;
	}
	r = snp_report_product_from_cpuid(&rep);
	enum snp_product p = r >= 0 ? (enum snp_product)r : SNP_PRODUCT_MILAN;
	struct show_ctx ctx = { .obj = arg_json ? (obj = json_object_new_object()) : NULL };
	show_report(&ctx, &rep, p, r >= 0);
	if (obj)
		puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	return EXIT_OK;
}
