/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing a secret to the (v)TPM's PCRs (see tpm2-seal.h). */
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "secmem.h"
#include "tpm2-nv.h"
#include "tpm2-seal.h"

#define BLOB_MAGIC "VTPS"
#define BLOB_FORMAT 1u
#define BLOB_HEADER 10u /* magic, format, PCR mask */

static void esys_freep(void *p)
{
	Esys_Free(*(void **)p);
}

/* Flushes a transient object or session on scope exit (ESYS_TR_NONE: nothing). */
struct flush {
	ESYS_CONTEXT *e;
	ESYS_TR tr;
};

static void flushp(struct flush *f)
{
	if (f->tr != ESYS_TR_NONE)
		Esys_FlushContext(f->e, f->tr);
}

static void pcr_selection(uint32_t mask, TPML_PCR_SELECTION *ret)
{
	*ret = (TPML_PCR_SELECTION){
		.count = 1,
		.pcrSelections[0] = {
			.hash = TPM2_ALG_SHA256,
			.sizeofSelect = 3,
			.pcrSelect = { (uint8_t)mask, (uint8_t)(mask >> 8), (uint8_t)(mask >> 16) },
		},
	};
}

/* The storage root key from the owner seed: the TCG's ECC P-256 SRK template. */
static int srk(ESYS_CONTEXT *e, ESYS_TR *ret)
{
	const TPM2B_SENSITIVE_CREATE sens = {};
	const TPM2B_DATA outside = {};
	const TPML_PCR_SELECTION none = {};
	const TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
					    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
		},
	};
	TSS2_RC rc = Esys_CreatePrimary(e, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					ESYS_TR_NONE, &sens, &tmpl, &outside, &none, ret, NULL,
					NULL, NULL, NULL);

	return rc == TSS2_RC_SUCCESS ? 0 : tpm2_rc_errno(rc);
}

/* A policy (or trial) session with PolicyPCR over mask at the current values. */
static int pcr_session(ESYS_CONTEXT *e, TPM2_SE type, uint32_t mask, ESYS_TR *ret)
{
	const TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
				   .mode.aes = TPM2_ALG_CFB };
	const TPM2B_DIGEST current = {}; /* empty: the TPM takes the PCRs as they are */
	TPML_PCR_SELECTION sel;
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;

	pcr_selection(mask, &sel);
	rc = Esys_StartAuthSession(e, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, NULL, type, &sym, TPM2_ALG_SHA256, &s);
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);
	rc = Esys_PolicyPCR(e, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &current, &sel);
	if (rc != TSS2_RC_SUCCESS) {
		Esys_FlushContext(e, s);
		return tpm2_rc_errno(rc);
	}
	*ret = s;
	return 0;
}

int tpm2_seal(struct tpm2 *t, uint32_t pcr_mask, const uint8_t *secret, size_t len,
	      uint8_t **ret_blob, size_t *ret_len)
{
	ESYS_CONTEXT *e = tpm2_esys(t);
	_cleanup_(flushp) struct flush parent = { e, ESYS_TR_NONE };
	_cleanup_(flushp) struct flush trial = { e, ESYS_TR_NONE };
	_cleanup_(esys_freep) TPM2B_DIGEST *policy = NULL;
	_cleanup_(esys_freep) TPM2B_PRIVATE *priv = NULL;
	_cleanup_(esys_freep) TPM2B_PUBLIC *pub = NULL;
	TPM2B_SENSITIVE_CREATE sens = {};
	const TPM2B_DATA outside = {};
	const TPML_PCR_SELECTION none = {};
	TSS2_RC rc;
	int r;

	if (!secret || len == 0 || len > TPM2_SEAL_SECRET_MAX || pcr_mask == 0 ||
	    pcr_mask >> 24)
		return -EINVAL;
	r = pcr_session(e, TPM2_SE_TRIAL, pcr_mask, &trial.tr);
	if (r < 0)
		return r;
	rc = Esys_PolicyGetDigest(e, trial.tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &policy);
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);
	r = srk(e, &parent.tr);
	if (r < 0)
		return r;

	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_KEYEDHASH,
			.nameAlg = TPM2_ALG_SHA256,
			/* no USERWITHAUTH: only the PCR policy opens it */
			.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_NODA,
			.authPolicy = *policy,
			.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
		},
	};
	sens.sensitive.data.size = (uint16_t)len;
	memcpy(sens.sensitive.data.buffer, secret, len);
	rc = Esys_Create(e, parent.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
			 &outside, &none, &priv, &pub, NULL, NULL, NULL);
	secmem_wipe(&sens, sizeof(sens));
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);

	uint8_t buf[TPM2_SEAL_BLOB_MAX];
	size_t off = BLOB_HEADER;
	memcpy(buf, BLOB_MAGIC, 4);
	buf[4] = (uint8_t)BLOB_FORMAT;
	buf[5] = 0;
	le32_put(buf + 6, pcr_mask);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -EIO;
	uint8_t *blob = malloc(off);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, buf, off);
	*ret_blob = blob;
	*ret_len = off;
	return 0;
}

int tpm2_unseal(struct tpm2 *t, const uint8_t *blob, size_t len, uint8_t **ret_secret,
		size_t *ret_len)
{
	ESYS_CONTEXT *e = tpm2_esys(t);
	_cleanup_(flushp) struct flush parent = { e, ESYS_TR_NONE };
	_cleanup_(flushp) struct flush obj = { e, ESYS_TR_NONE };
	_cleanup_(flushp) struct flush session = { e, ESYS_TR_NONE };
	TPM2B_SENSITIVE_DATA *out = NULL;
	TPM2B_PUBLIC pub = {};
	TPM2B_PRIVATE priv = {};
	size_t off = BLOB_HEADER;
	TSS2_RC rc;
	int r;

	if (!blob || len < BLOB_HEADER || len > TPM2_SEAL_BLOB_MAX ||
	    memcmp(blob, BLOB_MAGIC, 4) != 0 || blob[4] != BLOB_FORMAT || blob[5] != 0)
		return -EBADMSG;
	uint32_t mask = le32_get(blob + 6);
	if (mask == 0 || mask >> 24 ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, len, &off, &pub) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, len, &off, &priv) != TSS2_RC_SUCCESS ||
	    off != len || pub.publicArea.type != TPM2_ALG_KEYEDHASH)
		return -EBADMSG;
	r = srk(e, &parent.tr);
	if (r < 0)
		return r;
	rc = Esys_Load(e, parent.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
		       &obj.tr);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm2_rc_errno(rc);
		/* Not this TPM's (or not this owner seed's), or modified: refused, not broken. */
		return r == -EIO || r == -EMSGSIZE ? -EKEYREJECTED : r;
	}
	r = pcr_session(e, TPM2_SE_POLICY, mask, &session.tr);
	if (r < 0)
		return r;
	rc = Esys_Unseal(e, obj.tr, session.tr, ESYS_TR_NONE, ESYS_TR_NONE, &out);
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);
	uint8_t *s = secmem_alloc(out->size ? out->size : 1);
	if (!s) {
		secmem_wipe(out, sizeof(*out));
		Esys_Free(out);
		return -ENOMEM;
	}
	memcpy(s, out->buffer, out->size);
	*ret_len = out->size;
	secmem_wipe(out, sizeof(*out));
	Esys_Free(out);
	*ret_secret = s;
	return 0;
}
