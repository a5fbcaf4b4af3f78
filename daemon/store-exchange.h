/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BYOK exchange keys (store-exchange.c): <state>/exchange/<kek>.sealed holds the pending
 * exchange key of KEK kek, sealed in the strict profile; <state>/exchange/<kid>.spent records
 * that exchange key kid was used or expired. The sealed files are in the store manifest.
 */
#pragma once

#include "vhsmd.h"

/*
 * Seals an exchange key's private key (pt, PKCS#8 DER) with its public metadata (JSON) for
 * the KEK name kek, replacing a pending one. 0 or -errno (why filled).
 */
int store_exchange_write(struct manager *m, const char *kek, const char *meta_json,
			 const uint8_t *pt, size_t pt_len, char *why, size_t whylen);
/*
 * Unseals the pending exchange key for kek: 0 with its metadata (malloc) and private key
 * (secmem), -ENOENT when none is pending, -EKEYREJECTED / -EBADMSG (why filled). Outputs are
 * set only on success.
 */
int store_exchange_read(struct manager *m, const char *kek, char **ret_meta, uint8_t **ret_pt,
			size_t *ret_len, char *why, size_t whylen);
/* Destroys the pending exchange key for kek (durably). 0 or -errno. */
int store_exchange_remove(struct manager *m, const char *kek);
/* Records that exchange key kid is spent (used or expired): what is a short reason. */
int store_exchange_mark(struct manager *m, const char *kid, const char *what);
/* Withdraws the record of store_exchange_mark (an import that stored nothing). */
int store_exchange_unmark(struct manager *m, const char *kid);
/* 1 with the reason in buf when kid is spent, else 0; -EINVAL for an invalid kid. */
int store_exchange_spent(struct manager *m, const char *kid, char *buf, size_t len);
