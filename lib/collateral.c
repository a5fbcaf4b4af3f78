/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collateral cache (see collateral.h). Sources are parsed completely into a list of pending
 * entries before anything is written, so a malformed source leaves the cache as it was.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "amd-cert.h"
#include "certtable.h"
#include "collateral.h"
#include "ct.h"
#include "dir-util.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "json.h"
#include "log.h"
#include "snp-verify.h"
#include "text.h"
#include "openssl-util.h"

#define PENDING_MAX 40u
#define PEM_BLOCKS_MAX 16u

struct pending {
	enum snp_product product;
	char file[200];
	uint8_t *der; /* malloc'ed copy */
	size_t len;
};

struct import {
	size_t n;
	struct pending p[PENDING_MAX];
	struct collateral_added added;
	char *err;
	size_t errlen;
};

static void import_done(struct import *im)
{
	for (size_t i = 0; i < im->n; i++)
		free(im->p[i].der);
	im->n = 0;
}

static int import_fail(struct import *im, int r, const char *why)
{
	if (im->err && im->errlen)
		snprintf(im->err, im->errlen, "%s", why);
	return r;
}

int collateral_id_from_report(const struct snp_report *r, enum snp_product p,
			      struct collateral_id *ret)
{
	struct snp_tcb t;

	if (!r || !ret || snp_tcb_decode(r->reported_tcb, p, &t) < 0)
		return -EINVAL;
	*ret = (struct collateral_id){
		.product = p,
		.hwid_len = p == SNP_PRODUCT_TURIN ? 8 : 64,
		.tcb = snp_tcb_encode(&t, p),
	};
	memcpy(ret->hwid, r->chip_id, ret->hwid_len);
	return 0;
}

/* "Milan-B0", "Genoa" -> the product; the stepping after a dash is not part of it. */
static enum snp_product product_from_name(const char *name)
{
	char buf[16];
	size_t n = strcspn(name, "-");

	if (n == 0 || n >= sizeof(buf))
		return _SNP_PRODUCT_INVALID;
	memcpy(buf, name, n);
	buf[n] = '\0';
	return snp_product_from_string(buf);
}

int collateral_id_from_vcek(const uint8_t *der, size_t len, struct collateral_id *ret)
{
	struct amd_vek_ext e;
	struct collateral_id id = {};

	if (!der || !ret)
		return -EINVAL;
	if (amd_vek_ext_parse(der, len, &e) < 0)
		return -EBADMSG;
	id.product = product_from_name(e.product_name);
	if (id.product < 0 || !e.has_bl || !e.has_tee || !e.has_snp || !e.has_ucode ||
	    (id.product == SNP_PRODUCT_TURIN && !e.has_fmc) ||
	    e.hwid_len != (id.product == SNP_PRODUCT_TURIN ? 8u : 64u))
		return -EBADMSG;
	const struct snp_tcb t = {
		.fmc = e.fmc_spl, .bootloader = e.bl_spl, .tee = e.tee_spl,
		.snp = e.snp_spl, .microcode = e.ucode_spl,
	};
	id.tcb = snp_tcb_encode(&t, id.product);
	id.hwid_len = e.hwid_len;
	memcpy(id.hwid, e.hwid, e.hwid_len);
	*ret = id;
	return 0;
}

static void vcek_file_name(const struct collateral_id *id, char out[static 200])
{
	char hex[129];

	ct_hex_encode(hex, id->hwid, id->hwid_len);
	snprintf(out, 200, "vcek-%s-%016llx.der", hex, (unsigned long long)id->tcb);
}

/* The subject CN of x into cn (empty when absent). */
static void subject_cn(X509 *x, char *cn, size_t n)
{
	cn[0] = '\0';
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)n) < 0)
		cn[0] = '\0';
}

static int pending_add(struct import *im, enum snp_product p, const char *file,
		       const uint8_t *der, size_t len)
{
	if (im->n >= PENDING_MAX)
		return import_fail(im, -EMSGSIZE, "too many certificates in one source");
	struct pending *e = &im->p[im->n];
	e->der = malloc(len ? len : 1);
	if (!e->der)
		return -ENOMEM;
	memcpy(e->der, der, len);
	e->len = len;
	e->product = p;
	snprintf(e->file, sizeof(e->file), "%s", file);
	im->n++;
	return 0;
}

