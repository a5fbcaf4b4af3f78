/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of vhsmd's pure parts: ACLs, KEK metadata JSON, the audit hash chain. */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../daemon/acl.h"
#include "../../daemon/audit-record.h"
#include "../../daemon/audit.h"
#include "../../daemon/ops.h"
#include "../../daemon/store.h"
#include "json.h"
#include "kek-meta-edits.h"
#include "test.h"

TEST(daemon_acl_parse_valid)
{
	struct acl_entry e[KEK_MAX_ACL];
	size_t n = 99;
	char *s = NULL;

	ASSERT_OK(acl_parse("uid:1000:wrap,unwrap;gid:5:read;unit:foo.service:all", e, &n));
	ASSERT_EQ(n, 3);
	ASSERT_EQ(e[0].kind, ACL_UID);
	ASSERT_EQ(e[0].id, 1000);
	ASSERT_EQ(e[0].ops, ACL_OP_WRAP | ACL_OP_UNWRAP);
	ASSERT_EQ(e[1].kind, ACL_GID);
	ASSERT_EQ(e[1].ops, ACL_OP_READ);
	ASSERT_EQ(e[2].kind, ACL_UNIT);
	ASSERT_STREQ(e[2].unit, "foo.service");
	ASSERT_EQ(e[2].ops, ACL_OP_ALL);
	ASSERT_OK(acl_format(e, n, &s));
	ASSERT_STREQ(s, "uid:1000:wrap,unwrap;gid:5:read;unit:foo.service:wrap,unwrap,rewrap,read,admin");
	free(s);
	ASSERT_OK(acl_parse("", e, &n));
	ASSERT_EQ(n, 0);
	ASSERT_OK(acl_parse("user:root:unwrap", e, &n));
	ASSERT_EQ(e[0].kind, ACL_UID);
	ASSERT_EQ(e[0].id, 0);
}

TEST(daemon_acl_parse_invalid)
{
	static const char *const bad[] = {
		"uid:1000", "uid::wrap", "uid:x:wrap", "uid:-1:wrap", "uid:1000:fly",
		"pid:1:wrap", "uid:1000:", ":1000:wrap", "unit:a/b:wrap", "unit::wrap",
		"uid:99999999999:wrap", "user:no-such-user-vhsm:wrap",
	};
	struct acl_entry e[KEK_MAX_ACL];
	size_t n;
	char big[8192];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = acl_parse(bad[i], e, &n);
		if (r >= 0)
			test_fail(__FILE__, __LINE__, "accepted bad ACL '%s'", bad[i]);
	}
	/* more than KEK_MAX_ACL entries */
	big[0] = 0;
	for (unsigned i = 0; i <= KEK_MAX_ACL; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "uid:%u:wrap;", i);
	ASSERT_EQ(acl_parse(big, e, &n), -EMSGSIZE);
}

TEST(daemon_acl_allows)
{
	struct kek_meta m = {};
	struct peer root = { .uid = 0, .admin = true }, user = { .uid = 1000, .gid = 1000 };
	struct peer grouped = { .uid = 2000, .gid = 2000, .n_groups = 2, .groups = { 7, 42 } };
	struct peer unit = { .uid = 3000, .gid = 3000 };

	strcpy(unit.unit, "systemd-cryptsetup@data.service");
	ASSERT_TRUE(acl_allows(&m, &root, ACL_OP_UNWRAP));
	ASSERT_FALSE(acl_allows(&m, &user, ACL_OP_UNWRAP));
	ASSERT_OK(acl_parse("uid:1000:wrap;gid:42:unwrap;unit:systemd-cryptsetup@data.service:unwrap",
			    m.acl, &m.n_acl));
	ASSERT_TRUE(acl_allows(&m, &user, ACL_OP_WRAP));
	ASSERT_FALSE(acl_allows(&m, &user, ACL_OP_UNWRAP));
	ASSERT_TRUE(acl_allows(&m, &grouped, ACL_OP_UNWRAP));
	ASSERT_FALSE(acl_allows(&m, &grouped, ACL_OP_WRAP));
	ASSERT_TRUE(acl_allows(&m, &unit, ACL_OP_UNWRAP));
	ASSERT_FALSE(acl_allows(&m, &unit, ACL_OP_ADMIN));
	strcpy(unit.unit, "other.service");
	ASSERT_FALSE(acl_allows(&m, &unit, ACL_OP_UNWRAP));
}

