/* SPDX-License-Identifier: Apache-2.0 */
/* vhsm-byok's escaped and JSON output (see out.h). */
#include <stdarg.h>
#include <stdio.h>

#include "escape.h"
#include "json.h"
#include "out.h"

static json_object *out_obj;
static bool out_json, out_quiet;

int out_init(const char *verb, bool json, bool quiet)
{
	out_json = json;
	out_quiet = quiet || json;
	if (!out_obj) {
		out_obj = json_object_new_object();
		if (!out_obj)
			return -ENOMEM;
	}
	out_set("verb", json_object_new_string(verb));
	return 0;
}

void out_set(const char *key, json_object *val)
{
	if (out_obj)
		json_object_object_add(out_obj, key, val);
	else
		json_object_put(val);
}

static void append(const char *array, json_object *val)
{
	json_object *a;

	if (!out_obj || !val) {
		json_object_put(val);
		return;
	}
	if (json_member(out_obj, NULL, array, json_type_array, &a, NULL, 0) < 0) {
		a = json_object_new_array();
		json_object_object_add(out_obj, array, a);
	}
	json_object_array_add(a, val);
}

/* One line on stderr ("vhsm-byok: <prefix><message>", escaped) and an entry of array. */
static void say_stderr(const char *prefix, const char *array, const char *fmt, va_list ap)
	_printf_(3, 0);
static void say_stderr(const char *prefix, const char *array, const char *fmt, va_list ap)
{
	char msg[TEXT_ESCAPE_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "vhsm-byok: %s%s\n", prefix, ESCAPED(msg));
	append(array, json_object_new_string(msg));
}

void out_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_stderr("", "errors", fmt, ap);
	va_end(ap);
}

void out_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_stderr("WARNING: ", "warnings", fmt, ap);
	va_end(ap);
}

void out_check(const char *state, const char *name, const char *fmt, ...)
{
	char detail[TEXT_ESCAPE_MAX];
	json_object *c = json_object_new_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (!out_quiet) {
		printf("  %-8s %-18s %s\n", state, ESCAPED(name), ESCAPED(detail));
		fflush(stdout); /* progress, also into a pipe, before a step that may block */
	}
	if (c) {
		json_object_object_add(c, "check", json_object_new_string(name));
		json_object_object_add(c, "state", json_object_new_string(state));
		json_object_object_add(c, "detail", json_object_new_string(detail));
	}
	append("checks", c);
}

void out_say(const char *fmt, ...)
{
	char msg[TEXT_ESCAPE_MAX];
	va_list ap;

	if (out_quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("%s\n", ESCAPED(msg));
	fflush(stdout);
}

void out_finish(int exit_code)
{
	static const char *const results[] = { "ok", "refused", "usage", "error" };

	if (out_json && out_obj) {
		out_set("result", json_object_new_string(exit_code >= 0 && exit_code <= 3
							 ? results[exit_code] : "error"));
		out_set("exit", json_object_new_int(exit_code));
		puts(json_object_to_json_string_ext(out_obj, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(out_obj);
	out_obj = NULL;
}
