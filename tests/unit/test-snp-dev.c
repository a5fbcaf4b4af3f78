/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device layer tests. A fake transport stands in for /dev/sev-guest and follows the driver's
 * rules (SNP-ABI 1.8), so the request logic the kernel and the simulator share is checked
 * byte by byte. configfs-tsm is emulated on a plain directory: this file interposes mkdirat()
 * and unlinkat() (libvhsm is linked statically, so its calls resolve here) to fill a new
 * report entry with attribute files and to remove them again on rmdir, as configfs does.
 * What a plain directory cannot show (the kernel's write-on-close of inblob, real reports
 * and auxblobs, EINVAL/ENXIO for refused reports) needs a Linux >= 6.7 SNP guest.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "snp-dev.h"
#include "test.h"

/* ---- fake transport ---- */
struct fake {
	unsigned calls;
	enum snp_ioctl_nr nr;
	struct snp_guest_request io_seen; /* the envelope as the transport received it */
	uint8_t req_seen[sizeof(struct snp_ext_report_req)];
	uint32_t certs_len_seen[4];
	bool resp_zeroed; /* response buffer was all zero when the request came in */
	int fail;         /* return this -errno with fail_exitinfo2 */
	uint64_t fail_exitinfo2;
	unsigned busy; /* answer BUSY this many times */
	int busy_errno;
	uint32_t status;
	uint32_t report_size;
	uint32_t certs_need; /* extended request: host has this many bytes of certificates */
	bool closed;
};

static uint8_t cert_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

static void fake_answer_report(struct fake *f, struct snp_report_resp *resp,
			       const struct snp_report_req *req)
{
	resp->status = f->status;
	resp->report_size = f->report_size;
	for (size_t i = 0; i < SNP_REPORT_SIZE; i++)
		resp->report[i] = (uint8_t)(i * 7);
	memcpy(resp->report + SNP_R_REPORT_DATA, req->user_data, 64);
}

static int fake_ext(struct fake *f, struct snp_guest_request *io)
{
	struct snp_ext_report_req *x = (void *)(uintptr_t)io->req_data;
	uint8_t *certs = (void *)(uintptr_t)x->certs_address;

	if (f->certs_need > x->certs_len) {
		memset((void *)(uintptr_t)io->resp_data, 0xff, sizeof(struct snp_report_resp));
		x->certs_len = f->certs_need;
		io->exitinfo2 = (uint64_t)SNP_VMM_ERR_INVALID_LEN << 32;
		return -EIO;
	}
	for (size_t i = 0; i < f->certs_need; i++)
		certs[i] = cert_byte(i);
	fake_answer_report(f, (void *)(uintptr_t)io->resp_data, &x->data);
	return 0;
}

static int fake_request(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io)
{
	struct fake *f = ctx;
	size_t req_len = nr == SNP_IOCTL_GET_DERIVED_KEY ? sizeof(struct snp_derived_key_req) :
			 nr == SNP_IOCTL_GET_EXT_REPORT  ? sizeof(struct snp_ext_report_req) :
							   sizeof(struct snp_report_req);
	size_t resp_len = nr == SNP_IOCTL_GET_DERIVED_KEY ? sizeof(struct snp_derived_key_resp) :
							    sizeof(struct snp_report_resp);

	f->nr = nr;
	f->io_seen = *io;
	memcpy(f->req_seen, (void *)(uintptr_t)io->req_data, req_len);
	if (nr == SNP_IOCTL_GET_EXT_REPORT && f->calls < ELEMENTSOF(f->certs_len_seen))
		f->certs_len_seen[f->calls] = ((struct snp_ext_report_req *)(uintptr_t)io->req_data)
						      ->certs_len;
	f->resp_zeroed = mem_is_zero((void *)(uintptr_t)io->resp_data, resp_len);
	f->calls++;

	if (f->fail) {
		io->exitinfo2 = f->fail_exitinfo2;
		return f->fail;
	}
	if (f->busy) {
		/* a response left behind by a failed try must not survive into the next one */
		memset((void *)(uintptr_t)io->resp_data, 0xff, resp_len);
		f->busy--;
		io->exitinfo2 = (uint64_t)SNP_VMM_ERR_BUSY << 32;
		return f->busy_errno;
	}
	if (nr == SNP_IOCTL_GET_EXT_REPORT)
		return fake_ext(f, io);
	if (nr == SNP_IOCTL_GET_DERIVED_KEY) {
		struct snp_derived_key_resp *k = (void *)(uintptr_t)io->resp_data;

		k->status = f->status;
		for (size_t i = 0; i < sizeof(k->key); i++)
			k->key[i] = (uint8_t)(0x40 + i);
		return 0;
	}
	fake_answer_report(f, (void *)(uintptr_t)io->resp_data,
			   (const void *)(uintptr_t)io->req_data);
	return 0;
}

static void fake_close(void *ctx)
{
	struct fake *f = ctx;

	f->closed = true;
}

