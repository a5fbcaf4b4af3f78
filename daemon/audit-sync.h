/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Group commit of the audit log: a thread that makes the records written so far durable with
 * one fdatasync shared by every record written while the previous one ran or within one
 * window after the previous one began. The event loop writes records in chain order and only
 * asks; it never waits for the disk.
 */
#pragma once

#include <stdint.h>

#include "macro.h"

struct audit_sync;

/* Syncs start at most this often; a record waits at most this plus one fdatasync. */
#define AUDIT_SYNC_WINDOW_USEC 10000u

/*
 * Starts the sync thread for the log file fd (duplicated: the caller keeps its own), with
 * durable_seq records already durable. All signals are blocked in the thread. Returns 0 and
 * *ret, or -errno. Does not log.
 */
int audit_sync_new(int fd, uint64_t durable_seq, struct audit_sync **ret);

/*
 * Stops the thread after a last fdatasync of what was asked for, and frees s. NULL is
 * accepted; returns NULL.
 */
struct audit_sync *audit_sync_free(struct audit_sync *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct audit_sync *, audit_sync_free);

/* The log continues in another file (after a rotation): later syncs go to fd. 0 or -errno. */
int audit_sync_set_fd(struct audit_sync *s, int fd);

/* Asks for the records up to seq to be made durable; returns at once. */
void audit_sync_request(struct audit_sync *s, uint64_t seq);

/* The records up to seq were made durable by the caller's own fdatasync. */
void audit_sync_done(struct audit_sync *s, uint64_t seq);

/* The newest record known to be durable. */
uint64_t audit_sync_durable(struct audit_sync *s);

/*
 * -errno of a failed fdatasync of the thread (then it waits: nothing after it counts as durable
 * until the caller has synced itself and called audit_sync_done), or 0. Clears the error.
 */
int audit_sync_take_error(struct audit_sync *s);
