/* SPDX-License-Identifier: Apache-2.0 */
/* The DEK registry on disk and the DEKs' keys in the kernel keyring (see dek.h). */
#include <fcntl.h>
#include <json-c/json.h>
#include <keyutils.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "ct.h"
#include "dek.h"
#include "dir-util.h"
#include "fileio.h"
#include "json.h"
#include "keyring.h"
#include "log.h"
#include "manifest.h"
#include "store-file.h"
#include "store.h"
#include "wrap.h"

/* The file of DEK name relative to the state directory, as the store manifest names it:
 * 0, or -EINVAL for a name that is not a valid key name. */
static int dek_rel(const char *name, char rel[static STORE_REL_MAX])
{
	return store_rel("dek", name, ".dek", rel);
}

void dek_done(struct dek *d)
{
	free(d->wrapped);
	d->wrapped = NULL;
	d->wrapped_len = 0;
}

int dek_context(const struct dek *d, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, WRAP_CONTEXT_DEK_PREFIX "%s\n%u\n%u\n%s", d->name, d->size,
			 d->timeout, d->acl_text);

	if (n < 0 || (size_t)n >= outlen)
		return -EMSGSIZE;
	return n;
}

/* The DEK file's members as json_dispatch() leaves them (wrapped borrowed from the tree). */
struct dek_json {
	struct dek d;
	const char *wrapped;
};

#define DEK_FIELD(n, t, fn, m, lo, hi)                                                            \
	{ n, t, fn, offsetof(struct dek_json, m), JSON_MANDATORY, lo, hi }
static const struct json_field dek_table[] = {
	DEK_FIELD("name", json_type_string, json_dispatch_key_name, d.name, 0, 0),
	DEK_FIELD("kek", json_type_string, json_dispatch_key_name, d.kek, 0, 0),
	DEK_FIELD("size", json_type_int, json_dispatch_uint32, d.size, 32, 64),
	DEK_FIELD("timeout", json_type_int, json_dispatch_uint32, d.timeout, 0, KEYRING_MAX_TIMEOUT),
	DEK_FIELD("created", json_type_int, json_dispatch_uint64, d.created, 0, INT64_MAX),
	DEK_FIELD("acl", json_type_string, json_dispatch_strbuf, d.acl_text, 0, DEK_ACL_TEXT_MAX),
	DEK_FIELD("wrapped", json_type_string, json_dispatch_string, wrapped, 2,
		  2 * WRAP_BLOB_MAX),
	/* A deleted DEK (dek drop --delete) has both; an active one neither. */
	{ "deleted_at", json_type_int, json_dispatch_uint64, offsetof(struct dek_json, d.deleted_at),
	  0, 1, INT64_MAX },
	{ "retention_days", json_type_int, json_dispatch_uint32,
	  offsetof(struct dek_json, d.retention_days), 0, KEK_MIN_RETENTION_DAYS,
	  KEK_MAX_RETENTION_DAYS },
	{}
};

/* Parses the DEK file text of the DEK called name into *d (d->wrapped malloc'ed). */
static int dek_parse(const char *text, size_t len, const char *name, struct dek_json *j,
		     char *err, size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	size_t hl;
	int r;

	r = json_parse(text, len, DEK_FILE_MAX, "DEK file", &o, err, errlen);
	if (r < 0)
		return r;
	r = json_dispatch(o, NULL, dek_table, j, err, errlen);
	if (r < 0)
		return r;
	if (strcmp(j->d.name, name) != 0) /* a file renamed to pose as another DEK */
		return json_fail(err, errlen, -EBADMSG, "name: '%s', not the file's name",
				 j->d.name);
	if (j->d.size != 32 && j->d.size != 64)
		return json_fail(err, errlen, -EBADMSG, "size: 32 or 64 expected");
	if (!j->d.deleted_at != !j->d.retention_days)
		return json_fail(err, errlen, -EBADMSG,
				 "deleted_at and retention_days: both or neither expected");
	if (acl_parse(j->d.acl_text, j->d.acl, &j->d.n_acl) < 0)
		return json_fail(err, errlen, -EBADMSG, "acl: not a valid access list");
	hl = strlen(j->wrapped);
	if (hl % 2)
		return json_fail(err, errlen, -EBADMSG, "wrapped: odd number of hex digits");
	j->d.wrapped = malloc(hl / 2);
	if (!j->d.wrapped)
		return -ENOMEM;
	j->d.wrapped_len = hl / 2;
	if (ct_hex_decode(j->d.wrapped, j->d.wrapped_len, j->wrapped, hl) < 0)
		return json_fail(err, errlen, -EBADMSG, "wrapped: not hex");
	return 0;
}

