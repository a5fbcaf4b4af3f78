/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests to vhsmd through the one wire client (lib/wire-client), on pooled connections. Every
 * connection the module opens is O_CLOEXEC (the wire client's sockets are), so exec'd children
 * inherit none.
 */
#include <errno.h>
#include <unistd.h>

#include "p11.h"
#include "wire-client.h"

int p11_client_new(struct vhsm_client **ret)
{
	/* No VHSM_CLIENT_WAIT_FOR_SOCKET: a missing socket means the token is absent now. */
	return vhsm_client_new(p11_socket_path(), P11_MSG_MAX, 0, ret);
}

int p11_call(struct vhsm_client *c, uint16_t op, unsigned timeout_ms)
{
	int r = vhsm_client_call(c, vhsm_client_deadline(timeout_ms));

	if (r < 0) {
		/* A broken connection is reopened by the next request. */
		vhsm_client_disconnect(c);
		return r;
	}
	if (c->status < 0)
		return c->status;
	if (c->msg.op != (op | VHSM_OP_REPLY_FLAG))
		return -EPROTO;
	return 0;
}

static struct vhsm_client *idle[P11_IDLE_CONNS];
static size_t n_idle;

int p11_conn_get(struct vhsm_client **ret)
{
	struct vhsm_client *c = NULL;

	p11_lock();
	if (n_idle > 0)
		c = idle[--n_idle];
	p11_unlock();
	if (c) {
		*ret = c;
		return 0;
	}
	return p11_client_new(ret);
}

void p11_conn_put(struct vhsm_client *c)
{
	if (!c)
		return;
	p11_lock();
	if (n_idle < P11_IDLE_CONNS) {
		idle[n_idle++] = c;
		c = NULL;
	}
	p11_unlock();
	vhsm_client_free(c);
}

void p11_conns_free(bool abandon)
{
	for (size_t i = 0; i < n_idle; i++) {
		if (!abandon)
			vhsm_client_free(idle[i]);
		else if (idle[i]->fd >= 0)
			close(idle[i]->fd); /* the parent's connection: only the fd is the child's */
		idle[i] = NULL;
	}
	n_idle = 0;
}

bool p11_daemon_present(void)
{
	struct vhsm_client *c = NULL;
	bool ok;

	if (p11_conn_get(&c) < 0)
		return false;
	vhsm_client_begin(c, VHSM_OP_STATUS);
	ok = p11_call(c, VHSM_OP_STATUS, P11_PROBE_TIMEOUT_MS) == 0;
	p11_conn_put(c);
	return ok;
}
