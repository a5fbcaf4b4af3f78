/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SNP guest device layer (see snp-dev.h). One request path serves every transport: the
 * kernel's /dev/sev-guest ioctls, the simulator module and test fakes all see the same
 * envelope and the same request structs, so what the simulator and the tests exercise is the
 * code that talks to real hardware. configfs-tsm reports live here too (snp_tsm_get_report).
 *
 * This is the only file that includes <linux/sev-guest.h>: it is used for the ioctl numbers
 * and to pin our own structs (snp-abi.h) against the kernel's. Requests are always marshalled
 * through our struct snp_guest_request, never through the kernel's struct, whose exitinfo2
 * member is called fw_err in old headers and is a union in new ones.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Debian 12's uapi header uses GENMASK_ULL, which only the kernel defines. Its struct tags
 * also collide with ours, so they are renamed for the duration of the include.
 */
#ifndef GENMASK_ULL
#define GENMASK_ULL(h, l) ((~0ULL >> (63 - (h))) & (~0ULL << (l)))
#endif
#define snp_report_req kernel_snp_report_req
#define snp_report_resp kernel_snp_report_resp
#define snp_derived_key_req kernel_snp_derived_key_req
#define snp_derived_key_resp kernel_snp_derived_key_resp
#define snp_ext_report_req kernel_snp_ext_report_req
#include <linux/sev-guest.h>
#undef snp_report_req
#undef snp_report_resp
#undef snp_derived_key_req
#undef snp_derived_key_resp
#undef snp_ext_report_req

#include "fileio.h"
#include "log.h"
#include "snp-dev.h"

/* ---- our layouts against the kernel's ---- */
#define SAME_SIZE(ours, theirs) (sizeof(struct ours) == sizeof(struct theirs))
#define SAME_OFF(ours, theirs, f) (offsetof(struct ours, f) == offsetof(struct theirs, f))

_Static_assert(SAME_SIZE(snp_report_req, kernel_snp_report_req), "report req size");
_Static_assert(sizeof(struct kernel_snp_report_req) == 96, "kernel report req size");
_Static_assert(SAME_OFF(snp_report_req, kernel_snp_report_req, user_data), "user_data");
_Static_assert(SAME_OFF(snp_report_req, kernel_snp_report_req, vmpl), "report vmpl");
_Static_assert(offsetof(struct kernel_snp_report_req, rsvd) == 0x44, "key_sel lives in rsvd[0]");
_Static_assert(SAME_SIZE(snp_report_resp, kernel_snp_report_resp), "report resp size");
_Static_assert(SAME_SIZE(snp_derived_key_req, kernel_snp_derived_key_req), "key req size");
_Static_assert(sizeof(struct kernel_snp_derived_key_req) == 32, "kernel key req size");
_Static_assert(SAME_OFF(snp_derived_key_req, kernel_snp_derived_key_req, root_key_select), "");
_Static_assert(SAME_OFF(snp_derived_key_req, kernel_snp_derived_key_req, rsvd), "key rsvd");
_Static_assert(SAME_OFF(snp_derived_key_req, kernel_snp_derived_key_req, guest_field_select),
	       "guest_field_select");
