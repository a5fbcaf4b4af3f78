/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel keyring conventions shared by vhsmd, vhsmctl and vhsm-request-key: the description
 * of a DEK's `logon` key ("vhsm:<name>"), the permissions and owner vhsm keys carry, and a
 * parser for /proc/keys lines (how vhsmd finds the keys it handed out). Pure; library code,
 * never logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define KEYRING_DEK_PREFIX "vhsm:"
#define KEYRING_DEK_TYPE "logon"

/*
 * Permissions of a vhsm DEK key (possessor | user | group | other, keyrings(7)):
 *   possessor view|search|link : find it (dm-crypt, keyctl show), link it elsewhere; no setattr,
 *                                so the timeout cannot be extended and the permissions stay;
 *   user (root owns it)  view|setattr : administrators inspect and revoke it;
 *   group (vhsmd's group) view|setattr : vhsmd lists it in /proc/keys and revokes it on shred;
 *   other                none.
 * A `logon` key has no read operation, so no mask makes its payload readable.
 */
#define KEYRING_PERM_POSSESSOR 0x19u
#define KEYRING_PERM_USER 0x21u
#define KEYRING_PERM_GROUP 0x21u
#define KEYRING_DEK_PERM                                                                           \
	((KEYRING_PERM_POSSESSOR << 24) | (KEYRING_PERM_USER << 16) | (KEYRING_PERM_GROUP << 8))
#define KEYRING_DEK_OWNER 0u /* vhsm keys are owned by root: their holder cannot re-permit them */

/* Timeout of a negative (refused) key, seconds: short, so a fixed ACL takes effect soon. */
#define KEYRING_NEGATIVE_TIMEOUT 5u
/* Upper bound of a DEK's key timeout, seconds (0 = no timeout is allowed too). */
#define KEYRING_MAX_TIMEOUT (30u * 86400u)

/*
 * Writes "vhsm:<name>" into out (size outlen). Returns 0 or -ENAMETOOLONG. name is not
 * validated here.
 */
int keyring_dek_description(const char *name, char *out, size_t outlen) _wur_;

#define KEYRING_DEK_NAME_MAX 64u

/*
 * Extracts the DEK name from a description "vhsm:<name>" into out. Returns 0, or -EINVAL when
 * desc does not start with the prefix or the name is not a valid DEK name (the one key-name
 * rule, text_key_name_valid in text.h) or does not fit out.
 */
int keyring_dek_name(const char *desc, char *out, size_t outlen) _wur_;

/* One line of /proc/keys. */
struct keyring_proc_key {
	int32_t serial;
	char flags[8];    /* "I--Q---": I instantiated, R revoked, D dead, N negative, i invalidated */
	char expiry[8];   /* "perm", "expd", "59s", "4m", "2h", "3d", "1w" */
	uint32_t perm;
	uint32_t uid;
	uint32_t gid;
	char type[33];
	char description[256]; /* without the type's ": <payload size>" suffix for logon/user */
};

/*
 * Parses one /proc/keys line (without or with the trailing newline). Returns 0, or -EBADMSG
 * for anything that is not a well-formed line. Pure; fuzzed.
 */
int keyring_proc_parse_line(const char *line, struct keyring_proc_key *ret) _wur_;

/* A key as keyctl_describe(3) reports it: "<type>;<uid>;<gid>;<perm>;<description>". */
struct keyring_key_desc {
	char type[33];
	uint32_t uid;
	uint32_t gid;
	uint32_t perm;
	const char *description; /* the rest, verbatim (may hold ';' or '\n'); points into the input */
};

/*
 * Parses keyctl_describe() output. The description is everything after the fourth ';', with
 * nothing cut off, so a caller comparing it byte for byte sees "vhsm:NAME\n<more>" as what it
 * is. Returns 0, or -EBADMSG for anything that is not well-formed. Pure; fuzzed.
 */
int keyring_describe_parse(const char *s, struct keyring_key_desc *ret) _wur_;

/* True when the flags show a live, positively instantiated key (not revoked/dead/negative). */
bool keyring_proc_key_live(const struct keyring_proc_key *k);

/*
 * Parses a callout string given to request_key(2) for a vhsm key: "" or "timeout=N"
 * (0 <= N <= KEYRING_MAX_TIMEOUT). Returns 0 with *ret_timeout (UINT32_MAX when none was
 * given), or -EINVAL.
 */
int keyring_parse_callout(const char *s, size_t len, uint32_t *ret_timeout) _wur_;