static const struct snp_transport_ops fake_ops = {
	.name = "fake",
	.simulated = true,
	.guest_request = fake_request,
	.close = fake_close,
};

static struct snp_dev *fake_open(struct fake *f)
{
	struct snp_dev *d = NULL;

	f->report_size = SNP_REPORT_SIZE;
	if (snp_dev_open_transport(&fake_ops, f, &d) < 0)
		return NULL;
	snp_dev_set_retry(d, 3, 1);
	return d;
}

static void fill_data(uint8_t data[static 64])
{
	for (size_t i = 0; i < 64; i++)
		data[i] = (uint8_t)(0xa0 + i);
}

/* ---- requests ---- */
TEST(snpdev_report_request_layout)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64], report[SNP_REPORT_SIZE];
	struct snp_status st = {};

	ASSERT_TRUE(d);
	fill_data(data);
	ASSERT_EQ(snp_dev_get_report(d, data, 2, 1, report, &st), 0);
	ASSERT_EQ(f.calls, 1);
	ASSERT_EQ(f.nr, SNP_IOCTL_GET_REPORT);
	ASSERT_EQ(f.io_seen.msg_version, 1);
	ASSERT_TRUE(mem_is_zero(f.io_seen.pad, sizeof(f.io_seen.pad)));
	ASSERT_EQ(f.io_seen.exitinfo2, 0);
	ASSERT_NE(f.io_seen.resp_data, 0);
	ASSERT_TRUE(f.resp_zeroed);
	ASSERT_MEMEQ(f.req_seen, data, 64);
	ASSERT_EQ(le32_get(f.req_seen + 0x40), 2);
	ASSERT_EQ(le32_get(f.req_seen + 0x44), 1);
	ASSERT_TRUE(mem_is_zero(f.req_seen + 0x48, 24));
	ASSERT_MEMEQ(report + SNP_R_REPORT_DATA, data, 64);
	ASSERT_EQ(report[5], 35);
	ASSERT_TRUE(st.transport_called);
	ASSERT_EQ(st.msg_status, 0);
	ASSERT_FALSE(snp_dev_locked_out(d));
}

TEST(snpdev_report_bad_args)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st;

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_report(d, data, 4, 0, report, &st), -EINVAL);
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 3, report, &st), -EINVAL);
	ASSERT_FALSE(st.transport_called);
	ASSERT_EQ(f.calls, 0);
}

TEST(snpdev_key_request_layout)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	const struct snp_key_request kr = {
		.root_key_select = 1, .key_sel = 2, .field_select = 0x29, .vmpl = 1,
		.guest_svn = 7, .tcb_version = 0x1122334455667788ull,
	};
	uint8_t key[32], want[32];
	struct snp_status st = {};

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, &st), 0);
	ASSERT_EQ(f.calls, 1);
	ASSERT_EQ(f.nr, SNP_IOCTL_GET_DERIVED_KEY);
	ASSERT_EQ(f.io_seen.msg_version, 1);
	ASSERT_EQ(f.io_seen.exitinfo2, 0);
	ASSERT_TRUE(f.resp_zeroed);
	/* SNP-ABI 1.5: ROOT_KEY_SELECT bit 0, KEY_SEL bits 2:1 */
	ASSERT_EQ(le32_get(f.req_seen + 0x00), 1 | 2 << 1);
	ASSERT_EQ(le32_get(f.req_seen + 0x04), 0);
	ASSERT_EQ(le64_get(f.req_seen + 0x08), 0x29);
	ASSERT_EQ(le32_get(f.req_seen + 0x10), 1);
	ASSERT_EQ(le32_get(f.req_seen + 0x14), 7);
	ASSERT_TRUE(le64_get(f.req_seen + 0x18) == 0x1122334455667788ull);
	for (size_t i = 0; i < 32; i++)
		want[i] = (uint8_t)(0x40 + i);
	ASSERT_MEMEQ(key, want, 32);
	ASSERT_TRUE(st.transport_called);
}

TEST(snpdev_key_bad_args)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	struct snp_key_request kr = {};
	uint8_t key[32], sentinel[32];

	ASSERT_TRUE(d);
	memset(key, 0x5a, sizeof(key));
	memcpy(sentinel, key, sizeof(key));
	kr.key_sel = 3;
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, NULL), -EINVAL);
	kr.key_sel = 0;
	kr.root_key_select = 2;
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, NULL), -EINVAL);
	kr.root_key_select = 0;
	kr.field_select = 1ull << 6;
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, NULL), -EINVAL);
	kr.field_select = 0;
	kr.vmpl = 4;
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, NULL), -EINVAL);
	ASSERT_EQ(f.calls, 0);
	ASSERT_MEMEQ(key, sentinel, 32);
}

