/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lifecycle verbs KEKs and key pairs share (verb-lifecycle.c): list, show, the verbs that
 * take only NAME (enable, recover, purge, ...), acl, and how a lifecycle result is printed.
 * Each kind of object describes itself once in a struct lifecycle_kind; its verb file keeps
 * what is its own (kek create's options, key show's --cert-out, the printed lines).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct client_req;
struct json_object;

/* A verb by its action: the request it sends and its usage line for --help. */
struct lifecycle_verb {
	uint16_t op;
	const char *usage;
};

struct lifecycle_kind {
	const char *noun;   /* "KEK", "key pair": the "already" line names it */
	const char *plural; /* "KEKs": what a listing may have left out */
	uint16_t op_list;
	const struct lifecycle_verb *verbs; /* by action: those lifecycle_simple/_acl run */
	/* What EALREADY from vhsmd means for action (a success with changed false), or NULL:
	 * then it is a refusal like any other error. */
	const char *(*already)(int action);
	/* The one line a done action prints; o is vhsmd's reply (may be NULL). */
	void (*print_done)(int action, const char *name, struct json_object *o);
	/* --json: o is vhsmd's reply, or NULL when nothing changed; extra members are added. */
	void (*print_json)(int action, const char *name, struct json_object *o, bool changed,
			   const char *warning);
	int warn_action; /* the action whose reply message is a warning to pass on, or -1 */
};

/*
 * Sends a lifecycle request for name (req always released) and prints its result: one line,
 * or with --json the object with "changed". An action on an object already in the state asked
 * for succeeds with changed false. warning (may be NULL) is said on stderr, or as the JSON's
 * "warning". Returns an EXIT_*.
 */
int lifecycle_call(const struct lifecycle_kind *k, struct client_req *req, int action,
		   const char *name, const char *warning);

/* A lifecycle verb that takes only NAME (and --json, --help): k->verbs[action]. Returns an
 * EXIT_*. */
int lifecycle_simple(const struct lifecycle_kind *k, int argc, char **argv, int action);

/* VERB NAME [ACL] (k->verbs[action]): replaces the ACL (none: admins only). Returns EXIT_*. */
int lifecycle_acl(const struct lifecycle_kind *k, int argc, char **argv, int action);

/* VERB [--json]: the listing through fmt, and the note about what it may leave out. */
int lifecycle_list(const struct lifecycle_kind *k, int argc, char **argv, const char *usage,
		   void (*fmt)(struct json_object *o));
