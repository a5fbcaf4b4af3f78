/* SPDX-License-Identifier: Apache-2.0 */
/* The platform root on a vTPM platform (root-vtpm.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "hkdf.h"
#include "root-vtpm.h"
#include "secmem.h"
#include "tpm2-nv.h"
#include "tpm2-seal.h"

#define ROOT_MAGIC "VHSMROOT"
#define ROOT_FORMAT 1u
#define ROOT_HEADER 9u /* magic, format */
#define ROOT_FILE_MAX (ROOT_HEADER + TPM2_SEAL_BLOB_MAX)
#define ROOT_SECRET_SIZE ROOT_VTPM_SECRET_SIZE

/* The HKDF salt: names the construction, so that no other use of the secret collides. */
static const char root_salt[] = "vhsm-platform-root-v1";

struct root_vtpm {
	char *tcti;
	char *state_dir;
	uint8_t *blob; /* the root file as read and checked: no secret in it */
	size_t blob_len;
	bool created;
	char error[512];
};

static struct root_vtpm *root_free(struct root_vtpm *root)
{
	if (!root)
		return NULL;
	free(root->tcti);
	free(root->state_dir);
	free(root->blob);
	free(root);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct root_vtpm *, root_free);

/* Records why the root cannot be used, for the gate's refusal and root_vtpm_error(). */
static void _printf_(2, 3) root_say(struct root_vtpm *root, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(root->error, sizeof(root->error), fmt, ap);
	va_end(ap);
}

static void root_close(void *ctx)
{
	root_free(ctx);
}

/* Unseals the root secret from the loaded file with the vTPM t into fresh secmem. */
static int root_unseal(struct root_vtpm *root, struct tpm2 *t, uint8_t **ret_secret)
{
	_cleanup_secmem_ uint8_t *s = NULL;
	size_t len = 0;
	int r = tpm2_unseal(t, root->blob + ROOT_HEADER, root->blob_len - ROOT_HEADER, &s, &len);

	if (r == -EKEYREJECTED || (r == 0 && len != ROOT_SECRET_SIZE)) {
		root_say(root, "the platform root %.200s/" ROOT_VTPM_FILE " does not unseal with "
			 "this vTPM: it was sealed by another vTPM (another CVM's file, or this "
			 "vTPM's state was reset), or PCR 7 (the Secure Boot policy) changed since "
			 "it was sealed", root->state_dir);
		return -EKEYREJECTED;
	}
	if (r == -EBADMSG) {
		root_say(root, "the platform root %.200s/" ROOT_VTPM_FILE " is damaged (its vTPM "
			 "object is malformed)", root->state_dir);
		return r;
	}
	if (r < 0) {
		root_say(root, "the vTPM cannot unseal the platform root: %s", strerror(-r));
		return r;
	}
	*ret_secret = TAKE_PTR(s);
	return 0;
}

int root_vtpm_kdf(const uint8_t secret[static ROOT_VTPM_SECRET_SIZE],
		  const struct snp_derived_key_req *req, uint8_t ret_key[static 32])
{
	uint8_t key[32];
	CLEANUP_ERASE(key);
	int r = hkdf_sha256(secret, ROOT_VTPM_SECRET_SIZE, (const uint8_t *)root_salt,
			    sizeof(root_salt) - 1, (const uint8_t *)req, sizeof(*req), key,
			    sizeof(key));

	if (r < 0)
		return r;
	memcpy(ret_key, key, sizeof(key));
	return 0;
}

/* gcc 12's -fanalyzer reports the cleanup pointers of root_derive() and root_vtpm_ensure() as
 * uninitialised on early-return paths, although each is initialised at its declaration: the
 * false positive op-byok.c describes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wanalyzer-use-of-uninitialized-value"
/* MSG_KEY_REQ answered from the root: HKDF(root, salt, the request's 32 bytes). */
static int root_derive(struct root_vtpm *root, const struct snp_derived_key_req *req,
		       struct snp_derived_key_resp *resp)
{
	_cleanup_(tpm2_closep) struct tpm2 *t = NULL;
	_cleanup_secmem_ uint8_t *secret = NULL;
	int r;

