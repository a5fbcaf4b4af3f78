/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl's connection to vhsmd: one request, one reply, buffers in secure memory. */
#pragma once

#include <json-c/json.h>

#include "wire-client.h"
#include "wire.h"

struct client_req {
	uint8_t *buf; /* secmem */
	struct vhsm_wire_builder b;
	unsigned timeout_ms; /* the call's deadline from now; VHSM_CLIENT_TIMEOUT_MS unless set */
};

/*
 * The deadline of a request that makes vhsmd generate an RSA-3072 key (BYOK exchange key):
 * the prime search takes seconds, and many times that on a loaded machine; the daemon is
 * working, not gone.
 */
#define CLIENT_KEYGEN_TIMEOUT_MS 300000u

struct client_reply {
	struct vhsm_client *conn; /* owns buf */
	uint8_t *buf; /* secmem */
	size_t len;
	struct vhsm_wire_msg msg;
	int err;          /* the daemon's answer: 0 or -errno */
	char message[1024];
};

/* Starts a request for op. Returns 0 or -ENOMEM. */
int client_begin(struct client_req *r, uint16_t op);
/*
 * Sends the request to vhsmd at arg_socket through lib/client (deadline VHSM_CLIENT_TIMEOUT_MS,
 * busy replies retried) and decodes the reply. Returns 0 when a reply was received (check
 * ret->err), or -errno when the daemon could not be reached (printed). Release ret with
 * client_reply_done() in both cases.
 */
int client_call(struct client_req *r, struct client_reply *ret);
/*
 * client_call, then: sends req (always released) and returns EXIT_OK with the daemon's
 * successful reply in *rep, or the exit status to return after printing why (the reply is
 * released then): EXIT_USAGE for an invalid argument, EXIT_ERROR when the daemon could not
 * be reached, client_refused()'s status for a refusal.
 */
int client_call_checked(struct client_req *req, const char *what, struct client_reply *rep);
void client_req_done(struct client_req *r);
void client_reply_done(struct client_reply *r);

/* Prints the daemon's refusal and maps it to an exit status. */
int client_refused(const struct client_reply *r, const char *what);

/* Parses the reply's JSON field (NULL when absent or invalid); caller puts it. */
json_object *client_parse_json(const struct client_reply *r);

/* Prints a JSON text field pretty (or raw with --json). */
void client_print_json(const struct client_reply *r);
