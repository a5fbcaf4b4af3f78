/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded HTTP(S) GET for public collateral (AMD KDS, Azure THIM): http and https only, no
 * redirects to other protocols, a size cap enforced while receiving, a total timeout, TLS peer
 * and host verification on. The answer is untrusted: callers hand it to parsers that check it.
 * Library code; logs at debug level only.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct http_fetch_opts {
	size_t max_bytes;        /* refuse a larger body (-EMSGSIZE) */
	long timeout_sec;        /* whole transfer */
	const char *header;      /* one extra request header ("Metadata: true"), or NULL */
};

/*
 * GETs url. Returns 0 with the body in a malloc'ed *ret_body (NUL-terminated, the NUL not
 * counted in *ret_len) on HTTP 200; -EBUSY for HTTP 429 (KDS rate limit); -ENOENT for 404;
 * -EPROTO for another HTTP status (in *ret_status when not NULL, also on failure);
 * -EMSGSIZE past max_bytes; -ETIMEDOUT; -EHOSTUNREACH when the server cannot be reached;
 * -EINVAL for a URL that is not http(s); -ENOPKG when libcurl cannot be loaded (it is loaded
 * at the first call, not linked); -EIO otherwise. why (may be NULL) gets a one-line
 * reason on failure.
 */
int http_fetch(const char *url, const struct http_fetch_opts *o, uint8_t **ret_body,
	       size_t *ret_len, long *ret_status, char *why, size_t whylen) _wur_;
