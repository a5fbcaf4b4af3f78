/* SPDX-License-Identifier: Apache-2.0 */
/* AES key wrap with padding and AES-GCM for PKCS#11 secret keys (p11-aes.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "p11-aes.h"
#include "hkdf.h"
#include "openssl-util.h"

int p11_aes_derive(const uint8_t kek[static 32], enum p11_aes_use use, uint8_t ret[static 32])
{
	const char *info = use == P11_AES_KWP ? "vhsm-p11-kwp-v1" : "vhsm-p11-gcm-v1";

	return hkdf_sha256(kek, 32, NULL, 0, (const uint8_t *)info, strlen(info), ret, 32);
}

static int kwp(const uint8_t *key, size_t key_len, bool wrap, const uint8_t *in, size_t len,
	       uint8_t *out, size_t *ret_len)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
	const EVP_CIPHER *c = key_len == 16 ? EVP_aes_128_wrap_pad()
			      : key_len == 24 ? EVP_aes_192_wrap_pad()
			      : key_len == 32 ? EVP_aes_256_wrap_pad() : NULL;
	int n = 0, f = 0;

	if (!c)
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || !EVP_CipherInit_ex(ctx, c, NULL, key, NULL, wrap ? 1 : 0))
		return -EIO;
	if (!EVP_CipherUpdate(ctx, out, &n, in, (int)len))
		return wrap ? -EIO : -EBADMSG;
	if (!EVP_CipherFinal_ex(ctx, out + n, &f))
		return wrap ? -EIO : -EBADMSG;
	*ret_len = (size_t)n + (size_t)f;
	return 0;
}

int p11_aes_kwp_wrap(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
		     uint8_t *out, size_t *ret_len)
{
	if (len == 0 || len > P11_AES_KWP_MAX)
		return -EMSGSIZE;
	return kwp(key, key_len, true, in, len, out, ret_len);
}

int p11_aes_kwp_unwrap(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
		       uint8_t *out, size_t *ret_len)
{
	int r;

	if (len < 16 || len % 8 || len > P11_AES_KWP_MAX + 16)
		return -EINVAL;
	r = kwp(key, key_len, false, in, len, out, ret_len);
	if (r < 0)
		OPENSSL_cleanse(out, len - 8);
	return r;
}

int p11_aes_gcm(const uint8_t key[static 32], bool encrypt, const uint8_t *iv, size_t iv_len,
		const uint8_t *aad, size_t aad_len, size_t tag_len, const uint8_t *in, size_t len,
		uint8_t *out, size_t *ret_len)
{
	_cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	size_t n = encrypt ? len : len - tag_len;
	uint8_t tag[16];
	int l = 0, f = 0;

	if (iv_len < P11_AES_GCM_IV_MIN || iv_len > P11_AES_GCM_IV_MAX || tag_len < P11_AES_GCM_TAG_MIN ||
	    tag_len > 16 || (!encrypt && len < tag_len) || len > INT32_MAX || aad_len > INT32_MAX)
		return -EINVAL;
	if (!ctx || !EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, encrypt) ||
	    (aad_len && !EVP_CipherUpdate(ctx, NULL, &l, aad, (int)aad_len)) ||
	    (n && !EVP_CipherUpdate(ctx, out, &l, in, (int)n)))
		return -EIO;
	if (!encrypt) {
		memcpy(tag, in + n, tag_len);
		if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag_len, tag))
			return -EIO;
	}
	if (!EVP_CipherFinal_ex(ctx, out + l, &f)) {
		OPENSSL_cleanse(out, n);
		return encrypt ? -EIO : -EBADMSG;
	}
	if (encrypt && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)tag_len, out + n))
		return -EIO;
	*ret_len = encrypt ? n + tag_len : n;
	return 0;
}