_Static_assert(SAME_OFF(snp_derived_key_req, kernel_snp_derived_key_req, vmpl), "key vmpl");
_Static_assert(SAME_OFF(snp_derived_key_req, kernel_snp_derived_key_req, guest_svn), "svn");
_Static_assert(SAME_OFF(snp_derived_key_req, kernel_snp_derived_key_req, tcb_version), "tcb");
_Static_assert(SAME_SIZE(snp_derived_key_resp, kernel_snp_derived_key_resp), "key resp size");
_Static_assert(SAME_SIZE(snp_ext_report_req, kernel_snp_ext_report_req), "ext req size");
_Static_assert(sizeof(struct kernel_snp_ext_report_req) == 112, "kernel ext req size");
_Static_assert(SAME_OFF(snp_ext_report_req, kernel_snp_ext_report_req, certs_address), "");
_Static_assert(SAME_OFF(snp_ext_report_req, kernel_snp_ext_report_req, certs_len), "certs_len");
_Static_assert(sizeof(struct snp_guest_request_ioctl) == 32, "kernel ioctl envelope size");
_Static_assert(SAME_SIZE(snp_guest_request, snp_guest_request_ioctl), "envelope size");
_Static_assert(SAME_OFF(snp_guest_request, snp_guest_request_ioctl, msg_version), "");
_Static_assert(SAME_OFF(snp_guest_request, snp_guest_request_ioctl, req_data), "req_data");
_Static_assert(SAME_OFF(snp_guest_request, snp_guest_request_ioctl, resp_data), "resp_data");
/* exitinfo2 is the 8 bytes after resp_data whatever the header calls them. */
_Static_assert(offsetof(struct snp_guest_request_ioctl, resp_data) + 8 ==
		       offsetof(struct snp_guest_request, exitinfo2),
	       "exitinfo2 offset");

/* ioctl numbers: ours are built from our envelope, which must give the kernel's values. */
#define SNP_IOC(nr) _IOWR('S', (nr), struct snp_guest_request)
_Static_assert(SNP_GET_REPORT == SNP_IOC(SNP_IOCTL_GET_REPORT), "SNP_GET_REPORT");
_Static_assert(SNP_GET_DERIVED_KEY == SNP_IOC(SNP_IOCTL_GET_DERIVED_KEY), "SNP_GET_DERIVED_KEY");
_Static_assert(SNP_GET_EXT_REPORT == SNP_IOC(SNP_IOCTL_GET_EXT_REPORT), "SNP_GET_EXT_REPORT");
_Static_assert(SNP_GET_REPORT == 0xC0205300u, "SNP_GET_REPORT value");
_Static_assert(SNP_GET_EXT_REPORT == 0xC0205302u, "SNP_GET_EXT_REPORT value");
#ifdef SNP_GUEST_VMM_ERR_SHIFT
_Static_assert(SNP_GUEST_VMM_ERR_SHIFT == 32, "vmm error shift");
_Static_assert(SNP_GUEST_FW_ERR_MASK == 0xffffffffull, "fw error mask");
_Static_assert(SNP_GUEST_VMM_ERR_INVALID_LEN == SNP_VMM_ERR_INVALID_LEN, "INVALID_LEN");
_Static_assert(SNP_GUEST_VMM_ERR_BUSY == SNP_VMM_ERR_BUSY, "BUSY");
#endif

#define SNP_MSG_VERSION 1
#define SNP_VMPL_MAX 3u
#define SNP_KEY_SEL_MAX 2u
#define SNP_DEFAULT_TRIES 3u
#define SNP_DEFAULT_DELAY_MS 2000u

struct snp_dev {
	const struct snp_transport_ops *ops;
	void *ctx;
	void *module; /* dlopen handle of the simulator, closed after ops->close */
	bool locked_out;
	unsigned max_tries;
	unsigned delay_ms;
	char *tsm_root; /* configfs-tsm report directory tried first for reports, or NULL */
};

/* ---- wiping of request and response structs (cleanup handlers) ---- */
static void report_req_erase(struct snp_report_req *p)
{
	explicit_bzero(p, sizeof(*p));
}

static void ext_req_erase(struct snp_ext_report_req *p)
{
	explicit_bzero(p, sizeof(*p));
}

static void report_resp_erase(struct snp_report_resp *p)
{
	explicit_bzero(p, sizeof(*p));
}

static void key_req_erase(struct snp_derived_key_req *p)
{
	explicit_bzero(p, sizeof(*p));
}

