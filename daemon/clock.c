/* SPDX-License-Identifier: Apache-2.0 */
/* The wall clock of the lifecycle checks and its high-water mark (clock.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "parse-util.h"

/*
 * Reads "N" or, when ret_second is given, "N [M]" (M absent: *ret_second untouched) from path
 * (relative to dir_fd, or absolute).
 */
static int read_seconds2(int dir_fd, const char *path, uint64_t *ret, uint64_t *ret_second)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char s[64], *sp;
	size_t len;
	int r;

	r = fileio_read_all_at(dir_fd, path, sizeof(s) - 1, &buf, &len);
	if (r < 0)
		return r;
	memcpy(s, buf, len);
	s[len] = '\0';
	sp = ret_second ? strchr(s, ' ') : NULL;
	if (sp)
		*sp = '\0';
	uint64_t v, w = 0;
	if (parse_uint64_full(s, 10, sp ? 0 : PARSE_NEWLINE, 0, UINT64_MAX, &v) < 0)
		return -EBADMSG;
	if (sp && parse_uint64_full(sp + 1, 10, PARSE_NEWLINE, 0, UINT64_MAX, &w) < 0)
		return -EBADMSG;
	if (sp)
		*ret_second = w;
	*ret = v;
	return 0;
}

int clock_load(struct manager *m)
{
	uint64_t v = 0;
	int r;

	r = read_seconds2(m->state_fd, "clock", &v, NULL);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0)
		m->clock_hwm = m->clock_saved = v;
	m->clock_start = (struct clock_anchor){ clock_wall(m), clock_boottime(m), true };
	return 0;
}

static void clock_save(struct manager *m)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", m->clock_hwm);
	if (fileio_write_atomic_at(m->state_fd, "clock", buf, (size_t)n, 0600) < 0)
		vhsm_log_debug("cannot save the clock high-water mark to %s/clock", m->state_dir);
	else
		m->clock_saved = m->clock_hwm;
}

void clock_observe(struct manager *m, uint64_t t)
{
	if (t <= m->clock_hwm)
		return;
	m->clock_hwm = t;
	if (m->state_fd >= 0 && m->clock_hwm > m->clock_saved)
		clock_save(m);
}

uint64_t clock_wall(struct manager *m)
{
	uint64_t now = (uint64_t)time(NULL), boot;

	if (m->test_clock_path && read_seconds2(AT_FDCWD, m->test_clock_path, &now, &boot) < 0)
		now = (uint64_t)time(NULL);
	clock_observe(m, now);
	return now;
}

uint64_t clock_boottime(struct manager *m)
{
	struct timespec ts;
	uint64_t wall, boot = UINT64_MAX;

	if (m->test_clock_path && read_seconds2(AT_FDCWD, m->test_clock_path, &wall, &boot) == 0 &&
	    boot != UINT64_MAX)
		return boot;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec;
}

/* How far the wall clock ran ahead of the boot-time clock since anchor a (0 if not ahead). */
static uint64_t lead_since(const struct clock_anchor *a, uint64_t wall, uint64_t boot)
{
	if (!a->set || wall <= a->wall)
		return 0;
	uint64_t dwall = wall - a->wall, dboot = boot > a->boot ? boot - a->boot : 0;
	return dwall > dboot ? dwall - dboot : 0;
}

uint64_t clock_forward_jump(struct manager *m, uint64_t *ret_since)
{
	/* The earliest anchor of this boot: the wall clock's lead over it is its net forward
	 * displacement since then (a later anchor taken while the clock was behind would count
	 * the correction as a jump). */
	struct clock_anchor a = clock_anchor_of_boot(m);
	uint64_t wall = clock_wall(m), boot = clock_boottime(m);

	if (ret_since)
		*ret_since = a.wall;
	return lead_since(&a, wall, boot);
}

uint64_t clock_trusted(struct manager *m)
{
	uint64_t wall = clock_wall(m), jump = clock_forward_jump(m, NULL);

	return wall > jump ? wall - jump : 0;
}

void clock_anchor_merge(struct clock_anchor *a, uint64_t wall, uint64_t boot)
{
	if (!a->set || boot < a->boot)
		*a = (struct clock_anchor){ wall, boot, true };
}

struct clock_anchor clock_anchor_of_boot(const struct manager *m)
{
	return m->clock_boot.set ? m->clock_boot : m->clock_start;
}

uint64_t clock_latest(struct manager *m)
{
	uint64_t now = clock_wall(m);

	return now > m->clock_hwm ? now : m->clock_hwm;
}

const char *clock_iso(uint64_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "@%llu", (unsigned long long)t);
	return buf;
}

int clock_check_purge(struct manager *m, uint64_t until, char *why, size_t whylen)
{
	uint64_t since, jump;
	char a[32], b[32];

	if (clock_trusted(m) >= until)
		return 0;
	jump = clock_forward_jump(m, &since);
	snprintf(why, whylen, "the wall clock is %llu s ahead of the boot-time clock since %s "
		 "(moved forwards?); purge protection counts only time both clocks saw: purge "
		 "possible from %s", (unsigned long long)jump, clock_iso(since, a),
		 clock_iso(until + jump, b));
	return -EPERM;
}

uint64_t clock_mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
