/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One LUKS2 token unlock check, as `cryptsetup open --test-passphrase --token-only` does it,
 * for tokens that need a parameter the cryptsetup tool cannot pass: systemd's tpm2 token takes
 * its TPM device only from the caller (systemd-cryptsetup's tpm2-device=), and finds none by
 * itself on a machine without a kernel TPM driver (the benchmark uses swtpm over a socket).
 * bench/run.sh runs this once per sample, so the process start is counted as for cryptsetup.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "bench.h"

/*
 * The parameter block systemd 252's systemd-tpm2 token reads through libcryptsetup's usrptr
 * (systemd src/shared/tpm2-util.h, systemd_tpm2_plugin_params, v251-v253 layout).
 */
struct systemd_tpm2_params {
	uint32_t search_pcr_mask;
	const char *device;
	const char *signature_path;
};

int bench_luks_token_open(const char *image, const char *type, const char *tpm2_device)
{
	struct systemd_tpm2_params tpm2 = { .search_pcr_mask = UINT32_MAX, .device = tpm2_device };
	struct crypt_device *cd = NULL;
	int r;

	r = crypt_init(&cd, image);
	if (r >= 0)
		r = crypt_load(cd, CRYPT_LUKS2, NULL);
	/* A NULL name checks the token and its keyslot without activating (test-passphrase). */
	if (r >= 0)
		r = crypt_activate_by_token_pin(cd, NULL, type, CRYPT_ANY_TOKEN, NULL, 0,
						tpm2_device ? &tpm2 : NULL, 0);
	if (r < 0)
		bench_fail("%s: no %s token opens it: %s", image, type, strerror(-r));
	crypt_free(cd);
	return r < 0 ? r : 0;
}
