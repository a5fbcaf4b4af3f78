/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Limits of non-administrators, keyed exactly on principals (limits.h says which). The tables
 * are exact maps: an entry belongs to one principal, and colliding ids never share or reset
 * each other's state. They are bounded: an entry that holds nothing a fresh one would not
 * (a full budget, a window of an earlier minute) is reused for another principal; when
 * none is free, the request is treated as over the limit (a report is declined with
 * -EAGAIN, a refusal goes to the journal only). Filling a table takes LIMITS_TABLE_SIZE
 * principals active at once, which one local user cannot make.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "limits.h"
#include "parse-util.h"

struct bucket {
	struct principal who;
	bool used;
	double tokens;
	uint64_t last_usec;
};

struct window {
	struct principal who;
	bool used;
	uint64_t minute;
	unsigned chained;
	unsigned suppressed;
};

struct limits {
	unsigned declined; /* requests declined by a budget since start (the busy marker) */
	struct bucket reports[LIMITS_TABLE_SIZE];
	struct bucket global;
	struct window refusals[LIMITS_TABLE_SIZE];
};

int limits_new(struct limits **ret)
{
	struct limits *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->global = (struct bucket){ .used = true, .tokens = LIMITS_REPORT_GLOBAL_BURST };
	*ret = l;
	return 0;
}

struct limits *limits_free(struct limits *l)
{
	free(l);
	return NULL;
}

static int read_loginuid_file(const char *path, uid_t *ret_loginuid)
{
	char buf[16];
	uint64_t v;
	int fd;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? negative_errno() : -EBADMSG;
	buf[n] = '\0';
	if (parse_uint64_full(buf, 10, PARSE_NEWLINE, 0, UINT32_MAX, &v) < 0)
		return -EBADMSG;
	if (v == UINT32_MAX)
		return 0;
	*ret_loginuid = (uid_t)v;
	return 1;
}

int limits_read_loginuid(pid_t pid, int pidfd, uid_t *ret_loginuid)
{
	char path[64];
	uid_t v = 0;
	int r;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/loginuid", (int)pid);
	r = read_loginuid_file(path, &v);
	if (r == -ENOENT) {
		/* A kernel without audit has no login uid at all; else the peer is gone, and
		 * its connection may have been handed to a process of another login. */
		if (access("/proc/self/loginuid", F_OK) < 0 && errno == ENOENT)
			return 0;
		return -ESRCH;
	}
	if (r < 0)
		return r;
	/* The pid may have been reused between connect() and the read: the pidfd still
	 * refers to the peer, and says whether it is still the process we read. */
	if (pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0 && errno == ESRCH)
		return -ESRCH;
	if (r > 0)
		*ret_loginuid = v;
	return r;
}

unsigned limits_principals(const struct peer *p, struct principal out[static 2])
{
	unsigned n = 0;

	if (p->admin)
		return 0;
	out[n++] = (struct principal){ .kind = PRINCIPAL_UID, .id = p->uid };
	if (p->has_loginuid)
		out[n++] = (struct principal){ .kind = PRINCIPAL_LOGIN, .id = p->loginuid };
	return n;
}

void principal_format(const struct principal *who, char *buf, size_t len)
{
	snprintf(buf, len, "%s %u", who->kind == PRINCIPAL_LOGIN ? "login uid" : "uid",
		 (unsigned)who->id);
}

static bool principal_eq(const struct principal *a, const struct principal *b)
{
	return a->kind == b->kind && a->id == b->id;
}

bool limits_charged_to(const struct peer *a, const struct principal *who)
{
	struct principal v[2];
	unsigned n = limits_principals(a, v);

	for (unsigned i = 0; i < n; i++)
		if (principal_eq(&v[i], who))
			return true;
	return false;
}

/* The bucket's tokens at now_usec (refilled at per_sec up to burst). */
static double bucket_level(const struct bucket *b, uint64_t now_usec, double burst,
			   double per_sec)
{
	double t = b->tokens;

	if (now_usec > b->last_usec)
		t += (double)(now_usec - b->last_usec) / 1e6 * per_sec;
	return t > burst ? burst : t;
}

/* The bucket of who: its own, else a free one (full budget) other than keep, else NULL. */
static struct bucket *bucket_find(struct limits *l, const struct principal *who,
				  uint64_t now_usec, const struct bucket *keep)
{
	struct bucket *free_slot = NULL;

	for (size_t i = 0; i < LIMITS_TABLE_SIZE; i++) {
		struct bucket *b = &l->reports[i];
		if (b->used && principal_eq(&b->who, who))
			return b;
		if (!free_slot && b != keep && (!b->used || bucket_level(b, now_usec, LIMITS_REPORT_BURST,
							    LIMITS_REPORT_PER_SEC) >=
							       LIMITS_REPORT_BURST))
			free_slot = b;
	}
	if (free_slot)
		*free_slot = (struct bucket){ .who = *who, .used = true,
					      .tokens = LIMITS_REPORT_BURST, .last_usec = now_usec };
	return free_slot;
}

