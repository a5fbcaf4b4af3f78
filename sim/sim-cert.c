/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulated AMD key hierarchy. ARK and ASK are RSA-4096 and sign with RSASSA-PSS
 * SHA-384/MGF1-SHA-384/salt 48, like AMD's; the VCEK is a P-384 key derived from the chip
 * secret and the reported TCB, so a TCB change gives a new VCEK, as on real chips. The VCEK
 * certificate copies the shape of a KDS-issued one: serial 0, CN SEV-VCEK, issuer = ASK
 * subject, no standard extensions, the AMD extensions in the order AMD emits them.
 */
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "certtable.h"
#include "log.h"
#include "secmem.h"
#include "sim.h"

#define SIM_ORG "vhsm SNP simulator"
#define SIM_RSA_BITS 4096
#define SIM_CA_DAYS (20 * 365)
#define SIM_VCEK_DAYS (7 * 365 + 2)
#define SIM_PSS_SALT 48
#define SIM_VCEK_SALT "vhsm-snp-sim vcek v1"
#define AMD_OID "1.3.6.1.4.1.3704.1"

/* OpenSSL takes non-const buffers in OSSL_PARAM but only reads input parameters. */
static void *unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

int sim_hkdf(const char *md, const uint8_t *key, size_t key_len, const uint8_t *salt,
	     size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	_cleanup_(EVP_KDF_freep) EVP_KDF *kdf = NULL;
	_cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, unconst(md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, unconst(key), key_len);
	if (salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, unconst(salt),
							 salt_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, unconst(info), info_len);
	*p = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	if (!kctx || EVP_KDF_derive(kctx, out, out_len, params) <= 0)
		return vhsm_log_openssl(-EIO, "sim: HKDF");
	return 0;
}

/* ---- VCEK ---- */

static int ec_pkey_from_scalar(const BIGNUM *d, EVP_PKEY **ret)
{
	_cleanup_(EC_GROUP_freep) EC_GROUP *group = NULL;
	_cleanup_(EC_POINT_freep) EC_POINT *pt = NULL;
	_cleanup_(BN_CTX_freep) BN_CTX *bnctx = NULL;
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t pub[1 + 2 * SNP_P384_LEN];
	size_t publen;

	group = EC_GROUP_new_by_curve_name(NID_secp384r1);
	pt = group ? EC_POINT_new(group) : NULL;
	bnctx = BN_CTX_secure_new();
	if (!pt || !bnctx || !EC_POINT_mul(group, pt, d, NULL, NULL, bnctx))
		return vhsm_log_openssl(-EIO, "sim: VCEK public point");
	publen = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub),
				    bnctx);
	bld = OSSL_PARAM_BLD_new();
	if (publen != sizeof(pub) || !bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen))
		return vhsm_log_openssl(-EIO, "sim: VCEK parameters");
	params = OSSL_PARAM_BLD_to_param(bld);
	pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
	    EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) <= 0)
		return vhsm_log_openssl(-EIO, "sim: VCEK key");
	*ret = pkey;
	return 0;
}

int sim_vcek_derive(const struct sim_state *s, const struct snp_tcb *tcb, EVP_PKEY **ret)
{
	static const uint8_t salt[] = SIM_VCEK_SALT;
	_cleanup_(EC_GROUP_freep) EC_GROUP *group = NULL;
	_cleanup_(BN_CTX_freep) BN_CTX *bnctx = NULL;
	_cleanup_(BN_clear_freep) BIGNUM *d = NULL;
	uint8_t info[16], okm[64];
	CLEANUP_ERASE(okm);
	int r;

	if (!s || !tcb || !ret)
		return -EINVAL;
	/* The VCEK is a function of the chip and the TCB it is issued for, nothing else. */
	memset(info, 0, sizeof(info));
	memcpy(info, "VCEK", 4);
	info[4] = (uint8_t)s->product;
	le64_put(info + 8, snp_tcb_encode(tcb, s->product));
	r = sim_hkdf("SHA384", s->chip_secret, sizeof(s->chip_secret), salt, sizeof(salt) - 1,
		     info, sizeof(info), okm, sizeof(okm));
	if (r < 0)
		return r;
	/* 512 bits reduced modulo the 384-bit order: the bias is negligible. */
	group = EC_GROUP_new_by_curve_name(NID_secp384r1);
	bnctx = BN_CTX_secure_new();
	d = BN_secure_new();
	if (!group || !bnctx || !d || !BN_bin2bn(okm, sizeof(okm), d) ||
	    !BN_nnmod(d, d, EC_GROUP_get0_order(group), bnctx))
		return vhsm_log_openssl(-EIO, "sim: VCEK scalar");
	if (BN_is_zero(d) && !BN_one(d))
		return vhsm_log_openssl(-EIO, "sim: VCEK scalar");
	return ec_pkey_from_scalar(d, ret);
}