/* gcc 12's -fanalyzer reports the cleanup pointer below as uninitialised on the paths through
 * dek_revoke_for_kek(), although it is initialised at its declaration: the false positive
 * op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
int dek_read(const struct dek_store *s, const char *name, struct dek *ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct dek_json *j = calloc(1, sizeof(*j));
	char err[JSON_ERR_MAX] = "", rel[STORE_REL_MAX];
	size_t len;
	int r;

	if (!j)
		return -ENOMEM;
	if (dek_rel(name, rel) < 0)
		return -EINVAL;
	r = fileio_read_all_at(s->dir_fd, rel, DEK_FILE_MAX, &buf, &len);
	if (r < 0)
		return r == -EMSGSIZE ? -EBADMSG : r;
	/* Before anything in it is believed: deleted_at and the ACL are only as fresh as the
	 * manifest says (a rolled-back or edited file is refused, and the journal says why). */
	r = manifest_check(s->manifest, rel, buf, len, err, sizeof(err));
	if (r < 0)
		return r;
	r = dek_parse((const char *)buf, len, name, j, err, sizeof(err));
	if (r < 0) {
		vhsm_log_debug("DEK %s: %s", name, err);
		dek_done(&j->d);
		return r;
	}
	*ret = j->d;
	return 0;
}
#pragma GCC diagnostic pop

json_object *dek_meta_json(const struct dek *d)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "kek", json_object_new_string(d->kek));
	json_object_object_add(o, "size", json_object_new_int64(d->size));
	json_object_object_add(o, "timeout", json_object_new_int64(d->timeout));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)d->created));
	json_object_object_add(o, "acl", json_object_new_string(d->acl_text));
	if (d->deleted_at) {
		json_object_object_add(o, "deleted_at", json_object_new_int64((int64_t)d->deleted_at));
		json_object_object_add(o, "retention_days", json_object_new_int64(d->retention_days));
	}
	return o;
}

uint64_t dek_retention_end(const struct dek *d)
{
	return d->deleted_at + (uint64_t)d->retention_days * 86400u;
}

/* Writes text to the file of DEK name: manifest entry pending, file, commit (manifest.h). */
static int dek_write_text(const struct dek_store *s, const char *name, const char *text,
			  bool create)
{
	char rel[STORE_REL_MAX];
	int r;

	if (dek_rel(name, rel) < 0)
		return -EINVAL;
	/* Before the manifest: a pending entry for a file that is not written would refuse the
	 * one that is there. */
	if (create && faccessat(s->dir_fd, rel, F_OK, 0) == 0)
		return -EEXIST;
	r = manifest_begin(s->manifest, rel, (const uint8_t *)text, strlen(text));
	if (r < 0)
		return r;
	r = create ? fileio_create_atomic_at(s->dir_fd, rel, text, strlen(text), 0600)
		   : fileio_write_atomic_at(s->dir_fd, rel, text, strlen(text), 0600);
	if (r >= 0 && manifest_commit(s->manifest, rel) < 0)
		vhsm_log_debug("DEK %s: cannot commit the manifest entry (the next start does)",
			       name);
	return r;
}