static void sample_meta(struct kek_meta *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->name, "db-kek");
	m->state = KEK_DISABLED;
	m->state_before_delete = KEK_ENABLED;
	m->created = 1700000000;
	m->updated = 1700000100;
	m->retention_days = 30;
	m->purge_protection = true;
	m->n_versions = 2;
	m->versions[0].version = 1;
	m->versions[0].created = 1700000000;
	m->versions[1].version = 2;
	m->versions[1].created = 1700000050;
	(void)acl_parse("uid:1000:unwrap", m->acl, &m->n_acl);
}

TEST(daemon_kek_meta_roundtrip)
{
	struct kek_meta m, back;
	char *json = NULL;

	sample_meta(&m);
	ASSERT_OK(kek_meta_to_json(&m, &json));
	ASSERT_OK(kek_meta_from_json(json, strlen(json), &back));
	free(json);
	ASSERT_STREQ(back.name, "db-kek");
	ASSERT_EQ(back.state, KEK_DISABLED);
	ASSERT_EQ(back.retention_days, 30);
	ASSERT_TRUE(back.purge_protection);
	ASSERT_EQ(back.n_versions, 2);
	ASSERT_EQ(back.versions[1].created, 1700000050);
	ASSERT_EQ(back.n_acl, 1);
	ASSERT_EQ(back.acl[0].id, 1000);
}

TEST(daemon_kek_meta_rejects)
{
	struct kek_meta m, back;
	char *json = NULL, buf[4096];

	sample_meta(&m);
	ASSERT_OK(kek_meta_to_json(&m, &json));
	static const struct { const char *from, *to; } edits[] = {
		{ "\"db-kek\"", "\"../etc\"" },
		{ "\"disabled\"", "\"gone\"" },
		{ "\"retention_days\":30", "\"retention_days\":3" },
		{ "\"retention_days\":30", "\"retention_days\":\"30\"" },
		{ "\"version\":2", "\"version\":3" },
		{ "\"purge_protection\":true", "\"purge_protection\":1" },
		{ "\"acl\":\"uid:1000:unwrap\"", "\"acl\":\"uid:1000:steal\"" },
		{ "\"created\":1700000000,", "" },
	};
	for (size_t i = 0; i < ELEMENTSOF(edits); i++) {
		const char *p = strstr(json, edits[i].from);
		ASSERT_TRUE(p != NULL);
		snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - json), json, edits[i].to,
			 p + strlen(edits[i].from));
		if (kek_meta_from_json(buf, strlen(buf), &back) >= 0)
			test_fail(__FILE__, __LINE__, "accepted edit %zu: %s", i, buf);
	}
	snprintf(buf, sizeof(buf), "%s ", json);
	ASSERT_OK(kek_meta_from_json(buf, strlen(buf), &back)); /* trailing whitespace is fine */
	snprintf(buf, sizeof(buf), "%sx", json);
	ASSERT_LT(kek_meta_from_json(buf, strlen(buf), &back), 0);
	ASSERT_LT(kek_meta_from_json(json, strlen(json) - 1, &back), 0);
	ASSERT_LT(kek_meta_from_json("", 0, &back), 0);
	ASSERT_LT(kek_meta_from_json("[]", 2, &back), 0);
	free(json);
}

