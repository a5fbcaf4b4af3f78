/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/wire-client against real SOCK_SEQPACKET servers forked by the test: busy replies retried
 * (at accept and per request) until OK or the deadline, other errors never retried, truncated,
 * mismatched and missing replies, a socket that appears late, a kept connection (also one the
 * server closed meanwhile), and $VHSM_SOCKET.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "wire-client.h"
#include "wire.h"

#define LIMIT_MSG "per-uid connection limit (4) reached"

struct srv {
	pid_t pid;
	char path[108];
	int ready[2]; /* the server writes one byte when a scripted point is reached */
};

/* What each forked server does: connection and request counts, and the answers. */
enum script {
	BUSY_AT_ACCEPT_THEN_OK, /* two connections declined at accept (id 0), the third answered */
	BUSY_REQUEST_THEN_OK,   /* one request declined (its id), the next answered */
	BUSY_FOREVER,           /* every connection declined */
	EAGAIN_UNMARKED,        /* EAGAIN without the busy marker, once: not a decline */
	OTHER_ERROR,            /* EPERM, once */
	TRUNCATED,              /* a reply longer than the client's buffer */
	WRONG_ID,               /* a reply to another request */
	SILENT,                 /* reads the request, never answers */
	KEPT,                   /* two requests on one connection */
	CLOSED_BETWEEN,         /* answers on a connection, closes it, then answers on a new one */
};

static uint8_t srv_buf[VHSM_WIRE_MAX_MESSAGE];

/* A reply; EAGAIN carries the busy marker (a limit's decline) unless err is -EAGAIN. */
static void srv_send(int fd, uint16_t op, uint32_t id, int err, const char *msg, size_t data)
{
	static uint8_t out[VHSM_WIRE_MAX_MESSAGE];
	static uint8_t zero[VHSM_WIRE_MAX_DATA];
	struct vhsm_wire_builder b;
	int len;

	vhsm_wire_begin(&b, out, sizeof(out), (uint16_t)(op | VHSM_OP_REPLY_FLAG), id);
	vhsm_wire_add_i32(&b, VHSM_TAG_ERRNO, err < 0 ? -err : err);
	if (err == EAGAIN)
		vhsm_wire_add_u32(&b, VHSM_TAG_BUSY, 1);
	if (msg)
		vhsm_wire_add_str(&b, VHSM_TAG_MESSAGE, msg);
	if (data)
		vhsm_wire_add_data(&b, VHSM_TAG_DATA, zero, data);
	len = vhsm_wire_finish(&b);
	if (len < 0 || send(fd, out, (size_t)len, MSG_NOSIGNAL) != len)
		_exit(10);
}

/* Reads one request: its op and id. Exits the server on anything else. */
static void srv_read(int fd, uint16_t *op, uint32_t *id)
{
	struct vhsm_wire_msg m;
	ssize_t n = recv(fd, srv_buf, sizeof(srv_buf), 0);

	if (n <= 0 || vhsm_wire_decode(srv_buf, (size_t)n, &m) < 0 || (m.op & VHSM_OP_REPLY_FLAG))
		_exit(11);
	*op = m.op;
	*id = m.id;
}

static int srv_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		_exit(12);
	return fd;
}

static void srv_signal(struct srv *s)
{
	if (write(s->ready[1], "x", 1) != 1)
		_exit(13);
}

/* The server process: runs the script, exits 0 when it went as scripted. */
static void srv_run(struct srv *s, int lfd, enum script sc)
{
	uint16_t op;
	uint32_t id;
	int fd;

	switch (sc) {
	case BUSY_AT_ACCEPT_THEN_OK:
		for (int i = 0; i < 2; i++) {
			fd = srv_accept(lfd);
			srv_send(fd, 0, 0, EAGAIN, LIMIT_MSG, 0);
			close(fd);
		}
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, 0, NULL, 32);
		close(fd);
		break;
	case BUSY_REQUEST_THEN_OK:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, EAGAIN, "per-uid request limit reached", 0);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, 0, NULL, 32);
		close(fd);
		break;
	case BUSY_FOREVER:
		for (;;) {
			fd = srv_accept(lfd);
			srv_signal(s); /* one byte per connection, before the client can see it */
			srv_send(fd, 0, 0, EAGAIN, LIMIT_MSG, 0);
			close(fd);
		}
	case EAGAIN_UNMARKED:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, -EAGAIN, "resource temporarily unavailable", 0);
		if (recv(fd, srv_buf, sizeof(srv_buf), 0) > 0)
			_exit(21); /* retried: an EAGAIN that may have been acted on */
		close(fd);
		break;
	case OTHER_ERROR:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, EPERM, "unwrap requires root", 0);
		/* A retry on this connection would be a second request. */
		if (recv(fd, srv_buf, sizeof(srv_buf), 0) > 0)
			_exit(20);
		close(fd);
		break;
	case TRUNCATED:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, 0, NULL, 6000);
		close(fd);
		break;
	case WRONG_ID:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id + 1, 0, NULL, 32);
		close(fd);
		break;
	case SILENT:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		(void)recv(fd, srv_buf, sizeof(srv_buf), 0); /* until the client gives up */
		close(fd);
		break;
	case KEPT:
		fd = srv_accept(lfd);
		for (int i = 0; i < 2; i++) {
			srv_read(fd, &op, &id);
			srv_send(fd, op, id, 0, NULL, 32);
		}
		close(fd);
		break;
	case CLOSED_BETWEEN:
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, 0, NULL, 32);
		close(fd);
		srv_signal(s);
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, 0, NULL, 32);
		close(fd);
		break;
	}
	_exit(0);
}

