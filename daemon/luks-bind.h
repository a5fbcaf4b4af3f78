/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Volume bindings (luks-bind.c): <state>/luks/NAME.json records the token material of volume
 * NAME for the crypttab key socket. Public data (no secret), strictly parsed on read.
 */
#pragma once

#include "luks-token.h"
#include "vhsmd.h"

/* Token material (public): a sealed KEK copy and the wrapped secret. */
struct luks_material {
	uint8_t sealed[LUKS_TOKEN_SEALED_MAX];
	size_t sealed_len;
	uint8_t wrapped[LUKS_TOKEN_WRAPPED_MAX];
	size_t wrapped_len;
};

/* One volume's binding as read back. */
struct luks_binding {
	char uuid[LUKS_UUID_MAX + 1];
	struct luks_material mat;
};

/* Records (atomically, durably) the binding of volume to LUKS UUID uuid. 0 or -errno. */
int luks_binding_write(struct manager *m, const char *volume, const char *uuid,
		       const uint8_t *sealed, size_t sealed_len, const uint8_t *wrapped,
		       size_t wrapped_len);
/*
 * Reads volume's binding: 0 (ret filled), -EINVAL (not a valid name), -ENOENT (not bound),
 * -EBADMSG (damaged or renamed file; the reason is logged at debug) or -errno.
 */
int luks_binding_read(struct manager *m, const char *volume, struct luks_binding *ret);
/* Replaces the material of every binding of uuid (after a rewrap). 0 or -errno. */
int luks_bindings_update(struct manager *m, const char *uuid, const struct luks_material *mat);
/* Removes every binding of uuid durably: 0 with how many in ret_n, or -errno. */
int luks_bindings_remove(struct manager *m, const char *uuid, unsigned *ret_n);
