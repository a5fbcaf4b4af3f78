/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one wire client: SOCK_SEQPACKET to vhsmd, one request datagram, one reply datagram,
 * under one deadline (lib/client.h). The socket is non-blocking so that no step (connect on a
 * full backlog, send on a full queue, the reply) can wait past the deadline.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wire-client.h"
#include "secmem.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t vhsm_client_deadline(unsigned timeout_ms)
{
	return now_ms() + timeout_ms;
}

/* Milliseconds left until the deadline, as poll() takes them (0 when passed). */
static int ms_left(uint64_t deadline)
{
	uint64_t now = now_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

/* Seconds of a timeout as messages print them, rounded up. */
static unsigned secs(uint64_t ms)
{
	return (unsigned)((ms + 999u) / 1000u);
}

const char *vhsm_client_socket_default(void)
{
	const char *s = getenv(VHSM_CLIENT_SOCKET_ENV);

	return s && s[0] ? s : VHSM_CLIENT_DEFAULT_SOCKET;
}

int vhsm_client_new(const char *path, size_t cap, unsigned flags, struct vhsm_client **ret)
{
	struct vhsm_client *c;

	if (!path || !path[0] || cap > VHSM_WIRE_MAX_MESSAGE ||
	    (cap && cap < VHSM_WIRE_HEADER_SIZE))
		return -EINVAL;
	if (strlen(path) >= sizeof(c->path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -EBADF;
	c->flags = flags;
	c->cap = cap ? cap : VHSM_WIRE_MAX_MESSAGE;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->req = secmem_alloc(c->cap);
	c->rep = secmem_alloc(c->cap);
	if (!c->req || !c->rep) {
		vhsm_client_free(c);
		return -ENOMEM;
	}
	/* Any non-zero start: id 0 is what a connection declined at accept is answered with. */
	c->next_id = ((uint32_t)getpid() << 8) | 1u;
	*ret = c;
	return 0;
}

void vhsm_client_disconnect(struct vhsm_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -EBADF;
}

struct vhsm_client *vhsm_client_free(struct vhsm_client *c)
{
	if (!c)
		return NULL;
	vhsm_client_disconnect(c);
	c->req = secmem_free(c->req);
	c->rep = secmem_free(c->rep);
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

static bool connect_retryable(const struct vhsm_client *c, int r)
{
	if (r == -EAGAIN || r == -EINTR)
		return true;
	return (c->flags & VHSM_CLIENT_WAIT_FOR_SOCKET) && (r == -ENOENT || r == -ECONNREFUSED);
}

int vhsm_client_connect(struct vhsm_client *c, uint64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (c->fd >= 0)
		return 0;
	memcpy(sa.sun_path, c->path, strlen(c->path));
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

		if (fd < 0) {
			r = negative_errno();
			snprintf(c->error, sizeof(c->error), "cannot create a socket: %s",
				 strerror(-r));
			return r;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			c->fd = fd;
			return 0;
		}
		r = negative_errno();
		close(fd);
		snprintf(c->error, sizeof(c->error), "cannot connect to vhsmd at %s: %s", c->path,
			 strerror(-r));
		if (!connect_retryable(c, r))
			return r;
		int left = ms_left(deadline);
		if (left == 0)
			return r;
		(void)poll(NULL, 0, left < (int)VHSM_CLIENT_CONNECT_RETRY_MS ? left
									: (int)VHSM_CLIENT_CONNECT_RETRY_MS);
	}
}

struct vhsm_wire_builder *vhsm_client_begin(struct vhsm_client *c, uint16_t op)
{
	vhsm_wire_begin(&c->b, c->req, c->cap, op, c->next_id++);
	if (c->next_id == 0)
		c->next_id = 1;
	return &c->b;
}

int vhsm_client_call(struct vhsm_client *c, uint64_t deadline)
{
	int len = vhsm_wire_finish(&c->b);

	if (len < 0) {
		snprintf(c->error, sizeof(c->error), "%s",
			 len == -EINVAL ? "invalid request field" : "request too large");
		return len == -EINVAL ? -EINVAL : -EMSGSIZE;
	}
	return vhsm_client_request(c, c->req, (size_t)len, deadline);
}

/* Waits for events on the connection until the deadline: 0, or -ETIMEDOUT. */
static int wait_fd(struct vhsm_client *c, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = events };
		int r = poll(&pfd, 1, ms_left(deadline));

		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return negative_errno();
	}
}

/* Receives one datagram into c->rep without waiting. Length, -EAGAIN (none yet), -EPROTO
 * (closed), -EMSGSIZE (truncated: MSG_TRUNC gives the real length) or another -errno. */
static ssize_t recv_reply(struct vhsm_client *c)
{
	ssize_t n = recv(c->fd, c->rep, c->cap, MSG_TRUNC | MSG_DONTWAIT);

	/* A peer that closed without reading our request (a connection declined at accept)
	 * leaves ECONNRESET pending, reported before its queued answer: take that next. */
	if (n < 0 && errno == ECONNRESET)
		n = recv(c->fd, c->rep, c->cap, MSG_TRUNC | MSG_DONTWAIT);
	if (n < 0) {
		int r = negative_errno();
		if (r == -EAGAIN || r == -EINTR)
			return -EAGAIN;
		snprintf(c->error, sizeof(c->error), "receiving from vhsmd failed: %s",
			 strerror(-r));
		return r;
	}
	if (n == 0) {
		snprintf(c->error, sizeof(c->error),
			 "vhsmd closed the connection without a valid reply");
		return -EPROTO;
	}
	if ((size_t)n > c->cap) {
		snprintf(c->error, sizeof(c->error),
			 "reply from vhsmd truncated: %zd bytes, this client takes at most %zu", n,
			 c->cap);
		return -EMSGSIZE;
	}
	c->rep_len = (size_t)n;
	return n;
}

/* Sends on a connected socket within the deadline: 0 or -errno (c->error set). */
static int send_request(struct vhsm_client *c, const uint8_t *req, size_t len, uint64_t deadline)
{
	for (;;) {
		ssize_t n = send(c->fd, req, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int r;

		if (n == (ssize_t)len)
			return 0;
		r = n < 0 ? negative_errno() : -EIO;
		if (r == -EAGAIN || r == -EINTR) {
			r = wait_fd(c, POLLOUT, deadline);
			if (r == 0)
				continue;
			if (r == -ETIMEDOUT) {
				snprintf(c->error, sizeof(c->error),
					 "vhsmd did not take the request before the deadline");
				return r;
			}
		}
		snprintf(c->error, sizeof(c->error), "sending to vhsmd failed: %s", strerror(-r));
		return r;
	}
}

ssize_t vhsm_client_exchange(struct vhsm_client *c, const uint8_t *req, size_t len,
			     uint64_t deadline)
{
	uint64_t start = now_ms();
	bool kept = c->fd >= 0;
	ssize_t n;
	int r;

	c->error[0] = '\0';
	c->rep_len = 0;
	for (;;) {
		r = vhsm_client_connect(c, deadline);
		if (r < 0)
			return r;
		r = send_request(c, req, len, deadline);
		if (r == 0)
			break;
		/* A daemon that declined this connection at accept may have answered and closed
		 * before the request went out: its answer is still queued. */
		if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
			n = recv_reply(c);
			if (n > 0)
				return n;
			/* A kept connection the daemon closed (idle exit): nothing was sent, so
			 * one new connection is safe. */
			if (kept) {
				kept = false;
				vhsm_client_disconnect(c);
				continue;
			}
			snprintf(c->error, sizeof(c->error), "sending to vhsmd failed: %s",
				 strerror(-r));
		}
		vhsm_client_disconnect(c);
		return r;
	}
	for (;;) {
		r = wait_fd(c, POLLIN, deadline);
		if (r == -ETIMEDOUT) {
			snprintf(c->error, sizeof(c->error), "no reply from vhsmd within %u s",
				 secs(deadline > start ? deadline - start : 0));
			n = r;
			break;
		}
		if (r < 0) {
			snprintf(c->error, sizeof(c->error), "waiting for vhsmd failed: %s",
				 strerror(-r));
			n = r;
			break;
		}
		n = recv_reply(c);
		if (n != -EAGAIN)
			break;
	}
	if (n < 0)
		vhsm_client_disconnect(c); /* a late reply must never answer the next request */
	return n;
}

/* Decodes c->rep as the reply to the request (op, id): 0 or -EPROTO (c->error set). */
static int decode_reply(struct vhsm_client *c, uint16_t op, uint32_t id)
{
	int32_t e = 0;

	if (vhsm_wire_decode(c->rep, c->rep_len, &c->msg) < 0 ||
	    !(c->msg.op & VHSM_OP_REPLY_FLAG)) {
		snprintf(c->error, sizeof(c->error), "malformed reply from vhsmd");
		return -EPROTO;
	}
	if (vhsm_wire_get_i32(&c->msg, VHSM_TAG_ERRNO, &e) < 0 || e < 0) {
		snprintf(c->error, sizeof(c->error), "reply from vhsmd lacks a status");
		return -EPROTO;
	}
	/* The one reply with another id: a connection declined at accept (id 0, busy). */
	uint32_t busy = 0;
	bool marked = e == EAGAIN && vhsm_wire_get_u32(&c->msg, VHSM_TAG_BUSY, &busy) == 0 &&
		      busy == 1;
	bool declined = c->msg.id == 0 && marked;
	if (!declined && (c->msg.id != id || (c->msg.op != (op | VHSM_OP_REPLY_FLAG) &&
					      c->msg.op != VHSM_OP_REPLY_FLAG))) {
		snprintf(c->error, sizeof(c->error), "reply from vhsmd does not match the request");
		return -EPROTO;
	}
	c->status = -e;
	c->declined_busy = marked;
	c->message[0] = '\0';
	(void)vhsm_wire_get_str(&c->msg, VHSM_TAG_MESSAGE, c->message, sizeof(c->message));
	return 0;
}

/* The next pause after a busy reply: a random point in the upper half of *backoff, which then
 * doubles up to VHSM_CLIENT_BUSY_MAX_MS. */
static unsigned busy_pause(unsigned *backoff)
{
	unsigned rnd = 0, b = *backoff;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned)now_ms() * 2654435761u;
	*backoff = b * 2 > VHSM_CLIENT_BUSY_MAX_MS ? VHSM_CLIENT_BUSY_MAX_MS : b * 2;
	return b / 2 + rnd % (b / 2 + 1);
}

