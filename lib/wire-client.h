/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one wire client of vhsmd (vhsmctl, the LUKS2 token plugin, vhsm-request-key, vhsm-bench,
 * and any later client): connect with a bounded wait, send, wait, receive with truncation
 * detection, decode with lib/wire, retry a busy daemon. Request and reply buffers live in
 * secure memory. Library code: no globals, no logging, no process-wide state (the token plugin
 * links it); a failure is an -errno plus a sentence in c->error.
 *
 * One timeout policy (docs/PROTOCOL.md "Clients"): every call has ONE deadline, an absolute
 * CLOCK_MONOTONIC time in milliseconds (vhsm_client_deadline()). Everything the call does
 * happens before it: waiting for the socket, connecting, sending, the busy retries and the
 * reply. Callers pass their own deadline or VHSM_CLIENT_TIMEOUT_MS from now.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "wire.h"

#define VHSM_CLIENT_DEFAULT_SOCKET "/run/vhsm/vhsmd.sock"
/* Environment variable naming the socket of every client; command-line options override it. */
#define VHSM_CLIENT_SOCKET_ENV "VHSM_SOCKET"

/* The default deadline of one call, from its start to the decoded reply. */
#define VHSM_CLIENT_TIMEOUT_MS 30000u
/* Pause between connection attempts while the socket is missing or refusing. */
#define VHSM_CLIENT_CONNECT_RETRY_MS 250u
/* Busy retries: the first pause, doubled after every busy reply up to the longest; each pause
 * is drawn at random from its upper half (jitter), and none ends past the deadline. */
#define VHSM_CLIENT_BUSY_FIRST_MS 50u
#define VHSM_CLIENT_BUSY_MAX_MS 2000u

enum {
	/*
	 * Also wait (until the deadline) while the socket does not exist or nobody listens on it,
	 * as during boot before vhsmd.socket is up. Without it those fail at once; a full listen
	 * backlog (EAGAIN: vhsmd is there but busy) is always waited for.
	 */
	VHSM_CLIENT_WAIT_FOR_SOCKET = 1u << 0,
};

struct vhsm_client {
	int fd; /* connected socket, or -EBADF */
	unsigned flags;
	char path[108];
	size_t cap;    /* size of req and rep */
	uint8_t *req;  /* secmem: the request vhsm_client_begin() builds */
	uint8_t *rep;  /* secmem: the last reply */
	size_t rep_len;
	uint32_t next_id;
	struct vhsm_wire_builder b;
	/* After vhsm_client_call() returned 0: */
	struct vhsm_wire_msg msg; /* the decoded reply; fields point into rep */
	int status;               /* the daemon's answer: 0 or -errno */
	char message[1024];       /* the daemon's message, "" when it sent none */
	unsigned busy;            /* busy replies the call retried */
	bool declined_busy;       /* the last reply was marked busy (VHSM_TAG_BUSY) */
	/* After a call returned -errno: why, as one sentence without the program's name. */
	char error[512];
};

/*
 * The socket path for a client that was given no --socket: $VHSM_SOCKET when set and not
 * empty, else VHSM_CLIENT_DEFAULT_SOCKET. The string is owned by the environment or static.
 */
const char *vhsm_client_socket_default(void);

/*
 * A client for the socket at path with request and reply buffers of cap bytes each
 * (0: VHSM_WIRE_MAX_MESSAGE; a reply longer than cap is refused as truncated), flags
 * VHSM_CLIENT_*. Nothing is connected yet. Returns 0, -EINVAL (empty path or cap beyond
 * VHSM_WIRE_MAX_MESSAGE), -ENAMETOOLONG (path beyond sun_path) or -ENOMEM (secure memory).
 */
int vhsm_client_new(const char *path, size_t cap, unsigned flags, struct vhsm_client **ret);

/* Closes the connection, wipes and frees the buffers. NULL is fine; returns NULL. */
struct vhsm_client *vhsm_client_free(struct vhsm_client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vhsm_client *, vhsm_client_free);
#define _cleanup_vhsm_client_ _cleanup_(vhsm_client_freep)

/* CLOCK_MONOTONIC now plus timeout_ms, in milliseconds: the deadline of a call. */
uint64_t vhsm_client_deadline(unsigned timeout_ms);

/*
 * Connects unless connected, retrying a full backlog (and, with VHSM_CLIENT_WAIT_FOR_SOCKET, a
 * missing or refusing socket) every VHSM_CLIENT_CONNECT_RETRY_MS until the deadline. Returns 0
 * or the last connect error as -errno (-ENOENT: no socket, -ECONNREFUSED: nobody listens,
 * -EAGAIN: still busy at the deadline), with c->error naming the path.
 */
int vhsm_client_connect(struct vhsm_client *c, uint64_t deadline);

/* Closes the connection (the next call connects again). */
void vhsm_client_disconnect(struct vhsm_client *c);

/* Starts a request for op in c's own request buffer; add its fields to the builder returned. */
struct vhsm_wire_builder *vhsm_client_begin(struct vhsm_client *c, uint16_t op);

/*
 * Finishes the request vhsm_client_begin() started and runs vhsm_client_request() on it.
 * Returns -EINVAL or -EMSGSIZE when the builder failed (an invalid field or a request over the
 * limit; nothing is sent), else what vhsm_client_request() returns.
 */
int vhsm_client_call(struct vhsm_client *c, uint64_t deadline);

/*
 * Sends the request req[0..len) (a whole wire message; the caller's buffer, in secure memory
 * when it carries secrets) and receives, decodes and checks its reply: the request's op with
 * VHSM_OP_REPLY_FLAG (or op 0 for the daemon's "malformed request"), the request's id, an
 * ERRNO field. A reply with status -EAGAIN and VHSM_TAG_BUSY means vhsmd declined without
 * acting (a limit, named in its message): the request is sent again after a pause
 * (VHSM_CLIENT_BUSY_*) on a new connection while the deadline allows; no other reply is
 * retried, an -EAGAIN without the marker included. Keeps the connection for
 * the next request; a kept connection the daemon has closed meanwhile is reopened once before
 * anything was sent.
 * Returns 0 when a reply arrived: c->status, c->message, c->msg hold it (after the deadline
 * ended the busy retries, c->status is -EAGAIN and c->message says how long it retried).
 * Else -errno with c->error: a connect error (see vhsm_client_connect()), -EPIPE/-ECONNRESET
 * or another send error, -ETIMEDOUT (no reply by the deadline), -EMSGSIZE (reply truncated),
 * -EPROTO (connection closed without a reply, malformed or mismatched reply).
 */
int vhsm_client_request(struct vhsm_client *c, const uint8_t *req, size_t len, uint64_t deadline);

/*
 * One exchange without decoding: sends req[0..len) and receives one datagram into c->rep.
 * Returns its length, or -errno as vhsm_client_request() (-EPROTO for a closed connection,
 * -EMSGSIZE for a datagram over c->cap). For peers that do not speak the reply format (the
 * benchmark's echo server); everything else uses vhsm_client_request().
 */
ssize_t vhsm_client_exchange(struct vhsm_client *c, const uint8_t *req, size_t len,
			     uint64_t deadline);
