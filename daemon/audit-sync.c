/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log's group commit (audit-sync.h). One mutex guards the state; the thread holds
 * it only to pick up work, never across fdatasync, so the event loop is never delayed by the
 * disk. The thread syncs its own duplicate of the log's descriptor, so a rotation that closes
 * the old file cannot pull a descriptor out from under a running fdatasync. A sync starts
 * at once when the previous one began at least AUDIT_SYNC_WINDOW_USEC ago, otherwise at that
 * point: under a steady load the records of one window share one sync, so that a stream of
 * single unwraps costs at most 1 s / window syncs a second instead of one per record. The
 * event loop wakes the thread only when it sleeps, and it sleeps only after a whole window
 * without records, so a stream of records costs the event loop no wake-up each.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "audit-sync.h"

struct audit_sync {
	struct timespec last;   /* CLOCK_MONOTONIC start of the previous sync */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int fd;             /* the thread's duplicate of the current segment */
	uint64_t want;      /* newest record asked to be durable */
	uint64_t durable;   /* newest record known durable */
	int error;          /* a failed fdatasync, until taken */
	bool stop;
	bool idle;          /* waiting for work: a request must wake it (else it looks itself) */
};

static bool sync_idle(const struct audit_sync *s)
{
	return s->want <= s->durable || s->error != 0;
}

/* The earliest start of the next sync: the previous start plus the window. */
static struct timespec window_end(const struct audit_sync *s)
{
	struct timespec t = s->last;

	t.tv_nsec += (long)AUDIT_SYNC_WINDOW_USEC * 1000L;
	t.tv_sec += t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	return t;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/*
 * Waits (lock held) until there is work or the thread must stop. It first lingers until the
 * current window ends without asking to be woken: under a stream of records the next one
 * is written meanwhile and found there at the window's end, when it would have been synced
 * anyway, instead of costing the event loop a futex wake-up and a context switch per record.
 * Only a window without records puts the thread to sleep until the next request wakes it.
 */
static void wait_for_work(struct audit_sync *s)
{
	struct timespec end = window_end(s);

	if (!s->stop && sync_idle(s))
		pthread_cond_timedwait(&s->wake, &s->lock, &end);
	while (!s->stop && sync_idle(s)) {
		s->idle = true;
		pthread_cond_wait(&s->wake, &s->lock);
		s->idle = false;
	}
}

static void *sync_main(void *p)
{
	struct audit_sync *s = p;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		wait_for_work(s);
		if (sync_idle(s))
			break; /* stopping, nothing (more) to sync */
		struct timespec now, end = window_end(s);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!s->stop && before(&now, &end)) {
			/* Within the window: more records may come to share this sync. */
			pthread_cond_timedwait(&s->wake, &s->lock, &end);
			continue;
		}
		s->last = now;
		uint64_t seq = s->want;
		int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
		int r = fd < 0 ? -errno : 0;
		pthread_mutex_unlock(&s->lock);
		if (r == 0 && fdatasync(fd) < 0)
			r = -errno;
		if (fd >= 0)
			close(fd);
		pthread_mutex_lock(&s->lock);
		if (r < 0)
			s->error = r;
		else if (seq > s->durable)
			s->durable = seq;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int audit_sync_new(int fd, uint64_t durable_seq, struct audit_sync **ret)
{
	struct audit_sync *s = calloc(1, sizeof(*s));
	pthread_condattr_t attr;
	sigset_t all, old;
	int r;

	if (!s)
		return -ENOMEM;
	s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (s->fd < 0) {
		r = -errno;
		free(s);
		return r;
	}
	s->want = s->durable = durable_seq;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	/* Signals belong to the event loop (signalfd): the thread must never take one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = -pthread_create(&s->thread, NULL, sync_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		close(s->fd);
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct audit_sync *audit_sync_free(struct audit_sync *s)
{
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

int audit_sync_set_fd(struct audit_sync *s, int fd)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (nfd < 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	close(s->fd);
	s->fd = nfd;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void audit_sync_request(struct audit_sync *s, uint64_t seq)
{
	pthread_mutex_lock(&s->lock);
	if (seq > s->want) {
		s->want = seq;
		/* Within a window or during a sync the thread reads want when it gets there: waking
		 * it for every record would cost a futex call and a context switch each. */
		if (s->idle)
			pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
}

void audit_sync_done(struct audit_sync *s, uint64_t seq)
{
	pthread_mutex_lock(&s->lock);
	if (seq > s->durable)
		s->durable = seq;
	if (seq > s->want)
		s->want = seq;
	pthread_mutex_unlock(&s->lock);
}

uint64_t audit_sync_durable(struct audit_sync *s)
{
	uint64_t d;

	pthread_mutex_lock(&s->lock);
	d = s->durable;
	pthread_mutex_unlock(&s->lock);
	return d;
}

int audit_sync_take_error(struct audit_sync *s)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = s->error;
	s->error = 0;
	/* A thread stopped by an error waits for a wake-up; without one there is nothing to do
	 * here (a request wakes a sleeping thread itself). */
	if (r != 0 && s->want > s->durable)
		pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	return r;
}
