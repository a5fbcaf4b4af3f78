/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key pair operations (KEY_*) and the AES operations under a KEK for PKCS#11 (KEK_*_KWP,
 * KEK_GCM_*): the wire contract of docs/PROTOCOL.md, answered with ENOTSUP until implemented.
 */
#include <errno.h>

#include "ops.h"

static int op_key_unsupported(struct op_ctx *c)
{
	return op_fail(c, -EOPNOTSUPP, "operation not supported by this vhsmd yet");
}

int op_key_create(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_list(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_get(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_sign(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_decrypt(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_set_cert(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_disable(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_enable(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_delete(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_recover(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_purge(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_set_acl(struct op_ctx *c) { return op_key_unsupported(c); }
int op_key_attest(struct op_ctx *c) { return op_key_unsupported(c); }
int op_kek_wrap_kwp(struct op_ctx *c) { return op_key_unsupported(c); }
int op_kek_unwrap_kwp(struct op_ctx *c) { return op_key_unsupported(c); }
int op_kek_gcm_encrypt(struct op_ctx *c) { return op_key_unsupported(c); }
int op_kek_gcm_decrypt(struct op_ctx *c) { return op_key_unsupported(c); }
