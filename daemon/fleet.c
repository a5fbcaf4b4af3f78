/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleet mode in vhsmd (fleet.h): the configuration, the sync timer with backoff, the worker
 * thread and the FLEET_SYNC / FLEET_STATUS requests.
 *
 * Ownership: the event loop starts a worker with a copy of what it needs (the configuration,
 * which never changes while vhsmd runs, the TLS key, the identifiers already held); the worker
 * owns its struct fleet_pull until it has written the eventfd, and from then on the event
 * loop does (it joins the thread first). Only the event loop touches the store, so a sync
 * never races a request, and the loop never blocks on the network.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "fileio.h"
#include "fleet-identity.h"
#include "fleet.h"
#include "journal.h"
#include "json-cleanup.h"
#include "json.h"
#include "ops.h"
#include "parse-util.h"
#include "store.h"
#include "text.h"

#define FLEET_MAX_RESULTS 256u

struct fleet {
	struct fleet_config *cfg;
	char *path;
	int efd;                       /* the worker's "done" */
	sd_event_source *efd_source, *timer;
	bool running;
	pthread_t thread;
	/* The worker's inputs and output; output owned by the worker until efd is written. */
	EVP_PKEY *key;
	char cert_path[4096];
	char **known;                  /* identifiers held: not fetched again */
	char **local_only;             /* names of local KEKs not from the key manager */
	struct fleet_pull *result;
	/* Status of the last syncs. */
	uint64_t started;              /* syncs started */
	uint64_t completed;            /* syncs finished, successful or not */
	uint64_t last_at, last_ok_at;  /* wall clock */
	uint64_t next_mono;
	unsigned failures;             /* consecutive */
	int last_result;
	unsigned last_kek_errors;      /* KEKs the last successful pull could not update */
	char last_error[1200];
	char last_endpoint[128];
	unsigned last_gets;
	struct fleet_fresh fresh;      /* the require_fresh_sync_s gate the store asks */
	size_t n_results;
	struct fleet_kek_result results[FLEET_MAX_RESULTS];
};

/* ---- configuration ---- */

struct config_json {
	struct json_object *endpoints, *keks;
	const char *ca;
	uint32_t interval_s, require_fresh_s, timeout_ms;
};

static const struct json_field config_table[] = {
	{ "endpoints", json_type_array, json_dispatch_borrow,
	  offsetof(struct config_json, endpoints), JSON_MANDATORY, 0, 0 },
	{ "ca", json_type_string, json_dispatch_string, offsetof(struct config_json, ca),
	  JSON_MANDATORY, 1, 4095 },
	{ "sync_interval_s", json_type_int, json_dispatch_uint32,
	  offsetof(struct config_json, interval_s), 0, FLEET_INTERVAL_MIN_S, FLEET_INTERVAL_MAX_S },
	{ "require_fresh_sync_s", json_type_int, json_dispatch_uint32,
	  offsetof(struct config_json, require_fresh_s), 0, 0, FLEET_INTERVAL_MAX_S },
	{ "timeout_ms", json_type_int, json_dispatch_uint32,
	  offsetof(struct config_json, timeout_ms), 0, 100, 120000 },
	{ "keks", json_type_array, json_dispatch_borrow, offsetof(struct config_json, keks),
	  JSON_MANDATORY, 0, 0 },
	{}
};

static const struct json_field map_table[] = {
	{ "local", json_type_string, json_dispatch_key_name, offsetof(struct fleet_map, local), 0,
	  0, 0 },
	{ "name", json_type_string, json_dispatch_strbuf, offsetof(struct fleet_map, name), 0, 1,
	  KMIP_MAX_TEXT },
	{ "group", json_type_string, json_dispatch_strbuf, offsetof(struct fleet_map, group), 0, 1,
	  KMIP_MAX_TEXT },
	{ "prefix", json_type_string, json_dispatch_strbuf, offsetof(struct fleet_map, prefix), 0,
	  1, KEK_NAME_MAX - 1 },
	{}
};

/* host:port or [v6]:port with a port of 1..65535. */
static bool endpoint_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	uint32_t port;

	if (!colon || colon == s || !text_name_valid((const uint8_t *)s, strlen(s), 300))
		return false;
	return parse_uint32(colon + 1, 1, 65535, &port) == 0;
}

