/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of fleet mode's pure parts: the configuration, the fleet marks in KEK metadata, and
 * what fleet_apply() reports and leaves alone. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/fleet.h"
#include "../../daemon/kek-meta.h"
#include "json.h"
#include "kek-meta-edits.h"
#include "test.h"

TEST(fleet_config_parse_valid)
{
	static const char conf[] =
		"{\"endpoints\": [\"kmip1.example:5696\", \"[2001:db8::1]:5696\"],"
		" \"ca\": \"/etc/vhsm/fleet-ca.pem\", \"sync_interval_s\": 60,"
		" \"require_fresh_sync_s\": 300,"
		" \"keks\": [{\"local\": \"db\", \"name\": \"db-kek\"},"
		"            {\"group\": \"prod\", \"prefix\": \"p-\"}, {\"group\": \"all\"}]}";
	struct fleet_config *c = NULL;
	char err[JSON_ERR_MAX] = "";

	ASSERT_OK(fleet_config_parse(conf, strlen(conf), &c, err, sizeof(err)));
	ASSERT_EQ(c->n_endpoints, 2);
	ASSERT_STREQ(c->endpoints[1], "[2001:db8::1]:5696");
	ASSERT_STREQ(c->ca, "/etc/vhsm/fleet-ca.pem");
	ASSERT_EQ(c->interval_s, 60);
	ASSERT_EQ(c->require_fresh_s, 300);
	ASSERT_EQ(c->timeout_ms, KMIP_CLIENT_TIMEOUT_MS_DEFAULT);
	ASSERT_EQ(c->n_maps, 3);
	ASSERT_STREQ(c->maps[0].local, "db");
	ASSERT_STREQ(c->maps[0].name, "db-kek");
	ASSERT_STREQ(c->maps[1].group, "prod");
	ASSERT_STREQ(c->maps[1].prefix, "p-");
	ASSERT_STREQ(c->maps[2].prefix, "");
	fleet_config_free(c);

	/* Defaults: interval 300 s, freshness off. */
	static const char minimal[] = "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\","
				      " \"keks\": [{\"local\": \"a\", \"name\": \"b\"}]}";
	ASSERT_OK(fleet_config_parse(minimal, strlen(minimal), &c, err, sizeof(err)));
	ASSERT_EQ(c->interval_s, FLEET_INTERVAL_DEFAULT_S);
	ASSERT_EQ(c->require_fresh_s, 0);
	fleet_config_free(c);
}

TEST(fleet_config_parse_names_the_member)
{
#define K "\"keks\": [{\"local\": \"a\", \"name\": \"b\"}]"
	static const struct {
		const char *json, *err;
	} bad[] = {
		{ "{\"ca\": \"/c\", " K "}", "endpoints: missing" },
		{ "{\"endpoints\": [], \"ca\": \"/c\", " K "}", "endpoints: 0 entries, not 1..8" },
		{ "{\"endpoints\": [\"h\"], \"ca\": \"/c\", " K "}", "endpoints[0]: want" },
		{ "{\"endpoints\": [\"h:0\"], \"ca\": \"/c\", " K "}", "endpoints[0]: want" },
		{ "{\"endpoints\": [\"h:65536\"], \"ca\": \"/c\", " K "}", "endpoints[0]: want" },
		{ "{\"endpoints\": [\"h:1\", 5], \"ca\": \"/c\", " K "}", "endpoints[1]: want" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"c.pem\", " K "}",
		  "ca: 'c.pem' is not an absolute path" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\"}", "keks: missing" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": []}",
		  "keks: 0 entries, not 1..64" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": [{\"local\": \"a\"}]}",
		  "keks[0]: needs exactly one of" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": [{\"name\": \"a\"}]}",
		  "keks[0]: a \"name\" mapping needs \"local\"" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": [{\"group\": \"g\", "
		  "\"local\": \"x\"}]}", "keks[0]: a \"group\" mapping takes \"prefix\"" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": [{\"local\": \"../x\", "
		  "\"name\": \"b\"}]}", "keks[0].local: invalid name" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": [{\"local\": \"a\", "
		  "\"name\": \"b\\u001b[2K\"}]}", "keks[0]: control characters" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": [{\"local\": \"a\", "
		  "\"name\": \"b\"}, {\"local\": \"a\", \"name\": \"c\"}]}",
		  "keks[1].local: 'a' is mapped twice" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"sync_interval_s\": 4, " K "}",
		  "sync_interval_s:" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"require_fresh_sync_s\": -1, " K "}",
		  "require_fresh_sync_s:" },
		{ "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"server\": \"x\", " K "}",
		  "server: unknown member" },
		{ "[]", "the fleet configuration must be a JSON object" },
	};
#undef K
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct fleet_config *c = NULL;
		char err[JSON_ERR_MAX] = "";
		int r = fleet_config_parse(bad[i].json, strlen(bad[i].json), &c, err, sizeof(err));
		if (r != -EBADMSG || strncmp(err, bad[i].err, strlen(bad[i].err)) != 0) {
			test_fail(__FILE__, __LINE__, "case %zu: %d \"%s\", expected \"%s\"", i, r,
				  err, bad[i].err);
			fleet_config_free(c);
			return;
		}
	}
}