static void key_resp_erase(struct snp_derived_key_resp *p)
{
	explicit_bzero(p, sizeof(*p));
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- transport-independent request logic ---- */
static void status_from_call(struct snp_status *st, int r, uint64_t exitinfo2)
{
	*st = (struct snp_status){};
	if (r >= 0) {
		/* The driver copies the envelope back only on failure: exitinfo2 means nothing. */
		st->transport_called = true;
		return;
	}
	st->fw_error = SNP_EXITINFO2_FW(exitinfo2);
	st->vmm_error = SNP_EXITINFO2_VMM(exitinfo2);
	/* 0: envelope not copied back at all; 0xff: the driver stopped before the transport. */
	st->transport_called = exitinfo2 != 0 && exitinfo2 != SNP_EXITINFO2_NOT_SENT;
}

static int lock_out(struct snp_dev *d, int r)
{
	/*
	 * ENOTTY means the driver has disabled the VMPCK. EIO, ETIMEDOUT and EBADMSG are the
	 * failures after which the driver wipes the VMPCK itself (a lost or unauthenticated
	 * response would desynchronise the message sequence numbers, and reusing an IV breaks
	 * AES-GCM). Nothing can succeed until the VM reboots, so stop sending.
	 */
	d->locked_out = true;
	vhsm_log_debug("snp: %s: guest requests disabled until reboot (%s)", snp_dev_name(d),
		       strerror(-r));
	return r;
}

/*
 * Sends one request through the transport, with the throttling retries. Returns 0 when the
 * request came back (the response STATUS is the caller's to check), -ENOBUFS when the
 * extended request needs a bigger certificate buffer (the required size is in the request's
 * certs_len), or -errno.
 */
static int snp_dev_call(struct snp_dev *d, enum snp_ioctl_nr nr, void *req, void *resp,
			size_t resp_len, struct snp_status *st)
{
	for (unsigned try = 1;; try++) {
		struct snp_guest_request io;
		uint32_t vmm;
		int r;

		if (d->locked_out)
			return -ENOTTY;
		memset(&io, 0, sizeof(io));
		io.msg_version = SNP_MSG_VERSION;
		io.req_data = (uint64_t)(uintptr_t)req;
		io.resp_data = (uint64_t)(uintptr_t)resp;
		io.exitinfo2 = 0;
		explicit_bzero(resp, resp_len);

		r = d->ops->guest_request(d->ctx, nr, &io);
		status_from_call(st, r, io.exitinfo2);
		if (r >= 0)
			return 0;

		vmm = st->vmm_error;
		vhsm_log_debug("snp: %s: request %d failed: %s (exitinfo2 0x%016" PRIx64 ")",
			       snp_dev_name(d), (int)nr, strerror(-r), io.exitinfo2);
		if (r == -ENOTTY || r == -ETIMEDOUT || r == -EBADMSG)
			return lock_out(d, r);
		/*
		 * Certificate buffer too small: the driver re-issued a plain request to keep the
		 * sequence numbers in step and kept the VMPCK; certs_len holds the size needed.
		 */
		if (r == -EIO && vmm == SNP_VMM_ERR_INVALID_LEN && nr == SNP_IOCTL_GET_EXT_REPORT)
			return -ENOBUFS;
		/* Throttled: drivers without their own retry loop pass BUSY up to us. */
		if (r == -EAGAIN || vmm == SNP_VMM_ERR_BUSY) {
			if (try >= d->max_tries)
				return -EBUSY;
			sleep_ms(d->delay_ms);
			continue;
		}
		if (r == -EIO)
			return lock_out(d, r);
		return r;
	}
}

/* Checks a MSG_REPORT_RSP the transport accepted. */
static int report_resp_check(const struct snp_report_resp *resp, struct snp_status *st)
{
	st->msg_status = resp->status;
	if (resp->status != SNP_FW_SUCCESS) {
		vhsm_log_debug("snp: report request refused: status 0x%x (%s)", resp->status,
			       snp_fw_status_name(resp->status));
		return -EREMOTEIO;
	}
	if (resp->report_size != SNP_REPORT_SIZE) {
		vhsm_log_debug("snp: report response has size 0x%x", resp->report_size);
		return -EBADMSG;
	}
	return 0;
}

static void report_req_fill(struct snp_report_req *req, const uint8_t report_data[static 64],
			    uint32_t vmpl, uint32_t key_sel)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->user_data, report_data, sizeof(req->user_data));
	req->vmpl = vmpl;
	req->key_sel = key_sel;
}