static void bucket_take(struct bucket *b, uint64_t now_usec, double burst, double per_sec)
{
	b->tokens = bucket_level(b, now_usec, burst, per_sec) - 1.0;
	b->last_usec = now_usec;
}

/* A request over a budget: counted, so that the reply can say "busy" (limits_declined()). */
static int limits_decline(struct limits *l)
{
	l->declined++;
	return -EAGAIN;
}

unsigned limits_declined(const struct limits *l)
{
	return l ? l->declined : 0;
}

int limits_take_report(struct limits *l, const struct peer *p, uint64_t now_usec, char *why,
		       size_t whylen)
{
	struct principal who[2];
	struct bucket *b[2] = {};
	unsigned n = limits_principals(p, who);
	char name[32];

	if (n == 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		principal_format(&who[i], name, sizeof(name));
		b[i] = bucket_find(l, &who[i], now_usec, b[0]);
		if (!b[i]) {
			snprintf(why, whylen, "report budget: %u principals are being tracked "
				 "already; try again in a second", LIMITS_TABLE_SIZE);
			return limits_decline(l);
		}
		if (bucket_level(b[i], now_usec, LIMITS_REPORT_BURST, LIMITS_REPORT_PER_SEC) < 1.0) {
			snprintf(why, whylen, "report budget of %s exhausted (%u, then %u per second); "
				 "try again in a second", name, LIMITS_REPORT_BURST,
				 LIMITS_REPORT_PER_SEC);
			return limits_decline(l);
		}
	}
	if (bucket_level(&l->global, now_usec, LIMITS_REPORT_GLOBAL_BURST,
			 LIMITS_REPORT_GLOBAL_PER_SEC) < 1.0) {
		snprintf(why, whylen, "global report budget of non-administrators exhausted (%u, "
			 "then %u per second); try again in a second", LIMITS_REPORT_GLOBAL_BURST,
			 LIMITS_REPORT_GLOBAL_PER_SEC);
		return limits_decline(l);
	}
	for (unsigned i = 0; i < n; i++)
		bucket_take(b[i], now_usec, LIMITS_REPORT_BURST, LIMITS_REPORT_PER_SEC);
	bucket_take(&l->global, now_usec, LIMITS_REPORT_GLOBAL_BURST, LIMITS_REPORT_GLOBAL_PER_SEC);
	return 0;
}

/* The refusal window of who in minute: its own (reset when of an earlier minute, with its
 * suppressed count added to *suppressed), else one of an earlier minute, else NULL. */
static struct window *window_find(struct limits *l, const struct principal *who, uint64_t minute,
				  unsigned *suppressed)
{
	struct window *free_slot = NULL;

	for (size_t i = 0; i < LIMITS_TABLE_SIZE; i++) {
		struct window *w = &l->refusals[i];
		if (w->used && principal_eq(&w->who, who)) {
			if (w->minute != minute) {
				*suppressed += w->suppressed;
				*w = (struct window){ .who = *who, .used = true, .minute = minute };
			}
			return w;
		}
		if (!free_slot && (!w->used || w->minute != minute))
			free_slot = w;
	}
	if (free_slot)
		*free_slot = (struct window){ .who = *who, .used = true, .minute = minute };
	return free_slot;
}

bool limits_refusal_chain(struct limits *l, const struct peer *p, uint64_t minute,
			  unsigned *ret_suppressed)
{
	struct principal who[2];
	struct window *w[2] = {};
	unsigned n = limits_principals(p, who), suppressed = 0;
	bool chain = true;

	for (unsigned i = 0; i < n; i++) {
		w[i] = window_find(l, &who[i], minute, &suppressed);
		if (!w[i] || w[i]->chained >= LIMITS_REFUSALS_PER_MINUTE)
			chain = false;
	}
	/* The suppressed count goes to one window only, so that it is reported once. */
	bool counted = false;
	for (unsigned i = 0; i < n; i++) {
		if (!w[i])
			continue;
		if (chain) {
			w[i]->chained++;
		} else if (!counted) {
			w[i]->suppressed++;
			counted = true;
		}
	}
	*ret_suppressed = suppressed;
	return chain;
}