TEST(snpdev_report_fw_status)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st = {};

	ASSERT_TRUE(d);
	memset(report, 0xee, sizeof(report));
	f.status = SNP_FW_INVALID_PARAM;
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EREMOTEIO);
	ASSERT_EQ(st.msg_status, 0x16);
	ASSERT_TRUE(st.transport_called);
	ASSERT_STREQ(snp_fw_status_name(st.msg_status), "INVALID_PARAM");
	ASSERT_EQ(report[0], 0xee);
	ASSERT_EQ(report[SNP_REPORT_SIZE - 1], 0xee);
	/* a refused message is not a transport failure */
	ASSERT_FALSE(snp_dev_locked_out(d));
}

TEST(snpdev_key_fw_status)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	const struct snp_key_request kr = { .key_sel = 2 };
	uint8_t key[32], sentinel[32];
	struct snp_status st = {};

	ASSERT_TRUE(d);
	memset(key, 0x5a, sizeof(key));
	memcpy(sentinel, key, sizeof(key));
	f.status = SNP_FW_INVALID_KEY;
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, &st), -EREMOTEIO);
	ASSERT_EQ(st.msg_status, 0x27);
	ASSERT_MEMEQ(key, sentinel, 32);
}

TEST(snpdev_report_size_wrong)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st = {};

	ASSERT_TRUE(d);
	memset(report, 0xee, sizeof(report));
	f.report_size = SNP_REPORT_SIZE + 1;
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EBADMSG);
	ASSERT_EQ(report[0x50], 0xee);
	f.report_size = 0;
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EBADMSG);
	ASSERT_EQ(report[0x50], 0xee);
	ASSERT_EQ(f.calls, 2);
}

TEST(snpdev_ext_report_grows_buffer)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t data[64], report[SNP_REPORT_SIZE];
	struct snp_status st = {};
	size_t len = 0;

	ASSERT_TRUE(d);
	fill_data(data);
	f.certs_need = 3 * 4096;
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 1, report, &certs, &len, &st), 0);
	ASSERT_EQ(f.calls, 2);
	ASSERT_EQ(f.nr, SNP_IOCTL_GET_EXT_REPORT);
	ASSERT_EQ(f.certs_len_seen[0], 4096);
	ASSERT_EQ(f.certs_len_seen[1], 3 * 4096);
	/* the second request is complete again: envelope, report request, certificate pointer */
	ASSERT_EQ(f.io_seen.msg_version, 1);
	ASSERT_EQ(f.io_seen.exitinfo2, 0);
	ASSERT_TRUE(f.resp_zeroed);
	ASSERT_MEMEQ(f.req_seen, data, 64);
	ASSERT_EQ(le32_get(f.req_seen + 0x40), 1);
	ASSERT_TRUE(mem_is_zero(f.req_seen + 0x44, 28));
	ASSERT_TRUE(le64_get(f.req_seen + 0x60) == (uint64_t)(uintptr_t)certs);
	ASSERT_EQ(le32_get(f.req_seen + 0x6C), 0);
	ASSERT_EQ(len, 3 * 4096);
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(certs[i], cert_byte(i));
	ASSERT_MEMEQ(report + SNP_R_REPORT_DATA, data, 64);
	ASSERT_FALSE(snp_dev_locked_out(d));
}

TEST(snpdev_ext_report_no_certs)
{
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	size_t len = 0;

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, NULL), 0);
	ASSERT_EQ(f.calls, 1);
	ASSERT_TRUE(certs);
	ASSERT_EQ(len, 4096);
	ASSERT_TRUE(mem_is_zero(certs, len));
}

TEST(snpdev_ext_report_too_big)
{
	static const uint32_t bad[] = { SNP_CERTS_MAX + 4096, 5000, UINT32_MAX };
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct fake f = { .certs_need = bad[i] };
		_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
		uint8_t *certs = (uint8_t *)&f;
		size_t len = 77;
		struct snp_status st = {};

		ASSERT_TRUE(d);
		ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, &st), -E2BIG);
		ASSERT_EQ(f.calls, 1);
		ASSERT_EQ(st.vmm_error, SNP_VMM_ERR_INVALID_LEN);
		ASSERT_TRUE(certs == (uint8_t *)&f);
		ASSERT_EQ(len, 77);
		ASSERT_FALSE(snp_dev_locked_out(d));
	}
}

TEST(snpdev_ext_report_max_size)
{
	struct fake f = { .certs_need = SNP_CERTS_MAX };
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	size_t len = 0;

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, NULL), 0);
	ASSERT_EQ(len, SNP_CERTS_MAX);
	ASSERT_EQ(certs[SNP_CERTS_MAX - 1], cert_byte(SNP_CERTS_MAX - 1));
}

/* A host that keeps rejecting the size it asked for must not make us loop. */
static int fake_liar(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io)
{
	struct snp_ext_report_req *x = (void *)(uintptr_t)io->req_data;
	struct fake *f = ctx;

	f->calls++;
	if (nr != SNP_IOCTL_GET_EXT_REPORT)
		return -EINVAL;
	x->certs_len = 2 * 4096;
	io->exitinfo2 = (uint64_t)SNP_VMM_ERR_INVALID_LEN << 32;
	return -EIO;
}

