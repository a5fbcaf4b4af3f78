/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test tool for the KMIP codec, driven by tests/integration/test-kmip-pykmip.sh against
 * PyKMIP's own encoder and decoder:
 *   kmip-tool request get|activate|destroy UID    our request, hex on stdout
 *   kmip-tool request locate NAME [GROUP]
 *   kmip-tool roundtrip < HEX                       parse + rebuild; "ok LEN" if identical
 *   kmip-tool response get|locate|destroy < HEX     what our response reader sees
 * Exit 0 on success, 1 on a mismatch, 2 when the input is refused (the errno is printed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmip.h"
#include "../fuzz/kmip-rebuild.h"

static uint8_t buf[KMIP_TTLV_MAX_MESSAGE + KMIP_TTLV_HEADER_SIZE];
static uint8_t out[sizeof(buf)];

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('\n');
}

static size_t read_hex(void)
{
	size_t n = 0;
	int hi = -1, c;

	while ((c = getchar()) != EOF) {
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (n == sizeof(buf))
				exit(2);
			buf[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static enum kmip_operation op_of(const char *s)
{
	if (!strcmp(s, "get"))
		return KMIP_OP_GET;
	if (!strcmp(s, "locate"))
		return KMIP_OP_LOCATE;
	if (!strcmp(s, "activate"))
		return KMIP_OP_ACTIVATE;
	if (!strcmp(s, "destroy"))
		return KMIP_OP_DESTROY;
	fprintf(stderr, "unknown operation %s\n", s);
	exit(2);
}

static int request(int argc, char **argv)
{
	struct kmip_writer w;
	enum kmip_operation op;
	int n;

	if (argc < 4)
		return 2;
	op = op_of(argv[2]);
	kmip_writer_init(&w, out, sizeof(out));
	kmip_request_begin(&w, 1, 2, op);
	if (op == KMIP_OP_LOCATE) {
		kmip_put_name_attribute(&w, argv[3]);
		if (argc > 4)
			kmip_put_group_attribute(&w, argv[4]);
	} else {
		kmip_put_uid(&w, argv[3]);
	}
	n = kmip_request_finish(&w);
	if (n < 0) {
		printf("refused %s\n", strerror(-n));
		return 2;
	}
	print_hex(out, (size_t)n);
	return 0;
}

static int roundtrip(void)
{
	size_t n = read_hex();
	struct kmip_item root;
	struct kmip_writer w;
	int r = kmip_ttlv_parse(buf, n, &root);

	if (r < 0) {
		printf("refused %s\n", strerror(-r));
		return 2;
	}
	kmip_writer_init(&w, out, sizeof(out));
	kmip_rebuild(&w, &root);
	r = kmip_writer_finish(&w);
	if (r != (int)n || memcmp(out, buf, n) != 0) {
		printf("mismatch\n");
		return 1;
	}
	printf("ok %zu\n", n);
	return 0;
}

static void print_text(const char *key, const char *s)
{
	/* Test output only: non-printable bytes as \xNN. */
	printf("%s=", key);
	for (; *s; s++)
		if (*s >= 0x20 && *s < 0x7f && *s != '\\')
			putchar(*s);
		else
			printf("\\x%02x", (unsigned char)*s);
	putchar('\n');
}

static int response(const char *opname)
{
	enum kmip_operation op = op_of(opname);
	size_t n = read_hex();
	struct kmip_response r;
	int k = kmip_response_parse(buf, n, op, &r);

	if (k < 0) {
		printf("refused %s\n", strerror(-k));
		return 2;
	}
	printf("version=%d.%d\noperation=%u\nstatus=%u\nreason=%u\n", r.major, r.minor,
	       r.operation, r.status, r.reason);
	print_text("message", r.message);
	if (!r.has_payload)
		return 0;
	if (op == KMIP_OP_GET && r.status == KMIP_STATUS_SUCCESS) {
		uint32_t alg;
		int32_t bits;
		const uint8_t *key;
		size_t len;
		char uid[KMIP_MAX_TEXT + 1];

		if (kmip_get_text(&r.payload, KMIP_TAG_UNIQUE_IDENTIFIER, uid, sizeof(uid)) < 0 ||
		    kmip_get_symmetric_key(&r.payload, &alg, &bits, &key, &len) < 0) {
			printf("refused payload\n");
			return 2;
		}
		print_text("uid", uid);
		printf("alg=%u\nbits=%d\nkey=", alg, bits);
		print_hex(key, len);
	} else if (op == KMIP_OP_LOCATE) {
		struct kmip_iter it;
		struct kmip_item item;

		kmip_iter_init(&it, &r.payload);
		while (kmip_iter_next(&it, &item))
			if (item.tag == KMIP_TAG_UNIQUE_IDENTIFIER) {
				char uid[KMIP_MAX_TEXT + 1];

				if (item.type != KMIP_TYPE_TEXT_STRING || item.len >= sizeof(uid))
					return 2;
				memcpy(uid, item.value, item.len);
				uid[item.len] = 0;
				print_text("uid", uid);
			}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "request"))
		return request(argc, argv);
	if (argc == 2 && !strcmp(argv[1], "roundtrip"))
		return roundtrip();
	if (argc == 3 && !strcmp(argv[1], "response"))
		return response(argv[2]);
	fprintf(stderr, "usage: kmip-tool request OP ARG... | roundtrip | response OP\n");
	return 2;
}
