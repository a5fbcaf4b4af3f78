/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsmctl wrap|unwrap|rewrap (stdin -> stdout) and unwrap-batch (files -> a directory).
 * Key material moves only through stdin/stdout, files of mode 0600 and secure memory, never argv.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "fileio.h"
#include "json-cleanup.h"
#include "secmem.h"
#include "vhsmctl.h"
#include "wrap.h"

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int crypt_verb(int argc, char **argv, uint16_t op)
{
	enum { O_KEK = 256, O_CTX };
	static const struct option opts[] = {
		{ "kek", required_argument, NULL, O_KEK },
		{ "context", required_argument, NULL, O_CTX },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_secmem_ uint8_t *in = NULL;
	const char *kek = NULL, *ctx = NULL;
	struct client_req req;
	struct client_reply rep;
	size_t in_len, max;
	int c, r, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_KEK: kek = optarg; break;
		case O_CTX: ctx = optarg; break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl wrap --kek NAME [--context S] < key > wrapped\n"
			       "       vhsmctl unwrap [--context S] < wrapped > key\n"
			       "       vhsmctl rewrap [--context S] < wrapped > wrapped-newest\n\n"
			       "Binary-safe on stdin/stdout. The context (not secret) is bound to the\n"
			       "wrapped key and must be given again to unwrap it. The output is\n"
			       "binary: --json applies to errors only.\n");
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (!cli_args_count(argc, 0, 0))
		return EXIT_USAGE;
	if (op == VHSM_OP_WRAP && !kek) {
		cli_error("wrap: --kek NAME is required");
		return EXIT_USAGE;
	}
	if (op != VHSM_OP_WRAP && kek) {
		cli_error("%s: the wrapped key names its KEK; --kek is not used", arg_verb);
		return EXIT_USAGE;
	}
	if (isatty(STDIN_FILENO)) {
		cli_error("%s: reads the key from standard input; refusing a terminal", arg_verb);
		return EXIT_USAGE;
	}
	/* A key on a terminal ends up in its scrollback, logs and screen sharing. */
	if (op == VHSM_OP_UNWRAP && isatty(STDOUT_FILENO)) {
		cli_error("%s: writes the key to standard output; refusing a terminal "
			  "(redirect it to a file or a pipe)", arg_verb);
		return EXIT_USAGE;
	}
	max = op == VHSM_OP_WRAP ? WRAP_PLAINTEXT_MAX : WRAP_BLOB_MAX;
	r = fileio_read_fd_secret(STDIN_FILENO, max, &in, &in_len);
	if (r == -EMSGSIZE) {
		cli_error("%s: standard input is larger than %zu bytes, the limit for %s", arg_verb,
			  max, op == VHSM_OP_WRAP ? "a key to wrap" : "a wrapped key");
		return EXIT_USAGE;
	}
	if (r < 0) {
		cli_error("%s: reading standard input: %s", arg_verb, strerror(-r));
		return EXIT_ERROR;
	}
	if (in_len == 0) {
		cli_error("%s: standard input is empty", arg_verb);
		return EXIT_USAGE;
	}
	if (client_begin(&req, op) < 0)
		return EXIT_ERROR;
	if (kek)
		vhsm_wire_add_str(&req.b, VHSM_TAG_NAME, kek);
	if (ctx)
		vhsm_wire_add_data(&req.b, VHSM_TAG_CONTEXT, ctx, strlen(ctx));
	vhsm_wire_add_data(&req.b, VHSM_TAG_DATA, in, in_len);
	ret = client_call_checked(&req, arg_verb, &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *out = vhsm_wire_get(&rep.msg, VHSM_TAG_DATA);
	ret = EXIT_OK;
	if (!out) {
		cli_error("%s: reply has no data", arg_verb);
		ret = EXIT_ERROR;
	} else if (write_all(STDOUT_FILENO, out->value, out->len) < 0) {
		cli_error("%s: writing standard output failed", arg_verb);
		ret = EXIT_ERROR;
	}
	client_reply_done(&rep);
	return ret;
}

int verb_wrap(int argc, char **argv)
{
	return crypt_verb(argc, argv, VHSM_OP_WRAP);
}
int verb_unwrap(int argc, char **argv)
{
	(void)secmem_harden_process(); /* the plaintext key passes through this process */
	return crypt_verb(argc, argv, VHSM_OP_UNWRAP);
}
int verb_rewrap(int argc, char **argv)
{
	return crypt_verb(argc, argv, VHSM_OP_REWRAP);
}

/* ---- unwrap-batch ---- */

/*
 * One line per file, "N FILE ok" or "N FILE refused: REASON"; with --json an element
 * {"index", "file", "ok", "error"} of results instead (never any key byte).
 */
static void batch_result(json_object *results, unsigned i, const char *file, const char *refused)
{
	json_object *o;

	if (!results) {
		if (refused)
			printf("%u %s refused: %s\n", i, file, refused);
		else
			printf("%u %s ok\n", i, file);
		return;
	}
	o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "index", json_object_new_int64(i));
	json_object_object_add(o, "file", json_object_new_string(file));
	json_object_object_add(o, "ok", json_object_new_boolean(!refused));
	json_object_object_add(o, "error", json_object_new_string(refused ?: ""));
	json_object_array_add(results, o);
}