TEST(daemon_kek_meta_names_the_member)
{
	static const struct kek_meta_edit edits[] = {
		{ "\"db-kek\"", "\"../etc\"", "name: invalid name '../etc': names are" },
		{ "\"disabled\"", "\"gone\"", "state: unknown state" },
		{ "\"state_before_delete\":\"enabled\"", "\"state_before_delete\":\"Enabled\"",
		  "state_before_delete: unknown state" },
		{ "\"state_before_delete\":\"enabled\"", "\"state_before_delete\":\"\"",
		  "state_before_delete: " },
		{ "\"state\":\"disabled\"", "\"state\":1", "state: expected a string" },
		{ "\"retention_days\":30", "\"retention_days\":\"30\"",
		  "retention_days: expected an integer" },
		{ "\"version\":2", "\"version\":3", "versions[1].version: 2 expected" },
		{ "\"version\":2", "\"version\":2,\"x\":1", "versions[1].x: unknown member" },
		{ "\"purge_protection\":true", "\"purge_protection\":1",
		  "purge_protection: expected true or false" },
		{ "\"imported\"", "\"imported\":true,\"imported\"", "imported: duplicate member" },
		{ "\"imported\"", "\"generation\":1,\"imported\"", "generation: unknown member" },
		{ "\"acl\":\"uid:1000:unwrap\"", "\"acl\":\"uid:1000:steal\"", "acl: not a valid" },
		{ "\"created\":1700000000,", "", "created: missing" },
		{ "\"versions\":[", "\"versions\":[{},", "versions[0].version: missing" },
		{ "\"updated\"", "\"updated\":", "truncated or malformed JSON at offset" },
	};
	struct kek_meta m;

	sample_meta(&m);
	test_kek_meta_edits(__FILE__, __LINE__, &m, edits, ELEMENTSOF(edits));
}

TEST(daemon_store_name_valid)
{
	ASSERT_TRUE(store_name_valid("a"));
	ASSERT_TRUE(store_name_valid("db-kek_1.v2"));
	ASSERT_FALSE(store_name_valid(""));
	ASSERT_FALSE(store_name_valid(".hidden"));
	ASSERT_FALSE(store_name_valid("-opt"));
	ASSERT_FALSE(store_name_valid("a/b"));
	ASSERT_FALSE(store_name_valid("a b"));
	ASSERT_FALSE(store_name_valid("0123456789012345678901234567890123456789012345678901234567890123456789"));
}

/* Writes n audit records into dir/audit.log through the daemon's own code. */
static int write_audit(const char *dir, int n)
{
	char state[512];
	struct manager m = { .state_dir = state };
	struct peer p = { .uid = 1000, .gid = 1000, .pid = 42 };
	int r;

	snprintf(state, sizeof(state), "%s", dir);
	r = audit_open(&m, &m.audit);
	if (r < 0)
		return r;
	for (int i = 0; i < n && r >= 0; i++) {
		struct audit_record rec = { .event = i % 2 ? "unwrap" : "wrap", .key = "k",
					    .version = 1, .peer = &p, .result = i % 3 ? 0 : -EPERM,
					    .reason = i % 3 ? NULL : "uid 1000 may not unwrap" };
		r = audit_log(m.audit, &rec);
	}
	audit_free(m.audit);
	return r;
}

/* Runs a shell command in which every "@" stands for the test directory. */
static int run_sh(const char *tmpl, const char *dir)
{
	char cmd[2048] = "";
	size_t off = 0;

	for (const char *p = tmpl; *p && off + strlen(dir) + 2 < sizeof(cmd); p++) {
		if (*p == '@') {
			memcpy(cmd + off, dir, strlen(dir));
			off += strlen(dir);
		} else {
			cmd[off++] = *p;
		}
	}
	cmd[off] = 0;
	return system(cmd);
}

