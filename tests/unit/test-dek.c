/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmd's DEK registry files: round trip, and every damaged or renamed file refused. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "../../daemon/dek.h"
#include "../../daemon/store.h"
#include "fileio.h"
#include "test.h"

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/dek/%s.dek", dir, name);
	if (fileio_write_atomic(path, text, strlen(text), 0600) < 0)
		abort();
}

TEST(dek_registry_roundtrip_and_damage)
{
	char state[256];
	_cleanup_close_ int dir_fd = -EBADF;
	uint8_t blob[40];
	struct dek d = { .name = "disk", .kek = "k1", .size = 64, .timeout = 600, .created = 1,
			 .acl_text = "uid:1000:unwrap", .wrapped = blob, .wrapped_len = sizeof(blob) },
		   got = {};
	char **names = NULL;

	snprintf(state, sizeof(state), "%s", test_tmpdir());
	dir_fd = open(state, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dir_fd >= 0);
	const struct dek_store ds = { .dir_fd = dir_fd };
	memset(blob, 0xab, sizeof(blob));
	ASSERT_OK(dek_create_file(&ds, &d));
	ASSERT_EQ(dek_create_file(&ds, &d), -EEXIST);
	ASSERT_OK(dek_read(&ds, "disk", &got));
	ASSERT_STREQ(got.kek, "k1");
	ASSERT_EQ(got.size, 64u);
	ASSERT_EQ(got.timeout, 600u);
	ASSERT_EQ(got.n_acl, 1u);
	ASSERT_EQ(got.wrapped_len, sizeof(blob));
	ASSERT_MEMEQ(got.wrapped, blob, sizeof(blob));
	char a[128], b[128];
	ASSERT_GT(dek_context(&d, a, sizeof(a)), 0);
	ASSERT_GT(dek_context(&got, b, sizeof(b)), 0);
	ASSERT_STREQ(a, b);
	dek_done(&got);
	ASSERT_EQ(dek_read(&ds, "none", &got), -ENOENT);
	ASSERT_EQ(dek_read(&ds, "../x", &got), -EINVAL);

	/* a copy of disk's file under another name poses as another DEK */
	write_file(state, "other", "{\"name\":\"disk\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,"
				   "\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}");
	ASSERT_EQ(dek_read(&ds, "other", &got), -EBADMSG);
	static const char *const bad[] = {
		"", "[]", "{}", "not json",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":48,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":-1,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}",
		"{\"name\":\"x\",\"kek\":\"../k\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"bogus\",\"wrapped\":\"abab\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abz\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":\"64\",\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\"}",
		/* a repeated member (json-c would keep the last), an unknown one, a cut-off file */
		"{\"name\":\"x\",\"kek\":\"k1\",\"kek\":\"k2\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\",\"x\":1}",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"",
		"{\"name\":\"x\",\"kek\":\"k1\",\"size\":64,\"timeout\":0,\"created\":1,\"acl\":\"\",\"wrapped\":\"abab\"}{}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		write_file(state, "x", bad[i]);
		ASSERT_EQ(dek_read(&ds, "x", &got), -EBADMSG);
	}
	write_file(state, "x", "{\"name\":\"x\",\"kek\":\"k1\",\"size\":32,\"timeout\":0,\"created\":1,"
			       "\"acl\":\"\",\"wrapped\":\"abab\"}");
	ASSERT_OK(dek_read(&ds, "x", &got));
	dek_done(&got);
	ASSERT_OK(dek_list_names(&ds, &names));
	ASSERT_STREQ(names[0], "disk");
	ASSERT_STREQ(names[1], "other");
	ASSERT_STREQ(names[2], "x");
	ASSERT_TRUE(names[3] == NULL);
	strv_free(names);
	ASSERT_OK(dek_remove_file(&ds, "x"));
	ASSERT_EQ(dek_read(&ds, "x", &got), -ENOENT);
}
