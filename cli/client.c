/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmctl <-> vhsmd: one request, one reply through lib/wire-client, errors printed. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "json.h"
#include "secmem.h"
#include "vhsmctl.h"

int client_begin(struct client_req *r, uint16_t op)
{
	uint32_t id;

	r->buf = secmem_alloc(VHSM_WIRE_MAX_MESSAGE);
	if (!r->buf)
		return -ENOMEM;
	r->timeout_ms = VHSM_CLIENT_TIMEOUT_MS;
	id = ((uint32_t)getpid() ^ (uint32_t)time(NULL)) | 1u; /* never 0: see lib/wire-client.h */
	vhsm_wire_begin(&r->b, r->buf, VHSM_WIRE_MAX_MESSAGE, op, id);
	return 0;
}

void client_req_done(struct client_req *r)
{
	r->buf = secmem_free(r->buf);
}

void client_reply_done(struct client_reply *r)
{
	r->conn = vhsm_client_free(r->conn);
	r->buf = NULL;
}

int client_call(struct client_req *r, struct client_reply *ret)
{
	struct vhsm_client *c = NULL;
	int len, rc;

	memset(ret, 0, sizeof(*ret));
	len = vhsm_wire_finish(&r->b);
	if (len == -EINVAL) {
		cli_error("invalid argument: names are 1-255 printable characters without '/'");
		return len;
	}
	if (len < 0) {
		cli_error("request too large");
		return len;
	}
	rc = vhsm_client_new(arg_socket, 0, 0, &c);
	if (rc < 0) {
		cli_error("cannot connect to vhsmd at %s: %s", arg_socket, strerror(-rc));
		return rc;
	}
	ret->conn = c;
	ret->buf = c->rep;
	rc = vhsm_client_request(c, r->buf, (size_t)len,
				 vhsm_client_deadline(r->timeout_ms));
	vhsm_client_disconnect(c);
	if (rc < 0) {
		cli_error("%s", c->error);
		return rc;
	}
	ret->len = c->rep_len;
	ret->msg = c->msg;
	ret->err = c->status;
	snprintf(ret->message, sizeof(ret->message), "%s", c->message);
	return 0;
}

int client_call_checked(struct client_req *req, const char *what, struct client_reply *rep)
{
	int r = client_call(req, rep), ret;

	client_req_done(req);
	if (r < 0) {
		client_reply_done(rep);
		return r == -EINVAL ? EXIT_USAGE : EXIT_ERROR;
	}
	if (rep->err) {
		ret = client_refused(rep, what);
		client_reply_done(rep);
		return ret;
	}
	return EXIT_OK;
}

int client_refused(const struct client_reply *r, const char *what)
{
	cli_error("%s: %s", what, r->message[0] ? r->message : strerror(-r->err));
	switch (-r->err) {
	case EPERM:
	case EACCES:
	case EKEYREJECTED:
	case EKEYREVOKED:
	case EKEYEXPIRED:
	case ENOKEY:
	case EBADMSG:
		return EXIT_REJECTED;
	case EINVAL:
	case ENOENT:
	case EEXIST:
	case EALREADY:
		return EXIT_REJECTED;
	default:
		return EXIT_ERROR;
	}
}

/*
 * Listings (kek list, dek list) reply with a JSON array, which json_parse() refuses at the
 * top level: parse it as the one member of an object, with the same strict rules.
 */
static json_object *parse_json_array(const uint8_t *text, size_t len)
{
	static const char pre[] = "{\"v\":", post[] = "}";
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *buf = NULL;
	json_object *v;

	if (len > VHSM_WIRE_MAX_TEXT)
		return NULL;
	buf = malloc(sizeof(pre) - 1 + len + sizeof(post));
	if (!buf)
		return NULL;
	memcpy(buf, pre, sizeof(pre) - 1);
	memcpy(buf + sizeof(pre) - 1, text, len);
	memcpy(buf + sizeof(pre) - 1 + len, post, sizeof(post));
	if (json_parse(buf, sizeof(pre) - 1 + len + sizeof(post) - 1, VHSM_WIRE_MAX_TEXT + 8,
		       "reply", &o, NULL, 0) < 0 ||
	    json_member(o, NULL, "v", json_type_array, &v, NULL, 0) < 0)
		return NULL;
	return json_object_get(v);
}

json_object *client_parse_json(const struct client_reply *r)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(&r->msg, VHSM_TAG_JSON);
	json_object *o = NULL;

	if (!f)
		return NULL;
	/* The field is a view into the reply buffer, not NUL-terminated: pass its length. */
	if (f->len > 0 && f->value[0] == '[')
		return parse_json_array(f->value, f->len);
	if (json_parse((const char *)f->value, f->len, VHSM_WIRE_MAX_TEXT, "reply", &o, NULL, 0) < 0)
		return NULL;
	return o;
}

void client_print_json(const struct client_reply *r)
{
	const struct vhsm_wire_field *f = vhsm_wire_get(&r->msg, VHSM_TAG_JSON);
	json_object *o;

	if (!f)
		return;
	o = client_parse_json(r);
	if (!o) {
		fwrite(f->value, 1, f->len, stdout);
		fputc('\n', stdout);
		return;
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}
