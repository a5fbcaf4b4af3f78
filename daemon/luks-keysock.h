/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crypttab key socket (luks-keysock.c): systemd-cryptsetup connects for a volume and
 * reads its keyslot passphrase until EOF (docs/boot-unlock.md).
 */
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include "vhsmd.h"

/*
 * Serves one connection on the key socket (listening fd): root peers whose abstract address
 * names a bound volume get its keyslot passphrase and EOF; everyone else gets EOF only. Audits
 * each answer and refusal. Never fails the daemon.
 */
int luks_keysock_accept(struct manager *m, int listen_fd);

/*
 * The volume name from systemd-cryptsetup's abstract peer address
 * "\0<hex>/cryptsetup/<volume>" (len as getpeername() returned it). Returns 0 with the name
 * in volume, or -EBADMSG for any other address (including other mechanisms' variants such as
 * "/cryptsetup-tpm2/") or a name vhsmd does not accept. Pure.
 */
int luks_keysock_volume(const struct sockaddr_un *sa, socklen_t len, char *volume, size_t vlen);
