/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleet mode in vhsmd (docs/fleet.md): KEKs pulled from the customer's KMIP key manager and
 * kept in sync with it. fleet.c reads the configuration (/etc/vhsm/fleet.conf), runs the sync
 * timer with backoff and the worker thread, and answers FLEET_SYNC and FLEET_STATUS;
 * fleet-sync.c is the worker's network part (Locate, GetAttributes, Get), which touches no
 * daemon state; fleet-sync-apply.c applies its result to the KEK store on the event loop.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmip-client.h"
#include "kmip.h"
#include "fleet-fresh.h"
#include "vhsmd.h"

#define FLEET_DEFAULT_CONFIG "/etc/vhsm/fleet.conf"
#define FLEET_CONFIG_MAX (64u * 1024u)
#define FLEET_MAX_MAPS 64u
/* Objects one sync reads (every version of every mapped KEK). */
#define FLEET_MAX_OBJECTS 1024u
#define FLEET_INTERVAL_DEFAULT_S 300u
#define FLEET_INTERVAL_MIN_S 5u
#define FLEET_INTERVAL_MAX_S 86400u
/* A failed sync is retried after 2, 4, 8 … seconds, never later than the interval. */
#define FLEET_BACKOFF_FIRST_S 2u

/* One mapping: the key manager's objects named name (local: KEK local), or every object of
 * group (local KEK: prefix + the object's Name). */
struct fleet_map {
	char local[KEK_NAME_MAX + 1];
	char name[KMIP_MAX_TEXT + 1];
	char group[KMIP_MAX_TEXT + 1];
	char prefix[KEK_NAME_MAX + 1];
};

struct fleet_config {
	char *endpoints[KMIP_CLIENT_MAX_ENDPOINTS];
	size_t n_endpoints;
	char *ca;
	uint32_t interval_s;
	uint32_t require_fresh_s; /* 0: off */
	uint32_t timeout_ms;
	size_t n_maps;
	struct fleet_map maps[FLEET_MAX_MAPS];
};

/*
 * Parses a fleet configuration (strict JSON, docs/fleet.md): 0, or -EBADMSG/-EMSGSIZE/-ENOMEM
 * with err naming the member at fault. *ret (fleet_config_free) is set only on success.
 */
int fleet_config_parse(const char *json, size_t len, struct fleet_config **ret, char *err,
		       size_t errlen) _wur_;
/* Reads and parses path: as fleet_config_parse(), or -ENOENT when there is no such file. */
int fleet_config_load(const char *path, struct fleet_config **ret, char *err, size_t errlen) _wur_;
struct fleet_config *fleet_config_free(struct fleet_config *c);

/* ---- the worker's result (fleet-sync.c) ---- */
struct fleet_object {
	char uid[KEK_KMIP_UID_MAX + 1];
	char name[KMIP_MAX_TEXT + 1];
	char replaces[KEK_KMIP_UID_MAX + 1]; /* "" when it replaces nothing */
	uint32_t state;                       /* enum kmip_state */
	uint32_t alg;
	int32_t bits;
	size_t map;                           /* index in fleet_config.maps */
	uint8_t *key;                         /* secmem, 32 bytes; NULL when not fetched */
};

struct fleet_pull {
	int result;        /* 0, or why the sync failed (-errno) */
	char error[1024];  /* the failure, naming the endpoints and the cause */
	char endpoint[128]; /* the key manager that answered */
	size_t n;
	struct fleet_object *objs;
	unsigned n_gets;   /* keys fetched */
};

/*
 * Runs one pull on the calling thread (the worker): connects to the first key manager of cfg
 * that completes mutual TLS with key/cert_path, Locates every mapping's objects, reads their
 * attributes and fetches the keys of usable objects whose identifier is not in known[] and
 * whose local KEK name is not in local_only[] (both NULL-terminated; may be NULL). Touches no
 * daemon state. Returns a result (check ->result) or NULL when out of memory.
 */
struct fleet_pull *fleet_pull_run(const struct fleet_config *cfg, EVP_PKEY *key,
				  const char *cert_path, char *const *known,
				  char *const *local_only);
/* Wipes and frees. Accepts NULL; returns NULL. */
struct fleet_pull *fleet_pull_free(struct fleet_pull *p);

/* ---- applying a result (fleet-sync-apply.c) ---- */
/* The KEKs the last sync found compromised, for the root unit that suspends their volumes. */
#define FLEET_SHRED_FILE "fleet/shred"

struct fleet_kek_result {
	char local[KEK_NAME_MAX + 1];
	char uid[KEK_KMIP_UID_MAX + 1]; /* the newest object */
	uint32_t kmip_state;            /* of the newest object; 0 when none */
	uint32_t versions;              /* local versions after the sync */
	char action[160];               /* "pulled", "rotated", "disabled", … or the error */
	bool error;
	bool shred;                     /* compromised: volumes to suspend (vhsmctl fleet shred) */
};

/*
 * Applies a successful pull to the KEK store (event loop): new KEKs and versions sealed,
 * states mapped (docs/fleet.md), <state>/fleet/shred rewritten. Every mapped KEK is tried; a
 * KEK that cannot be updated says why in its result (error set) and logs it. Returns 0 with
 * one result per local KEK in ret[0..*ret_n); or, with nothing applied and ret[] and *ret_n
 * untouched, -E2BIG when the pull maps more local KEKs than max, -ENOMEM.
 */
int fleet_apply(struct manager *m, const struct fleet_config *cfg, const struct fleet_pull *p,
		struct fleet_kek_result *ret, size_t max, size_t *ret_n);

/* ---- the daemon side (fleet.c) ---- */
struct fleet;
/*
 * Loads path (NULL: the default; a missing default file leaves fleet mode off, a missing
 * explicit one is an error) into m->fleet. 0 or -errno, logging the member at fault.
 */
int fleet_setup(struct manager *m, const char *path);
/* Arms the sync timer (the first sync right away). No-op without fleet mode. */
int fleet_start(struct manager *m);
/* Stops the worker (joined) and frees. Accepts NULL; returns NULL. */
struct fleet *fleet_free(struct fleet *f);