static void fleet_meta(struct kek_meta *m)
{
	*m = (struct kek_meta){};
	strcpy(m->name, "db");
	m->state = m->state_before_delete = KEK_ENABLED;
	m->retention_days = KEK_DEFAULT_RETENTION_DAYS;
	m->fleet = true;
	m->n_versions = 2;
	m->versions[0].version = 1;
	strcpy(m->versions[0].kmip_uid, "17");
	m->versions[1].version = 2;
	strcpy(m->versions[1].kmip_uid, "23");
}

TEST(fleet_kek_meta_roundtrip)
{
	struct kek_meta m, back;
	char *json = NULL;

	fleet_meta(&m);
	ASSERT_OK(kek_meta_to_json(&m, &json));
	ASSERT_TRUE(strstr(json, "\"origin\":\"fleet\"") != NULL);
	ASSERT_OK(kek_meta_from_json(json, strlen(json), &back));
	free(json);
	ASSERT_TRUE(back.fleet);
	ASSERT_STREQ(back.versions[0].kmip_uid, "17");
	ASSERT_STREQ(back.versions[1].kmip_uid, "23");

	/* A local KEK's metadata is what it always was: no origin, no identifiers. */
	m.fleet = false;
	ASSERT_OK(kek_meta_to_json(&m, &json));
	ASSERT_TRUE(strstr(json, "origin") == NULL && strstr(json, "kmip_uid") == NULL);
	ASSERT_OK(kek_meta_from_json(json, strlen(json), &back));
	ASSERT_FALSE(back.fleet);
	ASSERT_STREQ(back.versions[0].kmip_uid, "");
	free(json);
}

TEST(fleet_kek_meta_marks_are_strict)
{
	static const struct kek_meta_edit edits[] = {
		{ "\"origin\":\"fleet\"", "\"origin\":\"cloud\"", "origin: 'cloud' is not" },
		{ "\"kmip_uid\":\"23\"", "\"kmip_uid\":\"\"", "versions[1].kmip_uid:" },
		{ ",\"kmip_uid\":\"23\"", "", "versions[1].kmip_uid: missing in a KEK from" },
		{ ",\"origin\":\"fleet\"", "", "versions[0].kmip_uid: only a KEK from" },
	};
	struct kek_meta m;

	fleet_meta(&m);
	test_kek_meta_edits(__FILE__, __LINE__, &m, edits, ELEMENTSOF(edits));
}

/* A pull of the test mapping: "a" by name (no object left), group "g" with names x (two
 * objects), y, and one that makes no valid KEK name; all destroyed, none held locally, so that
 * fleet_apply() writes no KEK. */