/* ---- certificates ---- */

static int name_new(const char *cn, X509_NAME **ret)
{
	static const struct {
		const char *field, *value;
	} rdns[] = {
		{ "OU", "Engineering" }, { "C", "US" }, { "L", "Santa Clara" }, { "ST", "CA" },
		{ "O", SIM_ORG },
	};
	_cleanup_(X509_NAME_freep) X509_NAME *n = X509_NAME_new();

	if (!n)
		return -ENOMEM;
	/* Same attributes in the same order as AMD's names; only O tells them apart. */
	for (size_t i = 0; i < ELEMENTSOF(rdns); i++)
		if (!X509_NAME_add_entry_by_txt(n, rdns[i].field, MBSTRING_UTF8,
						(const unsigned char *)rdns[i].value, -1, -1, 0))
			return vhsm_log_openssl(-EIO, "sim: certificate name");
	if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0))
		return vhsm_log_openssl(-EIO, "sim: certificate name");
	*ret = TAKE_PTR(n);
	return 0;
}

static int set_random_serial(X509 *x)
{
	_cleanup_(BN_clear_freep) BIGNUM *bn = BN_new();

	/* Simulated CAs are many; random serials keep issuer+serial unique among them. */
	if (!bn || !BN_rand(bn, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		return vhsm_log_openssl(-EIO, "sim: certificate serial");
	return 0;
}

/* A v3 certificate for pub with the subject CN cn, issued by issuer, valid days from now. */
static int cert_new(const char *cn, const X509_NAME *issuer, EVP_PKEY *pub, bool serial_zero,
		    long days, X509 **ret)
{
	_cleanup_(X509_freep) X509 *x = X509_new();
	_cleanup_(X509_NAME_freep) X509_NAME *subject = NULL;
	int r;

	if (!x)
		return -ENOMEM;
	r = name_new(cn, &subject);
	if (r < 0)
		return r;
	if (serial_zero)
		r = ASN1_INTEGER_set(X509_get_serialNumber(x), 0) ? 0 : -EIO;
	else
		r = set_random_serial(x);
	if (r < 0)
		return r;
	if (!X509_set_version(x, 2) || !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, issuer ? issuer : subject) || !X509_set_pubkey(x, pub) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL))
		return vhsm_log_openssl(-EIO, "sim: certificate fields");
	*ret = TAKE_PTR(x);
	return 0;
}

static int add_ext_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	_cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext || !X509_add_ext(x, ext, -1))
		return vhsm_log_openssl(-EIO, "sim: certificate extension");
	return 0;
}

static int sign_pss(X509 *x, EVP_PKEY *key)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	if (!md || EVP_DigestSignInit_ex(md, &pctx, "SHA384", NULL, NULL, key, NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, SIM_PSS_SALT) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) <= 0 || X509_sign_ctx(x, md) <= 0)
		return vhsm_log_openssl(-EIO, "sim: signing a certificate");
	return 0;
}

