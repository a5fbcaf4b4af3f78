/* SPDX-License-Identifier: Apache-2.0 */
/* Algorithms fetched once and kept (see algs.h). */
#include <pthread.h>

#include <openssl/err.h>

#include "algs.h"

static EVP_MD *sha256_kept;
static EVP_CIPHER *gcm_kept;

static void fetch_all(void)
{
	sha256_kept = EVP_MD_fetch(NULL, "SHA256", NULL);
	gcm_kept = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ERR_clear_error();
}

static void fetch_once(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	(void)pthread_once(&once, fetch_all);
}

const EVP_MD *algs_sha256(void)
{
	fetch_once();
	return sha256_kept;
}

const EVP_CIPHER *algs_aes256_gcm(void)
{
	fetch_once();
	return gcm_kept;
}
