/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-snp-sim hcl: the simulator in the paravisor's place on an Azure CVM. It makes an HCL
 * report the way OpenHCL does (docs/platforms.md): runtime claims naming the vTPM's AK
 * (persistent handle 0x81000003, created in the endorsement hierarchy when missing), the VM
 * configuration (tpm-persisted among it) and the user data from NV 0x01400002; an SNP report
 * from the simulated firmware whose REPORT_DATA is SHA-256 of the claims, signed by the
 * simulated VCEK; all written to NV 0x01400001 of the (software) TPM. With --watch it keeps
 * doing so whenever the user data changes, as the paravisor does, so that vhsm's production
 * path (vhsmctl attestation hcl --fresh) runs unchanged against swtpm. Tests only.
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "amd-cert.h"
#include "ct.h"
#include "fileio.h"
#include "hcl-attest.h"
#include "hcl-mode.h"
#include "hcl-report.h"
#include "openssl-util.h"
#include "sim.h"
#include "snp-dev.h"
#include "tpm2-nv.h"

#define PROG "vhsm-snp-sim"
/* What Azure's index holds, or what libtpms allows (MAX_NV_INDEX_SIZE 2048). */
static const size_t nv_sizes[] = { 2600, 2048 };
#define POLL_MS 50

static const char hcl_usage[] =
	"Usage: " PROG " hcl FILE --tcti TCTI [--tpm-persisted yes|no|absent]\n"
	"        [--ak-pub PEM] [--vm-id ID] [--watch]\n"
	"Writes an HCL report (the Azure paravisor's) into the TPM at TCTI: claims naming the\n"
	"TPM's AK at 0x81000003 (created when missing), the VM configuration and the user data\n"
	"from NV 0x01400002, bound by the REPORT_DATA of an SNP report from the simulated chip\n"
	"in FILE. --ak-pub names another key in the claims (tests of a wrong AK). --watch\n"
	"rewrites the report whenever the user data changes, until SIGTERM.\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void _printf_(1, 2) err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": hcl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct hcl_opts {
	const char *state, *tcti, *ak_pub, *vm_id;
	int persisted; /* 1, 0, -1 absent */
	bool watch;
};

/* An AK as Azure's: RSA-2048, restricted, signing with RSASSA-SHA256, in the endorsement
 * hierarchy, persisted at 0x81000003. */
static int ak_create(const char *tcti)
{
	TSS2_TCTI_CONTEXT *tc = NULL;
	ESYS_CONTEXT *e = NULL;
	ESYS_TR obj = ESYS_TR_NONE, persisted = ESYS_TR_NONE;
	const TPM2B_SENSITIVE_CREATE sens = {};
	const TPM2B_DATA outside = {};
	const TPML_PCR_SELECTION pcrs = {};
	const TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_RSA,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
					    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH,
			.parameters.rsaDetail = {
				.symmetric.algorithm = TPM2_ALG_NULL,
				.scheme = { .scheme = TPM2_ALG_RSASSA,
					    .details.rsassa.hashAlg = TPM2_ALG_SHA256 },
				.keyBits = 2048,
			},
		},
	};
	int r = -EIO;

	if (Tss2_TctiLdr_Initialize(tcti, &tc) != TSS2_RC_SUCCESS ||
	    Esys_Initialize(&e, tc, NULL) != TSS2_RC_SUCCESS)
		goto out;
	if (Esys_CreatePrimary(e, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			       ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &obj, NULL, NULL, NULL,
			       NULL) != TSS2_RC_SUCCESS)
		goto out;
	if (Esys_EvictControl(e, ESYS_TR_RH_OWNER, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			      ESYS_TR_NONE, TPM2_HCL_AK_HANDLE, &persisted) == TSS2_RC_SUCCESS)
		r = 0;
	Esys_FlushContext(e, obj);
out:
	if (e)
		Esys_Finalize(&e);
	if (tc)
		Tss2_TctiLdr_Finalize(&tc);
	return r;
}

/* Appends the JWK of an RSA SubjectPublicKeyInfo ({"kid":kid,...,"n":..}) to out. */
static int jwk(const uint8_t *spki, size_t len, const char *kid, const char *ops, char *out,
	       size_t cap)
{
	const unsigned char *p = spki;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	_cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[512], eb[8];
	char n64[CT_BASE64_LEN(512) + 1], e64[CT_BASE64_LEN(8) + 1];

	if (!pk || !EVP_PKEY_is_a(pk, "RSA") || !EVP_PKEY_get_bn_param(pk, "n", &n) ||
	    !EVP_PKEY_get_bn_param(pk, "e", &e) || BN_num_bytes(n) > (int)sizeof(nb) ||
	    BN_num_bytes(e) > (int)sizeof(eb))
		return -EBADMSG;
	int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
	ct_base64url_encode(n64, nb, (size_t)nl);
	ct_base64url_encode(e64, eb, (size_t)el);
	int w = snprintf(out, cap, "{\"kid\":\"%s\",\"key_ops\":[\"%s\"],\"kty\":\"RSA\","
			 "\"e\":\"%s\",\"n\":\"%s\"}", kid, ops, e64, n64);
	return w < 0 || (size_t)w >= cap ? -EMSGSIZE : 0;
}