static int snp_dev_prepare(struct snp_dev *d, struct snp_status *st)
{
	*st = (struct snp_status){};
	if (!d)
		return -EINVAL;
	return d->locked_out ? -ENOTTY : 0;
}

int snp_dev_get_report(struct snp_dev *d, const uint8_t report_data[static 64], uint32_t vmpl,
		       uint32_t key_sel, uint8_t ret_report[static SNP_REPORT_SIZE],
		       struct snp_status *ret_status)
{
	_cleanup_(report_req_erase) struct snp_report_req req = {};
	_cleanup_(report_resp_erase) struct snp_report_resp resp = {};
	struct snp_status st_local, *st = ret_status ? ret_status : &st_local;
	int r;

	r = snp_dev_prepare(d, st);
	if (r < 0)
		return r;
	if (!report_data || !ret_report || vmpl > SNP_VMPL_MAX || key_sel > SNP_KEY_SEL_MAX)
		return -EINVAL;
	report_req_fill(&req, report_data, vmpl, key_sel);
	r = snp_dev_call(d, SNP_IOCTL_GET_REPORT, &req, &resp, sizeof(resp), st);
	if (r < 0)
		return r;
	r = report_resp_check(&resp, st);
	if (r < 0)
		return r;
	memcpy(ret_report, resp.report, SNP_REPORT_SIZE);
	return 0;
}

/*
 * Replaces the certificate buffer with a zeroed one of the size the host asked for. The size
 * must be a page multiple within SNP_CERTS_MAX (the driver refuses anything else) and larger
 * than what we offered, which also bounds the number of retries.
 */
static int certs_grow(uint8_t **certs, size_t *len, uint32_t needed)
{
	uint8_t *n;

	if (needed == 0 || needed % SNP_CERTS_PAGE != 0 || needed > SNP_CERTS_MAX) {
		vhsm_log_debug("snp: host wants a certificate buffer of %" PRIu32 " bytes", needed);
		return -E2BIG;
	}
	if (needed <= *len) {
		vhsm_log_debug("snp: host rejected a %zu byte certificate buffer, wants %" PRIu32,
			       *len, needed);
		return -EPROTO;
	}
	n = calloc(1, needed);
	if (!n)
		return -ENOMEM;
	free(*certs);
	*certs = n;
	*len = needed;
	return 0;
}

/*
 * A report from configfs-tsm when the device has a tsm root that exists: 0 with the report,
 * -ENOENT when configfs-tsm is not there or serves another provider (use the ioctl), or
 * -errno. A generation race is retried once.
 */
static int tsm_try(struct snp_dev *d, const uint8_t report_data[static 64], uint32_t vmpl,
		   uint8_t ret_report[static SNP_REPORT_SIZE], uint8_t **ret_certs,
		   size_t *ret_certs_len)
{
	int r = -ENOENT;

	if (!d->tsm_root)
		return -ENOENT;
	for (int i = 0; i < 2; i++) {
		r = snp_tsm_get_report(d->tsm_root, report_data, vmpl, ret_report, ret_certs,
				       ret_certs_len);
		if (r != -EAGAIN)
			break;
	}
	if (r == -EOPNOTSUPP || r == -ENOTDIR)
		r = -ENOENT;
	if (r < 0 && r != -ENOENT)
		vhsm_log_debug("snp: configfs-tsm report failed: %s", strerror(-r));
	return r;
}

int snp_dev_get_ext_report(struct snp_dev *d, const uint8_t report_data[static 64],
			   uint32_t vmpl, uint8_t ret_report[static SNP_REPORT_SIZE],
			   uint8_t **ret_certs, size_t *ret_certs_len,
			   struct snp_status *ret_status)
{
	_cleanup_(ext_req_erase) struct snp_ext_report_req req = {};
	_cleanup_(report_resp_erase) struct snp_report_resp resp = {};
	_cleanup_free_ uint8_t *certs = NULL;
	struct snp_status st_local, *st = ret_status ? ret_status : &st_local;
	size_t certs_len = SNP_CERTS_PAGE;
	int r;