static int parse_map(struct json_object *o, const char *path, struct fleet_map *ret, char *err,
		     size_t errlen)
{
	struct fleet_map m = {};
	int r;

	if (!json_object_is_type(o, json_type_object))
		return json_fail(err, errlen, -EBADMSG, "%s: must be an object", path);
	r = json_dispatch(o, path, map_table, &m, err, errlen);
	if (r < 0)
		return r;
	if (!!m.name[0] == !!m.group[0])
		return json_fail(err, errlen, -EBADMSG, "%s: needs exactly one of \"name\" and "
				 "\"group\"", path);
	if (m.name[0] && (!m.local[0] || m.prefix[0]))
		return json_fail(err, errlen, -EBADMSG, "%s: a \"name\" mapping needs \"local\" "
				 "(and takes no \"prefix\")", path);
	if (m.group[0] && m.local[0])
		return json_fail(err, errlen, -EBADMSG, "%s: a \"group\" mapping takes \"prefix\", "
				 "not \"local\" (local KEKs are named prefix + the key's name)", path);
	const char *km = m.name[0] ? m.name : m.group;
	if (!text_name_valid((const uint8_t *)km, strlen(km), KMIP_MAX_TEXT))
		return json_fail(err, errlen, -EBADMSG, "%s: control characters or '/' in a key "
				 "manager's name or group", path);
	*ret = m;
	return 0;
}

int fleet_config_parse(const char *json, size_t len, struct fleet_config **ret, char *err,
		       size_t errlen)
{
	_cleanup_(json_object_putp) struct json_object *o = NULL;
	struct config_json j = { .interval_s = FLEET_INTERVAL_DEFAULT_S,
				 .timeout_ms = KMIP_CLIENT_TIMEOUT_MS_DEFAULT };
	struct fleet_config *c = NULL;
	char path[JSON_PATH_MAX];
	size_t n;
	int r;

	r = json_parse(json, len, FLEET_CONFIG_MAX, "the fleet configuration", &o, err, errlen);
	if (r >= 0)
		r = json_dispatch(o, NULL, config_table, &j, err, errlen);
	if (r < 0)
		return r;
	if (j.ca[0] != '/')
		return json_fail(err, errlen, -EBADMSG, "ca: '%s' is not an absolute path", j.ca);
	n = json_object_array_length(j.endpoints);
	if (n == 0 || n > KMIP_CLIENT_MAX_ENDPOINTS)
		return json_fail(err, errlen, -EBADMSG, "endpoints: %zu entries, not 1..%u", n,
				 KMIP_CLIENT_MAX_ENDPOINTS);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(j.endpoints, i);
		const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e)
									 : NULL;
		json_path(path, "endpoints", NULL, i);
		if (!s || !endpoint_valid(s)) {
			r = json_fail(err, errlen, -EBADMSG, "%s: want \"host:port\" (port 1..65535)",
				      path);
			goto fail;
		}
		c->endpoints[c->n_endpoints] = strdup(s);
		if (!c->endpoints[c->n_endpoints++]) {
			r = -ENOMEM;
			goto fail;
		}
	}
	n = json_object_array_length(j.keks);
	if (n == 0 || n > FLEET_MAX_MAPS) {
		r = json_fail(err, errlen, -EBADMSG, "keks: %zu entries, not 1..%u", n,
			      FLEET_MAX_MAPS);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		json_path(path, "keks", NULL, i);
		r = parse_map(json_object_array_get_idx(j.keks, i), path, &c->maps[i], err, errlen);
		if (r < 0)
			goto fail;
		for (size_t k = 0; k < i; k++)
			if (c->maps[i].local[0] && strcmp(c->maps[k].local, c->maps[i].local) == 0) {
				r = json_fail(err, errlen, -EBADMSG, "%s.local: '%s' is mapped twice",
					      path, c->maps[i].local);
				goto fail;
			}
		c->n_maps++;
	}
	c->ca = strdup(j.ca);
	if (!c->ca) {
		r = -ENOMEM;
		goto fail;
	}
	c->interval_s = j.interval_s;
	c->require_fresh_s = j.require_fresh_s;
	c->timeout_ms = j.timeout_ms;
	*ret = c;
	return 0;
fail:
	fleet_config_free(c);
	return r;
}

int fleet_config_load(const char *path, struct fleet_config **ret, char *err, size_t errlen)
{
	_cleanup_free_ uint8_t *data = NULL;
	size_t len;
	int r = fileio_read_all(path, FLEET_CONFIG_MAX, &data, &len);

	if (r == -ENOENT)
		return r;
	if (r < 0)
		return json_fail(err, errlen, r, "cannot read it: %s", strerror(-r));
	return fleet_config_parse((const char *)data, len, ret, err, errlen);
}

struct fleet_config *fleet_config_free(struct fleet_config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < c->n_endpoints; i++)
		free(c->endpoints[i]);
	free(c->ca);
	free(c);
	return NULL;
}

