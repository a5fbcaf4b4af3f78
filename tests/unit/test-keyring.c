/* SPDX-License-Identifier: Apache-2.0 */
/* lib/keyring (descriptions, /proc/keys lines, callout) and lib/luks-match. */
#include <string.h>

#include "keyring.h"
#include "luks-match.h"
#include "test.h"

TEST(keyring_dek_names)
{
	char d[80], n[70];

	ASSERT_OK(keyring_dek_description("disk-1", d, sizeof(d)));
	ASSERT_STREQ(d, "vhsm:disk-1");
	ASSERT_EQ(keyring_dek_description("disk-1", d, 8), -ENAMETOOLONG);
	ASSERT_OK(keyring_dek_name("vhsm:disk_1.a", n, sizeof(n)));
	ASSERT_STREQ(n, "disk_1.a");
	ASSERT_EQ(keyring_dek_name("vhsm:", n, sizeof(n)), -EINVAL);
	ASSERT_EQ(keyring_dek_name("cryptsetup:x", n, sizeof(n)), -EINVAL);
	ASSERT_EQ(keyring_dek_name("vhsm:../x", n, sizeof(n)), -EINVAL);
	ASSERT_EQ(keyring_dek_name("vhsm:.x", n, sizeof(n)), -EINVAL);
	ASSERT_EQ(keyring_dek_name("vhsm:-x", n, sizeof(n)), -EINVAL);
	ASSERT_EQ(keyring_dek_name("vhsm:a b", n, sizeof(n)), -EINVAL);
	ASSERT_EQ(keyring_dek_name("vhsm:abcdef", n, 4), -EINVAL);
	memset(d, 'a', sizeof(d));
	memcpy(d, "vhsm:", 5);
	d[5 + 65] = 0; /* 65 characters: one over the limit */
	ASSERT_EQ(keyring_dek_name(d, n, sizeof(n)), -EINVAL);
	d[5 + 64] = 0;
	ASSERT_OK(keyring_dek_name(d, n, sizeof(n)));
	ASSERT_EQ(KEYRING_DEK_PERM, 0x19212100u);
}

