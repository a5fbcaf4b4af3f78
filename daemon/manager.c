/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmd manager: the sd-event loop, the listening socket (socket-activated or bound with
 * --socket), connections, peer identity, the idle timer and sd_notify.
 * One request datagram -> one reply datagram; requests are served one at a time (every
 * operation is short), connections stay open for several requests.
 */
#include <grp.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>
#include <time.h>
#include <unistd.h>

#include "attest.h"
#include "audit.h"
#include "journal.h"
#include "fleet.h"
#include "kek-file.h"
#include "manifest.h"
#include "limits.h"
#include "luks-keysock.h"
#include "log.h"
#include "manager.h"
#include "peer-unit.h"
#include "policy-file.h"
#include "ops.h"
#include "secmem.h"
#include "shield.h"
#include "store.h"
#include "vhsmd.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5 */
#endif

struct conn {
	struct manager *m;
	int fd;
	sd_event_source *source;
	sd_event_source *timeout; /* closes a connection that sends nothing */
	struct peer peer;
	struct conn *prev, *next;
};

static void manager_status(const char *fmt, ...) _printf_(1, 2);
static void manager_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(false, "STATUS=%s", buf);
}

void manager_status_attest(struct manager *m)
{
	const struct attest_state *a = &m->attest;

	if (!a->done || a->seq == m->status_seq)
		return;
	m->status_seq = a->seq;
	if (a->no_policy)
		manager_status("attestation FAILED: %s", a->error);
	else
		manager_status("%s; attestation %s%s%s",
			       snp_dev_is_simulated(m->dev) ? "SIMULATED SNP device" : "Ready",
			       a->ok ? "passed" : "FAILED: ", a->ok ? "" : a->failures,
			       a->ok && strstr(a->collateral, "no AMD CRL") ?
				       " (no AMD CRL cached: revocation not checked)" : "");
}

int manager_new(struct manager **ret)
{
	struct manager *m = calloc(1, sizeof(*m));
	struct group *g;

	if (!m)
		return -ENOMEM;
	m->listen_fd = -EBADF;
	m->luks_key_fd = -EBADF;
	m->state_fd = -EBADF;
	m->idle_usec = 60ULL * 1000000ULL;
	m->attest_interval_usec = 3600ULL * 1000000ULL;
	m->attest_fresh_usec = VHSMD_ATTEST_FRESH_MS_DEFAULT * 1000ULL;
	if (limits_new(&m->limits) < 0) {
		free(m);
		return -ENOMEM;
	}
	g = getgrnam("vhsm");
	m->admin_gid = g ? g->gr_gid : (gid_t)-1;
	*ret = m;
	return 0;
}

static void conn_free(struct conn *c);

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	m->idle_usec = 0; /* closing connections must not re-arm the idle timer */
	m->fleet_fresh = NULL;
	m->fleet = fleet_free(m->fleet); /* joins a running sync before anything it uses goes */
	while (m->conns)
		conn_free(m->conns);
	sd_event_source_unref(m->idle_source);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->luks_key_fd >= 0)
		close(m->luks_key_fd);
	if (m->luks_key_path)
		(void)unlink(m->luks_key_path);
	free(m->luks_key_path);
	if (m->socket_path)
		(void)unlink(m->socket_path);
	if (m->state_fd >= 0)
		close(m->state_fd);
	secmem_free(m->rx);
	secmem_free(m->tx);
	secmem_free(m->batch);
	snp_dev_close(m->dev);
	snp_policy_free(m->policy);
	for (size_t i = 0; i < m->n_trust_roots; i++)
		free(m->trust_roots[i]);
	shield_free(m->shield);
	kek_marks_free(m->kek_marks);
	audit_free(m->audit);
	manifest_free(m->manifest);
	limits_free(m->limits);
	sd_event_source_unref(m->policy_watch);
	sd_event_unref(m->event);
	free(m->socket_path);
	free(m->state_dir);
	free(m->device_spec);
	free(m->policy_path);
	free(m->collateral_dir);
	free(m->tcti);
	free(m->test_clock_path);
	free(m);
	return NULL;
}

static int idle_handler(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	(void)s;
	(void)usec;
	if (m->n_connections > 0)
		return 0;
	vhsm_log_debug("idle for %" PRIu64 " s, exiting", m->idle_usec / 1000000);
	sd_notify(false, "STOPPING=1\nSTATUS=Idle, exiting.");
	return sd_event_exit(m->event, 0);
}