/* Binds and listens at a fresh path, then forks the server. */
static int srv_start(struct srv *s, enum script sc)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd;

	snprintf(s->path, sizeof(s->path), "%s/s.sock", test_tmpdir());
	memcpy(sa.sun_path, s->path, strlen(s->path));
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 8) < 0 ||
	    pipe(s->ready) < 0)
		return -errno;
	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		/* Never outlives the runner, also when an assertion left it waiting. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(300);
		close(s->ready[0]);
		srv_run(s, lfd, sc);
	}
	close(lfd);
	close(s->ready[1]);
	return 0;
}

/* Waits for the server's exit; its status (0: the script went as planned). Kills it first
 * when kill is set (servers that loop). */
static int srv_stop(struct srv *s, bool kill_it)
{
	int st = 0;

	if (kill_it)
		kill(s->pid, SIGKILL);
	if (waitpid(s->pid, &st, 0) != s->pid)
		return -1;
	close(s->ready[0]);
	if (kill_it)
		return WIFSIGNALED(st) ? 0 : -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Bytes the server signalled so far, without waiting for more. */
static unsigned srv_signals(struct srv *s)
{
	char buf[64];
	unsigned total = 0;
	ssize_t n;

	if (fcntl(s->ready[0], F_SETFL, O_NONBLOCK) < 0)
		return UINT32_MAX;
	while ((n = read(s->ready[0], buf, sizeof(buf))) > 0)
		total += (unsigned)n;
	return total;
}

static int call_unwrap(struct vhsm_client *c, unsigned timeout_ms)
{
	struct vhsm_wire_builder *b = vhsm_client_begin(c, VHSM_OP_UNWRAP);

	vhsm_wire_add_data(b, VHSM_TAG_DATA, "blob", 4);
	return vhsm_client_call(c, vhsm_client_deadline(timeout_ms));
}

TEST(wire_client_busy_at_accept_then_ok)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, BUSY_AT_ACCEPT_THEN_OK));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->busy, 2);
	ASSERT_EQ(c->msg.op, VHSM_OP_UNWRAP | VHSM_OP_REPLY_FLAG);
	ASSERT_TRUE(vhsm_wire_get(&c->msg, VHSM_TAG_DATA) != NULL);
	ASSERT_EQ(vhsm_wire_get(&c->msg, VHSM_TAG_DATA)->len, 32);
	ASSERT_EQ(srv_stop(&s, false), 0);
}

TEST(wire_client_busy_request_then_ok)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, BUSY_REQUEST_THEN_OK));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->busy, 1);
	ASSERT_EQ(srv_stop(&s, false), 0); /* both requests came on the one connection */
}

TEST(wire_client_busy_forever_gives_up_naming_the_limit)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, BUSY_FOREVER));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	/* Returns at all (bounded by its deadline), with the daemon's busy answer. */
	ASSERT_EQ(call_unwrap(c, 1500), 0);
	ASSERT_EQ(c->status, -EAGAIN);
	ASSERT_GE(c->busy, 2);
	ASSERT_TRUE(strstr(c->message, LIMIT_MSG) != NULL);
	ASSERT_TRUE(strstr(c->message, "still busy after") != NULL);
	ASSERT_EQ(srv_signals(&s), c->busy); /* one connection per attempt, none after */
	ASSERT_EQ(srv_stop(&s, true), 0);
}

TEST(wire_client_other_error_not_retried)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, OTHER_ERROR));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, -EPERM);
	ASSERT_EQ(c->busy, 0);
	ASSERT_STREQ(c->message, "unwrap requires root");
	vhsm_client_disconnect(c);
	ASSERT_EQ(srv_stop(&s, false), 0); /* no second request arrived */
}

TEST(wire_client_eagain_without_busy_marker_not_retried)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, EAGAIN_UNMARKED));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, -EAGAIN);
	ASSERT_EQ(c->busy, 0);
	ASSERT_FALSE(c->declined_busy);
	vhsm_client_disconnect(c);
	ASSERT_EQ(srv_stop(&s, false), 0); /* no second request arrived */
}

TEST(wire_client_truncated_reply)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, TRUNCATED));
	ASSERT_OK(vhsm_client_new(s.path, 4096, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), -EMSGSIZE);
	ASSERT_TRUE(strstr(c->error, "truncated") != NULL);
	ASSERT_TRUE(strstr(c->error, "4096") != NULL);
	ASSERT_EQ(srv_stop(&s, false), 0);
}

