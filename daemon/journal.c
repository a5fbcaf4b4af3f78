/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where vhsmd's operator messages go. sd_journal_print() returns success and drops the
 * message when journald is not running, so reachability is decided here, as systemd's own
 * daemons do: a stderr connected to the journal (JOURNAL_STREAM) or journald's socket.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "journal.h"
#include "parse-util.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected to stdout/stderr. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	uint64_t dev, ino;
	struct stat st;

	if (!e || parse_uint64_pair(e, ':', &dev, &ino) < 0)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

bool journal_reachable(void)
{
	static int cached = -1;

	if (cached < 0) {
		struct stat st;

		if (getenv("VHSMD_LOG_STDERR"))
			cached = 0;
		else if (stderr_is_journal())
			cached = 1;
		else
			cached = !isatty(STDERR_FILENO) && stat(JOURNAL_SOCKET, &st) == 0 &&
				 S_ISSOCK(st.st_mode);
	}
	return cached;
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap, aq;
	int r = -1;

	va_start(ap, fmt);
	va_copy(aq, ap);
	if (journal_reachable())
		r = sd_journal_printv(prio, fmt, ap);
	if (r < 0) {
		fprintf(stderr, "vhsmd: ");
		vfprintf(stderr, fmt, aq);
		fputc('\n', stderr);
	}
	va_end(aq);
	va_end(ap);
}
