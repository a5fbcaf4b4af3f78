/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded HTTP(S) GET with libcurl (see http-fetch.h). libcurl is loaded on first use: linked,
 * it and what it links (TLS, LDAP, SSH, Kerberos, IDN: about 30 libraries) cost every start of
 * vhsmctl and vhsm-byok several milliseconds of dynamic loading and constructors, and only
 * fetching collateral needs it (systemd loads libcryptsetup and libtss2 the same way).
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "http-fetch.h"
#include "log.h"

#define LIBCURL_SONAME "libcurl.so.4"

/* The entry points used, resolved from LIBCURL_SONAME; the names in parentheses are the
 * functions, not curl's type-checking macros. */
static struct {
	typeof((curl_global_init)) *global_init;
	typeof((curl_easy_init)) *easy_init;
	typeof((curl_easy_setopt)) *easy_setopt;
	typeof((curl_easy_perform)) *easy_perform;
	typeof((curl_easy_getinfo)) *easy_getinfo;
	typeof((curl_easy_strerror)) *easy_strerror;
	typeof((curl_easy_cleanup)) *easy_cleanup;
	typeof((curl_slist_append)) *slist_append;
	typeof((curl_slist_free_all)) *slist_free_all;
} sym;
static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static char sym_error[256]; /* why loading failed; "" when it worked */

static void sym_load(void)
{
	/* Never closed: curl_global_init() state lives in the library until exit. */
	void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	void **p[] = {
		(void **)&sym.global_init, (void **)&sym.easy_init, (void **)&sym.easy_setopt,
		(void **)&sym.easy_perform, (void **)&sym.easy_getinfo,
		(void **)&sym.easy_strerror, (void **)&sym.easy_cleanup,
		(void **)&sym.slist_append, (void **)&sym.slist_free_all,
	};
	static const char *const names[] = {
		"curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_perform",
		"curl_easy_getinfo", "curl_easy_strerror", "curl_easy_cleanup",
		"curl_slist_append", "curl_slist_free_all",
	};
	_Static_assert(ELEMENTSOF(p) == ELEMENTSOF(names), "one name per entry point");

	if (!h) {
		snprintf(sym_error, sizeof(sym_error), "cannot load %s (install libcurl4): %s",
			 LIBCURL_SONAME, dlerror());
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(p); i++) {
		*p[i] = dlsym(h, names[i]);
		if (!*p[i]) {
			snprintf(sym_error, sizeof(sym_error), "%s has no %s", LIBCURL_SONAME,
				 names[i]);
			return;
		}
	}
	if (sym.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(sym_error, sizeof(sym_error), "%s failed to initialise", LIBCURL_SONAME);
}

/* Loads libcurl once per process: 0, or -ENOPKG with why. */
static int sym_ready(char *why, size_t whylen)
{
	(void)pthread_once(&sym_once, sym_load);
	if (!sym_error[0])
		return 0;
	vhsm_log_debug("%s", sym_error);
	if (why)
		snprintf(why, whylen, "%s", sym_error);
	return -ENOPKG;
}

struct body {
	uint8_t *data;
	size_t len, max;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	struct body *b = userdata;
	size_t add = size * n;

	if (add > b->max - b->len) {
		b->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	uint8_t *d = realloc(b->data, b->len + add + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, add);
	b->data = d;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT: return -EINVAL;
	default: return -EIO;
	}
}

static void curl_easyp(CURL **c)
{
	if (*c)
		sym.easy_cleanup(*c);
}

static void slistp(struct curl_slist **l)
{
	if (*l)
		sym.slist_free_all(*l);
}

static int set_opts(CURL *c, const char *url, const struct http_fetch_opts *o, struct body *b,
		    struct curl_slist **hdr)
{
	if (o->header && !(*hdr = sym.slist_append(NULL, o->header)))
		return -ENOMEM;
	bool ok = sym.easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_MAXREDIRS, 3L) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_TIMEOUT, o->timeout_sec) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes) ==
			  CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_USERAGENT, "vhsm/" VHSM_VERSION) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_HTTPHEADER, *hdr) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
		  sym.easy_setopt(c, CURLOPT_WRITEDATA, b) == CURLE_OK;
	return ok ? 0 : -EINVAL;
}

int http_fetch(const char *url, const struct http_fetch_opts *o, uint8_t **ret_body,
	       size_t *ret_len, long *ret_status, char *why, size_t whylen)
{
	_cleanup_(curl_easyp) CURL *c = NULL;
	_cleanup_(slistp) struct curl_slist *hdr = NULL;
	struct body b = { .max = o ? o->max_bytes : 0 };
	long status = 0;
	int r;

	if (!url || !o || !ret_body || !ret_len || o->max_bytes == 0)
		return -EINVAL;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		if (why)
			snprintf(why, whylen, "only http:// and https:// URLs are fetched");
		return -EINVAL;
	}
	r = sym_ready(why, whylen);
	if (r < 0)
		return r;
	c = sym.easy_init();
	if (!c)
		return -ENOMEM;
	r = set_opts(c, url, o, &b, &hdr);
	if (r < 0)
		return r;
	CURLcode cr = sym.easy_perform(c);
	(void)sym.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (ret_status)
		*ret_status = status;
	if (cr != CURLE_OK) {
		r = b.too_big || cr == CURLE_FILESIZE_EXCEEDED ? -EMSGSIZE : curl_errno(cr);
		if (why)
			snprintf(why, whylen, "%s", r == -EMSGSIZE ? "the answer is too large" :
				 sym.easy_strerror(cr));
	} else if (status != 200) {
		r = status == 429 ? -EBUSY : status == 404 ? -ENOENT : -EPROTO;
		if (why)
			snprintf(why, whylen, "HTTP status %ld%s", status,
				 status == 429 ? " (rate-limited: try again later)" : "");
	}
	if (r < 0) {
		free(b.data);
		return r;
	}
	if (!b.data && !(b.data = calloc(1, 1)))
		return -ENOMEM;
	*ret_body = b.data;
	*ret_len = b.len;
	return 0;
}