TEST(snpdev_ext_report_host_lies)
{
	static const struct snp_transport_ops liar_ops = {
		.name = "liar", .guest_request = fake_liar, .close = fake_close,
	};
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	size_t len = 0;

	ASSERT_EQ(snp_dev_open_transport(&liar_ops, &f, &d), 0);
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, NULL), -EPROTO);
	ASSERT_EQ(f.calls, 2);
	ASSERT_TRUE(certs == NULL);
}

TEST(snpdev_busy_then_success)
{
	static const int errs[] = { -EAGAIN, -EIO };

	for (size_t i = 0; i < ELEMENTSOF(errs); i++) {
		struct fake f = { .busy = 2, .busy_errno = errs[i] };
		_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
		uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
		struct snp_status st = {};

		ASSERT_TRUE(d);
		ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), 0);
		ASSERT_EQ(f.calls, 3);
		ASSERT_TRUE(f.resp_zeroed);
		ASSERT_TRUE(st.transport_called);
		ASSERT_EQ(st.vmm_error, 0);
		ASSERT_FALSE(snp_dev_locked_out(d));
	}
}

TEST(snpdev_busy_forever)
{
	struct fake f = { .busy = 1000, .busy_errno = -EAGAIN };
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE], key[32];
	const struct snp_key_request kr = {};
	struct snp_status st = {};
	struct timespec t0, t1;
	long ms;

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EBUSY);
	ASSERT_EQ(f.calls, 3);
	ASSERT_EQ(st.vmm_error, SNP_VMM_ERR_BUSY);

	snp_dev_set_retry(d, 5, 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, &st), -EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_EQ(f.calls, 3 + 5);
	/* four sleeps of 20 ms between five tries */
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ASSERT_GE(ms, 80);
	ASSERT_FALSE(snp_dev_locked_out(d));
}

TEST(snpdev_enotty_locks_out)
{
	struct fake f = { .fail = -ENOTTY, .fail_exitinfo2 = SNP_EXITINFO2_NOT_SENT };
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE], key[32];
	const struct snp_key_request kr = {};
	struct snp_status st = {};
	size_t len;

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -ENOTTY);
	ASSERT_FALSE(st.transport_called);
	ASSERT_EQ(st.fw_error, 0xff);
	ASSERT_TRUE(snp_dev_locked_out(d));
	ASSERT_EQ(f.calls, 1);

	f.fail = 0; /* even a healthy transport is not asked again */
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -ENOTTY);
	ASSERT_FALSE(st.transport_called);
	ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, &st), -ENOTTY);
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, &st), -ENOTTY);
	ASSERT_EQ(f.calls, 1);
}

TEST(snpdev_transport_failures_lock_out)
{
	static const int errs[] = { -EIO, -ETIMEDOUT, -EBADMSG };

	for (size_t i = 0; i < ELEMENTSOF(errs); i++) {
		struct fake f = { .fail = errs[i], .fail_exitinfo2 = SNP_EXITINFO2_NO_FW_CALL };
		_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
		uint8_t key[32], sentinel[32];
		const struct snp_key_request kr = {};
		struct snp_status st = {};

		ASSERT_TRUE(d);
		memset(key, 0x5a, sizeof(key));
		memcpy(sentinel, key, sizeof(key));
		ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, &st), errs[i]);
		ASSERT_TRUE(st.transport_called);
		ASSERT_EQ(st.fw_error, 0xffffffffu);
		ASSERT_EQ(st.vmm_error, 0xffffffffu);
		ASSERT_TRUE(snp_dev_locked_out(d));
		ASSERT_MEMEQ(key, sentinel, 32);
		f.fail = 0;
		ASSERT_EQ(snp_dev_get_derived_key(d, &kr, key, &st), -ENOTTY);
		ASSERT_EQ(f.calls, 1);
		ASSERT_MEMEQ(key, sentinel, 32);
	}
}

TEST(snpdev_eio_invalid_len_on_plain_report_locks_out)
{
	/* INVALID_LEN only means "bigger buffer" for the extended request. */
	struct fake f = { .fail = -EIO, .fail_exitinfo2 = (uint64_t)SNP_VMM_ERR_INVALID_LEN << 32 };
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, NULL), -EIO);
	ASSERT_TRUE(snp_dev_locked_out(d));
}

TEST(snpdev_other_errors_do_not_lock_out)
{
	struct fake f = { .fail = -EINVAL, .fail_exitinfo2 = SNP_EXITINFO2_NOT_SENT };
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st = {};

	ASSERT_TRUE(d);
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EINVAL);
	ASSERT_FALSE(st.transport_called);
	ASSERT_FALSE(snp_dev_locked_out(d));
	f.fail = 0;
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), 0);
	ASSERT_EQ(f.calls, 2);
}

TEST(snpdev_transport_properties)
{
	struct fake f = {};
	struct snp_dev *d = fake_open(&f);

	ASSERT_TRUE(d);
	ASSERT_TRUE(snp_dev_is_simulated(d));
	ASSERT_STREQ(snp_dev_name(d), "fake");
	ASSERT_FALSE(f.closed);
	ASSERT_TRUE(snp_dev_close(d) == NULL);
	ASSERT_TRUE(f.closed);
	ASSERT_TRUE(snp_dev_close(NULL) == NULL);
	ASSERT_EQ(snp_dev_open_transport(NULL, NULL, &d), -EINVAL);
}