static int ark_issue(enum snp_product p, EVP_PKEY *key, X509 **ret)
{
	_cleanup_(X509_freep) X509 *x = NULL;
	char cn[32];
	int r;

	snprintf(cn, sizeof(cn), "ARK-%s", snp_product_kds_name(p));
	r = cert_new(cn, NULL, key, false, SIM_CA_DAYS, &x);
	if (r >= 0)
		r = add_ext_conf(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (r >= 0)
		r = add_ext_conf(x, x, NID_subject_key_identifier, "hash");
	if (r >= 0)
		r = add_ext_conf(x, x, NID_basic_constraints, "critical,CA:TRUE");
	if (r >= 0)
		r = sign_pss(x, key);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(x);
	return 0;
}

static int ask_issue(enum snp_product p, X509 *ark, EVP_PKEY *ark_key, EVP_PKEY *key, X509 **ret)
{
	_cleanup_(X509_freep) X509 *x = NULL;
	char cn[32];
	int r;

	snprintf(cn, sizeof(cn), "SEV-%s", snp_product_kds_name(p));
	r = cert_new(cn, X509_get_subject_name(ark), key, false, SIM_CA_DAYS, &x);
	if (r >= 0)
		r = add_ext_conf(x, ark, NID_subject_key_identifier, "hash");
	if (r >= 0)
		r = add_ext_conf(x, ark, NID_authority_key_identifier, "keyid:always");
	if (r >= 0)
		r = add_ext_conf(x, ark, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
	if (r >= 0)
		r = add_ext_conf(x, ark, NID_key_usage, "critical,keyCertSign");
	if (r >= 0)
		r = sign_pss(x, ark_key);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(x);
	return 0;
}

/* An extension whose extnValue holds der as it is (AMD puts hwID there without a tag). */
static int add_ext_raw(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	_cleanup_(ASN1_OBJECT_freep) ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	_cleanup_(ASN1_OCTET_STRING_freep) ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	_cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = NULL;

	if (!obj || !os || !ASN1_OCTET_STRING_set(os, der, (int)len))
		return vhsm_log_openssl(-EIO, "sim: AMD extension");
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (!ext || !X509_add_ext(x, ext, -1))
		return vhsm_log_openssl(-EIO, "sim: AMD extension");
	return 0;
}

static int add_ext_int(X509 *x, const char *oid, uint8_t v)
{
	uint8_t der[4] = { 0x02, 0x01, v };

	/* DER INTEGER is signed: values >= 0x80 need a leading zero byte. */
	if (v >= 0x80) {
		der[1] = 0x02;
		der[2] = 0x00;
		der[3] = v;
		return add_ext_raw(x, oid, der, 4);
	}
	return add_ext_raw(x, oid, der, 3);
}

static int add_ext_ia5(X509 *x, const char *oid, const char *s)
{
	uint8_t der[34];
	size_t n = strlen(s);

	if (n > sizeof(der) - 2)
		return -EINVAL;
	der[0] = 0x16;
	der[1] = (uint8_t)n;
	memcpy(der + 2, s, n);
	return add_ext_raw(x, oid, der, n + 2);
}

enum spl_kind { SPL_BL, SPL_TEE, SPL_SNP, SPL_UCODE, SPL_FMC, SPL_ZERO };

struct spl_ext {
	const char *oid;
	enum spl_kind kind;
};

/* The order of the SPL extensions in real VCEKs of each product family. */
static const struct spl_ext spl_legacy[] = {
	{ AMD_OID ".3.1", SPL_BL },   { AMD_OID ".3.2", SPL_TEE },  { AMD_OID ".3.4", SPL_ZERO },
	{ AMD_OID ".3.5", SPL_ZERO }, { AMD_OID ".3.6", SPL_ZERO }, { AMD_OID ".3.7", SPL_ZERO },
	{ AMD_OID ".3.3", SPL_SNP },  { AMD_OID ".3.8", SPL_UCODE }, { NULL, SPL_ZERO },
};
static const struct spl_ext spl_turin[] = {
	{ AMD_OID ".3.9", SPL_FMC },  { AMD_OID ".3.1", SPL_BL },   { AMD_OID ".3.2", SPL_TEE },
	{ AMD_OID ".3.3", SPL_SNP },  { AMD_OID ".3.5", SPL_ZERO }, { AMD_OID ".3.6", SPL_ZERO },
	{ AMD_OID ".3.7", SPL_ZERO }, { AMD_OID ".3.8", SPL_UCODE }, { NULL, SPL_ZERO },
};

static uint8_t spl_value(const struct snp_tcb *t, enum spl_kind k)
{
	switch (k) {
	case SPL_BL:
		return t->bootloader;
	case SPL_TEE:
		return t->tee;
	case SPL_SNP:
		return t->snp;
	case SPL_UCODE:
		return t->microcode;
	case SPL_FMC:
		return t->fmc;
	case SPL_ZERO:
		break;
	}
	return 0;
}

static int vcek_add_amd_exts(X509 *x, const struct sim_state *s, const struct snp_tcb *tcb)
{
	bool turin = s->product == SNP_PRODUCT_TURIN;
	const struct spl_ext *e = turin ? spl_turin : spl_legacy;
	const char *name;
	int r;

	/* Milan VCEKs say "Milan-B0" whatever the stepping; Genoa and Turin just the line. */
	name = s->product == SNP_PRODUCT_MILAN ? "Milan-B0" : snp_product_kds_name(s->product);
	r = add_ext_int(x, AMD_OID ".1", turin ? 1 : 0);
	if (r >= 0)
		r = add_ext_ia5(x, AMD_OID ".2", name);
	for (; r >= 0 && e->oid; e++)
		r = add_ext_int(x, e->oid, spl_value(tcb, e->kind));
	if (r >= 0)
		r = add_ext_raw(x, AMD_OID ".4", s->chip_id, turin ? 8 : 64);
	return r;
}

static int vcek_issue(const struct sim_state *s, X509 *ask, EVP_PKEY *ask_key, EVP_PKEY *vcek,
		      X509 **ret)
{
	_cleanup_(X509_freep) X509 *x = NULL;
	struct snp_tcb tcb = sim_state_reported_tcb(s);
	int r;

	r = cert_new("SEV-VCEK", X509_get_subject_name(ask), vcek, true, SIM_VCEK_DAYS, &x);
	if (r >= 0)
		r = vcek_add_amd_exts(x, s, &tcb);
	if (r >= 0)
		r = sign_pss(x, ask_key);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(x);
	return 0;
}

/* ---- PEM in the state ---- */

static int pem_from_bio(BIO *bio, char **ret)
{
	char *data = NULL, *copy;
	long len = BIO_get_mem_data(bio, &data);

	if (len <= 0 || (size_t)len > SIM_PEM_MAX)
		return -EIO;
	copy = strndup(data, (size_t)len);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

static int key_to_pem(EVP_PKEY *key, char **ret)
{
	_cleanup_(BIO_freep) BIO *bio = BIO_new(BIO_s_secmem());

	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL))
		return vhsm_log_openssl(-EIO, "sim: writing a key");
	return pem_from_bio(bio, ret);
}

static int cert_to_pem(X509 *x, char **ret)
{
	_cleanup_(BIO_freep) BIO *bio = BIO_new(BIO_s_mem());

	if (!bio || !PEM_write_bio_X509(bio, x))
		return vhsm_log_openssl(-EIO, "sim: writing a certificate");
	return pem_from_bio(bio, ret);
}

/* Never prompt for a passphrase: keys in a state file are not encrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

static int key_from_pem(const char *pem, EVP_PKEY **ret)
{
	_cleanup_(BIO_freep) BIO *bio = NULL;
	EVP_PKEY *k;

	if (!pem)
		return -ENOKEY;
	bio = BIO_new_mem_buf(pem, -1);
	k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	if (!k)
		return vhsm_log_openssl(-EBADMSG, "sim: reading a CA key");
	/* The simulated CA mirrors AMD's: RSA, 4096 bits. */
	if (!EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_get_bits(k) != SIM_RSA_BITS) {
		EVP_PKEY_free(k);
		return -EBADMSG;
	}
	*ret = k;
	return 0;
}

