/* SPDX-License-Identifier: Apache-2.0 */
/* The policy file: load, fail closed on error, notice changes. See policy-file.h. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "fileio.h"
#include "journal.h"
#include "log.h"
#include "policy-file.h"

static void file_id_from_stat(const struct stat *st, struct policy_file_id *ret)
{
	*ret = (struct policy_file_id){
		.exists = true,
		.dev = st->st_dev,
		.ino = st->st_ino,
		.size = st->st_size,
		.mtime = st->st_mtim,
		.ctime = st->st_ctim,
	};
}

static bool file_id_equal(const struct policy_file_id *a, const struct policy_file_id *b)
{
	if (a->exists != b->exists)
		return false;
	if (!a->exists)
		return true;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Reads and parses the file. On success *ret_policy is the policy (the built-in default,
 * with *ret_from_file false, when the default file does not exist). On failure err names
 * the cause. *id is always set to the identity of the file as opened (or "absent"), also on
 * failure: a broken file is read again only once it changed.
 */
static int read_policy(const struct manager *m, struct snp_policy **ret_policy,
		       bool *ret_from_file, struct policy_file_id *id, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st;
	size_t len;
	int r;

	*id = (struct policy_file_id){};
	fd = open(m->policy_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = negative_errno();
		if (r == -ENOENT && !m->policy_required) {
			r = snp_policy_new_default(ret_policy);
			if (r < 0)
				return r;
			*ret_from_file = false;
			return r;
		}
		snprintf(err, errlen, "cannot open: %s", strerror(-r));
		return r;
	}
	/* The identity of what is read, so that a change after this read is noticed. */
	if (fstat(fd, &st) < 0)
		return negative_errno();
	file_id_from_stat(&st, id);
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return -EBADMSG;
	}
	r = fileio_read_fd(fd, POLICY_MAX_SIZE, &buf, &len);
	if (r == -EMSGSIZE)
		snprintf(err, errlen, "larger than the limit of %u bytes", POLICY_MAX_SIZE);
	else if (r < 0)
		snprintf(err, errlen, "cannot read: %s", strerror(-r));
	if (r < 0)
		return r;
	r = snp_policy_parse((const char *)buf, len, ret_policy, err, errlen);
	if (r < 0)
		return r;
	*ret_from_file = true;
	return 0;
}

static void log_policy(const struct manager *m, bool changed)
{
	char hex[65];

	if (!m->policy) {
		log_msg(LOG_ERR, "policy file invalid: %s; nothing is released until it is fixed "
			"(check it with vhsmctl policy check %s; reload with systemctl reload vhsmd)",
			m->policy_error, m->policy_path);
		return;
	}
	if (!changed)
		return;
	ct_hex_encode(hex, m->policy_digest, sizeof(m->policy_digest));
	if (m->policy_from_file)
		log_msg(LOG_NOTICE, "policy %s in force (digest %s)", m->policy_path, hex);
	else
		log_msg(LOG_WARNING, "no %s: using the built-in default policy (debug and migration "
			"agents refused, anything else allowed; digest %s)", m->policy_path, hex);
}

int policy_file_load(struct manager *m)
{
	struct snp_policy *p = NULL;
	struct policy_file_id id = {};
	bool from_file = false, was_valid = m->policy != NULL;
	char err[POLICY_ERR_MAX] = "";
	uint8_t digest[32] = {};
	int r;

	/* Any failure, out of memory included, leaves no policy in force: fail closed. */
	r = read_policy(m, &p, &from_file, &id, err, sizeof(err));
	if (r >= 0)
		snp_policy_digest(p, digest);
	bool changed = was_valid != (p != NULL) || memcmp(digest, m->policy_digest, 32) != 0;
	snp_policy_free(m->policy);
	m->policy = p;
	m->policy_from_file = from_file;
	memcpy(m->policy_digest, digest, sizeof(digest));
	m->policy_error[0] = 0;
	if (r < 0)
		snprintf(m->policy_error, sizeof(m->policy_error), "%s: %s", m->policy_path,
			 err[0] ? err : strerror(-r));
	m->policy_id = id;
	/* An attestation evaluated under another policy (or none) no longer counts. */
	if (changed)
		m->attest.done = m->attest.ok = false;
	log_policy(m, changed);
	return r;
}

static void policy_watch_drop(struct manager *m)
{
	m->policy_watch = sd_event_source_disable_unref(m->policy_watch);
}