TEST(snpdev_fw_status_names)
{
	ASSERT_STREQ(snp_fw_status_name(0), "SUCCESS");
	ASSERT_STREQ(snp_fw_status_name(0x04), "INVALID_LEN");
	ASSERT_STREQ(snp_fw_status_name(0x07), "POLICY_FAILURE");
	ASSERT_STREQ(snp_fw_status_name(0x16), "INVALID_PARAM");
	ASSERT_STREQ(snp_fw_status_name(0x17), "RESOURCE_LIMIT");
	ASSERT_STREQ(snp_fw_status_name(0x27), "INVALID_KEY");
	ASSERT_STREQ(snp_fw_status_name(0xffffffffu), "NO_FW_CALL");
	ASSERT_STREQ(snp_fw_status_name(0x99), "UNKNOWN");
}

/* ---- opening devices ---- */
TEST(snpdev_open_specs)
{
	struct snp_dev *d = NULL;
	char path[PATH_MAX];
	int fd;

	ASSERT_EQ(snp_dev_open("/nonexistent/sev-guest", &d), -ENODEV);
	ASSERT_EQ(snp_dev_open("configfs", &d), -EOPNOTSUPP);
	ASSERT_EQ(snp_dev_open("", &d), -EINVAL);
	ASSERT_EQ(snp_dev_open("sim:", &d), -EINVAL);
	/* a regular file would answer every ioctl with ENOTTY, i.e. look locked out */
	snprintf(path, sizeof(path), "%s/file", test_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(snp_dev_open(path, &d), -ENODEV);
	ASSERT_TRUE(d == NULL);
}

/* /dev/null takes the real ioctl path and answers ENOTTY, as a disabled VMPCK would. */
TEST(snpdev_kernel_transport_enotty)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st = {};

	if (access("/dev/null", R_OK | W_OK) < 0)
		return;
	ASSERT_EQ(snp_dev_open("/dev/null", &d), 0);
	ASSERT_STREQ(snp_dev_name(d), "sev-guest");
	ASSERT_FALSE(snp_dev_is_simulated(d));
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -ENOTTY);
	ASSERT_FALSE(st.transport_called);
	ASSERT_TRUE(snp_dev_locked_out(d));
}

static void restore_env(char **saved)
{
	if (*saved)
		setenv("VHSM_SNP_SIM_MODULE", *saved, 1);
	else
		unsetenv("VHSM_SNP_SIM_MODULE");
	free(*saved);
}

