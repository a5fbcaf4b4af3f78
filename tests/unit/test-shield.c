/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's in-memory shield: keys come back only under the name they were put under, a
 * forgotten or cleared entry is gone, a full shield keeps nothing more (the next use unseals
 * again), and a cleared shield can be filled again.
 */
#include <stdio.h>
#include <string.h>

#include "../../daemon/shield.h"
#include "secmem.h"
#include "test.h"

static void put(struct shield *s, const char *name, uint8_t fill, int expect)
{
	struct kek_meta meta = { .n_versions = 1 };
	struct seal_params params = { .guest_svn = fill };
	struct seal_binding binding = {};
	uint8_t keys[64];

	snprintf(meta.name, sizeof(meta.name), "%s", name);
	memset(keys, fill, sizeof(keys));
	ASSERT_EQ(shield_put(s, &meta, &params, &binding, keys, sizeof(keys)), expect);
}

/* 0 when name's entry holds 64 bytes of fill (and says so in its parameters). */
static int get(struct shield *s, const char *name, uint8_t fill)
{
	struct kek_meta meta;
	struct seal_params params;
	struct seal_binding binding;
	uint8_t *keys = NULL, want[64];
	int r;

	r = shield_get(s, name, &meta, &params, &binding, &keys);
	if (r < 0)
		return r;
	memset(want, fill, sizeof(want));
	r = memcmp(keys, want, sizeof(want)) == 0 && strcmp(meta.name, name) == 0 &&
	    params.guest_svn == fill ? 0 : -EBADMSG;
	secmem_free(keys);
	return r;
}

TEST(shield_put_get_forget_clear)
{
	struct shield *s = NULL;
	uint8_t mark[4] = { 1, 2, 3, 4 }, *keys = mark;
	struct kek_meta meta = {};

	ASSERT_EQ(shield_new(&s), 0);
	ASSERT_EQ(get(s, "a", 1), -ENOENT);
	put(s, "a", 1, 0);
	put(s, "b", 2, 0);
	ASSERT_EQ(get(s, "a", 1), 0);
	ASSERT_EQ(get(s, "b", 2), 0);
	ASSERT_EQ(get(s, "c", 1), -ENOENT);
	/* Replacing an entry keeps one, with the new keys. */
	put(s, "a", 3, 0);
	ASSERT_EQ(get(s, "a", 3), 0);
	shield_forget(s, "a");
	ASSERT_EQ(get(s, "a", 3), -ENOENT);
	ASSERT_EQ(get(s, "b", 2), 0);
	/* Outputs stay untouched on failure. */
	meta.n_versions = 7;
	ASSERT_EQ(shield_get(s, "a", &meta, &(struct seal_params){}, &(struct seal_binding){},
			     &keys),
		  -ENOENT);
	ASSERT_EQ(meta.n_versions, 7u);
	ASSERT_TRUE(keys == mark);
	shield_clear(s);
	ASSERT_EQ(get(s, "b", 2), -ENOENT);
	put(s, "b", 4, 0);
	ASSERT_EQ(get(s, "b", 4), 0);
	ASSERT_TRUE(shield_free(s) == NULL);
	ASSERT_TRUE(shield_free(NULL) == NULL);
	shield_clear(NULL);
}

TEST(shield_full_keeps_nothing_more)
{
	struct shield *s = NULL;
	char name[32];

	ASSERT_EQ(shield_new(&s), 0);
	for (unsigned i = 0; i < SHIELD_MAX; i++) {
		snprintf(name, sizeof(name), "k%u", i);
		put(s, name, (uint8_t)i, 0);
	}
	put(s, "one-more", 9, 0);
	ASSERT_EQ(get(s, "one-more", 9), -ENOENT);
	ASSERT_EQ(get(s, "k0", 0), 0);
	snprintf(name, sizeof(name), "k%u", SHIELD_MAX - 1);
	ASSERT_EQ(get(s, name, (uint8_t)(SHIELD_MAX - 1)), 0);
	/* A freed slot is used again. */
	shield_forget(s, "k0");
	put(s, "one-more", 9, 0);
	ASSERT_EQ(get(s, "one-more", 9), 0);
	shield_clear(s);
	put(s, "k0", 5, 0);
	ASSERT_EQ(get(s, "k0", 5), 0);
	shield_free(s);
}
