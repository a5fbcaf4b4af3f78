/* SPDX-License-Identifier: Apache-2.0 */
/* KMIP over mutually authenticated TLS, with failover and bounded waits (kmip-client.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kmip-client.h"
#include "kmip-endpoint.h"
#include "kmip-ttlv.h"
#include "kmip.h"
#include "parse-util.h"

struct kmip_client {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	int timeout_ms;
	uint64_t deadline_ms;
	char endpoint[300];
};

/*
 * OpenSSL writes to the socket with write(2) (the TLS records, an alert, close_notify): to a
 * key manager that reset the connection, that raises SIGPIPE, which would end the calling
 * process without a word. Every SSL call runs under a guard that blocks SIGPIPE on the calling
 * thread and takes one raised meanwhile before the old mask returns; the write fails with
 * EPIPE instead, reported as a lost connection.
 */
struct sigpipe_guard {
	sigset_t old;
	bool was_pending;
};

static struct sigpipe_guard sigpipe_block(void)
{
	struct sigpipe_guard g = {};
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	g.was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	(void)pthread_sigmask(SIG_BLOCK, &set, &g.old);
	return g;
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	const struct timespec zero = {};
	sigset_t set, pending;
	int saved = errno;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	(void)pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	errno = saved;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void why_add(char *why, size_t whylen, const char *fmt, ...) _printf_(3, 4);
static void why_add(char *why, size_t whylen, const char *fmt, ...)
{
	size_t used = strnlen(why, whylen);
	va_list ap;

	if (!why || used + 1 >= whylen)
		return;
	if (used > 0 && used + 2 < whylen) {
		memcpy(why + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(why + used, whylen - used, fmt, ap);
	va_end(ap);
}

/* The reason of the oldest queued OpenSSL error (the queue is cleared). */
static const char *openssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();

	if (e == 0)
		snprintf(buf, len, "connection closed");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		uint64_t now = now_ms();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_addr(const struct addrinfo *ai, uint64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	int err = 0, r;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return negative_errno();
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = negative_errno();
			goto fail;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			r = err ? -err : -EIO;
			goto fail;
		}
	}
	return fd;
fail:
	close(fd);
	return r;
}

static int connect_tcp(const struct kmip_endpoint *ep, uint64_t deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int fd = -EHOSTUNREACH;

	if (getaddrinfo(ep->host, ep->port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_addr(ai, deadline);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

/* Waits for what SSL asked for after a non-blocking call returned rc. 0 to retry, or -errno. */
static int ssl_retry(struct kmip_client *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c->fd, POLLIN, c->deadline_ms);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c->fd, POLLOUT, c->deadline_ms);
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL:
		return -ECONNRESET;
	default:
		return -EIO;
	}
}

static SSL_CTX *tls_context(const struct kmip_tls_config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char reason[256];

	if (!ctx)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
		why_add(why, whylen, "CA file %s: %s", cfg->ca_file,
			openssl_reason(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, cfg->key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		why_add(why, whylen, "client certificate %s: %s", cfg->cert_file,
			openssl_reason(reason, sizeof(reason)));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
	/* The server's certificate is verified once, at the handshake. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* OpenSSL accepts a server certificate without an extended key usage; a key manager's must
 * name serverAuth. */
static int server_eku_ok(struct kmip_client *c, char *why, size_t whylen)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);

	if (peer && (X509_get_extension_flags(peer) & EXFLAG_XKUSAGE) &&
	    (X509_get_extended_key_usage(peer) & XKU_SSL_SERVER))
		return 0;
	why_add(why, whylen, "%s: server certificate refused: no serverAuth extended key usage",
		c->endpoint);
	return -EKEYREJECTED;
}

static int tls_handshake(struct kmip_client *c, const struct kmip_endpoint *ep, char *why,
			 size_t whylen)
{
	X509_VERIFY_PARAM *vp;
	char reason[256];
	int rc, r;

	c->ssl = SSL_new(c->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -ENOMEM;
	vp = SSL_get0_param(c->ssl);
	if (ep->is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, ep->host) != 1)
			return -EINVAL;
	} else if (SSL_set_tlsext_host_name(c->ssl, ep->host) != 1 ||
		   SSL_set1_host(c->ssl, ep->host) != 1) {
		return -EINVAL;
	}
	while ((rc = SSL_connect(c->ssl)) != 1) {
		r = ssl_retry(c, rc);
		if (r == 0)
			continue;
		if (r == -ETIMEDOUT) {
			why_add(why, whylen, "%s: TLS handshake timed out", c->endpoint);
			return r;
		}
		if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
			why_add(why, whylen, "%s: server certificate refused: %s", c->endpoint,
				X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
			ERR_clear_error();
			return -EKEYREJECTED;
		}
		why_add(why, whylen, "%s: TLS handshake failed: %s", c->endpoint,
			openssl_reason(reason, sizeof(reason)));
		return -EKEYREJECTED;
	}
	return server_eku_ok(c, why, whylen);
}

static void client_close(struct kmip_client *c)
{
	if (c->ssl) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -EBADF;
	ERR_clear_error();
}

/*
 * What a refused socket or connect most likely means: the process's sandbox denies the network
 * (vhsmd.service: RestrictAddressFamilies=AF_UNIX fails socket() with EAFNOSUPPORT,
 * IPAddressDeny= fails connect() with EPERM), which `vhsmctl fleet network` opens.
 */
static const char *sandbox_hint(int r)
{
	if (r != -EAFNOSUPPORT && r != -EPERM)
		return "";
	return " (this process may not use the network: vhsmd.service keeps vhsmd off it until "
	       "the drop-in of `vhsmctl fleet network --install` allows the key managers)";
}

static int try_endpoint(struct kmip_client *c, const char *s, char *why, size_t whylen)
{
	struct kmip_endpoint ep;
	int r = kmip_endpoint_parse(s, &ep);

	if (r < 0) {
		why_add(why, whylen, "bad endpoint '%.64s': want host:port or [address]:port", s);
		return r;
	}
	snprintf(c->endpoint, sizeof(c->endpoint), "%s", s);
	c->deadline_ms = now_ms() + (uint64_t)c->timeout_ms;
	c->fd = connect_tcp(&ep, c->deadline_ms);
	if (c->fd < 0) {
		r = c->fd;
		why_add(why, whylen, "%s: %s%s", s, strerror(-r), sandbox_hint(r));
		return r;
	}
	r = tls_handshake(c, &ep, why, whylen);
	if (r < 0)
		client_close(c);
	return r;
}

int kmip_client_open(const struct kmip_tls_config *cfg, const char *const *endpoints, size_t n,
		     struct kmip_client **ret, char *why, size_t whylen)
{
	_cleanup_(sigpipe_restore) struct sigpipe_guard guard = sigpipe_block();
	struct kmip_client *c;
	int r = -EINVAL;