TEST(snpdev_open_sim_module_missing)
{
	const char *old = getenv("VHSM_SNP_SIM_MODULE");
	_cleanup_(restore_env) char *saved = old ? strdup(old) : NULL;
	struct snp_dev *d = NULL;
	char path[PATH_MAX];
	int fd;

	ASSERT_EQ(setenv("VHSM_SNP_SIM_MODULE", "/nonexistent/vhsm-snp-sim.so", 1), 0);
	ASSERT_EQ(snp_dev_open("sim:/x", &d), -ENOPKG);
	/* present but not a shared object: a broken install, not a missing one */
	snprintf(path, sizeof(path), "%s/not-a-module.so", test_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(write(fd, "hello\n", 6), 6);
	close(fd);
	ASSERT_EQ(setenv("VHSM_SNP_SIM_MODULE", path, 1), 0);
	ASSERT_EQ(snp_dev_open("sim:/x", &d), -ELIBBAD);
	ASSERT_TRUE(d == NULL);
}

/* ---- configfs-tsm on a plain directory ---- */
static struct {
	bool active;
	const char *provider;   /* NULL: no provider attribute */
	const char *generation; /* NULL: "1\n" */
	bool privlevel;
	const char *privlevel_floor; /* NULL: no privlevel_floor attribute */
	size_t outblob_len;
	bool race; /* outblob is a FIFO; a writer thread bumps generation before feeding it */
	bool no_auxblob;
	size_t auxblob_len;
	char entry[PATH_MAX]; /* absolute path of the last created entry */
	bool writer_started;
	pthread_t writer;
	uint8_t inblob[128];
	ssize_t inblob_len;
	char privlevel_val[16];
	unsigned mkdirs, rmdirs;
} tsm;

static uint8_t blob_byte(size_t i)
{
	return (uint8_t)(i * 3 + 1);
}

static void put_file(int dfd, const char *name, const void *data, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	if (len && write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void put_blob(int dfd, const char *name, size_t len)
{
	uint8_t *b = malloc(len + 1);

	if (!b)
		abort();
	for (size_t i = 0; i < len; i++)
		b[i] = blob_byte(i);
	put_file(dfd, name, b, len);
	free(b);
}

static void *tsm_race_writer(void *arg)
{
	char fifo[PATH_MAX + 16], gen[PATH_MAX + 16];
	uint8_t report[SNP_REPORT_SIZE];
	int fd = -1;

	(void)arg;
	snprintf(fifo, sizeof(fifo), "%s/outblob", tsm.entry);
	snprintf(gen, sizeof(gen), "%s/generation", tsm.entry);
	/* Wait (up to 5 s) until the reader has opened outblob, i.e. has read generation. */
	for (int i = 0; i < 5000 && fd < 0; i++) {
		fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			usleep(1000);
	}
	if (fd < 0)
		return NULL;
	int g = open(gen, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (g >= 0) {
		if (write(g, "2\n", 2) != 2)
			abort();
		close(g);
	}
	fcntl(fd, F_SETFL, 0);
	for (size_t i = 0; i < sizeof(report); i++)
		report[i] = blob_byte(i);
	if (write(fd, report, sizeof(report)) != (ssize_t)sizeof(report))
		abort();
	close(fd);
	return NULL;
}

static void tsm_populate(int dirfd, const char *name)
{
	const char *gen = tsm.generation ? tsm.generation : "1\n";
	char root[PATH_MAX], proc[64];
	ssize_t n;
	int dfd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	n = readlink(proc, root, sizeof(root) - 1);
	if (n < 0)
		abort();
	root[n] = '\0';
	if (snprintf(tsm.entry, sizeof(tsm.entry), "%s/%s", root, name) >= (int)sizeof(tsm.entry))
		abort();
	dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		abort();
	if (tsm.provider)
		put_file(dfd, "provider", tsm.provider, strlen(tsm.provider));
	put_file(dfd, "generation", gen, strlen(gen));
	put_file(dfd, "inblob", NULL, 0);
	if (tsm.privlevel)
		put_file(dfd, "privlevel", NULL, 0);
	if (tsm.privlevel_floor)
		put_file(dfd, "privlevel_floor", tsm.privlevel_floor, strlen(tsm.privlevel_floor));
	if (tsm.race) {
		if (mkfifoat(dfd, "outblob", 0600) < 0)
			abort();
		tsm.writer_started = pthread_create(&tsm.writer, NULL, tsm_race_writer, NULL) == 0;
	} else {
		put_blob(dfd, "outblob", tsm.outblob_len);
	}
	if (!tsm.no_auxblob)
		put_blob(dfd, "auxblob", tsm.auxblob_len);
	close(dfd);
}

static void tsm_depopulate(int dirfd, const char *name)
{
	static const char *const attrs[] = { "provider", "generation", "inblob", "privlevel",
					     "outblob", "auxblob" };
	int dfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0)
		return;
	fd = openat(dfd, "inblob", O_RDONLY | O_CLOEXEC);
	tsm.inblob_len = fd >= 0 ? read(fd, tsm.inblob, sizeof(tsm.inblob)) : -1;
	if (fd >= 0)
		close(fd);
	fd = openat(dfd, "privlevel", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, tsm.privlevel_val, sizeof(tsm.privlevel_val) - 1);
		tsm.privlevel_val[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
		syscall(SYS_unlinkat, dfd, attrs[i], 0);
	close(dfd);
}

/* Interposed for the library: creates a fake configfs-tsm entry when a test asks for one. */
int mkdirat(int dirfd, const char *path, mode_t mode)
{
	if (syscall(SYS_mkdirat, dirfd, path, mode) < 0)
		return -1;
	if (tsm.active) {
		tsm.mkdirs++;
		tsm_populate(dirfd, path);
	}
	return 0;
}

/* Interposed: removing an entry takes its attributes with it, as on configfs. */
int unlinkat(int dirfd, const char *path, int flags)
{
	if (tsm.active && (flags & AT_REMOVEDIR)) {
		tsm.rmdirs++;
		tsm_depopulate(dirfd, path);
	}
	return (int)syscall(SYS_unlinkat, dirfd, path, flags);
}

static bool dir_is_empty(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!dir)
		return false;
	while ((de = readdir(dir)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(dir);
	return empty;
}

static void tsm_reset(void)
{
	if (tsm.writer_started)
		pthread_join(tsm.writer, NULL);
	memset(&tsm, 0, sizeof(tsm));
}

static void tsm_cleanup(bool *b)
{
	(void)b;
	tsm_reset();
}

/* Sets up a healthy fake entry; tests then break one thing. */
static void tsm_setup(void)
{
	tsm_reset();
	tsm.active = true;
	tsm.provider = "sev_guest\n";
	tsm.privlevel = true;
	tsm.outblob_len = SNP_REPORT_SIZE;
	tsm.auxblob_len = 3000;
}

static int tsm_run(const char *root, uint32_t vmpl, uint8_t report[static SNP_REPORT_SIZE],
		   uint8_t **certs, size_t *len)
{
	uint8_t data[64];
	int r;

	fill_data(data);
	r = snp_tsm_get_report(root, data, vmpl, report, certs, len);
	if (tsm.writer_started) {
		pthread_join(tsm.writer, NULL);
		tsm.writer_started = false;
	}
	return r;
}

TEST(snpdev_tsm_missing_root)
{
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 0;
	char path[PATH_MAX];
	int fd;

	ASSERT_EQ(snp_tsm_get_report("/nonexistent/tsm/report", data, 0, report, &certs, &len),
		  -ENOENT);
	snprintf(path, sizeof(path), "%s/file", test_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	ASSERT_EQ(snp_tsm_get_report(path, data, 0, report, &certs, &len), -ENOTDIR);
	ASSERT_TRUE(certs == NULL);
}

TEST(snpdev_tsm_plain_directory)
{
	/* no fake: mkdir works, but the entry has no attributes */
	const char *root = test_tmpdir();
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 0;

	tsm_reset();
	ASSERT_EQ(snp_tsm_get_report(root, data, 0, report, &certs, &len), -ENOENT);
	ASSERT_TRUE(dir_is_empty(root));
	ASSERT_EQ(snp_tsm_get_report(root, data, 4, report, &certs, &len), -EINVAL);
	ASSERT_TRUE(dir_is_empty(root));
	ASSERT_TRUE(certs == NULL);
}

TEST(snpdev_tsm_success)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	const char *root = test_tmpdir();
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t report[SNP_REPORT_SIZE], data[64];
	size_t len = 0;

	(void)guard;
	tsm_setup();
	ASSERT_EQ(tsm_run(root, 2, report, &certs, &len), 0);
	ASSERT_EQ(tsm.mkdirs, 1);
	ASSERT_EQ(tsm.rmdirs, 1);
	ASSERT_TRUE(dir_is_empty(root));
	fill_data(data);
	ASSERT_EQ(tsm.inblob_len, 64);
	ASSERT_MEMEQ(tsm.inblob, data, 64);
	ASSERT_STREQ(tsm.privlevel_val, "2\n");
	for (size_t i = 0; i < SNP_REPORT_SIZE; i++)
		ASSERT_EQ(report[i], blob_byte(i));
	ASSERT_EQ(len, 3000);
	for (size_t i = 0; i < len; i++)
		ASSERT_EQ(certs[i], blob_byte(i));
	ASSERT_TRUE(strncmp(strrchr(tsm.entry, '/'), "/vhsm-", 6) == 0);
}

TEST(snpdev_tsm_privlevel)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	const char *root = test_tmpdir();
	uint8_t report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 0;

	(void)guard;
	/* VMPL 0 with a privlevel attribute: written anyway */
	tsm_setup();
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	free(certs);
	certs = NULL;
	ASSERT_STREQ(tsm.privlevel_val, "0\n");
	/* VMPL 0 without one: fine */
	tsm_setup();
	tsm.privlevel = false;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	free(certs);
	certs = NULL;
	/* VMPL 1 without one cannot be honoured */
	tsm_setup();
	tsm.privlevel = false;
	ASSERT_EQ(tsm_run(root, 1, report, &certs, &len), -EOPNOTSUPP);
	ASSERT_TRUE(certs == NULL);
	ASSERT_TRUE(dir_is_empty(root));
}

TEST(snpdev_tsm_provider)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	static const char *const bad[] = { "tdx_guest\n", "sev_guest_x\n", "",
					   "sev_guest\n\n" };
	const char *root = test_tmpdir();
	uint8_t report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 0;

	(void)guard;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		tsm_setup();
		tsm.provider = bad[i];
		ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), -EOPNOTSUPP);
		ASSERT_TRUE(dir_is_empty(root));
		ASSERT_EQ(tsm.inblob_len, 0); /* nothing was requested */
	}
	tsm_setup();
	tsm.provider = NULL;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), -ENOENT);
	ASSERT_TRUE(dir_is_empty(root));
	/* without the newline is fine too */
	tsm_setup();
	tsm.provider = "sev_guest";
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	free(certs);
}

