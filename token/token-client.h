/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin's side of LUKS_UNLOCK: a bounded wait for vhsmd's socket, one request, one
 * reply. No globals; everything O_CLOEXEC; buffers in secmem.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "luks-token.h"

#define TOKEN_DEFAULT_SOCKET "/run/vhsm/vhsmd.sock"
#define TOKEN_DEFAULT_WAIT_SEC 60u
#define TOKEN_MAX_WAIT_SEC 600u
#define TOKEN_REPLY_TIMEOUT_MS 60000

struct token_config {
	char socket[108];
	unsigned wait_sec; /* how long to wait for the daemon's socket to accept */
};

/*
 * Reads VHSM_TOKEN_SOCKET and VHSM_TOKEN_TIMEOUT (seconds, 0..600) from the caller's
 * environment; invalid values fall back to the defaults (reported in why). Returns 0.
 */
int token_config_load(struct token_config *ret, char *why, size_t whylen);

/*
 * Asks vhsmd for t's keyslot secret on LUKS volume uuid. Returns 0 with the passphrase
 * (LUKS_PASSPHRASE_LEN characters, NUL-terminated) in fresh secmem; -EAGAIN when the daemon
 * did not answer within the wait; -EKEYREJECTED, -EKEYREVOKED, ... (the daemon's refusal, with
 * its message in why) or -EPROTO for a bad reply.
 */
int token_unlock(const struct token_config *cfg, const struct luks_token *t, const char *uuid,
		 char **ret_pass, char *why, size_t whylen);