/* The claims as OpenHCL writes them (compact JSON, members in its order). */
static int make_claims(const struct hcl_opts *o, const uint8_t *ak, size_t ak_len,
		       const uint8_t user_data[static HCL_USER_DATA_SIZE], char *out, size_t cap)
{
	char key[1200], ud[2 * HCL_USER_DATA_SIZE + 1], persisted[32] = "";

	if (jwk(ak, ak_len, "HCLAkPub", "sign", key, sizeof(key)) < 0)
		return -EBADMSG;
	ct_hex_encode(ud, user_data, HCL_USER_DATA_SIZE);
	for (char *c = ud; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	if (o->persisted >= 0)
		snprintf(persisted, sizeof(persisted), "\"tpm-persisted\":%s,",
			 o->persisted ? "true" : "false");
	int w = snprintf(out, cap, "{\"keys\":[%s],\"vm-configuration\":{\"console-enabled\":false,"
			 "\"secure-boot\":true,\"tpm-enabled\":true,%s\"vmUniqueId\":\"%s\"},"
			 "\"user-data\":\"%s\"}", key, persisted, o->vm_id, ud);
	return w < 0 || (size_t)w >= cap ? -EMSGSIZE : w;
}

/* The HCLA layout around report and claims, zero-padded to size. */
static void assemble(uint8_t *buf, size_t size, const uint8_t *report, const char *claims,
		     size_t claims_len)
{
	uint8_t *rt = buf + HCL_HEADER_SIZE + SNP_REPORT_SIZE;
	size_t total = HCL_HEADER_SIZE + SNP_REPORT_SIZE + HCL_RUNTIME_HEADER_SIZE + claims_len;

	memset(buf, 0, size);
	memcpy(buf, "HCLA", 4);
	le32_put(buf + 4, 2);
	le32_put(buf + 8, (uint32_t)total);
	le32_put(buf + 12, 2);
	memcpy(buf + HCL_HEADER_SIZE, report, SNP_REPORT_SIZE);
	le32_put(rt, (uint32_t)(HCL_RUNTIME_HEADER_SIZE + claims_len));
	le32_put(rt + 4, 1);
	le32_put(rt + 8, 2);
	le32_put(rt + 12, 1);
	le32_put(rt + 16, (uint32_t)claims_len);
	memcpy(rt + HCL_RUNTIME_HEADER_SIZE, claims, claims_len);
}

/* The AK the claims name: --ak-pub, or the TPM's (created when missing). */
static int claimed_ak(const struct hcl_opts *o, struct tpm2 **t, uint8_t *ak, size_t cap)
{
	if (o->ak_pub) {
		_cleanup_free_ uint8_t *pem = NULL;
		size_t len = 0;
		if (fileio_read_all(o->ak_pub, 16384, &pem, &len) < 0)
			return -EIO;
		_cleanup_(BIO_freep) BIO *b = BIO_new_mem_buf(pem, (int)len);
		_cleanup_(EVP_PKEY_freep) EVP_PKEY *pk = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)
						      : NULL;
		unsigned char *p = ak;
		int n = pk ? i2d_PUBKEY(pk, NULL) : -1;
		if (n <= 0 || (size_t)n > cap || i2d_PUBKEY(pk, &p) != n)
			return -EBADMSG;
		return n;
	}
	int n = tpm2_public_spki(*t, TPM2_HCL_AK_HANDLE, ak, cap);
	if (n != -ENOENT)
		return n;
	*t = tpm2_close(*t);
	if (ak_create(o->tcti) < 0)
		return -EIO;
	int r = tpm2_open(o->tcti, t);
	return r < 0 ? r : tpm2_public_spki(*t, TPM2_HCL_AK_HANDLE, ak, cap);
}