TEST(snpdev_tsm_outblob_size)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	static const size_t bad[] = { 0, SNP_REPORT_SIZE - 1, SNP_REPORT_SIZE + 1, 4000, 70000 };
	const char *root = test_tmpdir();
	uint8_t report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 0;

	(void)guard;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		tsm_setup();
		tsm.outblob_len = bad[i];
		memset(report, 0xee, sizeof(report));
		ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), -EBADMSG);
		ASSERT_EQ(report[0], 0xee);
		ASSERT_TRUE(certs == NULL);
		ASSERT_TRUE(dir_is_empty(root));
	}
}

TEST(snpdev_tsm_auxblob)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	const char *root = test_tmpdir();
	uint8_t report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 99;

	(void)guard;
	tsm_setup();
	tsm.auxblob_len = 0;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	ASSERT_TRUE(certs != NULL);
	ASSERT_EQ(len, 0);
	free(certs);
	certs = NULL;

	tsm_setup();
	tsm.no_auxblob = true;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	ASSERT_EQ(len, 0);
	free(certs);
	certs = NULL;

	tsm_setup();
	tsm.auxblob_len = SNP_CERTS_MAX;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	ASSERT_EQ(len, SNP_CERTS_MAX);
	ASSERT_EQ(certs[SNP_CERTS_MAX - 1], blob_byte(SNP_CERTS_MAX - 1));
	free(certs);
	certs = NULL;

	tsm_setup();
	tsm.auxblob_len = SNP_CERTS_MAX + 1;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), -EMSGSIZE);
	ASSERT_TRUE(certs == NULL);
	ASSERT_TRUE(dir_is_empty(root));
}