	if (!root->blob) {
		if (!root->error[0])
			root_say(root, "the platform root is not loaded (no attestation has passed "
				 "yet)");
		return -ENOKEY;
	}
	r = tpm2_open(root->tcti, &t);
	if (r < 0) {
		root_say(root, "no vTPM answers at %.200s: %s", root->tcti, strerror(-r));
		return r;
	}
	r = root_unseal(root, t, &secret);
	if (r < 0)
		return r;
	r = root_vtpm_kdf(secret, req, resp->key);
	if (r < 0)
		return r;
	resp->status = SNP_FW_SUCCESS;
	root->error[0] = 0;
	return 0;
}

static int root_guest_request(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io)
{
	if (nr != SNP_IOCTL_GET_DERIVED_KEY) {
		/* No SNP report here: the gate reads the vTPM's HCL report instead. */
		io->exitinfo2 = SNP_EXITINFO2_NOT_SENT;
		return -EOPNOTSUPP;
	}
	return root_derive(ctx, (const struct snp_derived_key_req *)(uintptr_t)io->req_data,
			   (struct snp_derived_key_resp *)(uintptr_t)io->resp_data);
}

static int root_running_vmpl(void *ctx)
{
	(void)ctx;
	return -EOPNOTSUPP; /* the kernel's answer (sysfs), as for the ioctl device */
}

static const struct snp_transport_ops root_ops = {
	.name = "vtpm-root",
	.simulated = false,
	.guest_request = root_guest_request,
	.close = root_close,
	.running_vmpl = root_running_vmpl,
};

int root_vtpm_open(const char *tcti, const char *state_dir, struct snp_dev **ret_dev,
		   struct root_vtpm **ret_root)
{
	_cleanup_(root_freep) struct root_vtpm *root = calloc(1, sizeof(*root));
	struct snp_dev *d = NULL;
	int r;

	if (!root)
		return -ENOMEM;
	root->tcti = strdup(tcti ?: TPM2_TCTI_DEFAULT);
	root->state_dir = strdup(state_dir);
	if (!root->tcti || !root->state_dir)
		return -ENOMEM;
	struct root_vtpm *borrowed = root;
	r = snp_dev_open_transport(&root_ops, TAKE_PTR(root), &d);
	if (r < 0)
		return r;
	*ret_dev = d;
	*ret_root = borrowed;
	return 0;
}

/* Whether directory name below dfd holds anything but temporary files of atomic writes. */
static int dir_has_entries(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct dirent *de;
	DIR *d;
	int found = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : 1; /* not a directory: something, fail closed */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 1;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			found = 1;
			break;
		}
	closedir(d);
	return found;
}

