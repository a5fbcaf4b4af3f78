/* SPDX-License-Identifier: Apache-2.0 */
/* A key manager endpoint as fleet.conf writes it: "host:port" or "[address]:port". */
#pragma once

#include <stdbool.h>

#include "macro.h"

struct kmip_endpoint {
	char host[256]; /* without the brackets of an IPv6 address */
	char port[6];   /* 1..65535, decimal */
	bool is_ip;     /* host is an IPv4 or IPv6 address, not a name */
};

/* Parses s: 0 and *ret, or -EINVAL (no port, an empty or too long host, a port out of range). */
int kmip_endpoint_parse(const char *s, struct kmip_endpoint *ret) _wur_;