static int cert_from_pem(const char *pem, X509 **ret)
{
	_cleanup_(BIO_freep) BIO *bio = NULL;
	X509 *x;

	if (!pem)
		return -ENOKEY;
	bio = BIO_new_mem_buf(pem, -1);
	x = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
	if (!x)
		return vhsm_log_openssl(-EBADMSG, "sim: reading a CA certificate");
	*ret = x;
	return 0;
}

static void pem_wipe_free(char *p)
{
	if (p) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

/* Installs the four PEM blocks (ARK key, ARK cert, ASK key, ASK cert) in s, or frees them. */
static int ca_replace(struct sim_state *s, char *pems[static 4], int r)
{
	if (r < 0) {
		for (size_t i = 0; i < 4; i++)
			pem_wipe_free(pems[i]);
		return r;
	}
	pem_wipe_free(s->ark_key_pem);
	pem_wipe_free(s->ark_cert_pem);
	pem_wipe_free(s->ask_key_pem);
	pem_wipe_free(s->ask_cert_pem);
	s->ark_key_pem = pems[0];
	s->ark_cert_pem = pems[1];
	s->ask_key_pem = pems[2];
	s->ask_cert_pem = pems[3];
	return 0;
}

static int ca_store(struct sim_state *s, EVP_PKEY *ark_key, X509 *ark, EVP_PKEY *ask_key,
		    X509 *ask)
{
	char *pems[4] = {};
	int r;

	r = key_to_pem(ark_key, &pems[0]);
	if (r >= 0)
		r = cert_to_pem(ark, &pems[1]);
	if (r >= 0)
		r = key_to_pem(ask_key, &pems[2]);
	if (r >= 0)
		r = cert_to_pem(ask, &pems[3]);
	return ca_replace(s, pems, r);
}

int sim_ca_generate(struct sim_state *s)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ark_key = NULL, *ask_key = NULL;
	_cleanup_(X509_freep) X509 *ark = NULL, *ask = NULL;
	int r;

	if (!s || s->product < 0 || s->product >= _SNP_PRODUCT_MAX)
		return -EINVAL;
	ark_key = EVP_RSA_gen(SIM_RSA_BITS);
	ask_key = ark_key ? EVP_RSA_gen(SIM_RSA_BITS) : NULL;
	if (!ask_key)
		return vhsm_log_openssl(-EIO, "sim: RSA key generation");
	r = ark_issue(s->product, ark_key, &ark);
	if (r >= 0)
		r = ask_issue(s->product, ark, ark_key, ask_key, &ask);
	if (r >= 0)
		r = ca_store(s, ark_key, ark, ask_key, ask);
	if (r >= 0)
		ERR_clear_error();
	return r;
}

