/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 URIs (RFC 7512), the subset vhsm-byok uses to name a customer key in a token:
 *   pkcs11:token=LABEL;object=LABEL;id=%01%02;type=secret-key;serial=S
 *          ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/path
 * Path attributes: token, manufacturer, model, serial, object, id, type. Query attributes:
 * module-path, module-name, pin-source, pin-value. Values are percent-decoded; unknown path
 * attributes are refused (a typo must not widen the match), unknown query attributes too.
 * Pure and fuzzable. Library code; never logs. pin-value is kept in secmem.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define P11URI_VALUE_MAX 256u
#define P11URI_ID_MAX 128u
#define P11URI_MAX 4096u

struct p11uri {
	char token[P11URI_VALUE_MAX + 1];
	char manufacturer[P11URI_VALUE_MAX + 1];
	char model[P11URI_VALUE_MAX + 1];
	char serial[P11URI_VALUE_MAX + 1];
	char object[P11URI_VALUE_MAX + 1];
	uint8_t id[P11URI_ID_MAX];
	size_t id_len;
	bool has_id;
	char type[32];
	char module_path[P11URI_VALUE_MAX + 1];
	char module_name[P11URI_VALUE_MAX + 1];
	char pin_source[P11URI_VALUE_MAX + 1];
	char *pin_value; /* secmem, NUL-terminated, or NULL */
};

/* Parses uri. 0, or -EBADMSG with the offending attribute in err. p11uri_done() after. */
int p11uri_parse(const char *uri, struct p11uri *ret, char *err, size_t errlen) _wur_;
/* Wipes and releases the PIN. */
void p11uri_done(struct p11uri *u);
