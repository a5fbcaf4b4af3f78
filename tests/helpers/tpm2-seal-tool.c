/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test tool for lib/tpm2-seal against swtpm, driven by tests/integration/test-vtpm-seal.sh:
 *   tpm2-seal-tool seal TCTI PCRMASK BLOB < SECRET   seals SECRET (raw bytes) to the PCRs
 *   tpm2-seal-tool unseal TCTI BLOB                  the secret, hex on stdout
 * Exit 0 on success, 1 when the TPM refuses (-EKEYREJECTED; "rejected" on stderr), 2 for a
 * malformed blob or bad usage, 3 for other errors (the errno is printed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "secmem.h"
#include "tpm2-nv.h"
#include "tpm2-seal.h"

static int status(int r, const char *what)
{
	fprintf(stderr, "tpm2-seal-tool: %s: %s\n", what,
		r == -EKEYREJECTED ? "rejected" : strerror(-r));
	return r == -EKEYREJECTED ? 1 : r == -EBADMSG || r == -EINVAL ? 2 : 3;
}

int main(int argc, char **argv)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_free_ uint8_t *blob = NULL;
	size_t len = 0;
	int r;

	if (argc < 4 || (strcmp(argv[1], "seal") == 0 && argc != 5) ||
	    (strcmp(argv[1], "unseal") == 0 && argc != 4))
		return 2;
	r = tpm2_open(argv[2], &t);
	if (r < 0)
		return status(r, "open");
	if (strcmp(argv[1], "seal") == 0) {
		uint8_t secret[TPM2_SEAL_SECRET_MAX + 1];
		ssize_t n = read(STDIN_FILENO, secret, sizeof(secret));
		if (n <= 0)
			return 2;
		r = tpm2_seal(t, (uint32_t)strtoul(argv[3], NULL, 0), secret, (size_t)n, &blob,
			      &len);
		secmem_wipe(secret, sizeof(secret));
		if (r < 0)
			return status(r, "seal");
		r = fileio_write_atomic(argv[4], blob, len, 0600);
		return r < 0 ? status(r, "write") : 0;
	}
	if (strcmp(argv[1], "unseal") != 0)
		return 2;
	r = fileio_read_all(argv[3], TPM2_SEAL_BLOB_MAX * 2, &blob, &len);
	if (r < 0)
		return status(r, "read");
	uint8_t *s = NULL;
	size_t sl = 0;
	r = tpm2_unseal(t, blob, len, &s, &sl);
	if (r < 0)
		return status(r, "unseal");
	for (size_t i = 0; i < sl; i++)
		printf("%02x", s[i]);
	putchar('\n');
	secmem_free(s);
	return 0;
}
