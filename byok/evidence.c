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
	size_t nl = strlen(nonce), rl;

	e->nonce_len = nl / 2;
	e->certs = malloc(strlen(certs) + 1);
	if (!e->certs)
		return EXIT_ERROR;
	if (nl % 2 || e->nonce_len > sizeof(e->nonce) ||
	    ct_hex_decode(e->nonce, e->nonce_len, nonce, nl) < 0 ||
	    ct_base64_decode_str(report, e->report, sizeof(e->report), &rl) < 0 ||
	    rl != SNP_REPORT_SIZE ||
	    ct_base64_decode_str(certs, e->certs, strlen(certs) + 1, &e->certs_len) < 0) {
		out_err("%s: a member is not valid hex or base64, or the report is not %u bytes",
			path, SNP_REPORT_SIZE);
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
	free(e->certs);
	*e = (struct evidence){};
}