static int policy_watch_handler(sd_event_source *s, const struct inotify_event *ev, void *userdata)
{
	struct manager *m = userdata;
	const char *name = m->policy_path + m->policy_watch_off;

	(void)s;
	/* Lost events, or the directory itself gone or moved: the watch says nothing any more,
	 * so every request goes back to a stat of its own. */
	if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
		policy_watch_drop(m);
		m->policy_touched = true;
	} else if (ev->len > 0 && strncmp(ev->name, name, m->policy_watch_len) == 0 &&
		   ev->name[m->policy_watch_len] == '\0') {
		m->policy_touched = true;
	}
	return 0;
}

/* The directory path[0..end) ("/" for end 0) exists, is one, and has no symbolic link in it. */
static bool real_dir(const char *path, size_t end, char *dir, size_t dirlen)
{
	_cleanup_free_ char *real = NULL;
	struct stat st;

	if (end >= dirlen)
		return false;
	snprintf(dir, dirlen, "%.*s", end ? (int)end : 1, path);
	real = realpath(dir, NULL);
	return real && strcmp(real, dir) == 0 && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The directory to watch for path: its own, or while that does not exist its deepest existing
 * ancestor, where the creation of the next component is what the watch waits for. Sets dir
 * and the watched name's offset and length in path. False when no watch can tell every change
 * of path: a relative path, a symbolic link in the directories, or path itself a link (the
 * watch would see the link, not what it points to).
 */
static bool policy_watchable(const char *path, char *dir, size_t dirlen, size_t *ret_off,
			     size_t *ret_len)
{
	size_t n = strlen(path), end, name_end = n;
	struct stat st;

	if (path[0] != '/' || path[n - 1] == '/' || strstr(path, "//") || strstr(path, "/./") ||
	    strstr(path, "/../"))
		return false;
	end = (size_t)(strrchr(path, '/') - path);
	while (!real_dir(path, end, dir, dirlen)) {
		if (end == 0 || lstat(dir, &st) == 0)
			return false; /* "/" itself, or there but a link or not a directory */
		name_end = end;
		while (path[--end] != '/')
			;
	}
	if (name_end == n && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return false;
	*ret_off = end + 1;
	*ret_len = name_end - end - 1;
	return true;
}

void policy_file_watch(struct manager *m)
{
	char dir[PATH_MAX];
	size_t off, len;
	int r;

	if (!policy_watchable(m->policy_path, dir, sizeof(dir), &off, &len)) {
		vhsm_log_debug("policy %s: not watched, checked at every request", m->policy_path);
		return;
	}
	r = sd_event_add_inotify(m->event, &m->policy_watch, dir,
				 IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |
					 IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
					 IN_MOVE_SELF | IN_ONLYDIR,
				 policy_watch_handler, m);
	/* Before any request that is ready in the same wake-up: an edit made before a request was
	 * sent is seen by that request. */
	if (r >= 0)
		r = sd_event_source_set_priority(m->policy_watch, SD_EVENT_PRIORITY_IMPORTANT);
	if (r < 0) {
		vhsm_log_debug("policy %s: no inotify watch (%s), checked at every request",
			       m->policy_path, strerror(-r));
		policy_watch_drop(m);
		return;
	}
	m->policy_watch_off = off;
	m->policy_watch_len = len;
	vhsm_log_debug("policy %s: watched in %s", m->policy_path, dir);
	/* A change between the load and the watch is caught by the first request's stat. */
	m->policy_touched = true;
}

int policy_file_refresh(struct manager *m)
{
	struct policy_file_id id = {};
	struct stat st;
	uint64_t now = 0;

	if (m->policy_watch && sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0 &&
	    !m->policy_touched && now - m->policy_stat_usec < POLICY_RECHECK_USEC)
		return m->policy ? 0 : -EBADMSG;
	/* A watch on an ancestor (the file's directory did not exist) is aimed again first: the
	 * directories on the way may have been created. */
	if (m->policy_watch && m->policy_watch_off + m->policy_watch_len != strlen(m->policy_path)) {
		policy_watch_drop(m);
		policy_file_watch(m);
	}
	/* Cleared before the stat: a change after it sets it again. */
	m->policy_touched = false;
	m->policy_stat_usec = now;
	if (m->policy_watch && lstat(m->policy_path, &st) == 0 && S_ISLNK(st.st_mode))
		policy_watch_drop(m); /* replaced by a link: the watch no longer sees its target */
	if (stat(m->policy_path, &st) == 0)
		file_id_from_stat(&st, &id);
	if (file_id_equal(&id, &m->policy_id))
		return m->policy ? 0 : -EBADMSG;
	return policy_file_load(m);
}
