/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl: writing the evidence files of key attest and fleet enroll (evidence.h). */
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "evidence.h"
#include "fileio.h"
#include "vhsmctl.h"

int cli_parse_nonce(const char *what, const char *hex, uint8_t nonce[static CLI_NONCE_MAX],
		    size_t *ret_len)
{
	size_t l = strlen(hex);

	if (l == 0 || l % 2 || l > 2 * CLI_NONCE_MAX || ct_hex_decode(nonce, l / 2, hex, l) < 0) {
		cli_error("%s: --nonce: 1 to %u bytes in hex expected", what, CLI_NONCE_MAX);
		return EXIT_USAGE;
	}
	*ret_len = l / 2;
	return EXIT_OK;
}

json_object *cli_json_base64(const struct vhsm_wire_field *f)
{
	_cleanup_free_ char *s = f ? malloc(CT_BASE64_LEN(f->len) + 1) : NULL;

	if (!s)
		return json_object_new_string("");
	ct_base64_encode(s, f->value, f->len);
	return json_object_new_string(s);
}

int cli_write_json_file(json_object *o, const char *what, const char *path)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s || fileio_write_atomic(path, s, strlen(s), 0644) < 0) {
		cli_error("%s: cannot write %s", what, path);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}
