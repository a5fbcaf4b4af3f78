/* SPDX-License-Identifier: Apache-2.0 */
/* The (v)TPM through ESAPI: NV indices and persistent public keys (see tpm2-nv.h). */
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "openssl-util.h"
#include "tpm2-nv.h"

#define NV_CHUNK_DEFAULT 512u

struct tpm2 {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	uint16_t nv_chunk;
};

static void esys_freep(void *p)
{
	Esys_Free(*(void **)p);
}

int tpm2_rc_errno(uint32_t rc)
{
	TSS2_RC fmt1;

	if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER ||
	    (rc & TSS2_RC_LAYER_MASK) == TSS2_RESMGR_TPM_RC_LAYER) {
		rc &= ~TSS2_RC_LAYER_MASK;
		fmt1 = rc & (TPM2_RC_FMT1 | 0x3f);
		if (rc & TPM2_RC_FMT1) {
			if (fmt1 == TPM2_RC_HANDLE)
				return -ENOENT;
			if (fmt1 == TPM2_RC_AUTH_FAIL || fmt1 == TPM2_RC_BAD_AUTH ||
			    fmt1 == TPM2_RC_NV_AUTHORIZATION)
				return -EACCES;
			if (fmt1 == TPM2_RC_NV_RANGE || fmt1 == TPM2_RC_SIZE)
				return -EMSGSIZE;
			if (fmt1 == TPM2_RC_POLICY_FAIL || fmt1 == TPM2_RC_INTEGRITY ||
			    fmt1 == TPM2_RC_POLICY_CC)
				return -EKEYREJECTED;
		} else if (rc == TPM2_RC_NV_LOCKED || rc == TPM2_RC_NV_UNINITIALIZED ||
			   rc == TPM2_RC_NV_AUTHORIZATION) {
			return rc == TPM2_RC_NV_UNINITIALIZED ? -ENODATA : -EACCES;
		}
	}
	return -EIO;
}

ESYS_CONTEXT *tpm2_esys(struct tpm2 *t)
{
	return t->esys;
}

struct tpm2 *tpm2_close(struct tpm2 *t)
{
	if (!t)
		return NULL;
	if (t->esys)
		Esys_Finalize(&t->esys);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
	return NULL;
}

/* The largest NV read or write in one command (TPM2_PT_NV_BUFFER_MAX). */
static uint16_t nv_chunk(struct tpm2 *t)
{
	_cleanup_(esys_freep) TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;

	if (Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
			       TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more,
			       &cap) != TSS2_RC_SUCCESS || cap->data.tpmProperties.count < 1 ||
	    cap->data.tpmProperties.tpmProperty[0].property != TPM2_PT_NV_BUFFER_MAX)
		return NV_CHUNK_DEFAULT;
	uint32_t v = cap->data.tpmProperties.tpmProperty[0].value;
	return v < 64 || v > TPM2_MAX_NV_BUFFER_SIZE ? NV_CHUNK_DEFAULT : (uint16_t)v;
}

int tpm2_open(const char *tcti, struct tpm2 **ret)
{
	struct tpm2 *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	/* The TSS logs to stderr unless told otherwise; library code stays quiet. */
	setenv("TSS2_LOG", "all+none", 0);
	if (Tss2_TctiLdr_Initialize(tcti ? tcti : TPM2_TCTI_DEFAULT, &t->tcti) != TSS2_RC_SUCCESS ||
	    Esys_Initialize(&t->esys, t->tcti, NULL) != TSS2_RC_SUCCESS) {
		tpm2_close(t);
		return -ENODEV;
	}
	t->nv_chunk = nv_chunk(t);
	*ret = t;
	return 0;
}

/* An ESYS_TR for the NV index idx and its public area. */
static int nv_open(struct tpm2 *t, uint32_t idx, ESYS_TR *ret_tr, uint16_t *ret_size)
{
	_cleanup_(esys_freep) TPM2B_NV_PUBLIC *pub = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_TR_FromTPMPublic(t->esys, idx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);
	rc = Esys_NV_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(t->esys, &tr);
		return tpm2_rc_errno(rc);
	}
	*ret_tr = tr;
	*ret_size = pub->nvPublic.dataSize;
	return 0;
}

