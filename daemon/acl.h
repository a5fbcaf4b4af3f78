/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-KEK access control. Text form (stored in the KEK metadata, given to `kek acl`):
 *   ENTRY[;ENTRY...]   ENTRY = KIND:WHO:OP[,OP...]
 *   KIND = uid | gid | unit | user | group   (user/group names are resolved to uid/gid)
 *   OP   = wrap | unwrap | rewrap | read | admin | all
 * e.g. "uid:1000:wrap,unwrap;unit:systemd-cryptsetup@data.service:unwrap".
 * Root and members of the "vhsm" group administer every KEK; everyone else gets only what an
 * entry grants.
 */
#pragma once

#include "vhsmd.h"

int acl_parse(const char *s, struct acl_entry *out, size_t *ret_n);
int acl_format(const struct acl_entry *e, size_t n, char **ret);
bool acl_allows(const struct kek_meta *m, const struct peer *p, uint32_t op);
const char *acl_op_name(uint32_t op);
/*
 * The same for key pairs (keypair.h): OP = sign | decrypt | read | admin | all, stored in the
 * bits of wrap, unwrap, read and admin. Parse: 0, -EINVAL, -ENOENT (unknown user or group),
 * -EMSGSIZE; format: 0 and a malloc'ed string, or -errno.
 */
int acl_parse_key(const char *s, struct acl_entry *out, size_t *ret_n);
int acl_format_key(const struct acl_entry *e, size_t n, char **ret);
const char *acl_key_op_name(uint32_t op);
/* Whether the n entries admit peer p to op (administrators always). */
bool acl_entries_allow(const struct acl_entry *acl, size_t n, const struct peer *p, uint32_t op);
