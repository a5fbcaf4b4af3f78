/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the certificate-table parser; whatever parses must survive a build/parse round trip. */
#include <stdlib.h>
#include <string.h>

#include "certtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct certtable t, t2;
	enum snp_cert_kind kinds[_SNP_CERT_KIND_MAX];
	const uint8_t *ders[_SNP_CERT_KIND_MAX];
	size_t lens[_SNP_CERT_KIND_MAX], n = 0, len;
	uint8_t *buf;

	if (certtable_parse(data, size, &t) < 0)
		return 0;
	for (int k = 0; k < SNP_CERT_OTHER; k++) {
		const struct certtable_entry *e = certtable_find(&t, k);
		if (!e)
			continue;
		kinds[n] = k;
		ders[n] = e->data;
		lens[n++] = e->len;
	}
	if (certtable_build(kinds, ders, lens, n, &buf, &len) < 0 || len % 4096 ||
	    certtable_parse(buf, len, &t2) < 0 || t2.n_entries != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (t2.entries[i].kind != kinds[i] || t2.entries[i].len != lens[i] ||
		    memcmp(t2.entries[i].data, ders[i], lens[i]) != 0)
			abort();
	free(buf);
	return 0;
}
