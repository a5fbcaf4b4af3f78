/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS_UNLOCK from inside libcryptsetup's caller. systemd-cryptsetup calls the token once and
 * falls back to a password on anything but success (it has no token-timeout= for plugins), so
 * the wait for a daemon that is not up yet happens here, bounded by one deadline.
 */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "escape.h"
#include "parse-util.h"
#include "secmem.h"
#include "token-unlock.h"
#include "wire-client.h"

/* Requests and replies of LUKS_UNLOCK are small: page-sized buffers keep the plugin's locked
 * memory well inside an unprivileged caller's RLIMIT_MEMLOCK. A longer reply is refused (its
 * real length shows through MSG_TRUNC). */
#define TOKEN_MSG_MAX 8192u

int token_config_load(const struct luks_token *t, struct token_config *ret, char *why,
		      size_t whylen)
{
	const char *s = getenv("VHSM_TOKEN_SOCKET"), *w = getenv("VHSM_TOKEN_TIMEOUT");
	const char *name = "VHSM_TOKEN_SOCKET";

	snprintf(ret->socket, sizeof(ret->socket), "%s", VHSM_CLIENT_DEFAULT_SOCKET);
	ret->timeout_sec = TOKEN_DEFAULT_TIMEOUT_SEC;
	ret->wait = true;
	ret->source = "default";
	why[0] = '\0';
	if (!s || !s[0]) {
		s = getenv(VHSM_CLIENT_SOCKET_ENV);
		name = VHSM_CLIENT_SOCKET_ENV;
	}
	if (s && s[0] == '/' && strlen(s) < sizeof(ret->socket))
		snprintf(ret->socket, sizeof(ret->socket), "%s", s);
	else if (s && s[0])
		snprintf(why, whylen, "ignoring invalid %s (an absolute path of at most %zu bytes)",
			 name, sizeof(ret->socket) - 1);
	if (t->token_timeout) {
		ret->timeout_sec = t->token_timeout;
		ret->source = "token_timeout";
	} else if (w) {
		uint32_t v;
		if (parse_uint32(w, 0, TOKEN_MAX_TIMEOUT_SEC, &v) < 0) {
			snprintf(why, whylen, "ignoring invalid VHSM_TOKEN_TIMEOUT (0..%u seconds)",
				 TOKEN_MAX_TIMEOUT_SEC);
		} else if (v == 0) {
			ret->wait = false; /* as before: no wait for the socket, the default deadline */
			ret->source = "VHSM_TOKEN_TIMEOUT=0";
		} else {
			ret->timeout_sec = (unsigned)v;
			ret->source = "VHSM_TOKEN_TIMEOUT";
		}
	}
	return 0;
}

/* Errors of the transport that mean "vhsmd is not there or not ready yet". */
static bool not_there(int r)
{
	return r == -ENOENT || r == -ECONNREFUSED || r == -EAGAIN || r == -ETIMEDOUT;
}

int token_unlock(struct crypt_device *cd, int token, const struct token_config *cfg,
		 const struct luks_token *t, const char *uuid, char **ret_pass, bool *ret_missing)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	const struct vhsm_wire_field *f;
	struct vhsm_wire_builder *b;
	uint64_t deadline = vhsm_client_deadline(cfg->timeout_sec * 1000u);
	char *pass;
	int r;

	*ret_missing = false;
	r = vhsm_client_new(cfg->socket, TOKEN_MSG_MAX, cfg->wait ? VHSM_CLIENT_WAIT_FOR_SOCKET : 0,
			    &c);
	if (r < 0) {
		crypt_logf(cd, CRYPT_LOG_NORMAL, "vhsm token %d (KEK via vhsmd): %s\n", token,
			   strerror(-r));
		return r;
	}
	b = vhsm_client_begin(c, VHSM_OP_LUKS_UNLOCK);
	vhsm_wire_add_data(b, VHSM_TAG_SEALED_KEK, t->sealed_kek, t->sealed_kek_len);
	vhsm_wire_add_data(b, VHSM_TAG_WRAPPED_SECRET, t->wrapped_secret, t->wrapped_secret_len);
	vhsm_wire_add_str(b, VHSM_TAG_UUID, uuid);

	/* One attempt first, so that a wait is announced once, before it starts. */
	r = vhsm_client_connect(c, 0);
	if (r < 0 && not_there(r) && (cfg->wait || r == -EAGAIN)) {
		crypt_logf(cd, CRYPT_LOG_NORMAL,
			   "vhsm token %d: waiting up to %u s (%s) for vhsmd at %s: %s\n", token,
			   cfg->timeout_sec, cfg->source, cfg->socket, strerror(-r));
		r = vhsm_client_connect(c, deadline);
	}
	if (r < 0) {
		*ret_missing = not_there(r);
		if (cfg->wait)
			crypt_logf(cd, CRYPT_LOG_NORMAL,
				   "vhsm token %d (KEK via vhsmd): vhsmd not reachable at %s within "
				   "%u s (%s): %s\n", token, cfg->socket, cfg->timeout_sec, cfg->source,
				   strerror(-r));
		else
			crypt_logf(cd, CRYPT_LOG_NORMAL,
				   "vhsm token %d (KEK via vhsmd): vhsmd not reachable at %s: %s\n",
				   token, cfg->socket, strerror(-r));
		return r;
	}
	/* What comes back is the daemon's (or whatever listens at the socket): escaped, so it
	 * cannot move the cursor or rewrite the console line of a boot prompt. */
	r = vhsm_client_call(c, deadline);
	if (r < 0) {
		*ret_missing = r == -ETIMEDOUT;
		crypt_logf(cd, CRYPT_LOG_NORMAL, "vhsm token %d (KEK via vhsmd): %s\n", token,
			   ESCAPED(c->error));
		return r;
	}
	if (c->status < 0) {
		*ret_missing = c->declined_busy; /* still busy at the deadline */
		crypt_logf(cd, CRYPT_LOG_NORMAL, "vhsm token %d (KEK via vhsmd): %s\n", token,
			   c->message[0] ? ESCAPED(c->message) : strerror(-c->status));
		return c->status;
	}
	f = vhsm_wire_get(&c->msg, VHSM_TAG_DATA);
	if (c->msg.op != (VHSM_OP_LUKS_UNLOCK | VHSM_OP_REPLY_FLAG) || !f ||
	    f->len != LUKS_SECRET_SIZE) {
		crypt_logf(cd, CRYPT_LOG_NORMAL, "vhsm token %d (KEK via vhsmd): %s\n", token,
			   "malformed reply from vhsmd");
		return -EPROTO;
	}
	pass = secmem_alloc(LUKS_PASSPHRASE_LEN + 1);
	if (!pass)
		return -ENOMEM;
	ct_base64_encode(pass, f->value, LUKS_SECRET_SIZE);
	*ret_pass = pass;
	return 0;
}
