/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-principal and global limits of non-administrators: connection slots, the budget of
 * firmware report requests, and the refusal window of the audit chain.
 *
 * A principal is what a local user cannot multiply. Every peer is charged to its uid, and
 * also to its login uid (/proc/PID/loginuid) when that is set: uids can be multiplied with
 * a subordinate uid range (newuidmap), but every process of one login keeps its login uid,
 * and only CAP_AUDIT_CONTROL changes a set one. A process whose login uid is unset (system
 * services) may set it once, to any value, so it is charged to its uid as well: whichever
 * of the two runs out first limits it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vhsmd.h"

/* The per-principal and global budgets of report requests (ATTEST_REPORT and the fresh
 * attestations of attest-each-use KEKs): a burst, then a refill rate. */
#define LIMITS_REPORT_BURST 5u
#define LIMITS_REPORT_PER_SEC 1u
#define LIMITS_REPORT_GLOBAL_BURST 20u
#define LIMITS_REPORT_GLOBAL_PER_SEC 4u
/* Refusals chained per principal and minute; beyond, the journal only. */
#define LIMITS_REFUSALS_PER_MINUTE 60u
/* Principals tracked at once in each table; see limits.c for what happens when full. */
#define LIMITS_TABLE_SIZE 512u

enum principal_kind { PRINCIPAL_UID, PRINCIPAL_LOGIN, _PRINCIPAL_KIND_MAX,
		      _PRINCIPAL_KIND_INVALID = -EINVAL };

struct principal {
	enum principal_kind kind;
	uint32_t id;
};

struct limits;

/* Allocates the tables (all budgets full). Returns 0 or -ENOMEM. */
int limits_new(struct limits **ret);
struct limits *limits_free(struct limits *l);

/*
 * Reads /proc/PID/loginuid of a connected peer into *ret_loginuid; pidfd (SO_PEERPIDFD, or
 * -EBADF where the kernel has none) confirms that PID was still the peer after the read.
 * Returns 1 when set, 0 when unset ((uid_t)-1, or no audit support in the kernel), -ESRCH
 * when the peer is gone, -errno when unreadable. Does not log.
 */
int limits_read_loginuid(pid_t pid, int pidfd, uid_t *ret_loginuid);

/* The principals p is charged to (1 or 2) in out. Administrators have none (returns 0). */
unsigned limits_principals(const struct peer *p, struct principal out[static 2]);

/* Writes "uid N" or "login uid N" for messages. */
void principal_format(const struct principal *who, char *buf, size_t len);

/* Whether the connection of peer a is charged to who (connection counting). */
bool limits_charged_to(const struct peer *a, const struct principal *who);

/*
 * How many requests a budget has declined since start: a handler's -EAGAIN is a limit's decline
 * (and its reply carries VHSM_TAG_BUSY) only when this advanced while it ran.
 */
unsigned limits_declined(const struct limits *l);

/*
 * Takes one report request from p's budgets and the global one, all or none (administrators
 * are not charged). now_usec is CLOCK_MONOTONIC. Returns 0, or -EAGAIN with the exhausted
 * budget named in why.
 */
int limits_take_report(struct limits *l, const struct peer *p, uint64_t now_usec, char *why,
		       size_t whylen);

/*
 * Counts one refusal of p for the audit chain in minute (monotonic minutes). Returns true
 * when it goes to the chain; *ret_suppressed gets the number of p's refusals left out of the
 * chain in an earlier window, to report once.
 */
bool limits_refusal_chain(struct limits *l, const struct peer *p, uint64_t minute,
			  unsigned *ret_suppressed);