int root_vtpm_store_has_data(int dfd, char *what, size_t whatlen)
{
	static const char *const free_names[] = { ROOT_VTPM_FILE, "collateral", "clock" };
	static const char *const dirs[] = { "kek", "exchange", "keypair" };
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	struct stat st;
	int found = 0;
	DIR *d;

	if (fd < 0)
		return negative_errno();
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (!found && (de = readdir(d))) {
		bool skip = de->d_name[0] == '.'; /* ".", "..", atomic writes' temporary files */
		for (size_t i = 0; i < ELEMENTSOF(free_names); i++)
			skip = skip || strcmp(de->d_name, free_names[i]) == 0;
		for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
			if (strcmp(de->d_name, dirs[i]) == 0)
				skip = !dir_has_entries(dfd, dirs[i]);
		/* audit_open() creates the log empty; a record makes it keyed. */
		if (strcmp(de->d_name, "audit.log") == 0)
			skip = fstatat(dfd, "audit.log", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			       S_ISREG(st.st_mode) && st.st_size == 0;
		if (!skip) {
			snprintf(what, whatlen, "%s", de->d_name);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

/* A new root, sealed by t, in the file (never over an existing one). */
static int root_create(struct root_vtpm *root, struct tpm2 *t, int dfd)
{
	_cleanup_secmem_ uint8_t *secret = secmem_alloc(ROOT_SECRET_SIZE);
	_cleanup_free_ uint8_t *obj = NULL, *file = NULL;
	size_t obj_len = 0;
	int r;

	if (!secret)
		return -ENOMEM;
	if (RAND_priv_bytes(secret, ROOT_SECRET_SIZE) != 1) {
		root_say(root, "random number generator failed");
		return -EIO;
	}
	r = tpm2_seal(t, TPM2_SEAL_PCRS_DEFAULT, secret, ROOT_SECRET_SIZE, &obj, &obj_len);
	if (r < 0) {
		root_say(root, "the vTPM cannot seal the platform root: %s%s", strerror(-r),
			 r == -EACCES ? " (the owner hierarchy has a password)" : "");
		return r;
	}
	file = malloc(ROOT_HEADER + obj_len);
	if (!file)
		return -ENOMEM;
	memcpy(file, ROOT_MAGIC, 8);
	file[8] = ROOT_FORMAT;
	memcpy(file + ROOT_HEADER, obj, obj_len);
	r = fileio_create_atomic_at(dfd, ROOT_VTPM_FILE, file, ROOT_HEADER + obj_len, 0600);
	if (r == -EEXIST)
		return 0; /* made meanwhile (by another instance): that one is read next */
	if (r < 0) {
		root_say(root, "cannot write the platform root %.200s/" ROOT_VTPM_FILE ": %s",
			 root->state_dir, strerror(-r));
		return r;
	}
	root->created = true;
	return 0;
}

/* Reads the root file: 0 with it, -ENOENT, or -EBADMSG/-errno with root->error set. */
static int root_read(struct root_vtpm *root, int dfd, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r = fileio_read_all_at(dfd, ROOT_VTPM_FILE, ROOT_FILE_MAX, &buf, &len);

	if (r == -ENOENT)
		return r;
	if (r < 0 || len <= ROOT_HEADER || memcmp(buf, ROOT_MAGIC, 8) != 0 ||
	    buf[8] != ROOT_FORMAT) {
		root_say(root, "the platform root %.200s/" ROOT_VTPM_FILE " %s", root->state_dir,
			 r < 0 ? strerror(-r) : "is not a vhsm root file");
		return r < 0 && r != -EMSGSIZE && r != -EFBIG ? r : -EBADMSG;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* Creates the root when the store is empty; -ENOKEY naming what it holds otherwise. */
static int root_create_if_empty(struct root_vtpm *root, struct tpm2 *t, int dfd)
{
	char what[256];
	int r = root_vtpm_store_has_data(dfd, what, sizeof(what));

	if (r < 0) {
		root_say(root, "cannot read the state directory %.200s: %s", root->state_dir,
			 strerror(-r));
		return r;
	}
	if (r > 0) {
		root_say(root, "the platform root %.200s/" ROOT_VTPM_FILE " is missing but the "
			 "store is not empty (it holds %.40s): a new root would open nothing "
			 "sealed under the old one, so none is made; restore the file",
			 root->state_dir, what);
		return -ENOKEY;
	}
	return root_create(root, t, dfd);
}

int root_vtpm_ensure(struct root_vtpm *root, struct tpm2 *t, char *why, size_t whylen)
{
	_cleanup_close_ int dfd = open(root->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_secmem_ uint8_t *secret = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	root->error[0] = 0;
	if (dfd < 0) {
		r = negative_errno();
		root_say(root, "cannot open the state directory %.200s: %s", root->state_dir,
			 strerror(-r));
		goto fail;
	}
	r = root_read(root, dfd, &buf, &len);
	if (r == -ENOENT) {
		r = root_create_if_empty(root, t, dfd);
		if (r >= 0)
			r = root_read(root, dfd, &buf, &len);
		if (r == -ENOENT)
			root_say(root, "the platform root vanished while it was made");
	}
	if (r < 0)
		goto fail;
	/* The file in force from now on, once this vTPM showed that it opens it. */
	free(root->blob);
	root->blob = TAKE_PTR(buf);
	root->blob_len = len;
	r = root_unseal(root, t, &secret);
	if (r < 0) {
		free(root->blob);
		root->blob = NULL;
		goto fail;
	}
	return 0;
fail:
	snprintf(why, whylen, "%s", root->error);
	return r;
}

#pragma GCC diagnostic pop

const char *root_vtpm_error(const struct root_vtpm *root)
{
	return root->error;
}

bool root_vtpm_created(const struct root_vtpm *root)
{
	return root->created;
}

const char *root_vtpm_tcti(const struct root_vtpm *root)
{
	return root->tcti;
}
