/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/keys line, keyctl_describe output, callout and LUKS2 token fuzzer: the parsers vhsmd,
 * vhsm-request-key and vhsmctl apply to what the kernel, a requester or a disk header hands them.
 */
#include <string.h>

#include "keyring.h"
#include "luks-match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[1024], kek[80], name[KEYRING_DEK_NAME_MAX + 1];
	struct keyring_proc_key k;
	struct keyring_key_desc d;
	uint32_t t;

	if (size < sizeof(line)) {
		memcpy(line, data, size);
		line[size] = 0;
		if (keyring_proc_parse_line(line, &k) == 0 &&
		    (k.serial <= 0 || strlen(k.description) == 0 || strlen(k.type) == 0))
			__builtin_trap();
		/* the description is kept whole; a DEK name never has bytes after it */
		if (keyring_describe_parse(line, &d) == 0 &&
		    (strlen(d.type) == 0 || d.description < line || d.description > line + size ||
		     (keyring_dek_name(d.description, name, sizeof(name)) == 0 &&
		      strlen(d.description) != strlen(KEYRING_DEK_PREFIX) + strlen(name))))
			__builtin_trap();
	}
	if (keyring_parse_callout((const char *)data, size, &t) == 0 && t != UINT32_MAX &&
	    t > KEYRING_MAX_TIMEOUT)
		__builtin_trap();
	if (luks_token_kek((const char *)data, size, kek, sizeof(kek)) == 0 &&
	    (strlen(kek) == 0 || strlen(kek) > KEYRING_DEK_NAME_MAX))
		__builtin_trap();
	return 0;
}