/* (Re)arms the idle timer whenever the last connection goes away or a request completes. */
static int manager_arm_idle(struct manager *m)
{
	uint64_t now;

	if (m->idle_usec == 0)
		return 0;
	if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
		now = 0;
	if (m->idle_source) {
		(void)sd_event_source_set_time(m->idle_source, now + m->idle_usec);
		return sd_event_source_set_enabled(m->idle_source, SD_EVENT_ONESHOT);
	}
	return sd_event_add_time(m->event, &m->idle_source, CLOCK_MONOTONIC, now + m->idle_usec,
				 0, idle_handler, m);
}

static void conn_free(struct conn *c)
{
	struct manager *m;

	if (!c)
		return;
	m = c->m;
	sd_event_source_unref(c->source);
	sd_event_source_unref(c->timeout);
	if (c->fd >= 0)
		close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->n_connections--;
	if (!c->peer.admin)
		m->n_unprivileged--;
	if (m->n_connections == 0)
		(void)manager_arm_idle(m);
	free(c);
}

static int conn_timeout_handler(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	conn_free(userdata);
	return 0;
}

/* (Re)starts the connection's inactivity timer. */
static void conn_touch(struct conn *c)
{
	uint64_t now;

	if (sd_event_now(c->m->event, CLOCK_MONOTONIC, &now) < 0)
		return;
	if (c->timeout) {
		(void)sd_event_source_set_time(c->timeout, now + VHSMD_CONNECTION_IDLE_USEC);
		(void)sd_event_source_set_enabled(c->timeout, SD_EVENT_ONESHOT);
	} else {
		(void)sd_event_add_time(c->m->event, &c->timeout, CLOCK_MONOTONIC,
					now + VHSMD_CONNECTION_IDLE_USEC, 0, conn_timeout_handler, c);
	}
}

/* Whether a new connection of peer p fits the global, reserved-slot and per-principal limits:
 * 0, or -EAGAIN with the limit named in why. */
static int conn_admissible(struct manager *m, const struct peer *p, char *why, size_t whylen)
{
	struct principal who[2];
	unsigned n = limits_principals(p, who);
	char name[32];

	if (m->n_connections >= VHSMD_MAX_CONNECTIONS) {
		snprintf(why, whylen, "all %u connections are in use; try again",
			 VHSMD_MAX_CONNECTIONS);
		return -EAGAIN;
	}
	if (p->admin)
		return 0;
	if (m->n_unprivileged >= VHSMD_MAX_CONNECTIONS - VHSMD_ADMIN_RESERVED) {
		snprintf(why, whylen, "all %u connections of non-administrators are in use; try again",
			 VHSMD_MAX_CONNECTIONS - VHSMD_ADMIN_RESERVED);
		return -EAGAIN;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned same = 0;
		for (struct conn *c = m->conns; c; c = c->next)
			if (limits_charged_to(&c->peer, &who[i]))
				same++;
		if (same >= VHSMD_MAX_CONNECTIONS_PER_UID) {
			principal_format(&who[i], name, sizeof(name));
			snprintf(why, whylen, "%s holds %u connections, the limit per user; try again",
				 name, same);
			return -EAGAIN;
		}
	}
	return 0;
}

/* The login uid of the peer of fd (pid from SO_PEERCRED) into p: the principal of limits.h. */
static int peer_identify_login(int fd, struct peer *p)
{
	_cleanup_close_ int pidfd = -EBADF;
	socklen_t len = sizeof(int);
	int r;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0 || len != sizeof(int))
		pidfd = -EBADF;
	r = limits_read_loginuid(p->pid, pidfd, &p->loginuid);
	if (r < 0)
		return r;
	p->has_loginuid = r > 0;
	return 0;
}

static int peer_identify(struct manager *m, int fd, struct peer *ret)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	struct peer p = {};

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc))
		return negative_errno();
	p.pid = uc.pid;
	p.uid = uc.uid;
	p.gid = uc.gid;
	/* The unit name is advisory for ACLs naming units: taken from the peer's cgroup
	 * (peer-unit.h: sd_pid_get_unit()'s answer with one read of /proc/PID/cgroup). */
	if (peer_unit_get(p.pid, p.unit, sizeof(p.unit)) < 0)
		p.unit[0] = '\0';
	/* Supplementary groups as the kernel recorded them at connect time (no /proc race). */
	socklen_t glen = 0;
	_cleanup_free_ gid_t *groups = NULL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &glen) < 0 && errno == ERANGE &&
	    glen > 0 && glen <= 65536 * sizeof(gid_t)) {
		groups = malloc(glen);
		if (groups && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0)
			glen = 0;
	} else {
		glen = 0;
	}
	p.admin = p.uid == 0 || (m->admin_gid != (gid_t)-1 && p.gid == m->admin_gid);
	for (size_t i = 0; groups && i < glen / sizeof(gid_t); i++) {
		if (m->admin_gid != (gid_t)-1 && groups[i] == m->admin_gid)
			p.admin = true;
		/* ACLs see the first groups only; a peer in more groups is matched on those. */
		if (p.n_groups < ELEMENTSOF(p.groups))
			p.groups[p.n_groups++] = groups[i];
	}
	if (!p.admin) {
		int r = peer_identify_login(fd, &p);
		if (r < 0)
			return r;
	}
	*ret = p;
	return 0;
}

