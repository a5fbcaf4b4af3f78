/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DEK registry: data-encryption keys generated inside vhsmd, stored only wrapped under
 * their KEK in <state>/dek/<name>.dek (JSON, written atomically), and handed to the kernel
 * keyring as `logon` keys "vhsm:<name>" (lib/keyring.h). The wrap context binds the DEK's
 * name, size, timeout and ACL, so an edited file no longer unwraps.
 */
#pragma once

#include "vhsmd.h"

#define DEK_SIZE_DEFAULT 64u
#define DEK_TIMEOUT_DEFAULT 600u /* seconds a loaded key lives, unless the DEK says otherwise */
#define DEK_FILE_MAX (16u * 1024u)
#define DEK_ACL_TEXT_MAX 4096u
#define DEK_MAX_LOADED 64u /* loaded keys reported per DEK */

struct dek {
	char name[KEK_NAME_MAX + 1];
	char kek[KEK_NAME_MAX + 1];
	uint32_t size;    /* 32 or 64 bytes */
	uint32_t timeout; /* seconds; 0 = the key does not expire */
	uint64_t created;
	uint64_t deleted_at;     /* 0 unless deleted (dek drop --delete): loads are refused */
	uint32_t retention_days; /* a deleted DEK is recoverable this long */
	char acl_text[DEK_ACL_TEXT_MAX + 1]; /* canonical (acl_format) */
	size_t n_acl;
	struct acl_entry acl[KEK_MAX_ACL];
	uint8_t *wrapped; /* malloc'ed; public */
	size_t wrapped_len;
};

/* What the DEK registry needs of vhsmd: the state directory and the store manifest. */
struct dek_store {
	int dir_fd;                /* the state directory (O_PATH will do) */
	struct manifest *manifest; /* vouches for each DEK file; NULL: unchecked (unit tests) */
};

/* The DEK registry of manager m's state directory: a pointer valid in the enclosing block. */
#define DEK_STORE(m)                                                                              \
	(&(const struct dek_store){ .dir_fd = (m)->state_fd, .manifest = (m)->manifest })

/* Releases what dek_read()/dek set up (the wrapped blob). Accepts a zeroed struct. */
void dek_done(struct dek *d);

/*
 * The wrap context of d: "vhsm-dek-v1\n<name>\n<size>\n<timeout>\n<acl>". Returns its length
 * (written to out, at most outlen) or -EMSGSIZE.
 */
int dek_context(const struct dek *d, char *out, size_t outlen);

/*
 * Reads <state>/dek/<name>.dek and checks it against the store manifest. Returns 0, -ENOENT,
 * -EINVAL (bad name), -EBADMSG, or -EKEYREJECTED for a file that is not the one this CVM wrote
 * last (rolled back, edited, or put back after a purge; the journal says which).
 */
int dek_read(const struct dek_store *s, const char *name, struct dek *ret);
/* A new JSON object with d's public fields (name, kek, size, timeout, created, acl; when
 * deleted, deleted_at and retention_days), which
 * the DEK file and dek list share; NULL when out of memory. */
struct json_object *dek_meta_json(const struct dek *d);
/* Writes a new DEK file atomically, recorded in the store manifest; -EEXIST when one exists. */
int dek_create_file(const struct dek_store *s, const struct dek *d);
/* Replaces the DEK file atomically (a state change: delete, recover). */
int dek_replace_file(const struct dek_store *s, const struct dek *d);
/* Seconds since the epoch from which a deleted DEK can no longer be recovered. */
uint64_t dek_retention_end(const struct dek *d);
/* Removes the DEK file durably (and its entry in the store manifest). */
int dek_remove_file(const struct dek_store *s, const char *name);
/* Sorted DEK names (NULL-terminated; free with strv_free). */
int dek_list_names(const struct dek_store *s, char ***ret);

/* True when the ACL of d admits p for op (administrators always). */
bool dek_acl_allows(const struct dek *d, const struct peer *p, uint32_t op);

/* ---- keys in the kernel keyring ---- */
struct dek_key {
	int32_t serial;
	char expiry[8];
};
/*
 * Finds the live vhsm keys of DEK name in /proc/keys that vhsmd handed out (type logon,
 * owner root, vhsmd's group, the vhsm permissions). Returns the number found (at most max).
 */
int dek_find_keys(const char *name, struct dek_key *out, size_t max);
/* Revokes every such key of DEK name. Returns the number revoked (or -errno when /proc/keys
 * cannot be read); *ret_failed counts keys that could not be revoked. */
int dek_revoke_keys(const char *name, unsigned *ret_failed);
/* Revokes the keys of every DEK wrapped under KEK kek, and of every DEK whose registry file
 * is damaged (its KEK unknown). Returns the number revoked, and the
 * number of failures in *ret_failed. */
int dek_revoke_for_kek(const struct dek_store *s, const char *kek, unsigned *ret_failed);
