/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Debug logging for library code. The library logs at debug level at most, through a sink
 * the program installs (journal in vhsmd, stderr with --debug in vhsmctl, crypt_logf in the
 * token plugin). Without a sink nothing is printed. Never pass key material or whole blobs.
 */
#pragma once

#include "macro.h"

typedef void (*vhsm_log_sink_t)(void *userdata, const char *msg);

/* Installs the debug sink for this thread (NULL turns debug logging off). */
void vhsm_log_set_sink(vhsm_log_sink_t sink, void *userdata);

/* Formats and hands a debug message to the sink, if any. */
void vhsm_log_debug(const char *fmt, ...) _printf_(1, 2);

/*
 * Drains the OpenSSL error queue to the debug sink, prefixed with what failed, and returns
 * err (a negative errno) so that callers can write `return log_openssl(-EIO, "...")`.
 */
int vhsm_log_openssl(int err, const char *what);

/*
 * A sink that hands msg to this copy of the library's sink for the calling thread (dropped
 * when there is none). For a dlopen'ed module that links its own copy of libvhsm (the
 * simulator): installed there as the module's sink, the module's messages reach the
 * program's. userdata is unused.
 */
void vhsm_log_forward(void *userdata, const char *msg);
