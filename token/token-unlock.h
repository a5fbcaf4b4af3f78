/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin's side of LUKS_UNLOCK through lib/wire-client: which socket, how long, one
 * request, one reply, and what libcryptsetup is told. Logs through crypt_logf only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "luks-token.h"

struct crypt_device;

#define TOKEN_DEFAULT_TIMEOUT_SEC 60u
#define TOKEN_MAX_TIMEOUT_SEC LUKS_TOKEN_TIMEOUT_MAX

struct token_config {
	char socket[108];
	unsigned timeout_sec; /* the unlock's deadline: socket wait, busy retries and reply */
	bool wait;            /* wait for a missing or refusing socket (not with VHSM_TOKEN_TIMEOUT=0) */
	const char *source;   /* where timeout_sec comes from, for messages */
};

/*
 * The socket: $VHSM_TOKEN_SOCKET, else $VHSM_SOCKET, else /run/vhsm/vhsmd.sock (an absolute
 * path shorter than sun_path; otherwise ignored, said in why). The timeout: the token's
 * "token_timeout" member, else $VHSM_TOKEN_TIMEOUT (0..600; 0: do not wait for the socket, the
 * default deadline for the reply), else TOKEN_DEFAULT_TIMEOUT_SEC. why is "" or says which
 * setting was ignored. Returns 0.
 */
int token_config_load(const struct luks_token *t, struct token_config *ret, char *why,
		      size_t whylen);

/*
 * Asks vhsmd for t's keyslot secret on LUKS volume uuid, within cfg's deadline. Says once
 * (CRYPT_LOG_NORMAL) when it has to wait for vhsmd's socket, and logs every failure with its
 * cause. Returns 0 with the passphrase (LUKS_PASSPHRASE_LEN characters, NUL-terminated) in fresh
 * secmem, or the real -errno with *ret_missing telling whether vhsmd was missing, not
 * answering or busy until the deadline (a resource not present yet) rather than refusing.
 */
int token_unlock(struct crypt_device *cd, int token, const struct token_config *cfg,
		 const struct luks_token *t, const char *uuid, char **ret_pass, bool *ret_missing);
