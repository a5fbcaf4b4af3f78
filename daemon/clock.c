/* SPDX-License-Identifier: Apache-2.0 */
/* The wall clock of the lifecycle checks and its high-water mark (clock.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "parse-util.h"

static int read_seconds(const char *path, uint64_t *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	char s[32];
	size_t len;
	int r;

	r = fileio_read_all(path, sizeof(s) - 1, &buf, &len);
	if (r < 0)
		return r;
	memcpy(s, buf, len);
	s[len] = '\0';
	if (parse_uint64_full(s, 10, PARSE_NEWLINE, 0, UINT64_MAX, ret) < 0)
		return -EBADMSG;
	return 0;
}

int clock_load(struct manager *m)
{
	char path[4096];
	uint64_t v = 0;
	int r;

	snprintf(path, sizeof(path), "%s/clock", m->state_dir);
	r = read_seconds(path, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	m->clock_hwm = m->clock_saved = v;
	return 0;
}

static void clock_save(struct manager *m)
{
	char path[4096], buf[32];
	int n;

	snprintf(path, sizeof(path), "%s/clock", m->state_dir);
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", m->clock_hwm);
	if (fileio_write_atomic(path, buf, (size_t)n, 0600) < 0)
		vhsm_log_debug("cannot save the clock high-water mark to %s", path);
	else
		m->clock_saved = m->clock_hwm;
}

void clock_observe(struct manager *m, uint64_t t)
{
	if (t <= m->clock_hwm)
		return;
	m->clock_hwm = t;
	if (m->state_dir && m->clock_hwm > m->clock_saved)
		clock_save(m);
}

uint64_t clock_wall(struct manager *m)
{
	uint64_t now = (uint64_t)time(NULL);

	if (m->test_clock_path && read_seconds(m->test_clock_path, &now) < 0)
		now = (uint64_t)time(NULL);
	clock_observe(m, now);
	return now;
}

uint64_t clock_latest(struct manager *m)
{
	uint64_t now = clock_wall(m);

	return now > m->clock_hwm ? now : m->clock_hwm;
}
