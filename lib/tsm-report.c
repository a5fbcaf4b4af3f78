/* SPDX-License-Identifier: Apache-2.0 */
/*
 * configfs-tsm reports (Linux >= 6.7, /sys/kernel/config/tsm/report): a report entry is made,
 * its provider checked (sev_guest), privlevel written (never below privlevel_floor, the VMPL
 * the guest runs at), exactly 64 bytes of inblob written, outblob and auxblob read, and the
 * generation compared before and after so that a report another writer changed is never
 * taken. The entry is removed on every path. See tsm-report.h.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parse-util.h"
#include "snp-abi.h"
#include "tsm-report.h"

#define SNP_VMPL_MAX 3u
#define TSM_PROVIDER "sev_guest"
#define TSM_SMALL_ATTR 64

/*
 * Reads attribute name below dfd into buf (at most cap bytes). Returns 0 and the length, or
 * -EMSGSIZE when the attribute holds more than cap bytes, or -errno.
 */
static int tsm_read_attr(int dfd, const char *name, uint8_t *buf, size_t cap, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	for (;;) {
		uint8_t extra;
		ssize_t n;

		/* Once full, one more byte tells "exactly cap" from "too long". */
		if (len < cap)
			n = read(fd, buf + len, cap - len);
		else
			n = read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		if (len >= cap)
			return -EMSGSIZE;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

/* Reads a short text attribute, without its trailing newline, as a C string. */
static int tsm_read_text(int dfd, const char *name, char buf[static TSM_SMALL_ATTR])
{
	size_t len = 0;
	int r;

	r = tsm_read_attr(dfd, name, (uint8_t *)buf, TSM_SMALL_ATTR - 1, &len);
	if (r < 0)
		return r;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	return 0;
}

/*
 * Writes an attribute in a single write(). configfs hands binary attributes (inblob) to the
 * provider when the file is closed, so the close is part of the write.
 */
static int tsm_write_attr(int dfd, const char *name, const void *data, size_t len)
{
	ssize_t n;
	int fd, r = 0;

	fd = openat(dfd, name, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = negative_errno();
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = negative_errno();
	return r;
}

static int tsm_read_generation(int dfd, uint64_t *ret)
{
	char buf[TSM_SMALL_ATTR];
	uint64_t v;
	int r;

	r = tsm_read_text(dfd, "generation", buf);
	if (r < 0)
		return r;
	if (parse_uint64_full(buf, 10, PARSE_NEWLINE, 0, UINT64_MAX, &v) < 0)
		return -EBADMSG;
	*ret = v;
	return 0;
}

static int tsm_check_provider(int dfd)
{
	char buf[TSM_SMALL_ATTR];
	int r;

	r = tsm_read_text(dfd, "provider", buf);
	if (r == -ENOENT) /* not a configfs-tsm report directory */
		return -ENOENT;
	if (r == -EMSGSIZE || r == -EBADMSG)
		return -EOPNOTSUPP;
	if (r < 0)
		return r;
	if (strcmp(buf, TSM_PROVIDER) != 0) {
		vhsm_log_debug("snp: configfs-tsm provider is %.32s, not " TSM_PROVIDER, buf);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* privlevel_floor: the VMPL the guest runs at (Linux 6.11); 0 when the kernel has none. */
static uint32_t tsm_privlevel_floor(int dfd)
{
	char buf[TSM_SMALL_ATTR];

	if (tsm_read_text(dfd, "privlevel_floor", buf) < 0 || buf[0] < '0' || buf[0] > '3' ||
	    buf[1] != '\0')
		return 0;
	return (uint32_t)(buf[0] - '0');
}

static int tsm_write_privlevel(int dfd, uint32_t vmpl)
{
	char buf[16];
	int r, n;

	/* The kernel refuses a privlevel below the floor; a report at the floor is what this
	 * guest can get, and the policy's vmpl rule judges it. */
	uint32_t floor = tsm_privlevel_floor(dfd);
	if (vmpl < floor) {
		vhsm_log_debug("snp: configfs-tsm privlevel %" PRIu32 " raised to the floor %" PRIu32,
			       vmpl, floor);
		vmpl = floor;
	}

	n = snprintf(buf, sizeof(buf), "%" PRIu32 "\n", vmpl);
	r = tsm_write_attr(dfd, "privlevel", buf, (size_t)n);
	/* Without privlevel every report is at the floor; fine only when VMPL 0 was asked. */
	if (r == -ENOENT)
		return vmpl == 0 ? 0 : -EOPNOTSUPP;
	return r;
}

/* Creates a report entry below rootfd with a name no other process or thread uses. */
static int tsm_make_entry(int rootfd, char *name, size_t size)
{
	static unsigned counter;

	for (unsigned i = 0; i < 8; i++) {
		unsigned c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
		uint32_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&rnd;
		snprintf(name, size, "vhsm-%ld-%u-%08" PRIx32, (long)getpid(), c, rnd);
		if (mkdirat(rootfd, name, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			return negative_errno();
	}
	return -EEXIST;
}

struct tsm_result {
	uint8_t report[SNP_REPORT_SIZE];
	uint8_t *certs;
	size_t certs_len;
};

static int tsm_entry_report(int dfd, const uint8_t report_data[static 64], uint32_t vmpl,
			    struct tsm_result *res)
{
	uint64_t gen, gen2;
	size_t len;
	int r;

	r = tsm_check_provider(dfd);
	if (r < 0)
		return r;
	r = tsm_write_privlevel(dfd, vmpl);
	if (r < 0)
		return r;
	/* sev_guest insists on exactly 64 bytes. */
	r = tsm_write_attr(dfd, "inblob", report_data, 64);
	if (r < 0)
		return r;
	r = tsm_read_generation(dfd, &gen);
	if (r < 0)
		return r;
	/* Reading outblob makes the report; it is the bare ATTESTATION_REPORT. */
	r = tsm_read_attr(dfd, "outblob", res->report, SNP_REPORT_SIZE, &len);
	if (r == -EMSGSIZE || (r >= 0 && len != SNP_REPORT_SIZE))
		return -EBADMSG;
	if (r < 0)
		return r;
	res->certs = malloc(SNP_CERTS_MAX);
	if (!res->certs)
		return -ENOMEM;
	r = tsm_read_attr(dfd, "auxblob", res->certs, SNP_CERTS_MAX, &res->certs_len);
	if (r == -ENOENT) /* providers without certificates */
		res->certs_len = 0, r = 0;
	if (r < 0)
		return r;
	r = tsm_read_generation(dfd, &gen2);
	if (r < 0)
		return r;
	if (gen2 != gen) {
		vhsm_log_debug("snp: configfs-tsm entry changed while reading (generation %" PRIu64
			       " -> %" PRIu64 ")",
			       gen, gen2);
		return -EAGAIN;
	}
	return 0;
}

int snp_tsm_get_report(const char *root, const uint8_t report_data[static 64], uint32_t vmpl,
		       uint8_t ret_report[static SNP_REPORT_SIZE], uint8_t **ret_certs,
		       size_t *ret_certs_len)
{
	_cleanup_close_ int rootfd = -EBADF, dfd = -EBADF;
	struct tsm_result res = {};
	char name[64];
	uint8_t *certs;
	int r;

	if (!root || !report_data || !ret_report || !ret_certs || !ret_certs_len ||
	    vmpl > SNP_VMPL_MAX)
		return -EINVAL;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return negative_errno();
	r = tsm_make_entry(rootfd, name, sizeof(name));
	if (r < 0)
		return r;

	dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		r = negative_errno();
	else
		r = tsm_entry_report(dfd, report_data, vmpl, &res);
	if (dfd >= 0)
		close(TAKE_FD(dfd));
	/* configfs removes the attributes with the entry. */
	if (unlinkat(rootfd, name, AT_REMOVEDIR) < 0)
		vhsm_log_debug("snp: cannot remove configfs-tsm entry %s: %s", name,
			       strerror(errno));
	if (r < 0) {
		free(res.certs);
		return r;
	}

	/* Hand out only what was read; an empty table keeps a non-NULL buffer. */
	certs = realloc(res.certs, res.certs_len ? res.certs_len : 1);
	if (!certs) {
		free(res.certs);
		return -ENOMEM;
	}
	memcpy(ret_report, res.report, SNP_REPORT_SIZE);
	*ret_certs = certs;
	*ret_certs_len = res.certs_len;
	return 0;
}