	r = snp_dev_prepare(d, st);
	if (r < 0)
		return r;
	if (!report_data || !ret_report || !ret_certs || !ret_certs_len || vmpl > SNP_VMPL_MAX)
		return -EINVAL;
	r = tsm_try(d, report_data, vmpl, ret_report, ret_certs, ret_certs_len);
	if (r != -ENOENT)
		return r;
	certs = calloc(1, certs_len);
	if (!certs)
		return -ENOMEM;
	for (;;) {
		memset(&req, 0, sizeof(req));
		report_req_fill(&req.data, report_data, vmpl, 0);
		req.certs_address = (uint64_t)(uintptr_t)certs;
		req.certs_len = (uint32_t)certs_len;
		r = snp_dev_call(d, SNP_IOCTL_GET_EXT_REPORT, &req, &resp, sizeof(resp), st);
		if (r != -ENOBUFS)
			break;
		/* The driver discarded the report; ask again with the size the host wants. */
		r = certs_grow(&certs, &certs_len, req.certs_len);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	r = report_resp_check(&resp, st);
	if (r < 0)
		return r;
	memcpy(ret_report, resp.report, SNP_REPORT_SIZE);
	*ret_certs = TAKE_PTR(certs);
	*ret_certs_len = certs_len;
	return 0;
}

int snp_dev_get_derived_key(struct snp_dev *d, const struct snp_key_request *req,
			    uint8_t ret_key[static 32], struct snp_status *ret_status)
{
	_cleanup_(key_req_erase) struct snp_derived_key_req kreq = {};
	_cleanup_(key_resp_erase) struct snp_derived_key_resp kresp = {};
	struct snp_status st_local, *st = ret_status ? ret_status : &st_local;
	int r;

	r = snp_dev_prepare(d, st);
	if (r < 0)
		return r;
	if (!req || !ret_key || req->root_key_select > 1 || req->key_sel > SNP_KEY_SEL_MAX ||
	    (req->field_select & ~SNP_FIELD_VALID_MASK) || req->vmpl > SNP_VMPL_MAX)
		return -EINVAL;

	/* bit 0 ROOT_KEY_SELECT, bits 2:1 KEY_SEL, everything else MBZ */
	kreq.root_key_select = req->root_key_select | req->key_sel << 1;
	kreq.rsvd = 0;
	kreq.guest_field_select = req->field_select;
	kreq.vmpl = req->vmpl;
	kreq.guest_svn = req->guest_svn;
	kreq.tcb_version = req->tcb_version;

	r = snp_dev_call(d, SNP_IOCTL_GET_DERIVED_KEY, &kreq, &kresp, sizeof(kresp), st);
	if (r < 0)
		return r;
	st->msg_status = kresp.status;
	if (kresp.status != SNP_FW_SUCCESS) {
		vhsm_log_debug("snp: key request refused: status 0x%x (%s)", kresp.status,
			       snp_fw_status_name(kresp.status));
		return -EREMOTEIO;
	}
	memcpy(ret_key, kresp.key, sizeof(kresp.key));
	return 0;
}

/* ---- devices ---- */
int snp_dev_open_transport(const struct snp_transport_ops *ops, void *ctx,
			   struct snp_dev **ret)
{
	struct snp_dev *d;

