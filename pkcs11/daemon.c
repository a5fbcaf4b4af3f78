/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests to vhsmd through the one wire client (lib/wire-client). Every connection the module
 * opens is O_CLOEXEC (the wire client's sockets are), so exec'd children inherit none.
 */
#include <errno.h>

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

bool p11_daemon_present(void)
{
	_cleanup_vhsm_client_ struct vhsm_client *c = NULL;

	if (vhsm_client_new(p11_socket_path(), 16384, 0, &c) < 0)
		return false;
	vhsm_client_begin(c, VHSM_OP_STATUS);
	return p11_call(c, VHSM_OP_STATUS, P11_PROBE_TIMEOUT_MS) == 0;
}
