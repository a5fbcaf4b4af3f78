/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Refusal checks of stored KEK metadata shared by the daemon and fleet tests: each edit
 * replaces the first "from" in the metadata's JSON with "to", and kek_meta_parse() must refuse
 * the result with -EBADMSG and a message that starts with "err" (the member named).
 */
#pragma once

#include <stddef.h>

#include "../../daemon/kek-meta.h"

struct kek_meta_edit {
	const char *from, *to, *err;
};

/* Fails the running test (at file:line) at the first edit not refused as expected. */
void test_kek_meta_edits(const char *file, int line, const struct kek_meta *m,
			 const struct kek_meta_edit *edits, size_t n);