int vhsm_client_request(struct vhsm_client *c, const uint8_t *req, size_t len, uint64_t deadline)
{
	uint64_t start = now_ms();
	unsigned backoff = VHSM_CLIENT_BUSY_FIRST_MS;
	uint16_t op;
	uint32_t id;

	c->status = 0;
	c->message[0] = '\0';
	c->busy = 0;
	c->declined_busy = false;
	memset(&c->msg, 0, sizeof(c->msg));
	if (!req || len < VHSM_WIRE_HEADER_SIZE || len > VHSM_WIRE_MAX_MESSAGE) {
		snprintf(c->error, sizeof(c->error), "request too large");
		return len > VHSM_WIRE_MAX_MESSAGE ? -EMSGSIZE : -EINVAL;
	}
	op = (uint16_t)(req[6] | req[7] << 8);
	id = le32_get(req + 8);
	for (;;) {
		ssize_t n = vhsm_client_exchange(c, req, len, deadline);
		int r;

		if (n < 0)
			return (int)n;
		r = decode_reply(c, op, id);
		if (r < 0) {
			vhsm_client_disconnect(c);
			return r;
		}
		/* Only a reply marked busy was not acted on: any other answer, EAGAIN included,
		 * may mean the request was carried out. */
		if (!c->declined_busy)
			return 0;
		/* Busy: vhsmd did not act on the request. A declined connection is closed. */
		c->busy++;
		if (c->msg.id == 0)
			vhsm_client_disconnect(c);
		unsigned pause = busy_pause(&backoff);
		if ((uint64_t)ms_left(deadline) <= pause) {
			size_t l = strlen(c->message);
			snprintf(c->message + l, sizeof(c->message) - l,
				 "%svhsmd still busy after %u attempts in %u s", l ? "; " : "",
				 c->busy, secs(now_ms() - start));
			return 0;
		}
		(void)poll(NULL, 0, (int)pause);
	}
}