TEST(daemon_audit_chain)
{
	const char *dir = test_tmpdir();
	char path[512], why[256];
	uint64_t n = 0;

	snprintf(path, sizeof(path), "%s/audit.log", dir);
	ASSERT_OK(write_audit(dir, 10));
	ASSERT_OK(audit_verify_file(path, &n, why, sizeof(why)));
	ASSERT_EQ(n, 10);
	/* reopening continues the chain */
	ASSERT_OK(write_audit(dir, 5));
	ASSERT_OK(audit_verify_file(path, &n, why, sizeof(why)));
	ASSERT_EQ(n, 15);
	ASSERT_EQ(run_sh("cp @/audit.log @/orig", dir), 0);

	ASSERT_EQ(run_sh("sed -i '3s/\"pid\":42/\"pid\":43/' @/audit.log", dir), 0);
	ASSERT_EQ(audit_verify_file(path, &n, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "record 3") != NULL);

	ASSERT_EQ(run_sh("cp @/orig @/audit.log; sed -i '7d' @/audit.log", dir), 0);
	ASSERT_EQ(audit_verify_file(path, &n, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "record 7") != NULL);

	ASSERT_EQ(run_sh("cp @/orig @/audit.log; sed -i '4{h;d};5G' @/audit.log", dir), 0);
	ASSERT_EQ(audit_verify_file(path, &n, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "record 4") != NULL);

	ASSERT_EQ(run_sh("cp @/orig @/audit.log; truncate -s -5 @/audit.log", dir), 0);
	ASSERT_EQ(audit_verify_file(path, &n, why, sizeof(why)), -EBADMSG);
	ASSERT_TRUE(strstr(why, "record 15") != NULL);

	/* a broken log is kept aside at open and a new chain starts with a reset record */
	ASSERT_OK(write_audit(dir, 2));
	ASSERT_OK(audit_verify_file(path, &n, why, sizeof(why)));
	ASSERT_EQ(n, 3);
	ASSERT_EQ(run_sh("ls @/audit.log.broken.* >/dev/null", dir), 0);
	ASSERT_EQ(run_sh("head -n 1 @/audit.log | grep -q '\"event\":\"audit.reset\".*previous log kept'",
			 dir), 0);
	/* the reset record names the kept log by its full path */
	ASSERT_EQ(run_sh("head -n 1 @/audit.log | grep -qF 'previous log kept as @/audit.log.broken.'",
			 dir), 0);
}

/* Each record is parsed strictly before its hash is checked: the reason names the member. */
TEST(daemon_audit_record_strict)
{
	static const struct {
		const char *record, *why;
	} bad[] = {
		{ "{\"seq\":1,\"seq\":2,\"time\":1,\"event\":\"x\",\"result\":\"ok\",\"prev\":\"Z\"",
		  "record 1: not a valid record (seq: duplicate member" },
		{ "{\"seq\":1,\"time\":1,\"event\":\"x\",\"result\":\"ok\",\"who\":0,\"prev\":\"Z\"",
		  "record 1: not a valid record (who: unknown member)" },
		{ "{\"seq\":\"1\",\"time\":1,\"event\":\"x\",\"result\":\"ok\",\"prev\":\"Z\"",
		  "record 1: not a valid record (seq: expected an integer)" },
		{ "{\"seq\":1,\"time\":1,\"event\":\"x\",\"result\":\"ok\",\"prev\":\"00\"",
		  "record 1: not a valid record (prev: too short)" },
		{ "{\"seq\":1,\"time\":1,\"event\":\"x\",\"result\":\"ok\",\"prev\":\"Z\",]",
		  "record 1: not a valid record (truncated or malformed JSON at offset" },
	};
	const char *dir = test_tmpdir();
	char path[512], why[256], zeros[65], hash[65];
	uint64_t n = 0;

	memset(zeros, '0', 64);
	zeros[64] = 0;
	memset(hash, 'a', 64);
	hash[64] = 0;
	snprintf(path, sizeof(path), "%s/audit-strict.log", dir);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		FILE *f = fopen(path, "w");
		char rec[512], *z;

		ASSERT_TRUE(f != NULL);
		snprintf(rec, sizeof(rec), "%s", bad[i].record);
		z = strstr(rec, "\"Z\"");
		if (z) /* the genesis prev: 64 zeros */
			snprintf(z, sizeof(rec) - (size_t)(z - rec), "\"%s\"%s", zeros,
				 strstr(bad[i].record, "\"Z\"") + 3);
		fprintf(f, "%s,\"hash\":\"%s\"}\n", rec, hash);
		fclose(f);
		why[0] = 0;
		ASSERT_EQ(audit_verify_file(path, &n, why, sizeof(why)), -EBADMSG);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0) {
			test_fail(__FILE__, __LINE__, "case %zu: \"%s\", expected \"%s\"", i, why,
				  bad[i].why);
			break;
		}
	}
}

