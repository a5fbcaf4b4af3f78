/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test-only fleet TLS identity (daemon/fleet-identity.h) for vhsmd-fleet-test, the daemon of
 * the fleet tests (never installed): the key and certificate are read from
 * <state>/fleet-test-identity/{key,cert}.pem, unsealed, and only on the simulated SNP device,
 * so that pull and sync are tested against a real key manager independently of attested
 * enrollment. It stands in for fleet_identity_tls() through the linker (--wrap); vhsmd itself
 * uses daemon/fleet-identity.c (the sealed, enrolled identity).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <unistd.h>

#include "../../daemon/fleet-identity.h"
#include "fileio.h"
#include "openssl-util.h"
#include "secmem.h"
#include "snp-dev.h"

int __wrap_fleet_identity_tls(struct manager *m, EVP_PKEY **ret_key, char *ret_cert_path,
			      size_t len, char *why, size_t whylen);
int __wrap_fleet_identity_tls(struct manager *m, EVP_PKEY **ret_key, char *ret_cert_path,
			      size_t len, char *why, size_t whylen)
{
	_cleanup_(BIO_freep) BIO *bio = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	uint8_t *pem = NULL;
	size_t n = 0;
	int fd, r;

	snprintf(why, whylen, "no test identity in fleet-test-identity/ (simulator only)");
	if (!m->dev || !snp_dev_is_simulated(m->dev))
		return -ENOKEY;
	fd = openat(m->state_fd, "fleet-test-identity/key.pem", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOKEY : -errno;
	r = fileio_read_fd_secret(fd, 64 * 1024, &pem, &n);
	close(fd);
	if (r < 0)
		return r;
	bio = BIO_new_mem_buf(pem, (int)n);
	if (bio)
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	secmem_free(pem);
	if (!k)
		return -EBADMSG;
	if (snprintf(ret_cert_path, len, "%s/fleet-test-identity/cert.pem", m->state_dir) >= (int)len)
		return -ENAMETOOLONG;
	*ret_key = TAKE_PTR(k);
	return 0;
}