static int conn_handler(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = userdata;
	struct manager *m = c->m;
	ssize_t n;
	int r;

	(void)s;
	if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLIN)) {
		conn_free(c);
		return 0;
	}
	/* Requests may carry secrets (keys to wrap): the buffers are secure memory, allocated once
	 * and wiped after every request over the length used. One byte more than the limit tells
	 * an oversized datagram apart (MSG_TRUNC reports the real size). */
	n = recv(fd, m->rx, VHSM_WIRE_MAX_MESSAGE + 1, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_free(c);
		return 0;
	}
	if (n == 0) {
		conn_free(c);
		return 0;
	}
	m->n_requests++;
	r = ops_dispatch(m, &c->peer, m->rx, (size_t)n, m->tx, VHSM_WIRE_MAX_MESSAGE);
	manager_status_attest(m);
	explicit_bzero(m->rx, (size_t)n > VHSM_WIRE_MAX_MESSAGE + 1 ? VHSM_WIRE_MAX_MESSAGE + 1
								      : (size_t)n);
	if (r > 0 && send(fd, m->tx, (size_t)r, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		vhsm_log_debug("reply to pid %d failed: %m", (int)c->peer.pid);
	if (r > 0)
		explicit_bzero(m->tx, (size_t)r);
	if (r < 0) {
		/* Could not even build an error reply: drop the connection. */
		explicit_bzero(m->tx, VHSM_WIRE_MAX_MESSAGE);
		conn_free(c);
		return 0;
	}
	conn_touch(c);
	(void)manager_arm_idle(m);
	return 0;
}

/* Tells a connection over a limit why, in one reply (request id 0, status err) before it is
 * closed: the client retries later. Nothing was read from it, so nothing was acted on. */
static void conn_decline(struct manager *m, int fd, const struct peer *p, int err, const char *why)
{
	int n = ops_reply_declined(m->tx, VHSM_WIRE_MAX_MESSAGE, err, why);

	vhsm_log_debug("declining a connection of uid %u (pid %d): %s", (unsigned)p->uid,
		       (int)p->pid, why);
	if (n > 0 && send(fd, m->tx, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		vhsm_log_debug("decline reply to pid %d failed: %m", (int)p->pid);
	if (n > 0)
		explicit_bzero(m->tx, (size_t)n);
	/* Closing with the request unread would make the client's next recv() fail with
	 * ECONNRESET before it sees the reply. After the shutdown no request can arrive (the
	 * client's send fails with EPIPE); one already queued is discarded unread. */
	(void)shutdown(fd, SHUT_RDWR);
	for (int i = 0; i < 4 && recv(fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC) > 0; i++)
		;
}

static int accept_handler(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	_cleanup_close_ int cfd = -EBADF;
	struct conn *c;
	struct peer p;
	char why[160];
	int r;

	(void)s;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return 0;
	r = peer_identify(m, cfd, &p);
	if (r < 0) {
		vhsm_log_debug("cannot identify the peer of a connection: %s", strerror(-r));
		return 0;
	}
	r = conn_admissible(m, &p, why, sizeof(why));
	if (r < 0) {
		conn_decline(m, cfd, &p, r, why);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return 0;
	c->m = m;
	c->fd = -EBADF;
	c->peer = p;
	r = sd_event_add_io(m->event, &c->source, cfd, EPOLLIN, conn_handler, c);
	if (r < 0) {
		free(c);
		return 0;
	}
	c->fd = TAKE_FD(cfd);
	c->next = m->conns;
	if (m->conns)
		m->conns->prev = c;
	m->conns = c;
	m->n_connections++;
	if (!p.admin)
		m->n_unprivileged++;
	conn_touch(c);
	if (m->idle_source)
		(void)sd_event_source_set_enabled(m->idle_source, SD_EVENT_OFF);
	return 0;
}

/* Binds the socket ourselves (development mode: --socket without socket activation). */
static int manager_bind(struct manager *m, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;
	mode_t old;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	(void)unlink(path);
	/* World-connectable like the unit's SocketMode=0666: authorization is per request. */
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();
		umask(old);
		return r;
	}
	umask(old);
	if (listen(fd, SOMAXCONN) < 0)
		return negative_errno();
	m->socket_path = strdup(path);
	if (!m->socket_path)
		return -ENOMEM;
	m->listen_fd = TAKE_FD(fd);
	return 0;
}

/* The crypttab key socket, bound ourselves (development and tests): root only. */
static int manager_bind_key_socket(struct manager *m, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -EBADF;
	mode_t old;
	int r = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	(void)unlink(path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = negative_errno();
	umask(old);
	if (r < 0)
		return r;
	if (listen(fd, SOMAXCONN) < 0)
		return negative_errno();
	m->luks_key_path = strdup(path);
	if (!m->luks_key_path)
		return -ENOMEM;
	m->luks_key_fd = TAKE_FD(fd);
	return 0;
}

static int manager_listen(struct manager *m, const char *socket_arg, const char *key_socket_arg)
{
	int n = sd_listen_fds(true);

	if (n < 0) {
		log_msg(LOG_ERR, "cannot take the sockets passed by the service manager: %s",
			strerror(-n));
		return n;
	}
	if (n > 2) {
		log_msg(LOG_ERR, "%d sockets passed by the service manager; at most 2 (requests, "
			"crypttab keys)", n);
		return -E2BIG;
	}
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		if (m->listen_fd < 0 && sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) > 0)
			m->listen_fd = fd;
		else if (m->luks_key_fd < 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
			m->luks_key_fd = fd;
		else {
			log_msg(LOG_ERR, "passed fd %d is neither a listening SOCK_SEQPACKET nor a "
				"SOCK_STREAM unix socket", fd);
			return -ENOTSOCK;
		}
	}
	if (m->luks_key_fd < 0 && key_socket_arg) {
		int r = manager_bind_key_socket(m, key_socket_arg);
		if (r < 0) {
			log_msg(LOG_ERR, "cannot listen on %s: %s", key_socket_arg, strerror(-r));
			return r;
		}
	}
	if (m->listen_fd >= 0)
		return 0;
	const char *path = socket_arg ? socket_arg : VHSMD_DEFAULT_SOCKET;
	int r = manager_bind(m, path);
	if (r < 0)
		log_msg(LOG_ERR, "cannot listen on %s: %s", path, strerror(-r));
	return r;
}

static int key_accept_handler(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	int r;

	(void)s;
	(void)revents;
	r = luks_keysock_accept(userdata, fd);
	manager_status_attest(userdata);
	return r;
}

/* SIGHUP (systemctl reload vhsmd): read the policy file again and attest under it. */
static int reload_handler(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;

	(void)s;
	(void)si;
	sd_notify(false, "RELOADING=1");
	if (policy_file_load(m) >= 0) {
		(void)attest_now(m);
		manager_status_attest(m);
	} else {
		manager_status("policy file invalid: %s", m->policy_error);
	}
	sd_notify(false, "READY=1");
	return 0;
}

static int manager_event_setup(struct manager *m)
{
	sigset_t ss;
	int r;

	/* A loop of our own, not the thread's default one: sd-event checks a default loop's
	 * thread with a gettid(2) at every iteration, a system call per request. */
	r = sd_event_new(&m->event);
	if (r < 0)
		return r;
	r = sd_event_set_signal_exit(m->event, true);
	if (r < 0)
		return r;
	r = sd_event_set_watchdog(m->event, true);
	if (r < 0)
		return r;
	/* sd-event (252) delivers a signal only while it is blocked. */
	if (sigemptyset(&ss) < 0 || sigaddset(&ss, SIGHUP) < 0 ||
	    sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return negative_errno();
	return sd_event_add_signal(m->event, NULL, SIGHUP, reload_handler, m);
}

int manager_start(struct manager *m, const char *socket_arg, const char *key_socket_arg)
{
	int r;

	m->rx = secmem_alloc(VHSM_WIRE_MAX_MESSAGE + 1);
	m->tx = secmem_alloc(VHSM_WIRE_MAX_MESSAGE);
	m->batch = secmem_alloc(VHSM_WIRE_MAX_DATA);
	if (!m->rx || !m->tx || !m->batch) {
		log_msg(LOG_ERR, "cannot allocate locked memory for request buffers (RLIMIT_MEMLOCK?)");
		return -ENOMEM;
	}
	r = manager_event_setup(m);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	r = manager_listen(m, socket_arg, key_socket_arg);
	if (r < 0)
		return r;
	policy_file_watch(m);
	r = sd_event_add_io(m->event, NULL, m->listen_fd, EPOLLIN, accept_handler, m);
	if (r >= 0 && m->luks_key_fd >= 0)
		r = sd_event_add_io(m->event, NULL, m->luks_key_fd, EPOLLIN, key_accept_handler, m);
	if (r >= 0)
		r = manager_arm_idle(m);
	if (r < 0)
		log_msg(LOG_ERR, "cannot watch the listening sockets: %s", strerror(-r));
	return r;
}