static const char apply_conf[] = "{\"endpoints\": [\"h:1\"], \"ca\": \"/c\", \"keks\": "
				 "[{\"local\": \"a\", \"name\": \"a-kek\"}, "
				 "{\"group\": \"g\", \"prefix\": \"g-\"}]}";

static void apply_pull(struct fleet_pull *p, struct fleet_object objs[4])
{
	static const char *const names[4] = { "x", "y", "x", "bad/name" };

	*p = (struct fleet_pull){ .n = 4, .objs = objs };
	for (size_t i = 0; i < 4; i++) {
		objs[i] = (struct fleet_object){ .state = KMIP_STATE_DESTROYED, .map = 1 };
		snprintf(objs[i].uid, sizeof(objs[i].uid), "%zu", i + 1);
		snprintf(objs[i].name, sizeof(objs[i].name), "%s", names[i]);
	}
}

TEST(fleet_apply_reports_every_local_kek)
{
	struct fleet_config *c = NULL;
	struct fleet_object objs[4];
	struct fleet_pull p;
	struct fleet_kek_result res[4];
	char err[JSON_ERR_MAX] = "", state[512];
	size_t n = 99;

	snprintf(state, sizeof(state), "%s", test_tmpdir());
	struct manager m = { .state_dir = state, .state_fd = open(state, O_PATH | O_DIRECTORY) };
	ASSERT_TRUE(m.state_fd >= 0);
	ASSERT_OK(fleet_config_parse(apply_conf, strlen(apply_conf), &c, err, sizeof(err)));
	apply_pull(&p, objs);

	/* Exactly as many results as the pull needs: all reported, the bad name as an error. */
	ASSERT_OK(fleet_apply(&m, c, &p, res, 4, &n));
	ASSERT_EQ(n, 4);
	ASSERT_STREQ(res[0].local, "a");
	ASSERT_STREQ(res[0].action, "absent on the key manager");
	ASSERT_STREQ(res[1].local, "g-x");
	ASSERT_STREQ(res[2].local, "g-y");
	ASSERT_STREQ(res[3].local, "g-bad/name");
	ASSERT_TRUE(res[3].error);
	ASSERT_TRUE(strstr(res[3].action, "is not a valid KEK name") != NULL);
	for (size_t i = 0; i < 3; i++)
		ASSERT_FALSE(res[i].error);
	/* Nothing compromised: no record for the root unit. */
	ASSERT_TRUE(faccessat(m.state_fd, FLEET_SHRED_FILE, F_OK, 0) < 0);
	fleet_config_free(c);
	close(m.state_fd);
}

/* More local KEKs than results: refused before anything is applied or reported, the outputs
 * untouched (they used to hold the first results with *ret_n left as it was). */
TEST(fleet_apply_too_many_keks_applies_nothing)
{
	struct fleet_config *c = NULL;
	struct fleet_object objs[4];
	struct fleet_pull p;
	struct fleet_kek_result res[4], zero = {};
	char err[JSON_ERR_MAX] = "", state[512];
	size_t n = 99;

	snprintf(state, sizeof(state), "%s", test_tmpdir());
	struct manager m = { .state_dir = state, .state_fd = open(state, O_PATH | O_DIRECTORY) };
	ASSERT_TRUE(m.state_fd >= 0);
	ASSERT_OK(fleet_config_parse(apply_conf, strlen(apply_conf), &c, err, sizeof(err)));
	apply_pull(&p, objs);

	memset(res, 0, sizeof(res));
	for (size_t max = 0; max < 4; max++) {
		ASSERT_EQ(fleet_apply(&m, c, &p, res, max, &n), -E2BIG);
		ASSERT_EQ(n, 99);
		for (size_t i = 0; i < 4; i++)
			ASSERT_TRUE(memcmp(&res[i], &zero, sizeof(zero)) == 0);
	}
	fleet_config_free(c);
	close(m.state_fd);
}