	if (why && whylen)
		why[0] = 0;
	if (n == 0 || n > KMIP_CLIENT_MAX_ENDPOINTS || !cfg->ca_file || !cfg->cert_file ||
	    !cfg->key) {
		why_add(why, whylen, "1 to %d endpoints, a CA file, a certificate and a key needed",
			KMIP_CLIENT_MAX_ENDPOINTS);
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -EBADF;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : KMIP_CLIENT_TIMEOUT_MS_DEFAULT;
	c->ctx = tls_context(cfg, why, whylen);
	if (!c->ctx) {
		free(c);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		r = try_endpoint(c, endpoints[i], why, whylen);
		if (r == 0) {
			*ret = c;
			return 0;
		}
	}
	kmip_client_free(c);
	return r;
}

const char *kmip_client_endpoint(const struct kmip_client *c)
{
	return c->endpoint;
}

static int ssl_write_all(struct kmip_client *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t done = 0;
		int rc = SSL_write_ex(c->ssl, p, len, &done);

		if (rc == 1) {
			p += done;
			len -= done;
			continue;
		}
		rc = ssl_retry(c, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int ssl_read_all(struct kmip_client *c, uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t done = 0;
		int rc = SSL_read_ex(c->ssl, p, len, &done);

		if (rc == 1) {
			p += done;
			len -= done;
			continue;
		}
		rc = ssl_retry(c, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int kmip_client_call(struct kmip_client *c, const uint8_t *req, size_t len, uint8_t *resp,
		     size_t cap)
{
	_cleanup_(sigpipe_restore) struct sigpipe_guard guard = sigpipe_block();
	uint32_t tag, body;
	int r;

	if (!c->ssl)
		return -ENOTCONN;
	if (cap < KMIP_TTLV_HEADER_SIZE)
		return -EMSGSIZE;
	c->deadline_ms = now_ms() + (uint64_t)c->timeout_ms;
	r = ssl_write_all(c, req, len);
	if (r == 0)
		r = ssl_read_all(c, resp, KMIP_TTLV_HEADER_SIZE);
	if (r < 0)
		goto fail;
	tag = (uint32_t)resp[0] << 16 | (uint32_t)resp[1] << 8 | resp[2];
	body = (uint32_t)resp[4] << 24 | (uint32_t)resp[5] << 16 | (uint32_t)resp[6] << 8 | resp[7];
	if (tag != KMIP_TAG_RESPONSE_MESSAGE || resp[3] != KMIP_TYPE_STRUCTURE || body % 8 != 0) {
		r = -EBADMSG;
		goto fail;
	}
	if (body > KMIP_TTLV_MAX_MESSAGE || body > cap - KMIP_TTLV_HEADER_SIZE) {
		r = -EMSGSIZE;
		goto fail;
	}
	r = ssl_read_all(c, resp + KMIP_TTLV_HEADER_SIZE, body);
	if (r < 0)
		goto fail;
	return (int)(KMIP_TTLV_HEADER_SIZE + body);
fail:
	/* A connection in an unknown state is not reused. */
	client_close(c);
	return r;
}

struct kmip_client *kmip_client_free(struct kmip_client *c)
{
	_cleanup_(sigpipe_restore) struct sigpipe_guard guard = sigpipe_block();

	if (!c)
		return NULL;
	client_close(c);
	SSL_CTX_free(c->ctx);
	free(c);
	return NULL;
}
