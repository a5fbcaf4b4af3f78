/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store manifest: <state>/store.manifest lists every sealed KEK, BYOK exchange key and key
 * pair file (kek/NAME.sealed, exchange/NAME.sealed, keypair/NAME.sealed) and every DEK registry
 * file (dek/NAME.dek) with its generation and SHA-256, under an HMAC whose key only this CVM
 * derives (audit-key.h, info "vhsm-store-manifest-v1"). Every write or removal of such a file
 * advances its entry, so a single older file put back (undoing acl, disable, delete or purge,
 * or a DEK's deletion) or an edited one (a DEK's deleted_at) no longer matches and is refused.
 * Crash safety: an entry is first made pending (new digest and the previous
 * one), then the file is written, then the entry is committed; at load a pending entry
 * accepts either digest, whichever is on disk, and is committed to it, so a crash between the
 * two writes loses nothing and accepts no rollback. Not covered: a rollback of the whole state
 * directory including the manifest (docs/SECURITY.md).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vhsmd.h"

struct manifest;

/* What the manifest needs of vhsmd; the pointers are borrowed and outlive the manifest. */
struct manifest_env {
	int dir_fd;                        /* the state directory (O_PATH will do) */
	struct snp_dev *dev;               /* derives the manifest key; NULL: no manifest (tests) */
	const struct attest_state *attest; /* the key waits for the first verified report */
	struct clock_anchor *clock_boot;   /* this boot's earliest clock anchor: kept across starts */
	const struct clock_anchor *clock_start; /* vhsmd's start: persisted while clock_boot is unset */
};

/*
 * A manifest for the state directory env->dir_fd, loaded at first use (the key needs a verified
 * report). Returns 0 or -ENOMEM; free with manifest_free(). Does not log.
 */
int manifest_new(const struct manifest_env *env, struct manifest **ret);
struct manifest *manifest_free(struct manifest *mf);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manifest *, manifest_free);

/*
 * Checks the bytes of the file rel ("kek/NAME.sealed", "dek/NAME.dek") against the manifest. Loads the
 * manifest first (creating it from the files present when there is none, or when it was made
 * by another launch image). Returns 0 when it matches (or mf is NULL or has no SNP device: unit
 * tests), -EKEYREJECTED with why for a file that is older or other than the manifest says
 * (rolled back or replaced) or when the manifest itself does not verify, or -errno. Logs refusals to the journal.
 */
int manifest_check(struct manifest *mf, const char *rel, const uint8_t *blob, size_t len,
		   char *why, size_t whylen);

/*
 * Before writing (blob) or removing (blob NULL) rel: makes its entry pending and writes the
 * manifest durably. 0 or -errno (the caller then does not touch the file).
 */
int manifest_begin(struct manifest *mf, const char *rel, const uint8_t *blob, size_t len);
/* After the file was written or removed: commits the entry. 0 or -errno. */
int manifest_commit(struct manifest *mf, const char *rel);

/* Files refused as rolled back since vhsmd started (status). */
unsigned manifest_refusals(const struct manifest *mf);

/*
 * Test hook: with VHSMD_TEST_CRASH=manifest-pending (after the pending manifest, before the
 * file) or =file-written (after the file, before the commit) vhsmd kills itself there.
 */
void manifest_test_crash(const char *point);