TEST(snpdev_tsm_generation)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	static const char *const bad[] = { "x\n", "", "-1\n", "1 \n", "99999999999999999999999\n" };
	const char *root = test_tmpdir();
	uint8_t report[SNP_REPORT_SIZE], *certs = NULL;
	size_t len = 0;

	(void)guard;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		tsm_setup();
		tsm.generation = bad[i];
		ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), -EBADMSG);
		ASSERT_TRUE(dir_is_empty(root));
	}
	/* someone else wrote to the entry while the report was read */
	tsm_setup();
	tsm.race = true;
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), -EAGAIN);
	ASSERT_TRUE(certs == NULL);
	ASSERT_TRUE(dir_is_empty(root));
}

/* A guest at VMPL 2 (privlevel_floor 2) asking for VMPL 0 gets a report at its floor. */
TEST(snpdev_tsm_privlevel_floor)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	const char *root = test_tmpdir();
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t report[SNP_REPORT_SIZE];
	size_t len = 0;

	(void)guard;
	tsm_setup();
	tsm.privlevel_floor = "2\n";
	ASSERT_EQ(tsm_run(root, 0, report, &certs, &len), 0);
	ASSERT_STREQ(tsm.privlevel_val, "2\n");
	free(certs);
	certs = NULL;
	ASSERT_EQ(tsm_run(root, 3, report, &certs, &len), 0);
	ASSERT_STREQ(tsm.privlevel_val, "3\n");
	/* A malformed floor counts as none. */
	free(certs);
	certs = NULL;
	tsm.privlevel_floor = "x\n";
	ASSERT_EQ(tsm_run(root, 1, report, &certs, &len), 0);
	ASSERT_STREQ(tsm.privlevel_val, "1\n");
}

/* The device layer takes reports from configfs-tsm where its root exists, else the ioctl. */
TEST(snpdev_ext_report_prefers_configfs_tsm)
{
	_cleanup_(tsm_cleanup) bool guard = true;
	struct fake f = {};
	_cleanup_(snp_dev_closep) struct snp_dev *d = fake_open(&f);
	const char *root = test_tmpdir();
	_cleanup_free_ uint8_t *certs = NULL;
	uint8_t data[64], report[SNP_REPORT_SIZE];
	struct snp_status st = {};
	size_t len = 0;

	(void)guard;
	ASSERT_TRUE(d);
	fill_data(data);
	tsm_setup();
	ASSERT_STREQ(snp_dev_report_path(d), "fake");
	ASSERT_EQ(snp_dev_set_tsm_root(d, root), 0);
	ASSERT_STREQ(snp_dev_report_path(d), "configfs-tsm");
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, &st), 0);
	ASSERT_EQ(f.calls, 0);
	ASSERT_EQ(tsm.mkdirs, 1);
	ASSERT_EQ(tsm.inblob_len, 64);
	ASSERT_MEMEQ(tsm.inblob, data, 64);
	for (size_t i = 0; i < SNP_REPORT_SIZE; i++)
		ASSERT_EQ(report[i], blob_byte(i));
	ASSERT_EQ(len, 3000);
	free(certs);
	certs = NULL;

	/* Another provider (e.g. tdx_guest): the ioctl. */
	tsm.provider = "tdx_guest\n";
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, &st), 0);
	ASSERT_EQ(f.calls, 1);
	ASSERT_EQ(f.nr, SNP_IOCTL_GET_EXT_REPORT);
	free(certs);
	certs = NULL;

	/* No configfs-tsm (older kernel): the ioctl. */
	char missing[PATH_MAX];
	snprintf(missing, sizeof(missing), "%s/none", root);
	ASSERT_EQ(snp_dev_set_tsm_root(d, missing), 0);
	ASSERT_STREQ(snp_dev_report_path(d), "fake");
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, &st), 0);
	ASSERT_EQ(f.calls, 2);
	free(certs);
	certs = NULL;

	/* A truncated outblob is an error, not a fallback to another source. */
	ASSERT_EQ(snp_dev_set_tsm_root(d, root), 0);
	tsm_setup();
	tsm.outblob_len = 100;
	ASSERT_EQ(snp_dev_get_ext_report(d, data, 0, report, &certs, &len, &st), -EBADMSG);
	ASSERT_EQ(f.calls, 2);
	ASSERT_TRUE(certs == NULL);
	ASSERT_EQ(snp_dev_set_tsm_root(d, NULL), 0);
	ASSERT_STREQ(snp_dev_report_path(d), "fake");
}
