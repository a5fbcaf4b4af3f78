/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypttab(5): NAME DEVICE [KEY [OPTIONS]], whitespace-separated, '#' comments. The device
 * may be a path or UUID=, PARTUUID=, LABEL=, PARTLABEL=, resolved as systemd-cryptsetup does,
 * to the udev links under /dev/disk/.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "crypttab.h"
#include "macro.h"

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static void resolve_device(const char *spec, char *out, size_t len)
{
	static const struct {
		const char *prefix, *dir;
	} tags[] = {
		{ "UUID=", "/dev/disk/by-uuid/" },
		{ "PARTUUID=", "/dev/disk/by-partuuid/" },
		{ "LABEL=", "/dev/disk/by-label/" },
		{ "PARTLABEL=", "/dev/disk/by-partlabel/" },
	};

	for (size_t i = 0; i < ELEMENTSOF(tags); i++)
		if (strncmp(spec, tags[i].prefix, strlen(tags[i].prefix)) == 0) {
			snprintf(out, len, "%s%s", tags[i].dir, spec + strlen(tags[i].prefix));
			return;
		}
	snprintf(out, len, "%s", spec);
}

/* Splits one line into e; false for a comment, a blank line or a line that is no entry. */
static bool parse_line(char *line, struct crypttab_entry *e)
{
	char *save = NULL, *f[4] = {};
	int n = 0;

	line[strcspn(line, "\n")] = 0;
	for (char *w = strtok_r(line, " \t", &save); w && n < 4; w = strtok_r(NULL, " \t", &save))
		f[n++] = w;
	if (n < 2 || f[0][0] == '#' || strlen(f[0]) >= sizeof(e->name) ||
	    strlen(f[1]) >= sizeof(e->device) || (f[2] && strlen(f[2]) >= sizeof(e->key)) ||
	    (f[3] && strlen(f[3]) >= sizeof(e->options)))
		return false;
	snprintf(e->name, sizeof(e->name), "%s", f[0]);
	resolve_device(f[1], e->device, sizeof(e->device));
	snprintf(e->key, sizeof(e->key), "%s", f[2] ? f[2] : "");
	snprintf(e->options, sizeof(e->options), "%s", f[3] ? f[3] : "");
	return true;
}

int crypttab_foreach(const char *path, int (*fn)(const struct crypttab_entry *e, void *userdata),
		     void *userdata)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "re");
	char line[4096];
	unsigned no = 0;
	int r;

	if (!f)
		return negative_errno();
	while (fgets(line, sizeof(line), f)) {
		struct crypttab_entry e = { .line = ++no };
		bool whole = strchr(line, '\n') || feof(f);

		if (!whole) { /* longer than any entry: skip the rest of it */
			int c;
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		if (!parse_line(line, &e))
			continue;
		r = fn(&e, userdata);
		if (r < 0)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}