	if (!ops || !ops->guest_request || !ret) {
		if (ops && ops->close)
			ops->close(ctx);
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		if (ops->close)
			ops->close(ctx);
		return -ENOMEM;
	}
	d->ops = ops;
	d->ctx = ctx;
	d->max_tries = SNP_DEFAULT_TRIES;
	d->delay_ms = SNP_DEFAULT_DELAY_MS;
	*ret = d;
	return 0;
}

struct snp_dev *snp_dev_close(struct snp_dev *d)
{
	if (!d)
		return NULL;
	if (d->ops->close)
		d->ops->close(d->ctx);
	/* After ops->close: ops and ctx live in the module. */
	if (d->module)
		dlclose(d->module);
	free(d->tsm_root);
	free(d);
	return NULL;
}

int snp_dev_set_tsm_root(struct snp_dev *d, const char *root)
{
	char *copy = NULL;

	if (!d)
		return -EINVAL;
	if (root && !(copy = strdup(root)))
		return -ENOMEM;
	free(d->tsm_root);
	d->tsm_root = copy;
	return 0;
}


uint32_t snp_dev_running_vmpl(const struct snp_dev *d)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	if (d && d->ops->running_vmpl) {
		int v = d->ops->running_vmpl(d->ctx);
		if (v >= 0 && (uint32_t)v <= SNP_VMPL_MAX)
			return (uint32_t)v;
	}
	if (fileio_read_all("/sys/devices/system/cpu/sev/vmpl", 16, &buf, &len) < 0 || len == 0 ||
	    buf[0] < '0' || buf[0] > '3')
		return 0;
	return (uint32_t)(buf[0] - '0');
}

bool snp_dev_is_simulated(const struct snp_dev *d)
{
	return d && d->ops->simulated;
}

const char *snp_dev_report_path(const struct snp_dev *d)
{
	struct stat st;

	if (d && d->tsm_root && stat(d->tsm_root, &st) == 0 && S_ISDIR(st.st_mode))
		return "configfs-tsm";
	return snp_dev_name(d);
}

const char *snp_dev_name(const struct snp_dev *d)
{
	return d && d->ops->name ? d->ops->name : "unknown";
}

bool snp_dev_locked_out(const struct snp_dev *d)
{
	return d && d->locked_out;
}

void snp_dev_set_retry(struct snp_dev *d, unsigned max_tries, unsigned delay_ms)
{
	if (!d)
		return;
	d->max_tries = max_tries ? max_tries : 1;
	d->delay_ms = delay_ms;
}

/* /dev/sev-guest: the context is the open fd. */
struct kernel_ctx {
	int fd;
};

static int kernel_guest_request(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io)
{
	const struct kernel_ctx *k = ctx;
	unsigned long req;

	switch (nr) {
	case SNP_IOCTL_GET_REPORT:
		req = SNP_GET_REPORT;
		break;
	case SNP_IOCTL_GET_DERIVED_KEY:
		req = SNP_GET_DERIVED_KEY;
		break;
	case SNP_IOCTL_GET_EXT_REPORT:
		req = SNP_GET_EXT_REPORT;
		break;
	default:
		return -EINVAL;
	}
	/* One guest request at a time across every process that opened the device: a request
	 * that fails mid-way for another reason than BUSY disables the VMPCK. */
	while (flock(k->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return negative_errno();
	int r = ioctl(k->fd, req, io) < 0 ? negative_errno() : 0;
	(void)flock(k->fd, LOCK_UN);
	return r;
}

static void kernel_close(void *ctx)
{
	struct kernel_ctx *k = ctx;

	if (!k)
		return;
	close(k->fd);
	free(k);
}

static const struct snp_transport_ops kernel_ops = {
	.name = "sev-guest",
	.simulated = false,
	.guest_request = kernel_guest_request,
	.close = kernel_close,
};

static int kernel_open(const char *path, struct snp_dev **ret)
{
	_cleanup_close_ int fd = -EBADF;
	struct kernel_ctx *k;
	struct snp_dev *d;
	struct stat s;
	int r;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : negative_errno();
	if (fstat(fd, &s) < 0)
		return negative_errno();
	/* An ioctl on anything else fails with ENOTTY, which would read as "VMPCK disabled". */
	if (!S_ISCHR(s.st_mode))
		return -ENODEV;
	k = malloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fd = TAKE_FD(fd);
	r = snp_dev_open_transport(&kernel_ops, k, &d);
	if (r < 0)
		return r;
	/* Reports come from configfs-tsm where the kernel has it (Linux 6.7). */
	r = snp_dev_set_tsm_root(d, TSM_REPORT_ROOT_DEFAULT);
	if (r < 0) {
		snp_dev_close(d);
		return r;
	}
	*ret = d;
	return 0;
}

/*
 * A program run from the build tree finds the simulator built beside it; an installed one
 * finds none there (only tests and development install the simulator).
 */
static bool sim_module_beside_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0 || (size_t)n >= len - 1)
		return false;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	if (!slash || (size_t)(slash - buf) + sizeof("/vhsm-snp-sim.so") > len)
		return false;
	strcpy(slash, "/vhsm-snp-sim.so");
	return access(buf, F_OK) == 0;
}

