/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Debug log tests. The sink and what it collected live in static storage, and every test
 * removes the sink before asserting, so that a failed assertion never leaves a sink installed
 * for the tests that follow.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "log.h"
#include "test.h"

struct log_capture {
	unsigned count;
	char last[2048];
	char first[2048];
};

static struct log_capture capture;

static void capture_sink(void *userdata, const char *msg)
{
	struct log_capture *c = userdata;

	if (c->count == 0)
		snprintf(c->first, sizeof(c->first), "%s", msg);
	snprintf(c->last, sizeof(c->last), "%s", msg);
	c->count++;
	errno = EBADF; /* a sink that clobbers errno */
}

static void capture_start(void)
{
	memset(&capture, 0, sizeof(capture));
	vhsm_log_set_sink(capture_sink, &capture);
}

TEST(log_sink_receives_messages)
{
	unsigned after_unset;

	capture_start();
	vhsm_log_debug("x=%d %s", 42, "y");
	vhsm_log_debug("%s", "second");
	vhsm_log_set_sink(NULL, NULL);
	vhsm_log_debug("dropped %d", 3);
	after_unset = capture.count;

	ASSERT_EQ(after_unset, 2);
	ASSERT_STREQ(capture.first, "x=42 y");
	ASSERT_STREQ(capture.last, "second");
}

TEST(log_no_sink_no_crash)
{
	vhsm_log_set_sink(NULL, NULL);
	vhsm_log_debug("nobody listens: %s %d", "x", 1);
	ASSERT_EQ(vhsm_log_openssl(-EIO, "nothing"), -EIO);
	ASSERT_EQ(vhsm_log_openssl(-EIO, NULL), -EIO);
}

TEST(log_truncates_long_messages)
{
	static char big[5000];
	size_t n;

	memset(big, 'a', sizeof(big) - 1);
	capture_start();
	vhsm_log_debug("%s", big);
	vhsm_log_set_sink(NULL, NULL);

	n = strlen(capture.last);
	ASSERT_EQ(capture.count, 1);
	ASSERT_LT(n, 1100);
	ASSERT_GE(n, 1000);
	ASSERT_STREQ(capture.last + n - 3, "...");
	ASSERT_EQ(capture.last[0], 'a');
}

TEST(log_preserves_errno)
{
	int e1, e2;

	capture_start();
	errno = ENOKEY;
	vhsm_log_debug("failed: %m");
	e1 = errno;
	errno = EKEYREJECTED;
	(void)vhsm_log_openssl(-EIO, "x");
	e2 = errno;
	vhsm_log_set_sink(NULL, NULL);

	ASSERT_EQ(e1, ENOKEY);
	ASSERT_EQ(e2, EKEYREJECTED);
	ASSERT_TRUE(strncmp(capture.first, "failed: ", 8) == 0);
	ASSERT_STREQ(capture.first + 8, strerror(ENOKEY));
}

/* Leaves at least one error in the OpenSSL queue. */
static void force_openssl_error(void)
{
	static const unsigned char garbage[] = { 0x30, 0x82, 0xff, 0xff, 0x01, 0x02, 0x03 };
	const unsigned char *p = garbage;
	X509 *x = d2i_X509(NULL, &p, sizeof(garbage));

	X509_free(x);
}

TEST(log_openssl_drains_queue)
{
	unsigned long before;
	int r;

	ERR_clear_error();
	force_openssl_error();
	before = ERR_peek_error();
	capture_start();
	r = vhsm_log_openssl(-EBADMSG, "parse VCEK");
	vhsm_log_set_sink(NULL, NULL);

	ASSERT_NE(before, 0); /* the setup did produce an error */
	ASSERT_EQ(r, -EBADMSG);
	ASSERT_EQ(ERR_peek_error(), 0);
	ASSERT_GE(capture.count, 1);
	ASSERT_TRUE(strncmp(capture.first, "parse VCEK: ", 12) == 0);
	/* "lib:reason", e.g. "asn1 encoding routines:too long". */
	ASSERT_TRUE(strchr(capture.first + 12, ':') != NULL);
}

TEST(log_openssl_without_sink_clears)
{
	ERR_clear_error();
	force_openssl_error();
	ASSERT_NE(ERR_peek_error(), 0);
	vhsm_log_set_sink(NULL, NULL);
	ASSERT_EQ(vhsm_log_openssl(-EIO, "no sink"), -EIO);
	ASSERT_EQ(ERR_peek_error(), 0);
}

TEST(log_openssl_empty_queue)
{
	ERR_clear_error();
	capture_start();
	(void)vhsm_log_openssl(-EIO, "RAND_bytes");
	vhsm_log_set_sink(NULL, NULL);

	/* Even without a queued error the failure is reported, named. */
	ASSERT_EQ(capture.count, 1);
	ASSERT_TRUE(strstr(capture.first, "RAND_bytes") != NULL);
}

static void *log_from_thread(void *arg)
{
	(void)arg;
	vhsm_log_debug("from another thread");
	return NULL;
}

TEST(log_sink_is_per_thread)
{
	pthread_t t;
	int r1, r2;

	capture_start();
	r1 = pthread_create(&t, NULL, log_from_thread, NULL);
	r2 = r1 == 0 ? pthread_join(t, NULL) : -1;
	vhsm_log_debug("from this thread");
	vhsm_log_set_sink(NULL, NULL);

	ASSERT_EQ(r1, 0);
	ASSERT_EQ(r2, 0);
	ASSERT_EQ(capture.count, 1);
	ASSERT_STREQ(capture.first, "from this thread");
}

TEST(log_forward_hands_messages_to_the_sink)
{
	unsigned with_sink;
	int saved;

	capture_start();
	errno = ENOKEY;
	vhsm_log_forward(NULL, "sim: from another copy");
	saved = errno;
	vhsm_log_forward(NULL, NULL);
	with_sink = capture.count;
	vhsm_log_set_sink(NULL, NULL);
	vhsm_log_forward(NULL, "dropped: no sink");

	ASSERT_EQ(with_sink, 1);
	ASSERT_EQ(capture.count, 1);
	ASSERT_STREQ(capture.last, "sim: from another copy");
	ASSERT_EQ(saved, ENOKEY); /* the sink's errno does not leak out */
}
