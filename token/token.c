/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcryptsetup-token-vhsm.so: the LUKS2 external token plugin (CRYPTSETUP_TOKEN_1.0, exported
 * through token.sym). It runs inside the caller (cryptsetup, systemd-cryptsetup, udisks...):
 * no globals, no signal handlers, no stdout, no exit; it logs through crypt_logf only.
 *
 * Return values are restricted to what keeps libcryptsetup's token loop going: 0, -EAGAIN
 * (vhsmd missing, not answering or busy until the deadline: a resource not present yet) and
 * -ENOENT (anything else: refused, malformed, ...). The real errno is logged first.
 * The token needs no PIN, so -ENOANO is never returned and open_pin is not exported.
 */
#include <errno.h>
#include <libcryptsetup.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "luks-token.h"
#include "secmem.h"
#include "token-unlock.h"

#define TOKEN_ABI __attribute__((visibility("default")))

int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
			  void *usrptr) TOKEN_ABI;
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len) TOKEN_ABI;
int cryptsetup_token_validate(struct crypt_device *cd, const char *json) TOKEN_ABI;
void cryptsetup_token_dump(struct crypt_device *cd, const char *json) TOKEN_ABI;
const char *cryptsetup_token_version(void) TOKEN_ABI;

/* Maps any failure to what libcryptsetup treats as "try the next token": -EAGAIN when vhsmd
 * was missing (a resource not present), else -ENOENT; the real errno goes to the debug log. */
static int token_result(struct crypt_device *cd, int r, bool missing)
{
	int mapped = missing ? -EAGAIN : -ENOENT;

	if (r == 0)
		return 0;
	crypt_logf(cd, CRYPT_LOG_DEBUG, "vhsm token: error %d (%s), reporting %d (%s)", r,
		   strerror(-r), mapped, strerror(-mapped));
	return mapped;
}

/*
 * cd: owned by the caller. token: the token id. buffer/buffer_len: set on success to the
 * keyslot passphrase, owned by libcryptsetup until it calls cryptsetup_token_buffer_free().
 * usrptr: ignored (NULL from the generic token loop).
 */
int cryptsetup_token_open(struct crypt_device *cd, int token, char **buffer, size_t *buffer_len,
			  void *usrptr)
{
	struct luks_token *t = NULL;
	struct token_config cfg;
	const char *json = NULL, *uuid;
	char why[512] = "", *pass = NULL;
	bool missing = false;
	int r;

	(void)usrptr;
	r = crypt_token_json_get(cd, token, &json);
	if (r < 0 || !json)
		return token_result(cd, r < 0 ? r : -EINVAL, false);
	uuid = crypt_get_uuid(cd);
	if (!uuid)
		return token_result(cd, -EINVAL, false);
	t = calloc(1, sizeof(*t));
	if (!t)
		return token_result(cd, -ENOMEM, false);
	/* Re-checked here: the header may have changed since validate ran. */
	r = luks_token_parse(json, strlen(json), t, why, sizeof(why));
	if (r < 0) {
		crypt_logf(cd, CRYPT_LOG_ERROR, "vhsm token %d: %s", token, why);
		free(t);
		return token_result(cd, r, false);
	}
	token_config_load(t, &cfg, why, sizeof(why));
	if (why[0])
		crypt_logf(cd, CRYPT_LOG_NORMAL, "vhsm token: %s\n", why);
	r = token_unlock(cd, token, &cfg, t, uuid, &pass, &missing);
	explicit_bzero(t, sizeof(*t));
	free(t);
	if (r < 0) {
		ERR_clear_error();
		return token_result(cd, r, missing);
	}
	ERR_clear_error();
	*buffer = pass;
	*buffer_len = LUKS_PASSPHRASE_LEN;
	return 0;
}

/* buffer: what cryptsetup_token_open() returned; wiped and released here. */
void cryptsetup_token_buffer_free(void *buffer, size_t buffer_len)
{
	(void)buffer_len;
	secmem_free(buffer);
}

/* json: the token's JSON, owned by libcryptsetup. Returns 0 when acceptable, else -EINVAL. */
int cryptsetup_token_validate(struct crypt_device *cd, const char *json)
{
	struct luks_token *t = calloc(1, sizeof(*t));
	char why[256] = "";
	int r;

	if (!t)
		return -ENOMEM;
	r = luks_token_parse(json, strnlen(json, LUKS_TOKEN_JSON_MAX + 1), t, why, sizeof(why));
	free(t);
	ERR_clear_error();
	if (r < 0) {
		crypt_logf(cd, CRYPT_LOG_ERROR, "vhsm token: %s", why);
		return -EINVAL;
	}
	return 0;
}

/* Prints the public members under luksDump's "N: vhsm" line; never any blob content. */
void cryptsetup_token_dump(struct crypt_device *cd, const char *json)
{
	struct luks_token *t = calloc(1, sizeof(*t));
	char why[256] = "", digest[65];

	if (!t)
		return;
	if (luks_token_parse(json, strnlen(json, LUKS_TOKEN_JSON_MAX + 1), t, why, sizeof(why)) < 0) {
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tinvalid vhsm token: %s\n", why);
	} else {
		ct_hex_encode(digest, t->policy_digest, sizeof(t->policy_digest));
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tKEK:        %s\n", t->kek);
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tKEK version: %u\n", t->kek_version);
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tProfile:    %s\n",
			   seal_profile_to_string(t->profile));
		crypt_logf(cd, CRYPT_LOG_NORMAL, "\tPolicy:     %.32s\n\t            %s\n", digest,
			   digest + 32);
		if (t->token_timeout)
			crypt_logf(cd, CRYPT_LOG_NORMAL, "\tTimeout:    %u s\n", t->token_timeout);
	}
	free(t);
	ERR_clear_error();
}

const char *cryptsetup_token_version(void)
{
	return "vhsm-" VHSM_VERSION;
}