/* ---- the worker ---- */

static void *worker(void *userdata)
{
	struct fleet *f = userdata;
	uint64_t one = 1;

	f->result = fleet_pull_run(f->cfg, f->key, f->cert_path, f->known, f->local_only);
	/* The result is the event loop's from here on. */
	if (write(f->efd, &one, sizeof(one)) < 0)
		abort(); /* an eventfd write of 1 cannot fail */
	return NULL;
}

static int arm_timer(struct manager *m, uint64_t delay_s);

static void worker_inputs_free(struct fleet *f)
{
	EVP_PKEY_free(f->key);
	f->key = NULL;
	strv_free(f->known);
	f->known = NULL;
	strv_free(f->local_only);
	f->local_only = NULL;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

/* The identifiers of the key manager's objects already held (their keys are not fetched
 * again) and the names of local KEKs that did not come from it (never overwritten, so their
 * keys are not fetched at all). Both lists NULL-terminated. */
static int store_inventory(struct manager *m, char ***ret_known, char ***ret_local)
{
	char **names = NULL, **known = calloc(1, sizeof(char *)), **local = calloc(1, sizeof(char *));
	size_t n = 0, nl = 0;
	int r = store_list(m, &names);

	if (r < 0) {
		free(known);
		free(local);
		return r;
	}
	if (!known || !local)
		goto oom;
	for (char **name = names; *name; name++) {
		struct kek_meta meta = {};
		struct seal_params p = {};
		if (store_read_meta(m, *name, &meta, &p) < 0)
			continue;
		if (!meta.fleet) {
			if (strv_push(&local, &nl, *name) < 0)
				goto oom;
			continue;
		}
		for (uint32_t v = 0; v < meta.n_versions; v++)
			if (strv_push(&known, &n, meta.versions[v].kmip_uid) < 0)
				goto oom;
	}
	strv_free(names);
	*ret_known = known;
	*ret_local = local;
	return 0;
oom:
	strv_free(names);
	strv_free(known);
	strv_free(local);
	return -ENOMEM;
}

static void sync_finished(struct manager *m, int r, const char *error)
{
	struct fleet *f = m->fleet;
	uint64_t delay;

	f->completed++;
	f->last_at = clock_wall(m);
	f->last_result = r;
	if (r < 0) {
		snprintf(f->last_error, sizeof(f->last_error), "%s", error);
		f->failures++;
		delay = FLEET_BACKOFF_FIRST_S << (f->failures < 16 ? f->failures - 1 : 15);
		if (delay > f->cfg->interval_s)
			delay = f->cfg->interval_s;
		log_msg(LOG_WARNING, "fleet sync failed (attempt %u, next in %" PRIu64 " s): %s",
			f->failures, delay, error);
	} else {
		f->last_error[0] = 0;
		f->failures = 0;
		f->last_ok_at = f->last_at;
		f->fresh.last_ok_mono = clock_mono_usec();
		delay = f->cfg->interval_s;
	}
	(void)arm_timer(m, delay);
}

static int worker_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	struct fleet *f = m->fleet;
	struct fleet_pull *p;
	uint64_t v;
	int r;

	(void)s;
	(void)revents;
	if (read(fd, &v, sizeof(v)) < 0)
		return 0;
	pthread_join(f->thread, NULL);
	f->running = false;
	worker_inputs_free(f);
	p = TAKE_PTR(f->result);
	if (!p) {
		sync_finished(m, -ENOMEM, "out of memory");
		return 0;
	}
	snprintf(f->last_endpoint, sizeof(f->last_endpoint), "%s", p->endpoint);
	f->last_gets = p->n_gets;
	if (p->result < 0) {
		sync_finished(m, p->result, p->error);
	} else {
		f->fresh.applying = true;
		r = fleet_apply(m, f->cfg, p, f->results, FLEET_MAX_RESULTS, &f->n_results);
		f->fresh.applying = false;
		f->last_kek_errors = 0;
		if (r < 0) {
			/* Nothing applied: no KEK's result from an earlier sync may pass for this
			 * one's. */
			char why[160];
			f->n_results = 0;
			if (r == -E2BIG)
				snprintf(why, sizeof(why), "the key manager maps more local KEKs than "
					 "one sync applies (%u): nothing applied", FLEET_MAX_RESULTS);
			else
				snprintf(why, sizeof(why), "nothing applied: %s", strerror(-r));
			sync_finished(m, r, why);
		} else {
			/* The key manager answered: its states are known, retrying soon would not
			 * help a KEK that cannot be updated (a name taken by a local KEK); it is
			 * reported. */
			for (size_t i = 0; i < f->n_results; i++)
				f->last_kek_errors += f->results[i].error;
			sync_finished(m, 0, "");
		}
	}
	fleet_pull_free(p);
	return 0;
}

