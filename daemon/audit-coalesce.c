/* SPDX-License-Identifier: Apache-2.0 */
/* Read-only successes counted per principal, event and key (see audit-coalesce.h). */
#include <string.h>

#include "audit-coalesce.h"
#include "audit.h"

struct window {
	bool used;
	uid_t uid;
	char event[24];
	char key[KEK_NAME_MAX + 1];
	uint64_t until;           /* end of the window, monotonic seconds */
	uint32_t pending;         /* successes in the journal only since the last record */
	struct peer last;         /* who made the last of them (for the flush record) */
};

static struct window windows[AUDIT_COALESCE_SLOTS];

static bool window_is(const struct window *w, uid_t uid, const char *event, const char *key)
{
	return w->used && w->uid == uid && strcmp(w->event, event) == 0 &&
	       strcmp(w->key, key ? key : "") == 0;
}

/* The slot of (uid, event, key), else a free or expired-and-counted one, else NULL. */
static struct window *window_find(uid_t uid, const char *event, const char *key, uint64_t now)
{
	struct window *spare = NULL;

	for (size_t i = 0; i < AUDIT_COALESCE_SLOTS; i++) {
		struct window *w = &windows[i];
		if (window_is(w, uid, event, key))
			return w;
		if (!spare && (!w->used || (w->until <= now && w->pending == 0)))
			spare = w;
	}
	return spare;
}

bool audit_coalesce_admit(const struct peer *p, const char *event, const char *key,
			  uint64_t now_sec, uint32_t *ret_count)
{
	struct window *w;

	if (strlen(event) >= sizeof(w->event) || (key && strlen(key) >= sizeof(w->key))) {
		*ret_count = 1;
		return true;
	}
	w = window_find(p->uid, event, key, now_sec);
	if (!w) {
		*ret_count = 1;
		return true;
	}
	if (window_is(w, p->uid, event, key) && now_sec < w->until) {
		if (w->pending < UINT32_MAX - 1) {
			w->pending++;
			w->last = *p;
			return false;
		}
	}
	uint32_t count = window_is(w, p->uid, event, key) ? w->pending + 1 : 1;
	*w = (struct window){ .used = true, .uid = p->uid, .until = now_sec + AUDIT_COALESCE_SEC };
	strcpy(w->event, event);
	strcpy(w->key, key ? key : "");
	*ret_count = count;
	return true;
}

int audit_coalesce_flush(struct manager *m)
{
	int ret = 0;

	for (size_t i = 0; i < AUDIT_COALESCE_SLOTS; i++) {
		struct window *w = &windows[i];
		if (!w->used || w->pending == 0)
			continue;
		struct audit_record rec = { .event = w->event, .key = w->key[0] ? w->key : NULL,
					    .peer = &w->last, .count = w->pending,
					    .reason = "successes counted since the last record" };
		int r = audit_log(m->audit, &rec);
		if (r < 0 && ret == 0)
			ret = r;
		w->pending = 0;
	}
	return ret;
}