TEST(daemon_audit_rotation)
{
	const char *dir = test_tmpdir();
	char state[512], path[512], seg[600], why[256];
	struct manager m = { .state_dir = state };
	struct peer p = { .uid = 7 };
	uint64_t n = 0, total = 0;

	snprintf(state, sizeof(state), "%s", dir);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	ASSERT_OK(audit_open(&m, &m.audit));
	audit_set_segment_max(m.audit, 1500);
	for (int i = 0; i < 30; i++) {
		struct audit_record rec = { .event = "kek.rotate", .key = "k", .peer = &p };
		if (audit_log(m.audit, &rec) < 0) {
			audit_free(m.audit);
			test_fail(__FILE__, __LINE__, "audit_log failed at %d", i);
			return;
		}
	}
	audit_free(m.audit);
	/* Every segment verifies on its own and the sequence carries on across them. */
	ASSERT_OK(audit_verify_file(path, &n, why, sizeof(why)));
	ASSERT_GT(n, 30);
	ASSERT_EQ(run_sh("head -n 1 @/audit.log | grep -q '\"event\":\"audit.rotated\"'", dir), 0);
	/* the rotated record names the previous segment by its full path */
	ASSERT_EQ(run_sh("head -n 1 @/audit.log | grep -qE '\"reason\":\"@/audit.log.[0-9]+\"'", dir),
		  0);
	ASSERT_EQ(run_sh("test $(ls @/audit.log.* | wc -l) -ge 2", dir), 0);
	for (uint64_t s = 1; s < n; s++) {
		snprintf(seg, sizeof(seg), "%s.%llu", path, (unsigned long long)s);
		if (access(seg, F_OK) == 0) {
			ASSERT_OK(audit_verify_file(seg, &total, why, sizeof(why)));
			ASSERT_LT(total, n);
		}
	}
	/* Editing the link of the new segment breaks its chain. */
	ASSERT_EQ(run_sh("sed -i '1s/\"prev\":\"[0-9a-f]*\"/\"prev\":\"" "1234567890abcdef"
			 "1234567890abcdef1234567890abcdef1234567890abcdef\"/' @/audit.log", dir), 0);
	ASSERT_LT(audit_verify_file(path, &n, why, sizeof(why)), 0);
}

TEST(daemon_ops_status_eagain_only_from_a_limit)
{
	char why[256] = "report source changed while reading";

	/* A limit's decline stays EAGAIN (the client retries it: nothing was done). */
	ASSERT_EQ(ops_status(-EAGAIN, true, why, sizeof(why)), -EAGAIN);
	ASSERT_STREQ(why, "report source changed while reading");
	/* Any other EAGAIN may follow an action: EIO, the message kept and marked. */
	ASSERT_EQ(ops_status(-EAGAIN, false, why, sizeof(why)), -EIO);
	ASSERT_STREQ(why, "report source changed while reading (temporary failure inside vhsmd, "
		     "not a limit)");
	why[0] = 0;
	ASSERT_EQ(ops_status(-EAGAIN, false, why, sizeof(why)), -EIO);
	ASSERT_TRUE(strstr(why, "not a limit") != NULL);
	/* Everything else passes unchanged. */
	why[0] = 0;
	ASSERT_EQ(ops_status(-EPERM, false, why, sizeof(why)), -EPERM);
	ASSERT_EQ(ops_status(0, false, why, sizeof(why)), 0);
	ASSERT_EQ(ops_status(-EPERM, true, why, sizeof(why)), -EPERM);
	ASSERT_STREQ(why, "");
}

