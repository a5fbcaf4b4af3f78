/* SPDX-License-Identifier: Apache-2.0 */
/* Reading /etc/crypttab (crypttab(5)) for the volumes that depend on a KEK. */
#pragma once

#include <limits.h>

struct crypttab_entry {
	unsigned line;         /* 1-based line number, for messages */
	char name[128];        /* the volume: /dev/mapper/NAME */
	char device[PATH_MAX]; /* the encrypted device, UUID=/PARTUUID=/LABEL=/PARTLABEL= resolved */
	char key[PATH_MAX];    /* key file, "" or "-" or "none" for none */
	char options[1024];
};

/*
 * Calls fn(entry, userdata) for each entry of the crypttab at path, in order; comment and
 * blank lines are skipped, and so are lines that are not entries (too long, a field missing):
 * crypttab(5) readers ignore them too. Stops at fn's first negative return and returns it.
 * Returns 0, -ENOENT when the file does not exist, or -errno. Does not log.
 */
int crypttab_foreach(const char *path, int (*fn)(const struct crypttab_entry *e, void *userdata),
		     void *userdata);