/* One report: user data from the TPM, claims, SNP report, NV write. */
static int write_report(const struct hcl_opts *o, struct snp_dev *d,
			uint8_t user_data[static HCL_USER_DATA_SIZE])
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_free_ uint8_t *ud = NULL;
	uint8_t ak[HCL_AK_SPKI_MAX], rd[64] = {}, report[SNP_REPORT_SIZE];
	char claims[4096];
	size_t ud_len = 0;
	struct snp_status st = {};
	unsigned n = 0;
	int r;

	r = tpm2_open(o->tcti, &t);
	if (r < 0)
		return err("no TPM at %s", o->tcti), r;
	r = tpm2_nv_read(t, TPM2_HCL_USER_DATA_INDEX, &ud, &ud_len);
	if (r == 0 && ud_len >= HCL_USER_DATA_SIZE)
		memcpy(user_data, ud, HCL_USER_DATA_SIZE);
	else if (r != -ENOENT && r != -ENODATA)
		return err("cannot read NV 0x%08x: %s", TPM2_HCL_USER_DATA_INDEX,
			   r < 0 ? strerror(-r) : "shorter than 64 bytes"), r < 0 ? r : -EBADMSG;
	int ak_len = claimed_ak(o, &t, ak, sizeof(ak));
	if (ak_len < 0)
		return err("cannot get the AK: %s", strerror(-ak_len)), ak_len;
	int cl = make_claims(o, ak, (size_t)ak_len, user_data, claims, sizeof(claims));
	if (cl < 0)
		return err("cannot make the claims"), cl;
	if (!EVP_Digest(claims, (size_t)cl, rd, &n, EVP_sha256(), NULL))
		return -EIO;
	r = snp_dev_get_report(d, rd, 0, 0, report, &st);
	if (r < 0)
		return err("the simulated firmware refused the report: %s", strerror(-r)), r;
	size_t total = HCL_HEADER_SIZE + SNP_REPORT_SIZE + HCL_RUNTIME_HEADER_SIZE + (size_t)cl;
	r = -EMSGSIZE;
	for (size_t i = 0; i < ELEMENTSOF(nv_sizes) && r == -EMSGSIZE; i++) {
		if (nv_sizes[i] < total)
			break;
		_cleanup_free_ uint8_t *buf = malloc(nv_sizes[i]);
		if (!buf)
			return -ENOMEM;
		assemble(buf, nv_sizes[i], report, claims, (size_t)cl);
		r = tpm2_nv_write(t, TPM2_HCL_REPORT_INDEX, buf, nv_sizes[i]);
	}
	if (r < 0)
		return err("cannot write NV 0x%08x: %s", TPM2_HCL_REPORT_INDEX, strerror(-r)), r;
	return 0;
}

/* The user data at NV 0x01400002, zeros when the index is not there. */
static int user_data_now(const char *tcti, uint8_t out[static HCL_USER_DATA_SIZE])
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_free_ uint8_t *ud = NULL;
	size_t len = 0;
	int r = tpm2_open(tcti, &t);

	if (r < 0)
		return r;
	memset(out, 0, HCL_USER_DATA_SIZE);
	r = tpm2_nv_read(t, TPM2_HCL_USER_DATA_INDEX, &ud, &len);
	if (r == -ENOENT || r == -ENODATA)
		return 0;
	if (r < 0)
		return r;
	memcpy(out, ud, len < HCL_USER_DATA_SIZE ? len : HCL_USER_DATA_SIZE);
	return 0;
}

static int parse(int argc, char **argv, struct hcl_opts *o)
{
	enum { O_TCTI = 256, O_PERSISTED, O_AK, O_VMID, O_WATCH };
	static const struct option opts[] = {
		{ "tcti", required_argument, NULL, O_TCTI },
		{ "tpm-persisted", required_argument, NULL, O_PERSISTED },
		{ "ak-pub", required_argument, NULL, O_AK },
		{ "vm-id", required_argument, NULL, O_VMID },
		{ "watch", no_argument, NULL, O_WATCH },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_TCTI: o->tcti = optarg; break;
		case O_AK: o->ak_pub = optarg; break;
		case O_WATCH: o->watch = true; break;
		case O_VMID:
			if (strlen(optarg) >= 40 || strpbrk(optarg, "\"\\")) {
				err("--vm-id: at most 39 characters, no quotes");
				return 2;
			}
			o->vm_id = optarg;
			break;
		case O_PERSISTED:
			o->persisted = strcmp(optarg, "yes") == 0 ? 1 : strcmp(optarg, "no") == 0 ? 0 :
				       strcmp(optarg, "absent") == 0 ? -1 : -2;
			if (o->persisted == -2) {
				err("--tpm-persisted: expected yes, no or absent");
				return 2;
			}
			break;
		case 'h': fputs(hcl_usage, stdout); return -1;
		default: return 2;
		}
	}
	if (optind + 1 != argc || !o->tcti) {
		err("expected one state FILE and --tcti");
		return 2;
	}
	o->state = argv[optind];
	return 0;
}

int sim_verb_hcl(int argc, char **argv)
{
	struct hcl_opts o = { .persisted = 1, .vm_id = "5C5A1D2E-0000-4000-8000-00000000CAFE" };
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	const struct snp_transport_ops *ops;
	uint8_t seen[HCL_USER_DATA_SIZE] = {}, now[HCL_USER_DATA_SIZE];
	void *ctx;
	int r = parse(argc, argv, &o);

	if (r)
		return r;
	r = vhsm_snp_sim_open(o.state, &ops, &ctx);
	if (r >= 0)
		r = snp_dev_open_transport(ops, ctx, &d);
	if (r < 0) {
		err("%s: %s", o.state, strerror(-r));
		return 1;
	}
	if (write_report(&o, d, seen) < 0)
		return 1;
	if (!o.watch)
		return 0;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	const struct timespec poll = { .tv_nsec = POLL_MS * 1000000L };
	while (!stop) {
		nanosleep(&poll, NULL);
		if (user_data_now(o.tcti, now) < 0 || memcmp(now, seen, sizeof(now)) == 0)
			continue;
		/* A failed attempt (the TPM busy with a client) is retried at the next poll. */
		(void)write_report(&o, d, seen);
	}
	return 0;
}
