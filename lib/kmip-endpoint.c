/* SPDX-License-Identifier: Apache-2.0 */
/* Key manager endpoints (kmip-endpoint.h), for the KMIP client and vhsmctl fleet network. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kmip-endpoint.h"
#include "parse-util.h"

int kmip_endpoint_parse(const char *s, struct kmip_endpoint *ret)
{
	struct kmip_endpoint ep = {};
	const char *host = s, *colon;
	size_t hlen;
	unsigned char addr[sizeof(struct in6_addr)];
	uint32_t port;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		host = s + 1;
		hlen = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(ep.host))
		return -EINVAL;
	memcpy(ep.host, host, hlen);
	if (parse_uint32(colon + 1, 1, 65535, &port) < 0)
		return -EINVAL;
	snprintf(ep.port, sizeof(ep.port), "%" PRIu32, port);
	ep.is_ip = inet_pton(AF_INET, ep.host, addr) == 1 || inet_pton(AF_INET6, ep.host, addr) == 1;
	*ret = ep;
	return 0;
}
