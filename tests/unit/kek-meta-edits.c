/* SPDX-License-Identifier: Apache-2.0 */
/* Refusal checks of edited KEK metadata (see kek-meta-edits.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kek-meta-edits.h"
#include "test.h"

void test_kek_meta_edits(const char *file, int line, const struct kek_meta *m,
			 const struct kek_meta_edit *edits, size_t n)
{
	char *json = NULL, buf[4096], err[JSON_ERR_MAX];
	struct kek_meta back;

	if (kek_meta_to_json(m, &json) < 0) {
		test_fail(file, line, "kek_meta_to_json failed");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = strstr(json, edits[i].from);
		if (!p) {
			test_fail(file, line, "edit %zu: \"%s\" not in %s", i, edits[i].from, json);
			break;
		}
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - json), json, edits[i].to,
			 p + strlen(edits[i].from));
		err[0] = 0;
		if (kek_meta_parse(buf, strlen(buf), &back, err, sizeof(err)) != -EBADMSG ||
		    strncmp(err, edits[i].err, strlen(edits[i].err)) != 0) {
			test_fail(file, line, "edit %zu: \"%s\", expected \"%s\" in %s", i, err,
				  edits[i].err, buf);
			break;
		}
	}
	free(json);
}
