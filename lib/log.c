/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Debug logging through a per-thread sink. Per thread, not per process, because the token
 * plugin runs inside libcryptsetup's caller and must not change state other threads see;
 * each entry point installs the sink it needs. Messages are formatted on the stack.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "log.h"

#define LOG_LINE_MAX 1024

static __thread vhsm_log_sink_t log_sink;
static __thread void *log_userdata;

void vhsm_log_set_sink(vhsm_log_sink_t sink, void *userdata)
{
	log_sink = sink;
	log_userdata = sink ? userdata : NULL;
}

/* Hands msg to the sink; errno is preserved so that logging never changes an error path. */
static void log_emit(const char *msg)
{
	int saved = errno;

	log_sink(log_userdata, msg);
	errno = saved;
}

void vhsm_log_forward(void *userdata, const char *msg)
{
	(void)userdata;
	if (log_sink && msg)
		log_emit(msg);
}

void vhsm_log_debug(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;
	int saved = errno, n;

	if (!log_sink || !fmt)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	errno = saved;
	if (n < 0)
		return;
	/* Marks a cut message, so that a truncated value is not mistaken for the whole. */
	if ((size_t)n >= sizeof(buf))
		memcpy(buf + sizeof(buf) - 4, "...", 4);
	log_emit(buf);
}

int vhsm_log_openssl(int err, const char *what)
{
	const char *data = NULL;
	unsigned long e;
	bool any = false;
	int flags = 0, saved = errno;

	if (!what)
		what = "OpenSSL";
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		const char *lib = ERR_lib_error_string(e);
		const char *reason = ERR_reason_error_string(e);
		bool has_data = data && (flags & ERR_TXT_STRING) && data[0];
		char code[32];

		any = true;
		if (!log_sink)
			continue;
		if (!reason) {
			snprintf(code, sizeof(code), "reason %d", ERR_GET_REASON(e));
			reason = code;
		}
		vhsm_log_debug("%s: %s:%s%s%s", what, lib ? lib : "unknown", reason,
			       has_data ? ": " : "", has_data ? data : "");
	}
	if (!any)
		vhsm_log_debug("%s failed (no OpenSSL error queued)", what);
	errno = saved;
	return err;
}