/* The record as json-c prints it: what audit.c wrote before it formatted records itself. */
static void ref_add_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static char *ref_record(const struct audit_record *rec, const struct audit_record_chain *ch)
{
	json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "seq", json_object_new_int64((int64_t)ch->seq));
	json_object_object_add(o, "time", json_object_new_int64(ch->time));
	ref_add_str(o, "event", rec->event);
	ref_add_str(o, "key", rec->key);
	if (rec->version)
		json_object_object_add(o, "version", json_object_new_int64(rec->version));
	if (rec->peer) {
		json_object_object_add(o, "uid", json_object_new_int64(rec->peer->uid));
		json_object_object_add(o, "gid", json_object_new_int64(rec->peer->gid));
		json_object_object_add(o, "pid", json_object_new_int64(rec->peer->pid));
		if (rec->peer->unit[0])
			ref_add_str(o, "unit", rec->peer->unit);
	}
	if (rec->via) {
		json_object_object_add(o, "via_uid", json_object_new_int64(rec->via->uid));
		json_object_object_add(o, "via_pid", json_object_new_int64(rec->via->pid));
	}
	if (rec->count > 1)
		json_object_object_add(o, "count", json_object_new_int64(rec->count));
	ref_add_str(o, "result", rec->result == 0 ? "ok" : "refused");
	if (rec->result)
		ref_add_str(o, "errno", strerror(-rec->result));
	ref_add_str(o, "reason", rec->reason);
	if (rec->first_prev) {
		json_object_object_add(o, "first_seq", json_object_new_int64((int64_t)rec->first_seq));
		ref_add_str(o, "first_prev", rec->first_prev);
	}
	ref_add_str(o, "kid", ch->kid);
	ref_add_str(o, "prev", ch->prev);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

TEST(daemon_audit_record_format_equals_json_c)
{
	struct peer p = { .uid = 4294967294u, .gid = 0, .pid = 2147483647, .unit = "a b/\\\"c.service" };
	struct peer bare = { .uid = 7, .gid = 8, .pid = 9 };
	char all[256], out[4097];
	const char *reasons[] = { NULL, "", "plain", "q\"uote\\back/slash", all,
				  "utf-8 \xc3\xa9 \xe2\x80\xae and 0x7f \x7f" };
	const char *prev = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = 0;
	for (size_t i = 0; i < ELEMENTSOF(reasons); i++)
		for (int variant = 0; variant < 4; variant++) {
			struct audit_record rec = {
				.event = variant ? "unwrap" : "audit.pruned", .key = reasons[i],
				.version = (uint32_t)variant * 7u, .peer = variant == 1 ? &bare : &p,
				.result = variant == 2 ? -EKEYREJECTED : 0, .reason = reasons[i],
				.count = (uint32_t)variant * 40u, .via = variant == 3 ? &bare : NULL,
				.first_seq = variant ? 0 : UINT64_MAX, .first_prev = variant ? NULL : prev,
			};
			struct audit_record_chain ch = { .seq = (uint64_t)INT64_MAX - i,
							 .time = variant ? 1796600000 : -1,
							 .kid = variant == 3 ? "00ff00ff00ff00ff" : NULL,
							 .prev = prev };
			char *want = ref_record(&rec, &ch);
			int n = audit_record_format(&rec, &ch, out, sizeof(out));

			ASSERT_TRUE(want != NULL);
			ASSERT_EQ(n, (int)strlen(want));
			ASSERT_STREQ(out, want);
			/* One byte short of the record and its NUL: refused, not cut. */
			ASSERT_EQ(audit_record_format(&rec, &ch, out, strlen(want)), -EMSGSIZE);
			ASSERT_EQ(audit_record_format(&rec, &ch, out, strlen(want) + 1), (int)strlen(want));
			free(want);
		}
	/* The extremes of the integers: the most negative, zero. */
	struct audit_record rec = { .event = "unwrap", .peer = &bare, .reason = "x" };
	int64_t times[] = { INT64_MIN, INT64_MIN + 1, 0, 9, 10, -10 };

	for (size_t i = 0; i < ELEMENTSOF(times); i++) {
		struct audit_record_chain ch = { .seq = 0, .time = times[i], .prev = prev };
		char *want = ref_record(&rec, &ch);

		ASSERT_TRUE(want != NULL);
		ASSERT_EQ(audit_record_format(&rec, &ch, out, sizeof(out)), (int)strlen(want));
		ASSERT_STREQ(out, want);
		free(want);
	}
}