TEST(keyring_proc_lines)
{
	struct keyring_proc_key k;

	ASSERT_OK(keyring_proc_parse_line(
		"19a7591f I--Q---     3 299s 19212100     0   997 logon     vhsm:disk: 64\n", &k));
	ASSERT_EQ(k.serial, 0x19a7591f);
	ASSERT_STREQ(k.flags, "I--Q---");
	ASSERT_STREQ(k.expiry, "299s");
	ASSERT_EQ(k.perm, 0x19212100u);
	ASSERT_EQ(k.uid, 0u);
	ASSERT_EQ(k.gid, 997u);
	ASSERT_STREQ(k.type, "logon");
	ASSERT_STREQ(k.description, "vhsm:disk");
	ASSERT_TRUE(keyring_proc_key_live(&k));

	/* revoked, negative: not live; a negative key has no size suffix */
	ASSERT_OK(keyring_proc_parse_line(
		"03cd082f IR-Q---     1 expd 19212100     0     1 logon     vhsm:x: 0", &k));
	ASSERT_STREQ(k.description, "vhsm:x");
	ASSERT_FALSE(keyring_proc_key_live(&k));
	ASSERT_OK(keyring_proc_parse_line(
		"0000002a I--Q--N     1   4s 3f010000  1000  1000 logon     vhsm:x", &k));
	ASSERT_STREQ(k.description, "vhsm:x");
	ASSERT_FALSE(keyring_proc_key_live(&k));
	/* keyrings describe themselves differently; a ": " inside a description stays */
	ASSERT_OK(keyring_proc_parse_line(
		"0b1c2d3e I------     1 perm 1f030000     0     0 keyring   _uid.0: 2", &k));
	ASSERT_STREQ(k.type, "keyring");
	ASSERT_STREQ(k.description, "_uid.0: 2");
	ASSERT_OK(keyring_proc_parse_line(
		"0b1c2d3e I------     1 perm 1f030000     0     0 user      a: b: 12", &k));
	ASSERT_STREQ(k.description, "a: b");

	/* malformed */
	ASSERT_EQ(keyring_proc_parse_line("", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("zz I--Q--- 1 perm 0 0 0 logon x", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("00000000 I--Q--- 1 perm 0 0 0 logon x", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("80000000 I--Q--- 1 perm 0 0 0 logon x", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("1 I--Q--- 1 perm 0 -1 0 logon x", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("1 I--Q--- 1 perm 0 99999999999 0 logon x", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("1 I--Q--- 1 perm 123456789 0 0 logon x", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("1 I--Q--- 1 perm 0 0 0 logon", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("1 I--Q--- 1 perm 0 0 0 logon    \n", &k), -EBADMSG);
	ASSERT_EQ(keyring_proc_parse_line("1 I--Q-----toolong 1 perm 0 0 0 logon x", &k), -EBADMSG);
}

TEST(keyring_describe_output)
{
	struct keyring_key_desc k;
	char name[KEYRING_DEK_NAME_MAX + 1];

	ASSERT_OK(keyring_describe_parse("logon;0;997;19212100;vhsm:disk", &k));
	ASSERT_STREQ(k.type, "logon");
	ASSERT_EQ(k.uid, 0u);
	ASSERT_EQ(k.gid, 997u);
	ASSERT_EQ(k.perm, 0x19212100u);
	ASSERT_STREQ(k.description, "vhsm:disk");
	ASSERT_OK(keyring_dek_name(k.description, name, sizeof(name)));
	ASSERT_STREQ(name, "disk");

	/* the description is kept whole: ';' and a second line are part of it, and a
	 * description with bytes after the name is no DEK's */
	ASSERT_OK(keyring_describe_parse("logon;1000;1000;3f010000;vhsm:disk\nlogon;0;0", &k));
	ASSERT_STREQ(k.description, "vhsm:disk\nlogon;0;0");
	ASSERT_EQ(keyring_dek_name(k.description, name, sizeof(name)), -EINVAL);
	ASSERT_OK(keyring_describe_parse("user;5;5;3f010001;a;b;c", &k));
	ASSERT_STREQ(k.description, "a;b;c");
	ASSERT_OK(keyring_describe_parse("logon;0;0;19212100;vhsm:disk ", &k));
	ASSERT_EQ(keyring_dek_name(k.description, name, sizeof(name)), -EINVAL);

	/* malformed */
	ASSERT_EQ(keyring_describe_parse("", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("logon;0;0;19212100", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse(";0;0;19212100;x", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("logon;-1;0;19212100;x", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("logon;0;x;19212100;x", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("logon;0;0;1921210;x", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("logon;0;0;1921210g;x", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("logon;99999999999;0;19212100;x", &k), -EBADMSG);
	ASSERT_EQ(keyring_describe_parse("a234567890123456789012345678901234;0;0;19212100;x", &k),
		  -EBADMSG);
}

TEST(keyring_callout)
{
	uint32_t t;

	ASSERT_OK(keyring_parse_callout("", 0, &t));
	ASSERT_EQ(t, UINT32_MAX);
	ASSERT_OK(keyring_parse_callout("timeout=30", 10, &t));
	ASSERT_EQ(t, 30u);
	ASSERT_OK(keyring_parse_callout("timeout=0", 9, &t));
	ASSERT_EQ(t, 0u);
	ASSERT_EQ(keyring_parse_callout("timeout=", 8, &t), -EINVAL);
	ASSERT_EQ(keyring_parse_callout("timeout=-1", 10, &t), -EINVAL);
	ASSERT_EQ(keyring_parse_callout("timeout=99999999", 16, &t), -EINVAL);
	ASSERT_EQ(keyring_parse_callout("timeout=30", 9, &t), 0); /* length is what counts */
	ASSERT_EQ(t, 3u);
	ASSERT_EQ(keyring_parse_callout("timeout=3\0", 10, &t), -EINVAL);
	ASSERT_EQ(keyring_parse_callout("ttl=3", 5, &t), -EINVAL);
}

TEST(luks_token_kek_match)
{
	static const char good[] = "{\"type\":\"vhsm\",\"keyslots\":[\"1\"],\"kek\":\"db-kek\"}";
	char k[80];

	ASSERT_OK(luks_token_kek(good, strlen(good), k, sizeof(k)));
	ASSERT_STREQ(k, "db-kek");
	ASSERT_EQ(luks_token_kek(good, strlen(good) - 1, k, sizeof(k)), -EBADMSG);
	ASSERT_EQ(luks_token_kek("{\"type\":\"luks2-keyring\",\"kek\":\"db-kek\"}", 39, k, sizeof(k)),
		  -ENOENT);
	ASSERT_EQ(luks_token_kek("{\"type\":\"vhsm\"}", 15, k, sizeof(k)), -EBADMSG);
	ASSERT_EQ(luks_token_kek("{\"type\":\"vhsm\",\"kek\":7}", 23, k, sizeof(k)), -EBADMSG);
	ASSERT_EQ(luks_token_kek("{\"type\":\"vhsm\",\"kek\":\"../x\"}", 28, k, sizeof(k)), -EBADMSG);
	ASSERT_EQ(luks_token_kek("[\"vhsm\"]", 8, k, sizeof(k)), -EBADMSG);
	ASSERT_EQ(luks_token_kek("{\"type\":1}", 10, k, sizeof(k)), -EBADMSG);
	ASSERT_EQ(luks_token_kek("", 0, k, sizeof(k)), -EBADMSG);
	/* a second "kek" (json-c keeps the last) or "type" is refused, not matched */
	static const char twice[] = "{\"type\":\"vhsm\",\"kek\":\"a\",\"kek\":\"db-kek\"}";
	ASSERT_EQ(luks_token_kek(twice, strlen(twice), k, sizeof(k)), -EBADMSG);
	static const char type2[] = "{\"type\":\"other\",\"type\":\"vhsm\",\"kek\":\"a\"}";
	ASSERT_EQ(luks_token_kek(type2, strlen(type2), k, sizeof(k)), -EBADMSG);
	/* another type's members are not ours to judge */
	static const char tpm2[] = "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"0\"],"
				   "\"tpm2-blob\":\"AA\",\"tpm2-pcrs\":[7],\"tpm2_pcrlock\":false}";
	ASSERT_EQ(luks_token_kek(tpm2, strlen(tpm2), k, sizeof(k)), -ENOENT);
	static const char bidi[] = "{\"type\":\"vhsm\",\"kek\":\"a\\u202e\"}";
	ASSERT_EQ(luks_token_kek(bidi, strlen(bidi), k, sizeof(k)), -EBADMSG);
}

/* Captured from active mappings: cryptsetup's dm uuid of a LUKS2 volume, and its header UUID. */
TEST(luks_header_dm_uuid)
{
	const char *dm = "CRYPT-LUKS2-6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7b-data";
	const char *hdr = "6b1e3f2a-9c0d-4e7f-8a1b-2c3d4e5f6a7b";

	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, dm), 1);
	ASSERT_EQ(luks_header_matches_dm_uuid("6B1E3F2A-9C0D-4E7F-8A1B-2C3D4E5F6A7B", dm), 1);
	/* A header put in place of the one the volume was opened with. */
	ASSERT_EQ(luks_header_matches_dm_uuid("6b1e3f2a-9c0d-4e7f-8a1b-2c3d4e5f6a7c", dm), 0);
	/* Not a LUKS2 mapping's dm uuid: plain dm-crypt, LUKS1, other targets, malformed. */
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "CRYPT-PLAIN-data"), -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "CRYPT-LUKS1-6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7b-data"),
		  -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "LVM-abc"), -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "CRYPT-LUKS2-6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7b"),
		  -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "CRYPT-LUKS2-6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7b-"),
		  -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "CRYPT-LUKS2-6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7-data"),
		  -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid(hdr, "CRYPT-LUKS2-6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7x-data"),
		  -EINVAL);
	/* Header UUIDs that are not UUIDs. */
	ASSERT_EQ(luks_header_matches_dm_uuid("6b1e3f2a9c0d4e7f8a1b2c3d4e5f6a7b", dm), -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid("6b1e3f2a-9c0d-4e7f-8a1b-2c3d4e5f6a7b0", dm), -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid("6b1e3f2a-9c0d-4e7f-8a1b-2c3d4e5f6a7", dm), -EINVAL);
	ASSERT_EQ(luks_header_matches_dm_uuid("", dm), -EINVAL);
}

/* Captured dm-crypt table parameters (dmsetup table --showkeys, key fields replaced). */
TEST(dm_crypt_params_dek)
{
	char db[] = "db", logs[] = "logs";
	char *deks[] = { db, logs, NULL };
	char *none[] = { NULL };

	ASSERT_TRUE(dm_crypt_params_use_dek("aes-xts-plain64 :64:logon:vhsm:db 0 7:0 0", deks));
	ASSERT_TRUE(dm_crypt_params_use_dek("aes-xts-plain64 :32:logon:vhsm:logs 0 /dev/vdb 0 1 "
					    "allow_discards", deks));
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64 :64:logon:vhsm:db 0 7:0 0", none));
	/* Another DEK's key, a prefix of a name, a user key with the same description. */
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64 :64:logon:vhsm:dbx 0 7:0 0", deks));
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64 :64:logon:vhsm:d 0 7:0 0", deks));
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64 :64:user:vhsm:db 0 7:0 0", deks));
	/* LUKS through the keyring (cryptsetup's own description) and a hex key. */
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64 :64:logon:cryptsetup:"
					     "6b1e3f2a-9c0d-4e7f-8a1b-2c3d4e5f6a7b-d0 0 7:0 32768",
					     deks));
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64 "
					     "00112233445566778899aabbccddeeff00112233445566778899"
					     "aabbccddeeff 0 7:0 0", deks));
	ASSERT_FALSE(dm_crypt_params_use_dek("aes-xts-plain64", deks));
	ASSERT_FALSE(dm_crypt_params_use_dek("", deks));
}