TEST(wire_client_mismatched_reply)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, WRONG_ID));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), -EPROTO);
	ASSERT_STREQ(c->error, "reply from vhsmd does not match the request");
	ASSERT_EQ(srv_stop(&s, false), 0);
}

TEST(wire_client_no_reply_before_deadline)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, SILENT));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 300), -ETIMEDOUT);
	ASSERT_STREQ(c->error, "no reply from vhsmd within 1 s");
	ASSERT_EQ(c->fd, -EBADF); /* a late reply can never answer the next request */
	ASSERT_EQ(srv_stop(&s, false), 0);
}

TEST(wire_client_kept_connection)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;

	ASSERT_OK(srv_start(&s, KEPT));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, 0);
	uint32_t first = c->msg.id;
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(c->msg.id, first + 1);
	ASSERT_EQ(srv_stop(&s, false), 0); /* the server accepted once */
}

TEST(wire_client_kept_connection_closed_by_server)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct srv s;
	char x;

	ASSERT_OK(srv_start(&s, CLOSED_BETWEEN));
	ASSERT_OK(vhsm_client_new(s.path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(read(s.ready[0], &x, 1), 1); /* the server has closed the first connection */
	ASSERT_EQ(call_unwrap(c, 60000), 0);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(srv_stop(&s, false), 0);
}

TEST(wire_client_missing_socket)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL, *w = NULL;
	char path[108];

	snprintf(path, sizeof(path), "%s/none.sock", test_tmpdir());
	/* Without the wait flag: the real cause at once. */
	ASSERT_OK(vhsm_client_new(path, 0, 0, &c));
	ASSERT_EQ(call_unwrap(c, 60000), -ENOENT);
	ASSERT_TRUE(strstr(c->error, path) != NULL);
	ASSERT_TRUE(strstr(c->error, "No such file or directory") != NULL);
	/* With it: waits until the deadline, then still the real cause (not a timeout). */
	ASSERT_OK(vhsm_client_new(path, 0, VHSM_CLIENT_WAIT_FOR_SOCKET, &w));
	ASSERT_EQ(vhsm_client_connect(w, vhsm_client_deadline(600)), -ENOENT);
	ASSERT_EQ(call_unwrap(w, 300), -ENOENT);
}

TEST(wire_client_socket_appears_late)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint16_t op;
	uint32_t id;
	pid_t pid;
	int st;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/late.sock", test_tmpdir());
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(300);
		int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), fd;
		usleep(400 * 1000); /* after the client's first attempts */
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(lfd, 1) < 0)
			_exit(1);
		fd = srv_accept(lfd);
		srv_read(fd, &op, &id);
		srv_send(fd, op, id, 0, NULL, 32);
		_exit(0);
	}
	ASSERT_OK(vhsm_client_new(sa.sun_path, 0, VHSM_CLIENT_WAIT_FOR_SOCKET, &c));
	ASSERT_EQ(call_unwrap(c, 120000), 0);
	ASSERT_EQ(c->status, 0);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(wire_client_bad_arguments)
{
	struct vhsm_client *c = NULL;
	char longpath[200];

	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ASSERT_EQ(vhsm_client_new("", 0, 0, &c), -EINVAL);
	ASSERT_EQ(vhsm_client_new(longpath, 0, 0, &c), -ENAMETOOLONG);
	ASSERT_EQ(vhsm_client_new("/x", VHSM_WIRE_MAX_MESSAGE + 1, 0, &c), -EINVAL);
	ASSERT_TRUE(c == NULL);
	ASSERT_OK(vhsm_client_new("/nonexistent/x.sock", 0, 0, &c));
	/* An invalid name in the request: refused before anything is sent. */
	struct vhsm_wire_builder *b = vhsm_client_begin(c, VHSM_OP_KEK_SHOW);
	vhsm_wire_add_str(b, VHSM_TAG_NAME, "bad/name");
	ASSERT_EQ(vhsm_client_call(c, vhsm_client_deadline(1000)), -EINVAL);
	ASSERT_EQ(c->fd, -EBADF);
	c = vhsm_client_free(c);
}

TEST(wire_client_socket_env)
{
	const char *old = getenv(VHSM_CLIENT_SOCKET_ENV);
	char *saved = old ? strdup(old) : NULL;

	unsetenv(VHSM_CLIENT_SOCKET_ENV);
	ASSERT_STREQ(vhsm_client_socket_default(), VHSM_CLIENT_DEFAULT_SOCKET);
	setenv(VHSM_CLIENT_SOCKET_ENV, "", 1);
	ASSERT_STREQ(vhsm_client_socket_default(), VHSM_CLIENT_DEFAULT_SOCKET);
	setenv(VHSM_CLIENT_SOCKET_ENV, "/tmp/other.sock", 1);
	ASSERT_STREQ(vhsm_client_socket_default(), "/tmp/other.sock");
	if (saved)
		setenv(VHSM_CLIENT_SOCKET_ENV, saved, 1);
	else
		unsetenv(VHSM_CLIENT_SOCKET_ENV);
	free(saved);
}
