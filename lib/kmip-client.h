/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMIP over TLS to a key manager (KMIP 1.2 profiles: TCP, TLS 1.2 or later, mutual
 * authentication). The server is trusted only through the configured CA file (no system
 * roots), its certificate must carry serverAuth and name the endpoint's host (DNS name or IP
 * address); the client presents its certificate and key. Endpoints are tried in order: the
 * first that completes the TLS handshake serves the connection, so a dead key manager fails
 * over to the next. Renegotiation is refused (the server is verified once). Every connect,
 * handshake, write and read is bounded by the timeout.
 * A server that resets the connection never raises SIGPIPE in the caller: each call blocks it
 * on the calling thread while OpenSSL writes and restores the mask after.
 * Library code: no process-wide state; never logs; failures come back as -errno with a
 * sentence naming the endpoint and the cause.
 */
#pragma once

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define KMIP_CLIENT_MAX_ENDPOINTS 8
#define KMIP_CLIENT_TIMEOUT_MS_DEFAULT 10000

struct kmip_tls_config {
	const char *ca_file;   /* PEM: the only trust anchors for the server */
	const char *cert_file; /* PEM: the client certificate (chain) */
	EVP_PKEY *key;         /* the client's private key; the caller keeps ownership */
	int timeout_ms;        /* each network step; 0 for the default */
};

struct kmip_client;

/*
 * Connects to the first of endpoints[0..n) ("host:port" or "[v6addr]:port") that completes a
 * verified TLS handshake. Returns 0 and the connection in *ret, or the last endpoint's -errno
 * (-EHOSTUNREACH/-ECONNREFUSED/-ETIMEDOUT for network failures, -EKEYREJECTED when the server's
 * certificate did not verify or the server refused ours, -EINVAL for a bad endpoint or
 * configuration) with why[] naming each endpoint tried and why it failed.
 */
int kmip_client_open(const struct kmip_tls_config *cfg, const char *const *endpoints, size_t n,
		     struct kmip_client **ret, char *why, size_t whylen) _wur_;

/* The endpoint the connection uses (valid while it is open). */
const char *kmip_client_endpoint(const struct kmip_client *c);

/*
 * Sends one request message and reads one response message into resp[0..cap). Returns the
 * response's length, -EMSGSIZE (larger than cap or the codec's limit), -EBADMSG (not a KMIP
 * response header), -ETIMEDOUT, -ECONNRESET (the server closed the connection) or -EIO.
 */
int kmip_client_call(struct kmip_client *c, const uint8_t *req, size_t len, uint8_t *resp,
		     size_t cap) _wur_;

/* Closes the connection (TLS close_notify, bounded) and frees it. Accepts NULL; returns NULL. */
struct kmip_client *kmip_client_free(struct kmip_client *c);