int tpm2_nv_read(struct tpm2 *t, uint32_t idx, uint8_t **ret, size_t *ret_len)
{
	ESYS_TR tr;
	uint16_t size;
	int r = nv_open(t, idx, &tr, &size);

	if (r < 0)
		return r;
	_cleanup_free_ uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		Esys_TR_Close(t->esys, &tr);
		return -ENOMEM;
	}
	for (uint16_t off = 0; off < size;) {
		_cleanup_(esys_freep) TPM2B_MAX_NV_BUFFER *d = NULL;
		uint16_t n = (uint16_t)(size - off < t->nv_chunk ? size - off : t->nv_chunk);
		TSS2_RC rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
					  ESYS_TR_NONE, ESYS_TR_NONE, n, off, &d);
		if (rc != TSS2_RC_SUCCESS || d->size != n) {
			Esys_TR_Close(t->esys, &tr);
			return rc != TSS2_RC_SUCCESS ? tpm2_rc_errno(rc) : -EIO;
		}
		memcpy(buf + off, d->buffer, n);
		off = (uint16_t)(off + n);
	}
	Esys_TR_Close(t->esys, &tr);
	*ret = TAKE_PTR(buf);
	*ret_len = size;
	return 0;
}

static int nv_define(struct tpm2 *t, uint32_t idx, size_t len, ESYS_TR *ret_tr)
{
	const TPM2B_AUTH empty = {};
	const TPM2B_NV_PUBLIC pub = {
		.nvPublic = {
			.nvIndex = idx,
			.nameAlg = TPM2_ALG_SHA256,
			.attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_AUTHWRITE |
				      TPMA_NV_AUTHREAD | TPMA_NV_NO_DA,
			.dataSize = (uint16_t)len,
		},
	};
	TSS2_RC rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					 ESYS_TR_NONE, &empty, &pub, ret_tr);

	return rc == TSS2_RC_SUCCESS ? 0 : tpm2_rc_errno(rc);
}

int tpm2_nv_write(struct tpm2 *t, uint32_t idx, const uint8_t *data, size_t len)
{
	ESYS_TR tr;
	uint16_t size;
	int r;

	if (len > UINT16_MAX)
		return -EMSGSIZE;
	r = nv_open(t, idx, &tr, &size);
	if (r == -ENOENT) {
		r = nv_define(t, idx, len, &tr);
		size = (uint16_t)len;
	}
	if (r < 0)
		return r;
	if (size < len) {
		Esys_TR_Close(t->esys, &tr);
		return -EMSGSIZE;
	}
	for (size_t off = 0; off < len;) {
		TPM2B_MAX_NV_BUFFER d = {};
		size_t n = len - off < t->nv_chunk ? len - off : t->nv_chunk;
		d.size = (uint16_t)n;
		memcpy(d.buffer, data + off, n);
		TSS2_RC rc = Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
					   ESYS_TR_NONE, ESYS_TR_NONE, &d, (uint16_t)off);
		if (rc != TSS2_RC_SUCCESS) {
			Esys_TR_Close(t->esys, &tr);
			return tpm2_rc_errno(rc);
		}
		off += n;
	}
	Esys_TR_Close(t->esys, &tr);
	return 0;
}

int tpm2_public_spki(struct tpm2 *t, uint32_t handle, uint8_t *out, size_t cap)
{
	_cleanup_(esys_freep) TPM2B_PUBLIC *pub = NULL;
	ESYS_TR tr = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);
	rc = Esys_ReadPublic(t->esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
			     NULL);
	Esys_TR_Close(t->esys, &tr);
	if (rc != TSS2_RC_SUCCESS)
		return tpm2_rc_errno(rc);
	if (pub->publicArea.type != TPM2_ALG_RSA)
		return -EOPNOTSUPP;

	const TPM2B_PUBLIC_KEY_RSA *n = &pub->publicArea.unique.rsa;
	uint32_t e = pub->publicArea.parameters.rsaDetail.exponent ?: 65537u;
	const uint8_t eb[4] = { (uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8),
				(uint8_t)e };
	int len = openssl_rsa_spki(n->buffer, n->size, eb, sizeof(eb), out, cap);

	return len == -EBADMSG ? -EIO : len;
}
