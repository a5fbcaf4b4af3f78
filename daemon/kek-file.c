/* SPDX-License-Identifier: Apache-2.0 */
/* Sealed KEK files against the KEKs held in memory. See kek-file.h. */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "algs.h"
#include "fileio.h"
#include "journal.h"
#include "kek-file.h"
#include "seal.h"
#include "store-file.h"
#include "text.h"

struct kek_mark {
	char name[KEK_NAME_MAX + 1];
	uint8_t hash[32];       /* SHA-256 of the sealed file as held in memory */
	bool has_id;            /* id is of a read whose bytes had that hash */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char damage[320];       /* "" or why the file no longer matches */
};

struct kek_marks {
	size_t n;
	struct kek_mark *v;
};

struct kek_marks *kek_marks_free(struct kek_marks *k)
{
	if (k) {
		free(k->v);
		free(k);
	}
	return NULL;
}

static struct kek_mark *mark_find(struct manager *m, const char *name)
{
	for (size_t i = 0; m->kek_marks && i < m->kek_marks->n; i++)
		if (strcmp(m->kek_marks->v[i].name, name) == 0)
			return &m->kek_marks->v[i];
	return NULL;
}

static struct kek_mark *mark_add(struct manager *m, const char *name)
{
	struct kek_mark *v;

	if (strlen(name) > KEK_NAME_MAX)
		return NULL;
	if (!m->kek_marks && !(m->kek_marks = calloc(1, sizeof(*m->kek_marks))))
		return NULL;
	v = reallocarray(m->kek_marks->v, m->kek_marks->n + 1, sizeof(*v));
	if (!v)
		return NULL;
	m->kek_marks->v = v;
	v = &v[m->kek_marks->n++];
	memset(v, 0, sizeof(*v));
	strcpy(v->name, name);
	return v;
}

static bool hash_blob(const uint8_t *blob, size_t len, uint8_t out[static 32])
{
	unsigned int n = 0;

	return algs_sha256() && EVP_Digest(blob, len, out, &n, algs_sha256(), NULL) && n == 32;
}

int kek_file_mark(struct manager *m, const char *name, const uint8_t *blob, size_t len)
{
	struct kek_mark *k = mark_find(m, name);

	if (!k)
		k = mark_add(m, name);
	if (!k)
		return -ENOMEM;
	if (!hash_blob(blob, len, k->hash)) {
		kek_file_forget(m, name);
		return -EIO;
	}
	/* The file's identity is learnt from the first read that sees these bytes. */
	k->has_id = false;
	k->damage[0] = 0;
	return 0;
}

void kek_file_forget(struct manager *m, const char *name)
{
	struct kek_mark *k = mark_find(m, name);

	if (!k)
		return;
	*k = m->kek_marks->v[--m->kek_marks->n];
}

static bool same_file(const struct kek_mark *k, const struct stat *st)
{
	return k->has_id && k->dev == st->st_dev && k->ino == st->st_ino &&
	       k->size == st->st_size && k->mtime.tv_sec == st->st_mtim.tv_sec &&
	       k->mtime.tv_nsec == st->st_mtim.tv_nsec && k->ctime.tv_sec == st->st_ctim.tv_sec &&
	       k->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static int damaged(struct kek_mark *k, const char *path, const char *what, char *why,
		   size_t whylen)
{
	bool first = !k->damage[0];

	snprintf(k->damage, sizeof(k->damage), "%s", what);
	snprintf(why, whylen,
		 "sealed file %s of KEK %s is damaged (%s): new wraps are refused, since they could "
		 "not be unwrapped after a restart; existing blobs still unwrap from memory until "
		 "vhsmd stops. Recover: vhsmctl kek reseal %s rewrites the file from memory now, "
		 "or restore it from a backup or re-import the KEK (BYOK) and restart vhsmd",
		 path, k->name, what, k->name);
	if (first)
		log_msg(LOG_CRIT, "%s", why);
	return -EBADMSG;
}

/* Reads the file at fd and compares it with the mark; records its identity when it matches. */
static int compare_file(struct kek_mark *k, int fd, const struct stat *st, const char *path,
			char *why, size_t whylen)
{
	_cleanup_free_ uint8_t *blob = NULL;
	uint8_t h[32];
	size_t len;
	int r;

	r = fileio_read_fd(fd, SEAL_BLOB_MAX, &blob, &len);
	if (r < 0)
		return damaged(k, path, r == -EMSGSIZE ? "larger than a sealed file can be"
						       : strerror(-r), why, whylen);
	if (!hash_blob(blob, len, h))
		return -EIO;
	if (CRYPTO_memcmp(h, k->hash, sizeof(h)) != 0)
		return damaged(k, path, "its content changed: it no longer holds the KEK in use",
			       why, whylen);
	if (k->damage[0])
		log_msg(LOG_NOTICE, "sealed file %s of KEK %s matches the KEK in memory again",
			path, k->name);
	k->damage[0] = 0;
	k->has_id = true;
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->size = st->st_size;
	k->mtime = st->st_mtim;
	k->ctime = st->st_ctim;
	return 0;
}

int kek_file_verify(struct manager *m, const char *name, char *why, size_t whylen)
{
	struct kek_mark *k = mark_find(m, name);
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	char rel[STORE_REL_MAX];
	struct stat st;

	if (!k)
		return 0;
	if (store_rel("kek", name, ".sealed", rel) < 0)
		return -EINVAL;
	/* The full path is for the messages only. */
	path = text_printf("%s/%s", m->state_dir, rel);
	if (!path)
		return -ENOMEM;
	fd = openat(m->state_fd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return damaged(k, path, strerror(errno), why, whylen);
	if (fstat(fd, &st) < 0)
		return damaged(k, path, strerror(errno), why, whylen);
	if (!S_ISREG(st.st_mode))
		return damaged(k, path, "not a regular file", why, whylen);
	if (same_file(k, &st))
		return 0;
	return compare_file(k, fd, &st, path, why, whylen);
}

const char *kek_file_damage(struct manager *m, const char *name)
{
	struct kek_mark *k = mark_find(m, name);

	return k && k->damage[0] ? k->damage : NULL;
}