static int dup_pem(const char *src, char **ret)
{
	if (!src)
		return -ENOKEY;
	*ret = strdup(src);
	return *ret ? 0 : -ENOMEM;
}

int sim_ca_copy(struct sim_state *s, const struct sim_state *from)
{
	char *pems[4] = {};
	int r;

	if (!s || !from)
		return -EINVAL;
	if (s->product != from->product)
		return -EXDEV;
	r = dup_pem(from->ark_key_pem, &pems[0]);
	if (r >= 0)
		r = dup_pem(from->ark_cert_pem, &pems[1]);
	if (r >= 0)
		r = dup_pem(from->ask_key_pem, &pems[2]);
	if (r >= 0)
		r = dup_pem(from->ask_cert_pem, &pems[3]);
	return ca_replace(s, pems, r);
}

/* ---- keys of a state ---- */

struct sim_keys *sim_keys_free(struct sim_keys *k)
{
	if (!k)
		return NULL;
	EVP_PKEY_free(k->ark_key);
	EVP_PKEY_free(k->ask_key);
	EVP_PKEY_free(k->vcek_key);
	X509_free(k->ark);
	X509_free(k->ask);
	X509_free(k->vcek);
	free(k);
	return NULL;
}

/* The CA of a state must be the pair it claims: ASK issued by the ARK, keys matching. */
static int ca_check(const struct sim_state *s, const struct sim_keys *k)
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *ark_pub = NULL;
	char want[32], cn[64];

	if (X509_check_private_key(k->ark, k->ark_key) != 1 ||
	    X509_check_private_key(k->ask, k->ask_key) != 1)
		return vhsm_log_openssl(-EBADMSG, "sim: CA keys do not match their certificates");
	if (X509_NAME_cmp(X509_get_issuer_name(k->ask), X509_get_subject_name(k->ark)) != 0)
		return -EBADMSG;
	/* A CA copied from a state of another product would sign chains nobody accepts. */
	snprintf(want, sizeof(want), "ARK-%s", snp_product_kds_name(s->product));
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(k->ark), NID_commonName, cn,
				      sizeof(cn)) < 0 ||
	    strcmp(cn, want) != 0) {
		vhsm_log_debug("sim: the ARK is not an %s", want);
		return -EBADMSG;
	}
	ark_pub = X509_get_pubkey(k->ark);
	if (!ark_pub || X509_verify(k->ask, ark_pub) != 1)
		return vhsm_log_openssl(-EBADMSG, "sim: ASK is not signed by the ARK");
	return 0;
}