/* Starts a sync unless one runs. 0 (started or running) or -errno with why. */
static int sync_start(struct manager *m, char *why, size_t whylen)
{
	struct fleet *f = m->fleet;
	char idwhy[480];
	int r;

	if (f->running)
		return 0;
	r = fleet_identity_tls(m, &f->key, f->cert_path, sizeof(f->cert_path), idwhy,
			       sizeof(idwhy));
	if (r < 0) {
		snprintf(why, whylen, "no usable fleet TLS identity: %s", idwhy);
		f->started++;
		sync_finished(m, r, why);
		return r;
	}
	r = store_inventory(m, &f->known, &f->local_only);
	if (r < 0) {
		worker_inputs_free(f);
		snprintf(why, whylen, "cannot read the KEK store: %s", strerror(-r));
		return r;
	}
	r = -pthread_create(&f->thread, NULL, worker, f);
	if (r < 0) {
		worker_inputs_free(f);
		snprintf(why, whylen, "cannot start the sync worker: %s", strerror(-r));
		return r;
	}
	f->running = true;
	f->started++;
	return 0;
}

static int timer_handler(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	char why[512];

	(void)s;
	(void)usec;
	if (sync_start(m, why, sizeof(why)) < 0 && !m->fleet->running)
		log_msg(LOG_WARNING, "fleet sync not started: %s", why);
	return 0;
}

/* A use of a fleet KEK found no fresh sync (fleet_fresh_check): start one unless one runs. */
static int kick_handler(sd_event_source *s, void *userdata)
{
	struct manager *m = userdata;
	char why[512];

	(void)s;
	if (sync_start(m, why, sizeof(why)) < 0 && !m->fleet->running)
		log_msg(LOG_WARNING, "fleet sync not started: %s", why);
	return 0;
}

static int arm_timer(struct manager *m, uint64_t delay_s)
{
	struct fleet *f = m->fleet;

	f->next_mono = clock_mono_usec() + delay_s * 1000000u;
	f->timer = sd_event_source_disable_unref(f->timer);
	return sd_event_add_time(m->event, &f->timer, CLOCK_MONOTONIC, f->next_mono, 100000,
				 timer_handler, m);
}

int fleet_setup(struct manager *m, const char *path)
{
	_cleanup_free_ struct fleet *f = NULL;
	char err[JSON_ERR_MAX];
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->efd = -EBADF;
	r = fleet_config_load(path ? path : FLEET_DEFAULT_CONFIG, &f->cfg, err, sizeof(err));
	if (r == -ENOENT && !path)
		return 0; /* no fleet mode */
	if (r == -ENOENT) {
		log_msg(LOG_ERR, "fleet configuration %s: no such file", path);
		return r;
	}
	if (r < 0) {
		log_msg(LOG_ERR, "fleet configuration %s: %s", path ? path : FLEET_DEFAULT_CONFIG,
			err);
		return r;
	}
	f->path = strdup(path ? path : FLEET_DEFAULT_CONFIG);
	if (!f->path) {
		fleet_config_free(f->cfg);
		return -ENOMEM;
	}
	f->fresh.require_s = f->cfg->require_fresh_s;
	f->fresh.last_error = f->last_error;
	m->fleet = TAKE_PTR(f);
	m->fleet_fresh = &m->fleet->fresh;
	/* The sync timer runs only while vhsmd does: fleet mode keeps it running. */
	if (m->idle_usec) {
		m->idle_usec = 0;
		log_msg(LOG_INFO, "fleet mode: the idle timeout is off (the sync timer keeps vhsmd "
			"running)");
	}
	return 0;
}

int fleet_start(struct manager *m)
{
	struct fleet *f = m->fleet;
	int r;

	if (!f)
		return 0;
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0)
		return -errno;
	r = sd_event_add_io(m->event, &f->efd_source, f->efd, EPOLLIN, worker_done, m);
	if (r < 0)
		return r;
	r = sd_event_add_defer(m->event, &f->fresh.kick, kick_handler, m);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(f->fresh.kick, SD_EVENT_OFF);
	if (r < 0)
		return r;
	return arm_timer(m, 0);
}

