/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The crypttab key socket (docs/boot-unlock.md). systemd-cryptsetup reads a key file that is
 * an AF_UNIX stream socket by connecting from the abstract address
 * "\0<random hex>/cryptsetup/<volume>" and reading until EOF. A root peer connecting for a
 * bound volume (luks-bind.h) gets the keyslot passphrase (base64 of the secret, no newline)
 * under the same rules as LUKS_UNLOCK; anyone else gets EOF and an audit record.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "audit.h"
#include "ct.h"
#include "kek-meta.h"
#include "luks-bind.h"
#include "luks-keysock.h"
#include "luks-secret.h"
#include "secmem.h"
#include "volumes.h"

/*
 * The volume from systemd-cryptsetup's abstract peer address "\0<hex>/cryptsetup/<volume>".
 * Returns 0, or -EBADMSG for any other address (other mechanisms' variants included).
 */
int luks_keysock_volume(const struct sockaddr_un *sa, socklen_t len, char *volume, size_t vlen)
{
	static const char mid[] = "/cryptsetup/";
	size_t off = offsetof(struct sockaddr_un, sun_path), n, i = 1;
	const char *p = sa->sun_path;

	if (len <= off + 1 || p[0] != '\0')
		return -EBADMSG;
	n = (size_t)len - off;
	while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
		i++;
	if (i == 1 || n - i <= sizeof(mid) - 1 || memcmp(p + i, mid, sizeof(mid) - 1) != 0)
		return -EBADMSG;
	i += sizeof(mid) - 1;
	if (n - i >= vlen || memchr(p + i, '\0', n - i))
		return -EBADMSG;
	memcpy(volume, p + i, n - i);
	volume[n - i] = '\0';
	return store_name_valid(volume) ? 0 : -EBADMSG;
}

/* Answers one identified peer; returns 0 or -errno with why (for the audit record). */
static int keysock_answer(struct manager *m, int fd, const struct peer *p, const char *volume,
			  char *kek, size_t keklen, uint32_t *version, char *why, size_t whylen)
{
	_cleanup_secmem_ uint8_t *secret = NULL;
	_cleanup_secmem_ char *pass = NULL;
	struct luks_binding b;
	struct wrap_info wi;
	int r;

	if (p->uid != 0) {
		snprintf(why, whylen, "volume %s: uid %u is not root", volume, (unsigned)p->uid);
		return -EPERM;
	}
	r = luks_binding_read(m, volume, &b);
	if (r == -ENOENT) {
		snprintf(why, whylen, "volume %s is not bound (vhsmctl luks enroll --volume)", volume);
		return -ENOKEY;
	}
	if (r < 0) {
		snprintf(why, whylen, "binding of volume %s is unreadable", volume);
		return r;
	}
	r = luks_unseal_secret(m, b.mat.sealed, b.mat.sealed_len, b.mat.wrapped, b.mat.wrapped_len,
			       b.uuid, &wi, &secret, why, whylen);
	if (r == 0 || r == -EKEYREVOKED || r == -EKEYREJECTED || r == -ENOKEY) {
		snprintf(kek, keklen, "%.64s", wi.kek_name);
		*version = wi.kek_version;
	}
	if (r < 0)
		return r;
	pass = secmem_alloc(LUKS_PASSPHRASE_LEN + 1);
	if (!pass)
		return -ENOMEM;
	ct_base64_encode(pass, secret, LUKS_SECRET_SIZE);
	if (send(fd, pass, LUKS_PASSPHRASE_LEN, MSG_NOSIGNAL) != LUKS_PASSPHRASE_LEN) {
		r = negative_errno();
		snprintf(why, whylen, "volume %s: sending the key failed", volume);
		return r;
	}
	snprintf(why, whylen, "volume %s", volume);
	(void)volumes_record(m, kek, b.uuid, volume); /* for kek disable --shred */
	return 0;
}

int luks_keysock_accept(struct manager *m, int listen_fd)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa = {};
	socklen_t salen = sizeof(sa), clen = sizeof(struct ucred);
	struct ucred uc;
	struct peer p = {};
	char volume[KEK_NAME_MAX + 1] = "", kek[KEK_NAME_MAX + 1] = "", why[512] = "";
	uint32_t version = 0;
	int r;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &clen) < 0 || clen != sizeof(uc))
		return 0;
	p.pid = uc.pid;
	p.uid = uc.uid;
	p.gid = uc.gid;
	p.admin = uc.uid == 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &(struct timeval){ .tv_sec = 5 },
			 sizeof(struct timeval));
	if (getpeername(fd, (struct sockaddr *)&sa, &salen) < 0 ||
	    luks_keysock_volume(&sa, salen, volume, sizeof(volume)) < 0) {
		snprintf(why, sizeof(why), "peer address is not a systemd-cryptsetup key request");
		r = -EBADMSG;
	} else {
		m->request_seq++; /* a request of its own for attest.c's "each use" */
		r = keysock_answer(m, fd, &p, volume, kek, sizeof(kek), &version, why, sizeof(why));
	}
	struct audit_record rec = { .event = "luks.keysock", .key = kek[0] ? kek : NULL,
				    .version = version, .peer = &p, .result = r, .reason = why };
	(void)audit_log(m->audit, &rec);
	(void)shutdown(fd, SHUT_RDWR);
	return 0;
}
