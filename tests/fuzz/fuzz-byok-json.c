/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BYOK parser fuzzer: every input goes to the BYOK file parser, the exchange-key bundle
 * parser, the key-set decoder and the PKCS#11 URI parser. Refusals must use the documented
 * errnos and name a reason; what parses must format and parse again to the same values.
 */
#include <stdlib.h>
#include <string.h>

#include "byok.h"
#include "p11uri.h"
#include "secmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_file(const uint8_t *data, size_t size)
{
	struct byok_file f = {}, g = {};
	char err[160] = "", *json = NULL;
	int r = byok_file_parse((const char *)data, size, &f, err, sizeof(err));

	if (r < 0) {
		if ((r != -EBADMSG && r != -EMSGSIZE && r != -ENOMEM) || f.ciphertext ||
		    (r == -EBADMSG && !err[0]))
			abort();
		return;
	}
	if (!f.ciphertext || f.ciphertext_len == 0 || f.ciphertext_len > BYOK_CIPHERTEXT_MAX ||
	    !byok_enc_to_string(f.enc))
		abort();
	if (byok_file_format(&f, "fuzz", &json) < 0 ||
	    byok_file_parse(json, strlen(json), &g, err, sizeof(err)) < 0 ||
	    strcmp(f.kid, g.kid) != 0 || f.enc != g.enc || f.kind != g.kind ||
	    strcmp(f.kek, g.kek) != 0 || f.ciphertext_len != g.ciphertext_len ||
	    memcmp(f.ciphertext, g.ciphertext, f.ciphertext_len) != 0)
		abort();
	free(json);
	byok_file_done(&f);
	byok_file_done(&g);
}

static void check_bundle(const uint8_t *data, size_t size)
{
	struct byok_bundle b = {}, c = {};
	char err[160] = "", *json = NULL;
	int r = byok_bundle_parse((const char *)data, size, &b, err, sizeof(err));

	if (r < 0) {
		if ((r != -EBADMSG && r != -EMSGSIZE && r != -ENOMEM) || b.spki || b.report ||
		    (r == -EBADMSG && !err[0]))
			abort();
		return;
	}
	if (!b.spki || !b.report || b.spki_len > BYOK_SPKI_MAX)
		abort();
	if (byok_bundle_format(&b, &json) < 0 ||
	    byok_bundle_parse(json, strlen(json), &c, err, sizeof(err)) < 0 ||
	    strcmp(b.kid, c.kid) != 0 || strcmp(b.kek, c.kek) != 0 || b.expires != c.expires ||
	    b.report_len != c.report_len || memcmp(b.report, c.report, b.report_len) != 0 ||
	    memcmp(b.nonce, c.nonce, sizeof(b.nonce)) != 0 || b.certs_len != c.certs_len)
		abort();
	free(json);
	byok_bundle_done(&b);
	byok_bundle_done(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct byok_keyset ks;
	struct p11uri u;
	char err[160], *s;

	check_file(data, size);
	check_bundle(data, size);
	if (byok_keyset_decode(data, size, &ks) == 0 &&
	    (ks.n == 0 || ks.n > BYOK_KEYSET_MAX_VERSIONS || ks.keys + 32 * ks.n != data + size))
		abort();
	s = strndup((const char *)data, size < P11URI_MAX + 16 ? size : P11URI_MAX + 16);
	if (s && p11uri_parse(s, &u, err, sizeof(err)) == 0)
		p11uri_done(&u);
	free(s);
	return 0;
}
