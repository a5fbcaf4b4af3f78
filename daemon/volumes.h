/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The volumes a KEK unlocked: every LUKS_UNLOCK (token plugin) and every answer of the crypttab
 * key socket records the LUKS UUID (and the volume name, when the key socket knows it) under
 * the KEK that unlocked it, in <state>/volumes/<UUID>.json, covered by the store manifest. So
 * `kek disable --shred` can find an open volume by the kernel's dm uuid even when the host has
 * removed the vhsm token from the volume's header (docs/SECURITY.md).
 */
#pragma once

#include "vhsmd.h"

#define VOLUMES_KEKS_MAX 16u /* KEKs remembered per volume (the latest ones) */

/*
 * Records that kek unlocked the LUKS2 volume uuid (volume: its crypttab name, or NULL). Writes
 * only when something changed. Returns 0 or -errno (-EINVAL for a UUID that is not "8-4-4-4-12"
 * hex); logs nothing: callers go on without a record.
 */
int volumes_record(struct manager *m, const char *kek, const char *uuid, const char *volume);

/*
 * The volumes kek unlocked, as JSON text: [{"uuid": ..., "volume": ... or null, "verified":
 * false when the record file is not the one this CVM wrote last}] (ret_text malloc'ed). A
 * record refused by the store manifest is listed too: for --shred, suspending one volume too
 * many is the safe side. Returns 0 or -errno.
 */
int volumes_of_kek_json(struct manager *m, const char *kek, char **ret_text);