static int sim_open(const char *state_file, struct snp_dev **ret)
{
	const char *module = secure_getenv("VHSM_SNP_SIM_MODULE");
	char beside[PATH_MAX];
	const struct snp_transport_ops *ops = NULL;
	struct snp_dev *d = NULL;
	snp_sim_open_fn open_fn;
	snp_sim_set_log_fn set_log_fn;
	void *ctx = NULL, *h;
	int r;

	if ((!module || !*module) && sim_module_beside_exe(beside, sizeof(beside)))
		module = beside;
	if (!module || !*module)
		module = VHSM_SIM_MODULE_DEFAULT;
	h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		vhsm_log_debug("snp: cannot load simulator %s: %s", module, dlerror());
		/* Missing is "not installed"; present but unloadable is a broken install. */
		if (!strchr(module, '/') || (access(module, F_OK) < 0 && errno == ENOENT))
			return -ENOPKG;
		return -ELIBBAD;
	}
	open_fn = (snp_sim_open_fn)dlsym(h, SNP_SIM_OPEN_SYMBOL);
	if (!open_fn) {
		vhsm_log_debug("snp: %s has no %s", module, SNP_SIM_OPEN_SYMBOL);
		dlclose(h);
		return -ELIBBAD;
	}
	/* The module logs through its own copy of libvhsm: point that at our sink. */
	set_log_fn = (snp_sim_set_log_fn)dlsym(h, SNP_SIM_SET_LOG_SYMBOL);
	if (set_log_fn)
		set_log_fn(vhsm_log_forward, NULL);
	r = open_fn(state_file, &ops, &ctx);
	if (r >= 0 && (!ops || !ops->guest_request)) {
		if (ops && ops->close)
			ops->close(ctx);
		r = -ELIBBAD;
	}
	if (r >= 0)
		r = snp_dev_open_transport(ops, ctx, &d);
	if (r < 0) {
		vhsm_log_debug("snp: simulator %s: %s", state_file, strerror(-r));
		dlclose(h);
		return r;
	}
	d->module = h;
	*ret = d;
	return 0;
}

int snp_dev_open(const char *spec, struct snp_dev **ret)
{
	if (!spec || !*spec || !ret)
		return -EINVAL;
	if (strncmp(spec, "sim:", 4) == 0) {
		if (!spec[4])
			return -EINVAL;
		return sim_open(spec + 4, ret);
	}
	/* configfs-tsm makes reports only (snp_tsm_get_report); keys need the ioctl device. */
	if (strcmp(spec, "configfs") == 0 || strncmp(spec, "configfs:", 9) == 0)
		return -EOPNOTSUPP;
	return kernel_open(spec, ret);
}

const char *snp_fw_status_name(uint32_t status)
{
	switch (status) {
	case SNP_FW_SUCCESS:
		return "SUCCESS";
	case SNP_FW_INVALID_LEN:
		return "INVALID_LEN";
	case SNP_FW_POLICY_FAILURE:
		return "POLICY_FAILURE";
	case SNP_FW_INVALID_PARAM:
		return "INVALID_PARAM";
	case SNP_FW_RESOURCE_LIMIT:
		return "RESOURCE_LIMIT";
	case SNP_FW_INVALID_KEY:
		return "INVALID_KEY";
	case 0xffffffffu:
		return "NO_FW_CALL";
	default:
		return "UNKNOWN";
	}
}