/* The key of the i-th FILE goes to DIR/<i>.key, relative to DIR's fd (*dir_fd, opened at the
 * first key); a refused item has no file. */
static int batch_write_key(int *dir_fd, const char *dir, unsigned i, const uint8_t *key,
			   size_t len)
{
	char name[16];

	if (*dir_fd < 0) {
		*dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*dir_fd < 0)
			return negative_errno();
	}
	snprintf(name, sizeof(name), "%u.key", i);
	return fileio_write_atomic_at(*dir_fd, name, key, len, 0600);
}

int verb_unwrap_batch(int argc, char **argv)
{
	enum { O_CTX = 256, O_OUT };
	static const struct option opts[] = {
		{ "context", required_argument, NULL, O_CTX },
		{ "out-dir", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	_cleanup_(json_object_putp) json_object *results = NULL;
	_cleanup_secmem_ uint8_t *items = NULL;
	_cleanup_close_ int dir_fd = -EBADF;
	const char *ctx = "", *dir = NULL;
	struct vhsm_batch_cursor cur;
	struct client_req req;
	struct client_reply rep;
	const uint8_t *pt;
	size_t off = 0, len;
	unsigned n, i = 0;
	int c, r, e, ret;

	(void)secmem_harden_process(); /* the plaintext keys pass through this process */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_CTX: ctx = optarg; break;
		case O_OUT: dir = optarg; break;
		case 'j': arg_json = true; break;
		case 'h':
			printf("Usage: vhsmctl unwrap-batch --out-dir DIR [--context S] [--json] WRAPPED...\n\n"
			       "Unwraps up to %u wrapped keys in one request. The key of the N-th file\n"
			       "(from 1) is written to DIR/N.key (mode 0600); one line per file on\n"
			       "standard output says \"N FILE ok\" or \"N FILE refused: reason\"\n"
			       "(--json: an array of {index, file, ok, error}).\n"
			       "Exit status 0 when every key was unwrapped, 1 when any was refused.\n",
			       VHSM_BATCH_MAX);
			return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (arg_json && !(results = json_object_new_array()))
		return EXIT_ERROR;
	n = (unsigned)(argc - optind);
	if (!dir || n == 0 || n > VHSM_BATCH_MAX) {
		cli_error("unwrap-batch: --out-dir DIR and 1..%u wrapped files are required",
			  VHSM_BATCH_MAX);
		return EXIT_USAGE;
	}
	items = secmem_alloc(VHSM_WIRE_MAX_DATA);
	if (!items)
		return EXIT_ERROR;
	for (int a = optind; a < argc; a++) {
		_cleanup_free_ uint8_t *blob = NULL;
		size_t blob_len;

		r = fileio_read_all(argv[a], WRAP_BLOB_MAX, &blob, &blob_len);
		if (r >= 0 && blob_len == 0)
			r = -EBADMSG;
		if (r >= 0)
			r = vhsm_batch_put_request(items, VHSM_WIRE_MAX_DATA, &off, blob, blob_len,
						   (const uint8_t *)ctx, strlen(ctx));
		if (r < 0) {
			cli_error("unwrap-batch: %s: %s", argv[a],
				  r == -EMSGSIZE ? "the batch is too large" : strerror(-r));
			return r == -EBADMSG ? EXIT_USAGE : EXIT_ERROR;
		}
	}
	if (client_begin(&req, VHSM_OP_UNWRAP_BATCH) < 0)
		return EXIT_ERROR;
	vhsm_wire_add_data(&req.b, VHSM_TAG_BATCH, items, off);
	ret = client_call_checked(&req, "unwrap-batch", &rep);
	if (ret != EXIT_OK)
		return ret;
	const struct vhsm_wire_field *f = vhsm_wire_get(&rep.msg, VHSM_TAG_BATCH);
	if (!f) {
		cli_error("unwrap-batch: reply has no items");
		client_reply_done(&rep);
		return EXIT_ERROR;
	}
	cur = (struct vhsm_batch_cursor){ .p = f->value, .left = f->len };
	while (ret != EXIT_ERROR && (r = vhsm_batch_next_reply(&cur, &e, &pt, &len)) > 0) {
		const char *file;

		if (i >= n) {
			i++; /* more items than files */
			break;
		}
		file = argv[optind + (int)i++];
		if (e < 0) {
			batch_result(results, i, file, strerror(-e));
			ret = EXIT_REJECTED;
		} else if ((r = batch_write_key(&dir_fd, dir, i, pt, len)) < 0) {
			cli_error("unwrap-batch: writing key %u to %s: %s", i, dir, strerror(-r));
			ret = EXIT_ERROR;
		} else
			batch_result(results, i, file, NULL);
	}
	if (ret != EXIT_ERROR && (r < 0 || i != n)) {
		cli_error("unwrap-batch: the reply has %u items for %u files", i, n);
		ret = EXIT_ERROR;
	}
	client_reply_done(&rep);
	if (results && ret != EXIT_ERROR) {
		puts(json_object_to_json_string_ext(results, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_NOSLASHESCAPE));
		cli_json_result_printed = true;
	}
	return ret;
}