struct fleet *fleet_free(struct fleet *f)
{
	if (!f)
		return NULL;
	if (f->running) {
		pthread_join(f->thread, NULL); /* bounded by the TLS timeouts */
		fleet_pull_free(f->result);
	}
	worker_inputs_free(f);
	sd_event_source_disable_unref(f->timer);
	sd_event_source_disable_unref(f->efd_source);
	sd_event_source_disable_unref(f->fresh.kick);
	if (f->efd >= 0)
		close(f->efd);
	fleet_config_free(f->cfg);
	free(f->path);
	free(f);
	return NULL;
}

/* ---- requests ---- */

static json_object *status_json(struct manager *m)
{
	struct fleet *f = m->fleet;
	json_object *o = json_object_new_object(), *eps = json_object_new_array(),
		    *keks = json_object_new_array();
	uint64_t mono = clock_mono_usec();

	json_object_object_add(o, "configured", json_object_new_boolean(true));
	json_object_object_add(o, "config", json_object_new_string(f->path));
	for (size_t i = 0; i < f->cfg->n_endpoints; i++)
		json_object_array_add(eps, json_object_new_string(f->cfg->endpoints[i]));
	json_object_object_add(o, "endpoints", eps);
	json_object_object_add(o, "sync_interval_s", json_object_new_int64(f->cfg->interval_s));
	json_object_object_add(o, "require_fresh_sync_s",
			       json_object_new_int64(f->cfg->require_fresh_s));
	json_object_object_add(o, "running", json_object_new_boolean(f->running));
	json_object_object_add(o, "started", json_object_new_int64((int64_t)f->started));
	json_object_object_add(o, "completed", json_object_new_int64((int64_t)f->completed));
	json_object_object_add(o, "last_result",
			       !f->completed ? NULL
			       : json_object_new_string(f->last_result < 0 ? "failed"
							: f->last_kek_errors ? "partial" : "ok"));
	json_object_object_add(o, "kek_errors", json_object_new_int64(f->last_kek_errors));
	json_object_object_add(o, "last_error", f->last_error[0] ?
			       json_object_new_string(f->last_error) : NULL);
	json_object_object_add(o, "last_endpoint", f->last_endpoint[0] ?
			       json_object_new_string(f->last_endpoint) : NULL);
	json_object_object_add(o, "last_sync_at", json_object_new_int64((int64_t)f->last_at));
	json_object_object_add(o, "last_ok_at", json_object_new_int64((int64_t)f->last_ok_at));
	json_object_object_add(o, "keys_fetched", json_object_new_int64(f->last_gets));
	json_object_object_add(o, "failures", json_object_new_int64(f->failures));
	json_object_object_add(o, "next_sync_in_s", json_object_new_int64(
		f->running || f->next_mono <= mono ? 0 : (int64_t)((f->next_mono - mono) / 1000000u)));
	for (size_t i = 0; i < f->n_results; i++) {
		const struct fleet_kek_result *k = &f->results[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "local", json_object_new_string(k->local));
		json_object_object_add(e, "uid", k->uid[0] ? json_object_new_string(k->uid) : NULL);
		json_object_object_add(e, "kmip_state", json_object_new_string(
			k->kmip_state ? kmip_state_to_string(k->kmip_state) : "absent"));
		json_object_object_add(e, "versions", json_object_new_int64(k->versions));
		json_object_object_add(e, "action", json_object_new_string(k->action));
		json_object_object_add(e, "error", json_object_new_boolean(k->error));
		json_object_object_add(e, "shred", json_object_new_boolean(k->shred));
		json_object_array_add(keks, e);
	}
	json_object_object_add(o, "keks", keks);
	return o;
}

static int reply_status(struct op_ctx *c)
{
	json_object *o = status_json(c->m);
	int r = 0;

	if (!o)
		return -ENOMEM;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || strlen(s) > VHSM_WIRE_MAX_TEXT)
		r = op_fail(c, -E2BIG, "fleet status too large");
	else
		vhsm_wire_add_str(c->reply, VHSM_TAG_JSON, s);
	json_object_put(o);
	return r;
}

static int not_configured(struct op_ctx *c)
{
	return op_fail(c, -ENOENT, "fleet mode is not configured (no %s; docs/fleet.md)",
		       FLEET_DEFAULT_CONFIG);
}

int op_fleet_sync(struct op_ctx *c)
{
	char why[512];
	int r;

	if (!c->m->fleet)
		return not_configured(c);
	r = sync_start(c->m, why, sizeof(why));
	if (r < 0)
		return op_fail(c, r, "%s", why);
	return reply_status(c);
}

int op_fleet_status(struct op_ctx *c)
{
	if (!c->m->fleet)
		return not_configured(c);
	return reply_status(c);
}
