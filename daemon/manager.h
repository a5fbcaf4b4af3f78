/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manager (manager.c): the event loop, the listening sockets, connections and sd_notify.
 * Only main.c calls it; nothing it calls calls back into it.
 */
#pragma once

#include "vhsmd.h"

/* Allocates a manager with the defaults of vhsmd(8). 0 or -ENOMEM; *ret set only on success. */
int manager_new(struct manager **ret);
/* Closes sockets and connections and frees everything the manager holds. Accepts NULL. */
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);
/*
 * Listens (socket activation: the SOCK_SEQPACKET fd is the request socket, a SOCK_STREAM fd
 * the crypttab key socket; else binds socket_arg or the default path, and key_socket_arg if
 * given) and arms timers. 0 or -errno; logs the cause of a failure.
 */
int manager_start(struct manager *m, const char *socket_arg, const char *key_socket_arg);
/*
 * Tells the service manager (STATUS=) the result of the last attestation when one ran since
 * the last call: after start-up, every request, key-socket answer and reload. Never fails.
 */
void manager_status_attest(struct manager *m);
