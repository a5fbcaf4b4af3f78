/* SPDX-License-Identifier: Apache-2.0 */
/* lib/platform: probing a (fake) sysfs/dev tree and the one-sentence protection statement. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform.h"
#include "test.h"

static void touch(const char *root, const char *rel, const char *content)
{
	char p[2048];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	/* the parents below root, one component at a time */
	for (char *q = p + strlen(root) + 1; (q = strchr(q, '/')); q++) {
		*q = '\0';
		(void)mkdir(p, 0755);
		*q = '/';
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (content && write(fd, content, strlen(content)) < 0)
			(void)0;
		close(fd);
	}
}

TEST(platform_probe_fake_tree)
{
	const char *root = test_tmpdir();
	struct platform_facts f = {};

	platform_probe(root, &f);
	ASSERT_FALSE(f.sev_guest || f.configfs_tsm || f.vtpm);
	ASSERT_EQ(f.sysfs_vmpl, -1);
	ASSERT_STREQ(platform_report_path(&f), "none");

	touch(root, "/dev/sev-guest", NULL);
	touch(root, "/sys/devices/system/cpu/sev/vmpl", "2\n");
	platform_probe(root, &f);
	ASSERT_TRUE(f.sev_guest && !f.configfs_tsm);
	ASSERT_EQ(f.sysfs_vmpl, 2);
	ASSERT_STREQ(platform_report_path(&f), "ioctl (/dev/sev-guest)");

	touch(root, "/sys/kernel/config/tsm/report/.keep", NULL);
	touch(root, "/dev/tpmrm0", NULL);
	platform_probe(root, &f);
	ASSERT_TRUE(f.configfs_tsm && f.vtpm);
	ASSERT_STREQ(platform_report_path(&f), "configfs-tsm");

	/* A malformed vmpl file is "unknown", never a guess. */
	touch(root, "/sys/devices/system/cpu/sev/vmpl", "7\n");
	platform_probe(root, &f);
	ASSERT_EQ(f.sysfs_vmpl, -1);
	touch(root, "/sys/devices/system/cpu/sev/vmpl", "12");
	platform_probe(root, &f);
	ASSERT_EQ(f.sysfs_vmpl, -1);
}

static const char *say(const struct platform_facts *f)
{
	static char buf[512];

	return platform_protection(f, buf, sizeof(buf));
}

TEST(platform_protection_sentences)
{
	struct platform_facts f = { .sev_guest = true, .sysfs_vmpl = -1, .have_report = true };

	/* Tenant-owned measurement at VMPL 0: strong. */
	ASSERT_TRUE(strstr(say(&f), "the host and other tenants") != NULL);
	ASSERT_TRUE(strstr(say(&f), "can derive") == NULL);
	/* AWS/GCP: the provider's firmware is the measurement. */
	f.owner = SNP_MEASUREMENT_OWNER_PROVIDER;
	ASSERT_TRUE(strstr(say(&f), "disk theft") != NULL);
	ASSERT_TRUE(strstr(say(&f), "the provider can derive it") != NULL);
	ASSERT_TRUE(strstr(say(&f), "fleet key manager") != NULL);
	/* SVSM: VMPL 2 from the report. */
	f.owner = SNP_MEASUREMENT_OWNER_TENANT;
	f.vmpl = 2;
	ASSERT_TRUE(strstr(say(&f), "VMPL 2") != NULL);
	ASSERT_TRUE(strstr(say(&f), "more privileged VMPL") != NULL);
	/* Azure paravisor: no SNP interface, a vTPM. */
	struct platform_facts az = { .vtpm = true, .sysfs_vmpl = -1 };
	ASSERT_TRUE(strstr(say(&az), "no derived key") != NULL);
	ASSERT_TRUE(strstr(say(&az), "paravisor") != NULL);
	ASSERT_TRUE(strstr(say(&az), "holds no HCL report") != NULL);
	/* ... with the HCL report in it, vhsmd on the SNP platform: use the vtpm platform. */
	az.hcl_report = true;
	ASSERT_TRUE(strstr(say(&az), "Azure paravisor CVM") != NULL);
	ASSERT_TRUE(strstr(say(&az), "--platform vtpm") != NULL);
	ASSERT_STREQ(platform_report_path(&az), "none");
	/* ... and vhsmd on the vtpm platform: the root, what it protects and from whom not. */
	az.vtpm_root = true;
	ASSERT_TRUE(strncmp(say(&az), "vtpm platform root", 18) == 0);
	ASSERT_TRUE(strstr(say(&az), "PCR 7") != NULL);
	ASSERT_TRUE(strstr(say(&az), "the provider who measures it, can unseal") != NULL);
	ASSERT_TRUE(strstr(say(&az), "no derived key") == NULL);
	ASSERT_STREQ(platform_report_path(&az), "vtpm HCL report (NV 0x01400001)");
	/* The simulator protects nothing, and says what hardware would give. */
	struct platform_facts sim = { .simulated = true, .sysfs_vmpl = -1,
				      .owner = SNP_MEASUREMENT_OWNER_PROVIDER };
	ASSERT_TRUE(strncmp(say(&sim), "SIMULATOR: nothing is protected", 31) == 0);
	ASSERT_TRUE(strstr(say(&sim), "the provider can derive it") != NULL);
	ASSERT_STREQ(platform_report_path(&sim), "simulator");
	/* A small buffer is cut, never overrun. */
	char small[16];
	platform_protection(&f, small, sizeof(small));
	ASSERT_EQ(strlen(small), sizeof(small) - 1);
}
