/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcryptsetup and libdevmapper for the verbs that touch volumes (luks, dek, kek disable
 * --shred), loaded when one of them first calls into them instead of at every start of
 * vhsmctl: linked, the two and what they link (libblkid, libudev, libselinux, libpcre2,
 * libargon2, libuuid) cost each vhsmctl call milliseconds of dynamic loading that `unwrap`,
 * `status` or `--version` never use (systemd loads libcryptsetup the same way).
 *
 * Each function below has the library's own prototype (its header is included, so the compiler
 * checks it) and forwards to the library's function; the verbs call the usual names. The
 * definitions are hidden (-fvisibility=hidden): the loaded libraries and the token plugins
 * libcryptsetup loads still bind to libcryptsetup's own functions. When a library cannot be
 * loaded, vhsmctl says so once and each function returns its documented failure value
 * (-ENOPKG, NULL, 0 or an INVALID status), which the verbs already report.
 */
#include <dlfcn.h>
#include <errno.h>
#include <libcryptsetup.h>
#include <libdevmapper.h>

#include "vhsmctl.h"

struct dl_lib {
	const char *soname;
	const char *package; /* Debian's, for the message */
	void *handle;
	bool failed;
};

static struct dl_lib cryptsetup_lib = { .soname = "libcryptsetup.so.12",
					.package = "libcryptsetup12" };
static struct dl_lib devmapper_lib = { .soname = "libdevmapper.so.1.02.1",
				       .package = "libdevmapper1.02.1" };

/* The library's function name, or NULL (said once) when the library or name is missing. */
static void *dl_sym(struct dl_lib *l, const char *name)
{
	void *f;

	if (!l->handle && !l->failed) {
		/* Never closed: the verbs keep objects of the library until vhsmctl exits. */
		l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
		if (!l->handle) {
			l->failed = true;
			cli_error("cannot load %s (install %s): %s", l->soname, l->package,
				  dlerror());
		}
	}
	if (!l->handle)
		return NULL;
	f = dlsym(l->handle, name);
	if (!f)
		cli_error("%s has no %s", l->soname, name);
	return f;
}

/* A forwarder with the prototype RET NAME PARAMS returning FAIL when NAME cannot be had. */
#define DL_FORWARD(lib, ret, fail, name, params, args)                                         \
	ret name params                                                                       \
	{                                                                                     \
		typeof(name) *f = dl_sym(&lib, #name);                                       \
		return f ? f args : fail;                                                     \
	}

/* ---- libcryptsetup ---- */
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_init, (struct crypt_device **cd, const char *device),
	   (cd, device))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_init_by_name,
	   (struct crypt_device **cd, const char *name), (cd, name))
/* NULL is a no-op for both libraries: a cleanup of nothing loads nothing. */
void crypt_free(struct crypt_device *cd)
{
	typeof(crypt_free) *f = cd ? dl_sym(&cryptsetup_lib, "crypt_free") : NULL;

	if (f)
		f(cd);
}
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_load,
	   (struct crypt_device *cd, const char *requested_type, void *params),
	   (cd, requested_type, params))
DL_FORWARD(cryptsetup_lib, const char *, NULL, crypt_get_device_name, (struct crypt_device *cd),
	   (cd))
DL_FORWARD(cryptsetup_lib, const char *, NULL, crypt_get_type, (struct crypt_device *cd), (cd))
DL_FORWARD(cryptsetup_lib, const char *, NULL, crypt_get_uuid, (struct crypt_device *cd), (cd))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_get_volume_key_size, (struct crypt_device *cd),
	   (cd))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_suspend, (struct crypt_device *cd, const char *name),
	   (cd, name))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_token_json_get,
	   (struct crypt_device *cd, int token, const char **json), (cd, token, json))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_token_json_set,
	   (struct crypt_device *cd, int token, const char *json), (cd, token, json))
DL_FORWARD(cryptsetup_lib, crypt_token_info, CRYPT_TOKEN_INVALID, crypt_token_status,
	   (struct crypt_device *cd, int token, const char **type), (cd, token, type))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_token_is_assigned,
	   (struct crypt_device *cd, int token, int keyslot), (cd, token, keyslot))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_activate_by_passphrase,
	   (struct crypt_device *cd, const char *name, int keyslot, const char *passphrase,
	    size_t passphrase_size, uint32_t flags),
	   (cd, name, keyslot, passphrase, passphrase_size, flags))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_keyslot_add_by_volume_key,
	   (struct crypt_device *cd, int keyslot, const char *volume_key, size_t volume_key_size,
	    const char *passphrase, size_t passphrase_size),
	   (cd, keyslot, volume_key, volume_key_size, passphrase, passphrase_size))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_keyslot_destroy,
	   (struct crypt_device *cd, int keyslot), (cd, keyslot))
DL_FORWARD(cryptsetup_lib, crypt_keyslot_info, CRYPT_SLOT_INVALID, crypt_keyslot_status,
	   (struct crypt_device *cd, int keyslot), (cd, keyslot))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_set_pbkdf_type,
	   (struct crypt_device *cd, const struct crypt_pbkdf_type *pbkdf), (cd, pbkdf))
DL_FORWARD(cryptsetup_lib, int, -ENOPKG, crypt_volume_key_get,
	   (struct crypt_device *cd, int keyslot, char *volume_key, size_t *volume_key_size,
	    const char *passphrase, size_t passphrase_size),
	   (cd, keyslot, volume_key, volume_key_size, passphrase, passphrase_size))

/* ---- libdevmapper (its functions return 0 or NULL on failure) ---- */
DL_FORWARD(devmapper_lib, struct dm_task *, NULL, dm_task_create, (int type), (type))
void dm_task_destroy(struct dm_task *dmt)
{
	typeof(dm_task_destroy) *f = dmt ? dl_sym(&devmapper_lib, "dm_task_destroy") : NULL;

	if (f)
		f(dmt);
}
DL_FORWARD(devmapper_lib, int, 0, dm_task_run, (struct dm_task *dmt), (dmt))
DL_FORWARD(devmapper_lib, int, 0, dm_task_secure_data, (struct dm_task *dmt), (dmt))
DL_FORWARD(devmapper_lib, int, 0, dm_task_set_name, (struct dm_task *dmt, const char *name),
	   (dmt, name))
DL_FORWARD(devmapper_lib, int, 0, dm_task_set_message,
	   (struct dm_task *dmt, const char *message), (dmt, message))
DL_FORWARD(devmapper_lib, int, 0, dm_task_set_sector, (struct dm_task *dmt, uint64_t sector),
	   (dmt, sector))
DL_FORWARD(devmapper_lib, struct dm_names *, NULL, dm_task_get_names, (struct dm_task *dmt),
	   (dmt))
DL_FORWARD(devmapper_lib, void *, NULL, dm_get_next_target,
	   (struct dm_task *dmt, void *next, uint64_t *start, uint64_t *length, char **target_type,
	    char **params),
	   (dmt, next, start, length, target_type, params))
