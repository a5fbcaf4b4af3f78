/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Is a KEK's sealed file still the KEK vhsmd holds in memory? Unsealed KEKs are kept shielded
 * in memory, so a KEK keeps working after its file is damaged, truncated, removed or replaced
 * — until the daemon restarts. Whatever it wraps in that time could never be unwrapped again.
 * So new wraps check the file first; unwraps of existing blobs may go on from memory.
 */
#pragma once

#include "vhsmd.h"

struct kek_marks;

/* Frees what kek_file_mark() recorded (manager shutdown). Accepts NULL; returns NULL. */
struct kek_marks *kek_marks_free(struct kek_marks *k);

/*
 * Records that blob (len bytes) is the sealed file of KEK name as held in memory now (after
 * an unseal from the file, or after writing it). Forgets the KEK's damage. Returns 0 or
 * -ENOMEM (then the KEK is not checked: the file is only read again on its next unseal).
 */
int kek_file_mark(struct manager *m, const char *name, const uint8_t *blob, size_t len);

/* Forgets KEK name (purged). */
void kek_file_forget(struct manager *m, const char *name);

/*
 * Before a new wrap under KEK name: 0 when its sealed file is the one recorded (a stat(2)
 * when nothing changed, else a read and SHA-256), or when the KEK is not held in memory (then
 * the use has just read and verified the file). Otherwise -EBADMSG, why naming the file, what
 * is wrong and how to recover; the first detection is also logged (journal or stderr).
 */
int kek_file_verify(struct manager *m, const char *name, char *why, size_t whylen);

/*
 * Why the file of an in-memory KEK was found damaged, or NULL when it was not (as of the last
 * kek_file_verify()). For status.
 */
const char *kek_file_damage(struct manager *m, const char *name);
