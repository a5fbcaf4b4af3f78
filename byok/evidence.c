/* SPDX-License-Identifier: Apache-2.0 */
/* vhsm-byok: the evidence files of fleet enroll and key attest (evidence.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "evidence.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "out.h"
#include "verify.h"

int evidence_parse(const char *path, size_t max, const char *what,
		   const struct json_field table[], void *f, const char *const *format,
		   const char *want, struct json_object **ret_o)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	char e_json[JSON_ERR_MAX] = "";
	size_t len;
	int r = fileio_read_all(path, max, &buf, &len);

	if (r < 0) {
		out_err("%s: %s", path, strerror(-r));
		return EXIT_ERROR;
	}
	r = json_parse((const char *)buf, len, max, what, &o, e_json, sizeof(e_json));
	if (r >= 0)
		r = json_dispatch(o, NULL, table, f, e_json, sizeof(e_json));
	if (r >= 0 && strcmp(*format, want) != 0)
		r = json_fail(e_json, sizeof(e_json), -EBADMSG, "format: not %s", want);
	if (r < 0) {
		out_err("%s: %s", path, e_json);
		return EXIT_REJECTED;
	}
	*ret_o = TAKE_PTR(o);
	return EXIT_OK;
}

int evidence_decode(const char *path, const char *nonce, const char *report, const char *certs,
		    struct evidence *e)
{
	size_t nl = strlen(nonce), rl = strlen(report), cl = strlen(certs);
	const char *bad = NULL;

	e->nonce_len = nl / 2;
	e->report = malloc(rl + 1);
	e->certs = malloc(cl + 1);
	if (!e->report || !e->certs)
		return EXIT_ERROR;
	if (nl % 2 || e->nonce_len > sizeof(e->nonce) ||
	    ct_hex_decode(e->nonce, e->nonce_len, nonce, nl) < 0)
		bad = "nonce: not hex of at most 64 bytes";
	else if (rl > EVIDENCE_REPORT_B64_MAX ||
		 ct_base64_decode_str(report, e->report, rl + 1, &e->report_len) < 0 ||
		 e->report_len == 0)
		bad = "report: not base64 of a report";
	else if (ct_base64_decode_str(certs, e->certs, cl + 1, &e->certs_len) < 0)
		bad = "certs: not base64";
	if (bad) {
		out_err("%s: %s", path, bad);
		return EXIT_REJECTED;
	}
	return EXIT_OK;
}

bool evidence_nonce_is(const struct evidence *e, const char *hex)
{
	uint8_t want[EVIDENCE_NONCE_MAX];
	size_t n = strlen(hex), l = n / 2;

	return l == e->nonce_len && ct_hex_decode(want, l, hex, n) == 0 &&
	       CRYPTO_memcmp(want, e->nonce, l) == 0;
}

void evidence_done(struct evidence *e)
{
	free(e->report);
	free(e->certs);
	*e = (struct evidence){};
}
