/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LUKS_UNLOCK from inside libcryptsetup's caller. systemd-cryptsetup calls the token once and
 * falls back to a password on anything but success, so the wait for a daemon that is not up
 * yet happens here, bounded (VHSM_TOKEN_TIMEOUT).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"
#include "secmem.h"
#include "token-client.h"
#include "wire.h"

/* Requests and replies of LUKS_UNLOCK are small: page-sized buffers keep the plugin's locked
 * memory well inside an unprivileged caller's RLIMIT_MEMLOCK. A longer reply is refused (its
 * real length shows through MSG_TRUNC). */
#define TOKEN_MSG_MAX 8192u

static uint64_t now_msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int token_config_load(struct token_config *ret, char *why, size_t whylen)
{
	const char *s = getenv("VHSM_TOKEN_SOCKET"), *w = getenv("VHSM_TOKEN_TIMEOUT");
	char *e;

	snprintf(ret->socket, sizeof(ret->socket), "%s", TOKEN_DEFAULT_SOCKET);
	ret->wait_sec = TOKEN_DEFAULT_WAIT_SEC;
	why[0] = '\0';
	if (s && s[0] == '/' && strlen(s) < sizeof(ret->socket))
		snprintf(ret->socket, sizeof(ret->socket), "%s", s);
	else if (s)
		snprintf(why, whylen, "ignoring invalid VHSM_TOKEN_SOCKET");
	if (w) {
		errno = 0;
		unsigned long v = strtoul(w, &e, 10);
		if (errno || e == w || *e || v > TOKEN_MAX_WAIT_SEC)
			snprintf(why, whylen, "ignoring invalid VHSM_TOKEN_TIMEOUT (0..%u)",
				 TOKEN_MAX_WAIT_SEC);
		else
			ret->wait_sec = (unsigned)v;
	}
	return 0;
}

/* Connects, retrying while the socket is missing or refusing, until the deadline. */
static int connect_wait(const struct token_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_msec() + (uint64_t)cfg->wait_sec * 1000u;

	memcpy(sa.sun_path, cfg->socket, strlen(cfg->socket));
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		r = -errno;
		close(fd);
		if (r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN)
			return r;
		if (now_msec() >= deadline)
			return -EAGAIN;
		(void)poll(NULL, 0, 250);
	}
}

static int build_request(const struct luks_token *t, const char *uuid, uint8_t *buf)
{
	struct vhsm_wire_builder b;

	vhsm_wire_begin(&b, buf, TOKEN_MSG_MAX, VHSM_OP_LUKS_UNLOCK, (uint32_t)getpid());
	vhsm_wire_add_data(&b, VHSM_TAG_SEALED_KEK, t->sealed_kek, t->sealed_kek_len);
	vhsm_wire_add_data(&b, VHSM_TAG_WRAPPED_SECRET, t->wrapped_secret, t->wrapped_secret_len);
	vhsm_wire_add_str(&b, VHSM_TAG_UUID, uuid);
	return vhsm_wire_finish(&b);
}

/* Reads the reply into the passphrase; rx is secmem of TOKEN_MSG_MAX bytes. */
static int read_reply(int fd, uint8_t *rx, char **ret_pass, char *why, size_t whylen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct vhsm_wire_msg msg;
	const struct vhsm_wire_field *f;
	int32_t err = 0;
	ssize_t n;
	char *pass;

	if (poll(&pfd, 1, TOKEN_REPLY_TIMEOUT_MS) <= 0)
		return -EAGAIN;
	n = recv(fd, rx, TOKEN_MSG_MAX, MSG_TRUNC);
	if (n <= 0 || (size_t)n > TOKEN_MSG_MAX || vhsm_wire_decode(rx, (size_t)n, &msg) < 0 ||
	    msg.op != (VHSM_OP_LUKS_UNLOCK | VHSM_OP_REPLY_FLAG) ||
	    vhsm_wire_get_i32(&msg, VHSM_TAG_ERRNO, &err) < 0 || err < 0)
		return -EPROTO;
	if (err > 0) {
		if (vhsm_wire_get_str(&msg, VHSM_TAG_MESSAGE, why, whylen) < 0)
			snprintf(why, whylen, "%s", strerror(err));
		return -err;
	}
	f = vhsm_wire_get(&msg, VHSM_TAG_DATA);
	if (!f || f->len != LUKS_SECRET_SIZE)
		return -EPROTO;
	pass = secmem_alloc(LUKS_PASSPHRASE_LEN + 1);
	if (!pass)
		return -ENOMEM;
	ct_base64_encode(pass, f->value, LUKS_SECRET_SIZE);
	*ret_pass = pass;
	return 0;
}

int token_unlock(const struct token_config *cfg, const struct luks_token *t, const char *uuid,
		 char **ret_pass, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *tx = NULL, *rx = NULL;
	int fd, len, r;

	tx = secmem_alloc(TOKEN_MSG_MAX);
	rx = secmem_alloc(TOKEN_MSG_MAX);
	if (!tx || !rx)
		return -ENOMEM;
	len = build_request(t, uuid, tx);
	if (len < 0)
		return len;
	fd = connect_wait(cfg);
	if (fd < 0) {
		snprintf(why, whylen, "vhsmd not reachable at %s: %s", cfg->socket, strerror(-fd));
		return fd == -EAGAIN ? -EAGAIN : fd;
	}
	if (send(fd, tx, (size_t)len, MSG_NOSIGNAL) != len)
		r = -errno;
	else
		r = read_reply(fd, rx, ret_pass, why, whylen);
	close(fd);
	return r;
}
