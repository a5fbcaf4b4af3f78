/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Operator messages of vhsmd: to the journal when it is reachable, else to stderr, so that a
 * daemon started without journald (a container, a test, stderr to a file) is never silent.
 */
#pragma once

#include <stdbool.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, ... for log_msg() */

#include "macro.h"

/*
 * True when messages go to the journal: stderr is a journal stream (JOURNAL_STREAM names
 * it), or journald's socket exists and stderr is not a terminal. VHSMD_LOG_STDERR in the
 * environment forces stderr. Decided once per process.
 */
bool journal_reachable(void);

/*
 * Logs one operator message at syslog priority prio (LOG_ERR, LOG_WARNING, ...; journal or
 * "vhsmd: ..." on stderr).
 */
void log_msg(int prio, const char *fmt, ...) _printf_(2, 3);
