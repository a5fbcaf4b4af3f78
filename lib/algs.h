/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSL algorithms fetched once per process and kept. An implicit fetch (EVP_sha256() and
 * friends, or an algorithm named in an OSSL_PARAM) looks the algorithm up in the provider
 * store under a lock on every use; the hot paths (unwrap, the daemon's shield, the audit
 * chain) use these instead. They are immutable and shared between threads, and never freed:
 * a process that loads this code uses them until it exits. Each returns NULL (and leaves the
 * OpenSSL error queue empty) when the default provider lacks the algorithm.
 */
#pragma once

#include <openssl/evp.h>

const EVP_MD *algs_sha256(void);
const EVP_CIPHER *algs_aes256_gcm(void);
