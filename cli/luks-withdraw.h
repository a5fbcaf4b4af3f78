/* SPDX-License-Identifier: Apache-2.0 */
/* Withdrawing the sealed KEK copies from LUKS2 vhsm tokens (see luks-withdraw.c). */
#pragma once

#include <libcryptsetup.h>
#include <stddef.h>

/*
 * Removes the sealed KEK copy from every vhsm token of KEK kek in the loaded LUKS2 header of
 * cd, so that a vhsmd without a KEK store (--luks-standalone: the initrd) refuses the volume;
 * a vhsmd whose store holds the KEK still decides by its state. Returns the number of tokens
 * changed (0: no token of kek holds a copy), or -errno with the cause in why.
 */
int luks_withdraw_copies(struct crypt_device *cd, const char *kek, char *why, size_t whylen);

/* As luks_withdraw_copies(), for the LUKS2 device or header file at path. -ENOTBLK when it
 * cannot be opened or holds no LUKS2 header (why says which). */
int luks_withdraw_copies_at(const char *path, const char *kek, char *why, size_t whylen);