/* Files one DER certificate by its subject: VCEK, ASK, ASVK or ARK. VLEKs are not cached (a
 * VLEK comes from the host with every report; guests cannot fetch one). */
static int import_cert(struct import *im, const uint8_t *der, size_t len)
{
	_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(der, len, COLLATERAL_FILE_MAX);
	char cn[64];
	enum snp_product p;

	if (!x)
		return import_fail(im, -EBADMSG, "a certificate does not parse");
	subject_cn(x, cn, sizeof(cn));
	if (strcmp(cn, "SEV-VCEK") == 0) {
		struct collateral_id id;
		char file[200];
		if (collateral_id_from_vcek(der, len, &id) < 0)
			return import_fail(im, -EBADMSG,
					   "a VCEK lacks its product, hwID or TCB extensions");
		vcek_file_name(&id, file);
		im->added.vcek++;
		return pending_add(im, id.product, file, der, len);
	}
	if (strcmp(cn, "SEV-VLEK") == 0)
		return 0;
	if (strncmp(cn, "ARK-", 4) == 0 && (p = snp_product_from_string(cn + 4)) >= 0) {
		im->added.ark++;
		return pending_add(im, p, "ark.der", der, len);
	}
	if (strncmp(cn, "SEV-VLEK-", 9) == 0 && (p = snp_product_from_string(cn + 9)) >= 0) {
		im->added.asvk++;
		return pending_add(im, p, "asvk.der", der, len);
	}
	if (strncmp(cn, "SEV-", 4) == 0 && (p = snp_product_from_string(cn + 4)) >= 0) {
		im->added.ask++;
		return pending_add(im, p, "ask.der", der, len);
	}
	return import_fail(im, -EBADMSG, "a certificate is not an AMD ARK, ASK, ASVK or VCEK");
}

/* Files a DER CRL under the product of its issuer, the ARK ("ARK-<Product>"). */
static int import_crl(struct import *im, const uint8_t *der, size_t len)
{
	const unsigned char *q = der;
	_cleanup_(X509_CRL_freep) X509_CRL *c = d2i_X509_CRL(NULL, &q, (long)len);
	char cn[64] = "";
	enum snp_product p;

	if (!c || q != der + len)
		return import_fail(im, -EBADMSG, "a CRL does not parse");
	if (X509_NAME_get_text_by_NID(X509_CRL_get_issuer(c), NID_commonName, cn,
				      (int)sizeof(cn)) < 0 ||
	    strncmp(cn, "ARK-", 4) != 0 || (p = snp_product_from_string(cn + 4)) < 0)
		return import_fail(im, -EBADMSG, "a CRL is not issued by an AMD ARK");
	im->added.crl++;
	return pending_add(im, p, "crl.der", der, len);
}

static bool is_der_crl(const uint8_t *der, size_t len)
{
	const unsigned char *q = der;
	X509_CRL *c = d2i_X509_CRL(NULL, &q, (long)len);
	bool ok = c && q == der + len;

	X509_CRL_free(c);
	ERR_clear_error();
	return ok;
}

/* Every CERTIFICATE and X509 CRL block of a PEM text; other blocks are refused. */
static int import_pem(struct import *im, const uint8_t *buf, size_t len)
{
	_cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(buf, (int)len);
	unsigned n;
	int r = 0;

	if (!bio)
		return -ENOMEM;
	for (n = 0; r == 0 && n <= PEM_BLOCKS_MAX; n++) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (!PEM_read_bio(bio, &name, &header, &data, &dlen))
			break;
		if (n == PEM_BLOCKS_MAX)
			r = import_fail(im, -EMSGSIZE, "too many PEM blocks");
		else if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0)
			r = import_cert(im, data, (size_t)dlen);
		else if (strcmp(name, PEM_STRING_X509_CRL) == 0)
			r = import_crl(im, data, (size_t)dlen);
		else
			r = import_fail(im, -EBADMSG, "a PEM block is neither a certificate nor a CRL");
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
	}
	ERR_clear_error();
	if (r == 0 && n == 0)
		return import_fail(im, -EBADMSG, "no PEM block");
	return r;
}

/* Azure THIM JSON (also the decoded ACI host-amd-cert-base64): vcekCert and certificateChain
 * are PEM texts; other members (tcbm, cacheControl) are not needed: the VCEK names its TCB. */
