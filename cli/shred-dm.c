/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain dm-crypt mappings keyed by a vhsm DEK (table key ":SIZE:logon:vhsm:NAME"): dm-crypt
 * copied the key when the table was loaded, so revoking the keyring key does not stop them.
 * `kek disable --shred` suspends each such mapping and sends it "key wipe", as luksSuspend
 * does for LUKS: the kernel forgets the key and the device cannot resume without one.
 */
#include <libdevmapper.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keyring.h"
#include "luks-match.h"
#include "shred-dm.h"

static bool device_uses_dek(const char *name, char *const *deks)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	bool found = false;
	void *next = NULL;

	/* The table of a mapping keyed in hex holds its key: libdevmapper wipes its buffers. */
	if (!dmt || !dm_task_secure_data(dmt) || !dm_task_set_name(dmt, name) || !dm_task_run(dmt))
		goto out;
	do {
		uint64_t start, length;
		char *type = NULL, *params = NULL;
		next = dm_get_next_target(dmt, next, &start, &length, &type, &params);
		if (type && params && strcmp(type, "crypt") == 0 && dm_crypt_params_use_dek(params, deks))
			found = true;
	} while (next && !found);
out:
	if (dmt)
		dm_task_destroy(dmt);
	return found;
}

static int simple_task(int type, const char *name, const char *message)
{
	struct dm_task *dmt = dm_task_create(type);
	int r = -EIO;

	if (dmt && dm_task_set_name(dmt, name) &&
	    (!message || (dm_task_set_sector(dmt, 0) && dm_task_set_message(dmt, message))) &&
	    dm_task_run(dmt))
		r = 0;
	if (dmt)
		dm_task_destroy(dmt);
	return r;
}

int plain_mappings_of_deks(char *const *deks, int (*fn)(const char *volume, void *userdata),
			   void *userdata)
{
	struct dm_task *dmt;
	struct dm_names *names;
	unsigned next = 0;
	int failures = 0;

	/* No device-mapper in the kernel (its misc device is not registered, whatever
	 * /dev/mapper/control says): no mapping. */
	if (!deks[0] || access("/sys/class/misc/device-mapper", F_OK) < 0)
		return 0;
	dmt = dm_task_create(DM_DEVICE_LIST);
	if (!dmt || !dm_task_run(dmt) || !(names = dm_task_get_names(dmt))) {
		if (dmt)
			dm_task_destroy(dmt);
		return -EIO;
	}
	if (names->dev) {
		do {
			names = (struct dm_names *)((char *)names + next);
			if (device_uses_dek(names->name, deks) && fn(names->name, userdata) < 0)
				failures++;
			next = names->next;
		} while (next);
	}
	dm_task_destroy(dmt);
	return failures;
}

int shred_mapping(const char *name)
{
	int r = simple_task(DM_DEVICE_SUSPEND, name, NULL);

	return r < 0 ? r : simple_task(DM_DEVICE_TARGET_MSG, name, "key wipe");
}

static int shred_one(const char *volume, void *userdata)
{
	int (*report)(const char *volume, int result) = *(int (**)(const char *, int))userdata;
	int r = shred_mapping(volume), failed;

	failed = r < 0;
	if (report(volume, r) < 0)
		failed = 1;
	return failed ? -EIO : 0;
}

int shred_plain_mappings(char *const *deks, int (*report)(const char *volume, int result))
{
	return plain_mappings_of_deks(deks, shred_one, &report);
}