int sim_keys_load(const struct sim_state *s, struct sim_keys **ret)
{
	_cleanup_(sim_keys_freep) struct sim_keys *k = NULL;
	struct snp_tcb tcb;
	int r;

	if (!s || !ret)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	r = key_from_pem(s->ark_key_pem, &k->ark_key);
	if (r >= 0)
		r = cert_from_pem(s->ark_cert_pem, &k->ark);
	if (r >= 0)
		r = key_from_pem(s->ask_key_pem, &k->ask_key);
	if (r >= 0)
		r = cert_from_pem(s->ask_cert_pem, &k->ask);
	if (r >= 0)
		r = ca_check(s, k);
	tcb = sim_state_reported_tcb(s);
	if (r >= 0)
		r = sim_vcek_derive(s, &tcb, &k->vcek_key);
	if (r >= 0)
		r = vcek_issue(s, k->ask, k->ask_key, k->vcek_key, &k->vcek);
	if (r < 0) {
		ERR_clear_error();
		return r;
	}
	ERR_clear_error();
	*ret = TAKE_PTR(k);
	return 0;
}

int sim_cert_der(X509 *x, uint8_t **ret, size_t *ret_len)
{
	uint8_t *buf, *p;
	int len;

	len = x ? i2d_X509(x, NULL) : -1;
	if (len <= 0)
		return vhsm_log_openssl(-EIO, "sim: encoding a certificate");
	buf = malloc((size_t)len);
	if (!buf)
		return -ENOMEM;
	p = buf;
	if (i2d_X509(x, &p) != len) {
		free(buf);
		return vhsm_log_openssl(-EIO, "sim: encoding a certificate");
	}
	*ret = buf;
	*ret_len = (size_t)len;
	return 0;
}

int sim_cert_table(const struct sim_keys *k, uint8_t **ret, size_t *ret_len)
{
	static const enum snp_cert_kind kinds[3] = { SNP_CERT_ARK, SNP_CERT_ASK, SNP_CERT_VCEK };
	uint8_t *ders[3] = {};
	size_t lens[3] = {};
	int r;

	if (!k)
		return -EINVAL;
	r = sim_cert_der(k->ark, &ders[0], &lens[0]);
	if (r >= 0)
		r = sim_cert_der(k->ask, &ders[1], &lens[1]);
	if (r >= 0)
		r = sim_cert_der(k->vcek, &ders[2], &lens[2]);
	if (r >= 0)
		r = certtable_build(kinds, (const uint8_t *const *)ders, lens, 3, ret, ret_len);
	for (size_t i = 0; i < 3; i++)
		free(ders[i]);
	return r;
}
