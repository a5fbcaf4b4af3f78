/* SPDX-License-Identifier: Apache-2.0 */
/* daemon/root-vtpm: the platform root's key derivation and its empty-store rule. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/root-vtpm.h"
#include "test.h"

/* RFC 5869 HKDF through OpenSSL's own implementation, to check the documented construction. */
static void openssl_hkdf(const uint8_t *ikm, const struct snp_derived_key_req *req,
			 uint8_t out[32])
{
	static const char salt[] = "vhsm-platform-root-v1";
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;

	ASSERT_TRUE(c != NULL);
	ASSERT_EQ(EVP_PKEY_derive_init(c), 1);
	ASSERT_EQ(EVP_PKEY_CTX_set_hkdf_md(c, EVP_sha256()), 1);
	ASSERT_EQ(EVP_PKEY_CTX_set1_hkdf_salt(c, (const unsigned char *)salt, sizeof(salt) - 1),
		  1);
	ASSERT_EQ(EVP_PKEY_CTX_set1_hkdf_key(c, ikm, ROOT_VTPM_SECRET_SIZE), 1);
	ASSERT_EQ(EVP_PKEY_CTX_add1_hkdf_info(c, (const unsigned char *)req, sizeof(*req)), 1);
	ASSERT_EQ(EVP_PKEY_derive(c, out, &len), 1);
	ASSERT_EQ(len, 32u);
	EVP_PKEY_CTX_free(c);
}

TEST(root_vtpm_kdf_is_hkdf_over_the_request)
{
	uint8_t secret[ROOT_VTPM_SECRET_SIZE], a[32], b[32], want[32];
	struct snp_derived_key_req req = {
		.root_key_select = 0,
		.guest_field_select = SNP_FIELD_MEASUREMENT | SNP_FIELD_POLICY,
		.vmpl = 0,
		.guest_svn = 3,
		.tcb_version = 0xdb18000000000004ull,
	};

	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	ASSERT_EQ(root_vtpm_kdf(secret, &req, a), 0);
	ASSERT_EQ(root_vtpm_kdf(secret, &req, b), 0);
	ASSERT_TRUE(memcmp(a, b, 32) == 0); /* deterministic: a restart derives the same keys */
	openssl_hkdf(secret, &req, want);
	ASSERT_TRUE(memcmp(a, want, 32) == 0);
	/* Another secret (another CVM's root): another key. */
	secret[0] ^= 1;
	ASSERT_EQ(root_vtpm_kdf(secret, &req, b), 0);
	ASSERT_TRUE(memcmp(a, b, 32) != 0);
}

TEST(root_vtpm_kdf_every_request_bit_gives_another_key)
{
	uint8_t secret[ROOT_VTPM_SECRET_SIZE] = { 1, 2, 3 }, base[32], k[32];
	struct snp_derived_key_req req = { .guest_field_select = SNP_FIELD_MEASUREMENT };
	size_t differ = 0;

	ASSERT_EQ(root_vtpm_kdf(secret, &req, base), 0);
	/* Each use (audit chain, manifest, a sealed blob's VMPL/SVN/TCB) names different fields:
	 * no two requests may share a key. */
	for (size_t bit = 0; bit < sizeof(req) * 8; bit++) {
		struct snp_derived_key_req m = req;
		((uint8_t *)&m)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ASSERT_EQ(root_vtpm_kdf(secret, &m, k), 0);
		differ += memcmp(k, base, 32) != 0;
	}
	ASSERT_EQ(differ, sizeof(req) * 8);
}

static void put(int dfd, const char *name, const char *content)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ASSERT_TRUE(fd >= 0);
	if (content)
		ASSERT_EQ(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

TEST(root_vtpm_store_has_data_fails_closed)
{
	char dir[] = "/tmp/vhsm-root-test.XXXXXX", what[64] = "";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dfd >= 0);

	/* What a fresh vhsmd leaves before its first key: nothing keyed. */
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 0);
	ASSERT_EQ(mkdirat(dfd, "kek", 0700), 0);
	ASSERT_EQ(mkdirat(dfd, "exchange", 0700), 0);
	ASSERT_EQ(mkdirat(dfd, "collateral", 0700), 0);
	put(dfd, "audit.log", NULL);
	put(dfd, "clock", "1796640000\n");
	put(dfd, ROOT_VTPM_FILE, "x");
	put(dfd, ".platform-root.vtpm.tmp.0123456789abcdef", "torn");
	put(dfd, "kek/.k.sealed.tmp.0123456789abcdef", "torn");
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 0);

	/* A sealed KEK, a keyed audit record, a manifest, anything unknown: data. */
	put(dfd, "kek/k.sealed", "VHSMSEAL");
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 1);
	ASSERT_STREQ(what, "kek");
	ASSERT_EQ(unlinkat(dfd, "kek/k.sealed", 0), 0);
	put(dfd, "audit.log", "{\"seq\":1}\n");
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 1);
	ASSERT_STREQ(what, "audit.log");
	put(dfd, "audit.log", NULL);
	put(dfd, "store.manifest", "{}");
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 1);
	ASSERT_STREQ(what, "store.manifest");
	ASSERT_EQ(unlinkat(dfd, "store.manifest", 0), 0);
	/* keypair as a file instead of a directory: not known to be key-free. */
	put(dfd, "keypair", "");
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 1);
	ASSERT_STREQ(what, "keypair");
	ASSERT_EQ(unlinkat(dfd, "keypair", 0), 0);
	ASSERT_EQ(root_vtpm_store_has_data(dfd, what, sizeof(what)), 0);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0);
	close(dfd);
}