static int dek_write_file(const struct dek_store *s, const struct dek *d, bool create)
{
	_cleanup_free_ char *hex = malloc(2 * d->wrapped_len + 1);
	int r;

	if (!hex)
		return -ENOMEM;
	ct_hex_encode(hex, d->wrapped, d->wrapped_len);
	if (mkdirat(s->dir_fd, "dek", 0700) < 0 && errno != EEXIST)
		return negative_errno();
	json_object *o = dek_meta_json(d);
	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "wrapped", json_object_new_string(hex));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	r = text ? dek_write_text(s, d->name, text, create) : -ENOMEM;
	json_object_put(o);
	return r;
}

int dek_create_file(const struct dek_store *s, const struct dek *d)
{
	return dek_write_file(s, d, true);
}

int dek_replace_file(const struct dek_store *s, const struct dek *d)
{
	return dek_write_file(s, d, false);
}

int dek_remove_file(const struct dek_store *s, const char *name)
{
	char rel[STORE_REL_MAX];
	int r;

	if (dek_rel(name, rel) < 0)
		return -EINVAL;
	r = manifest_begin(s->manifest, rel, NULL, 0);
	if (r < 0)
		return r;
	r = fileio_remove_at(s->dir_fd, rel);
	if (r >= 0 && manifest_commit(s->manifest, rel) < 0)
		vhsm_log_debug("DEK %s: cannot commit the manifest entry (the next start does)",
			       name);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct dek_names {
	char **v;
	size_t n;
	int r; /* -ENOMEM once the list could not grow */
};

/* Adds one dek/NAME.dek entry's NAME, when valid, to the list. */
static int dek_list_one(const char *entry, size_t stem_len, void *userdata)
{
	struct dek_names *l = userdata;
	char *name = strndup(entry, stem_len);
	char **nv;

	if (!name || !store_name_valid(name)) {
		free(name);
		return 0;
	}
	nv = realloc(l->v, (l->n + 2) * sizeof(char *));
	if (!nv) {
		free(name);
		return l->r = -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = name;
	l->v[l->n] = NULL;
	return 0;
}

int dek_list_names(const struct dek_store *s, char ***ret)
{
	struct dek_names l = { .v = calloc(1, sizeof(char *)) };
	int r;

	if (!l.v)
		return -ENOMEM;
	/* No dek/ directory yet, or an unreadable one: no DEKs listed. */
	r = dir_for_each_suffix(s->dir_fd, "dek", ".dek", SIZE_MAX, dek_list_one, &l);
	if (r < 0 && l.r < 0) {
		r = l.r;
		strv_free(l.v);
		return r;
	}
	qsort(l.v, l.n, sizeof(char *), cmp_str);
	*ret = l.v;
	return 0;
}

bool dek_acl_allows(const struct dek *d, const struct peer *p, uint32_t op)
{
	struct kek_meta acl = { .n_acl = d->n_acl };

	memcpy(acl.acl, d->acl, d->n_acl * sizeof(d->acl[0]));
	return acl_allows(&acl, p, op);
}

/* A key in /proc/keys that vhsmd handed out for DEK name (see lib/keyring.h), as the line
 * claims: a candidate only, since a user key's description can hold a forged line. */
static bool is_our_key(const struct keyring_proc_key *k, const char *desc)
{
	return strcmp(k->type, KEYRING_DEK_TYPE) == 0 && strcmp(k->description, desc) == 0 &&
	       k->uid == KEYRING_DEK_OWNER && k->gid == (uint32_t)getegid() &&
	       k->perm == KEYRING_DEK_PERM && keyring_proc_key_live(k);
}

/* Asks the kernel about serial: true only when it is a live logon key of root and vhsmd's
 * group with the vhsm permissions whose whole description is desc. */
static bool confirm_key(int32_t serial, const char *desc)
{
	_cleanup_free_ char *d = NULL;
	struct keyring_key_desc k;

	/* Fails for a serial that does not exist, is revoked or expired, or that vhsmd may not
	 * view: none of them is a key vhsmd handed out and may act on. */
	if (keyctl_describe_alloc(serial, &d) < 0 || keyring_describe_parse(d, &k) < 0)
		return false;
	return strcmp(k.type, KEYRING_DEK_TYPE) == 0 && strcmp(k.description, desc) == 0 &&
	       k.uid == KEYRING_DEK_OWNER && k.gid == (uint32_t)getegid() &&
	       k.perm == KEYRING_DEK_PERM;
}

/* gcc 12's -fanalyzer reports the cleanup pointer below as uninitialised on the paths through
 * dek_revoke_for_kek(), although it is initialised at its declaration: the false positive
 * op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
/* Calls fn for each key of DEK name that vhsmd handed out, as /proc/keys lists them; stops
 * early when fn returns false. Returns 0 or -errno. */
static int for_each_key(const char *name, bool (*fn)(const struct keyring_proc_key *k, void *u),
			void *userdata)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	char desc[128];
	FILE *f;

	if (keyring_dek_description(name, desc, sizeof(desc)) < 0)
		return -EINVAL;
	f = fopen("/proc/keys", "re");
	if (!f)
		return negative_errno();
	/* Whole lines, however long: a piece of a long description is never read as a line. */
	while (getline(&line, &cap, f) > 0) {
		struct keyring_proc_key k;
		if (keyring_proc_parse_line(line, &k) < 0 || !is_our_key(&k, desc) ||
		    !confirm_key(k.serial, desc))
			continue;
		if (!fn(&k, userdata))
			break;
	}
	fclose(f);
	return 0;
}
#pragma GCC diagnostic pop

struct find_state {
	struct dek_key *out;
	size_t n, max;
};

static bool find_one(const struct keyring_proc_key *k, void *u)
{
	struct find_state *s = u;

	/* A confirmed key on two lines: one of them is forged, so its expiry is unknown. */
	for (size_t i = 0; i < s->n; i++)
		if (s->out[i].serial == k->serial) {
			snprintf(s->out[i].expiry, sizeof(s->out[i].expiry), "?");
			return true;
		}
	if (s->n >= s->max)
		return false;
	s->out[s->n].serial = k->serial;
	snprintf(s->out[s->n].expiry, sizeof(s->out[s->n].expiry), "%s", k->expiry);
	s->n++;
	return true;
}

int dek_find_keys(const char *name, struct dek_key *out, size_t max)
{
	struct find_state s = { .out = out, .max = max };
	int r = for_each_key(name, find_one, &s);

	return r < 0 ? r : (int)s.n;
}

struct revoke_state {
	int done;
	unsigned failed;
};

static bool revoke_one(const struct keyring_proc_key *k, void *u)
{
	struct revoke_state *s = u;

	if (keyctl_revoke(k->serial) < 0 && errno != EKEYREVOKED && errno != ENOKEY)
		s->failed++;
	else
		s->done++;
	return true;
}

/* Every key, not only the DEK_MAX_LOADED a listing shows. */
int dek_revoke_keys(const char *name, unsigned *ret_failed)
{
	struct revoke_state s = {};
	int r = for_each_key(name, revoke_one, &s);

	if (r < 0)
		return r;
	*ret_failed = s.failed;
	return s.done;
}

int dek_revoke_for_kek(const struct dek_store *s, const char *kek, unsigned *ret_failed)
{
	char **names = NULL;
	unsigned failed_total = 0;
	int total = 0, r;

	r = dek_list_names(s, &names);
	if (r < 0)
		return r;
	for (char **n = names; *n; n++) {
		struct dek d = {};
		unsigned failed;
		/* A damaged file may be this KEK's DEK; its keys go too (it cannot be loaded
		 * again anyway). */
		bool match = dek_read(s, *n, &d) < 0 || strcmp(d.kek, kek) == 0;
		dek_done(&d);
		if (!match)
			continue;
		/* A DEK whose keys cannot be listed has none revoked and none failed. */
		r = dek_revoke_keys(*n, &failed);
		if (r < 0)
			continue;
		failed_total += failed;
		total += r;
	}
	strv_free(names);
	*ret_failed = failed_total;
	return total;
}