static int import_thim(struct import *im, const uint8_t *buf, size_t len)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	const char *pem;
	size_t pem_len;
	char jerr[JSON_ERR_MAX];
	static const char *const members[] = { "vcekCert", "certificateChain" };
	int r;

	r = json_parse((const char *)buf, len, COLLATERAL_FILE_MAX, "THIM collateral", &o, jerr,
		       sizeof(jerr));
	if (r < 0)
		return import_fail(im, r, jerr);
	for (size_t i = 0; i < ELEMENTSOF(members); i++) {
		if (json_member_string(o, NULL, members[i], 0, &pem, &pem_len, NULL, 0) < 0) {
			snprintf(jerr, sizeof(jerr), "THIM collateral: %s: a PEM string expected",
				 members[i]);
			return import_fail(im, -EBADMSG, jerr);
		}
		r = import_pem(im, (const uint8_t *)pem, pem_len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ACI's host-amd-cert-base64: base64 of THIM JSON, perhaps with line breaks. */
static int import_base64(struct import *im, const uint8_t *buf, size_t len)
{
	_cleanup_free_ char *clean = malloc(len + 1);
	_cleanup_free_ uint8_t *dec = malloc(len + 1);
	size_t n = 0;

	if (!clean || !dec)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		if (!isspace(buf[i]))
			clean[n++] = (char)buf[i];
	int dl = ct_base64_decode(dec, len, clean, n);
	if (dl <= 0)
		return import_fail(im, -EBADMSG, "not a certificate, CRL, THIM JSON or base64");
	size_t i = 0;
	while (i < (size_t)dl && isspace(dec[i]))
		i++;
	if (i == (size_t)dl || dec[i] != '{')
		return import_fail(im, -EBADMSG, "base64 that does not decode to THIM JSON");
	return import_thim(im, dec, (size_t)dl);
}

static int import_detect(struct import *im, const uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len && isspace(buf[i]))
		i++;
	if (i == len)
		return import_fail(im, -EBADMSG, "empty input");
	if (buf[i] == '{')
		return import_thim(im, buf, len);
	if (len - i >= 10 && memcmp(buf + i, "-----BEGIN", 10) == 0)
		return import_pem(im, buf, len);
	if (buf[0] == 0x30) {
		if (is_der_crl(buf, len))
			return import_crl(im, buf, len);
		return import_cert(im, buf, len);
	}
	if (isalnum(buf[i]) || buf[i] == '+' || buf[i] == '/')
		return import_base64(im, buf, len);
	return import_fail(im, -EBADMSG, "not a certificate, CRL, THIM JSON or certificate table");
}

/* The cache directory as an fd, for every file in it to be opened relative to it. */
static int cache_dir_open(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? negative_errno() : fd;
}

/* "<product>/<file>" into rel[COLLATERAL_REL_MAX]: -ENAMETOOLONG when it does not fit. */
#define COLLATERAL_REL_MAX 256u
static int entry_path(char rel[static COLLATERAL_REL_MAX], enum snp_product p, const char *file)
{
	int n = snprintf(rel, COLLATERAL_REL_MAX, "%s/%s", snp_product_to_string(p), file);

	return n < 0 || (size_t)n >= COLLATERAL_REL_MAX ? -ENAMETOOLONG : 0;
}

/* Whether the CRL cached at path was issued after the DER CRL der: an older CRL (a replayed
 * one that still lacks a revocation) never replaces a newer one. */
static bool crl_cached_newer(int dfd, const char *rel, const uint8_t *der, size_t len)
{
	_cleanup_free_ uint8_t *old = NULL;
	size_t old_len = 0;
	int day = 0, sec = 0;

	if (fileio_read_all_at(dfd, rel, COLLATERAL_FILE_MAX, &old, &old_len) < 0)
		return false;
	const unsigned char *q = old, *q2 = der;
	_cleanup_(X509_CRL_freep) X509_CRL *a = d2i_X509_CRL(NULL, &q, (long)old_len);
	_cleanup_(X509_CRL_freep) X509_CRL *b = d2i_X509_CRL(NULL, &q2, (long)len);
	ERR_clear_error();
	if (!a || !b || !ASN1_TIME_diff(&day, &sec, X509_CRL_get0_lastUpdate(b),
					X509_CRL_get0_lastUpdate(a)))
		return false;
	return day > 0 || sec > 0;
}

/* Writes the pending entries. A CRL replaces a cached one only when it is not older. */
static int import_commit(const char *dir, struct import *im)
{
	_cleanup_close_ int dfd = -EBADF;
	char rel[COLLATERAL_REL_MAX];
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	dfd = cache_dir_open(dir);
	if (dfd < 0)
		return dfd;
	for (size_t i = 0; i < im->n; i++) {
		const struct pending *e = &im->p[i];
		if (mkdirat(dfd, snp_product_to_string(e->product), 0755) < 0 && errno != EEXIST)
			return negative_errno();
		r = entry_path(rel, e->product, e->file);
		if (r < 0)
			return r;
		if (strcmp(e->file, "crl.der") == 0 && crl_cached_newer(dfd, rel, e->der, e->len))
			continue;
		r = fileio_write_atomic_at(dfd, rel, e->der, e->len, 0644);
		if (r < 0)
			return r;
	}
	return 0;
}

static int import_run(const char *dir, struct import *im, int r, struct collateral_added *ret)
{
	if (r == 0 && im->n == 0)
		r = import_fail(im, -EBADMSG, "nothing to cache (VLEKs come with each report)");
	if (r == 0 && dir)
		r = import_commit(dir, im);
	if (r == 0 && ret)
		*ret = im->added;
	import_done(im);
	return r;
}

int collateral_import(const char *dir, const uint8_t *buf, size_t len,
		      struct collateral_added *ret_added, char *err, size_t errlen)
{
	struct import im = { .err = err, .errlen = errlen };

	if (!buf && len)
		return -EINVAL;
	if (len > COLLATERAL_FILE_MAX)
		return import_fail(&im, -EMSGSIZE, "larger than 1 MiB");
	struct certtable t;
	/* A certificate table starts with a binary GUID: try it before the text formats. */
	if (len && buf[0] != 0x30 && !isprint(buf[0]) && !isspace(buf[0]) &&
	    certtable_parse(buf, len, &t) == 0 && t.n_entries > 0)
		return collateral_import_certtable(dir, buf, len, ret_added, err, errlen);
	return import_run(dir, &im, import_detect(&im, buf, len), ret_added);
}

int collateral_import_certtable(const char *dir, const uint8_t *buf, size_t len,
				struct collateral_added *ret_added, char *err, size_t errlen)
{
	struct import im = { .err = err, .errlen = errlen };
	struct certtable t;
	int r = 0;

	if (certtable_parse(buf, len, &t) < 0)
		return import_fail(&im, -EBADMSG, "the certificate table is malformed");
	for (size_t i = 0; r == 0 && i < t.n_entries; i++) {
		const struct certtable_entry *e = &t.entries[i];
		if (e->kind == SNP_CERT_CRL)
			r = import_crl(&im, e->data, e->len);
		else if (e->kind != SNP_CERT_OTHER)
			r = import_cert(&im, e->data, e->len);
	}
	return import_run(dir, &im, r, ret_added);
}

void collateral_done(struct collateral *c)
{
	if (!c)
		return;
	free(c->vek);
	free(c->ask);
	free(c->ark);
	free(c->crl);
	*c = (struct collateral){};
}

/* Reads <product>/<file> under the cache dfd when it exists; a missing file leaves *ret NULL. */
static int read_entry(int dfd, enum snp_product p, const char *file, uint8_t **ret,
		      size_t *ret_len)
{
	char rel[COLLATERAL_REL_MAX];
	int r = entry_path(rel, p, file);

	if (r < 0)
		return r;
	r = fileio_read_all_at(dfd, rel, COLLATERAL_FILE_MAX, ret, ret_len);
	return r == -ENOENT ? 0 : r;
}

int collateral_lookup(const char *dir, const struct collateral_id *id, bool want_vcek, bool vlek,
		      struct collateral *ret)
{
	_cleanup_close_ int dfd = -EBADF;
	struct collateral c = {};
	char file[200];
	int r;

	if (!dir || !id || !ret || !snp_product_to_string(id->product))
		return -EINVAL;
	dfd = cache_dir_open(dir);
	if (dfd < 0)
		return dfd;
	vcek_file_name(id, file);
	r = want_vcek ? read_entry(dfd, id->product, file, &c.vek, &c.vek_len) : 0;
	if (r >= 0)
		r = read_entry(dfd, id->product, vlek ? "asvk.der" : "ask.der", &c.ask, &c.ask_len);
	if (r >= 0)
		r = read_entry(dfd, id->product, "ark.der", &c.ark, &c.ark_len);
	if (r >= 0)
		r = read_entry(dfd, id->product, "crl.der", &c.crl, &c.crl_len);
	if (r < 0) {
		collateral_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

static void asn1_time_text(const ASN1_TIME *t, char *out, size_t n)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "?");
}

/* The detail column of `collateral list` for one cached file. */
static void entry_detail(const uint8_t *der, size_t len, struct collateral_entry *e)
{
	const unsigned char *q = der;
	const char *kind = e->kind ? e->kind : ""; /* listed files always have one */
	char when[32];

	if (strcmp(kind, "crl") == 0) {
		_cleanup_(X509_CRL_freep) X509_CRL *c = d2i_X509_CRL(NULL, &q, (long)len);
		if (!c) {
			snprintf(e->detail, sizeof(e->detail), "damaged: does not parse");
			return;
		}
		asn1_time_text(X509_CRL_get0_nextUpdate(c), when, sizeof(when));
		snprintf(e->detail, sizeof(e->detail), "next update %s, %d revoked", when,
			 sk_X509_REVOKED_num(X509_CRL_get_REVOKED(c)));
		return;
	}
	_cleanup_(X509_freep) X509 *x = openssl_x509_from_der(der, len, COLLATERAL_FILE_MAX);
	if (!x) {
		snprintf(e->detail, sizeof(e->detail), "damaged: does not parse");
		return;
	}
	asn1_time_text(X509_get0_notAfter(x), when, sizeof(when));
	struct collateral_id id;
	if (strcmp(kind, "vcek") == 0 && collateral_id_from_vcek(der, len, &id) == 0)
		snprintf(e->detail, sizeof(e->detail), "tcb %016llx, valid until %s",
			 (unsigned long long)id.tcb, when);
	else
		snprintf(e->detail, sizeof(e->detail), "valid until %s", when);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *kind_of(const char *file)
{
	if (strncmp(file, "vcek-", 5) == 0)
		return "vcek";
	if (strcmp(file, "ask.der") == 0)
		return "ask";
	if (strcmp(file, "asvk.der") == 0)
		return "asvk";
	if (strcmp(file, "ark.der") == 0)
		return "ark";
	if (strcmp(file, "crl.der") == 0)
		return "crl";
	return NULL;
}

#define LIST_MAX 1024u

static int list_product(int dfd, enum snp_product p,
			int (*fn)(const struct collateral_entry *, void *), void *userdata)
{
	char *names[LIST_MAX];
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int r = dir_open_at(dfd, snp_product_to_string(p), &d);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	while (n < LIST_MAX && (de = readdir(d)))
		if (kind_of(de->d_name) && !strchr(de->d_name, '/') &&
		    (names[n] = strdup(de->d_name)))
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ uint8_t *der = NULL;
		size_t len = 0;
		struct collateral_entry e = { .product = p, .kind = kind_of(names[i]),
					      .file = names[i] };
		if (r >= 0 && read_entry(dfd, p, names[i], &der, &len) >= 0 && der) {
			entry_detail(der, len, &e);
			r = fn(&e, userdata);
		}
		free(names[i]);
	}
	return r;
}

int collateral_list(const char *dir, int (*fn)(const struct collateral_entry *e, void *userdata),
		    void *userdata)
{
	_cleanup_close_ int dfd = -EBADF;
	int r;

	if (!dir || !fn)
		return -EINVAL;
	dfd = cache_dir_open(dir);
	if (dfd < 0)
		return dfd;
	for (int p = 0; p < _SNP_PRODUCT_MAX; p++) {
		r = list_product(dfd, (enum snp_product)p, fn, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

char *collateral_kds_vcek_url(const char *base, const struct collateral_id *id)
{
	char hex[129];
	struct snp_tcb t;

	if (!base || !id || snp_tcb_decode(id->tcb, id->product, &t) < 0)
		return NULL;
	ct_hex_encode(hex, id->hwid, id->hwid_len);
	if (id->product == SNP_PRODUCT_TURIN)
		return text_printf("%s/vcek/v1/%s/%s?fmcSPL=%u&blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u",
				   base, snp_product_kds_name(id->product), hex, t.fmc,
				   t.bootloader, t.tee, t.snp, t.microcode);
	return text_printf("%s/vcek/v1/%s/%s?blSPL=%u&teeSPL=%u&snpSPL=%u&ucodeSPL=%u", base,
			   snp_product_kds_name(id->product), hex, t.bootloader, t.tee, t.snp,
			   t.microcode);
}

char *collateral_kds_chain_url(const char *base, enum snp_product p, bool vlek)
{
	if (!base || !snp_product_kds_name(p))
		return NULL;
	return text_printf("%s/%s/v1/%s/cert_chain", base, vlek ? "vlek" : "vcek",
			   snp_product_kds_name(p));
}

char *collateral_kds_crl_url(const char *base, enum snp_product p, bool vlek)
{
	if (!base || !snp_product_kds_name(p))
		return NULL;
	return text_printf("%s/%s/v1/%s/crl", base, vlek ? "vlek" : "vcek",
			   snp_product_kds_name(p));
}

/* ---- completing a report's evidence ---- */

/* The product to look the cache up for: the report's CPUID fields (version 3 and later), the
 * host's leaf certificate, or (version 2 reports, no leaf) the first product with a VCEK
 * cached for this chip and TCB. */
static int cache_id(const char *dir, const struct snp_report *r, const struct snp_evidence *ev,
		    struct collateral_id *ret)
{
	struct collateral_id leaf;
	int p = snp_report_product_from_cpuid(r);

	if (p < 0 && ev->vek && collateral_id_from_vcek(ev->vek, ev->vek_len, &leaf) == 0)
		p = leaf.product;
	if (p >= 0)
		return collateral_id_from_report(r, p, ret);
	for (p = 0; p < _SNP_PRODUCT_MAX; p++) {
		struct collateral c = {};
		struct collateral_id id;
		bool hit = collateral_id_from_report(r, p, &id) == 0 &&
			   collateral_lookup(dir, &id, true, false, &c) == 0 && c.vek;
		collateral_done(&c);
		if (hit) {
			*ret = id;
			return 0;
		}
	}
	return -ENOENT;
}

void collateral_complete_evidence(const char *dir, const uint8_t report[static SNP_REPORT_SIZE],
				  struct snp_evidence *ev, struct collateral *ret_hold,
				  char *summary, size_t summary_len)
{
	const char *vek_src = ev->vek ? "host" : "none", *ask_src = ev->ask ? "host" : "built-in";
	bool vlek = snp_report_raw_signing_key(report, SNP_REPORT_SIZE) == SNP_SIGNING_KEY_VLEK;
	struct collateral_id id;
	struct snp_report r;
	int k = -ENOENT;

	*ret_hold = (struct collateral){};
	if (dir && snp_report_parse(report, SNP_REPORT_SIZE, &r) == 0 &&
	    cache_id(dir, &r, ev, &id) == 0)
		k = collateral_lookup(dir, &id, !ev->vek && !vlek, vlek, ret_hold);
	if (k < 0 && k != -ENOENT)
		vhsm_log_debug("collateral cache %s: %s", dir, strerror(-k));
	if (!ev->vek && ret_hold->vek) {
		ev->vek = ret_hold->vek, ev->vek_len = ret_hold->vek_len;
		vek_src = "cache";
	}
	if (!ev->ask && ret_hold->ask) {
		ev->ask = ret_hold->ask, ev->ask_len = ret_hold->ask_len;
		ask_src = "cache";
	}
	if (!ev->ark && ret_hold->ark) {
		ev->ark = ret_hold->ark, ev->ark_len = ret_hold->ark_len;
	}
	snprintf(summary, summary_len, "%s from the %s, %s from the %s; %s", vlek ? "VLEK" : "VCEK",
		 strcmp(vek_src, "host") == 0 ? "host's certificate table" :
		 strcmp(vek_src, "cache") == 0 ? "collateral cache" : "nowhere (none found)",
		 vlek ? "ASVK" : "ASK", strcmp(ask_src, "host") == 0 ? "host's certificate table" :
		 strcmp(ask_src, "cache") == 0 ? "collateral cache" : "built-in AMD copies",
		 ret_hold->crl ? "AMD CRL from the collateral cache" : "no AMD CRL cached");
}
