/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_GenerateRandom: the kernel's CSPRNG (getrandom), the same source vhsmd draws from inside
 * the guest. Random bytes are no key material of vhsmd's, so no round trip is needed.
 */
#include <errno.h>
#include <sys/random.h>

#include "p11.h"

CK_RV vhsm_C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!out && len > 0) {
		p11_session_put(s);
		return CKR_ARGUMENTS_BAD;
	}
	for (CK_ULONG done = 0; done < len;) {
		ssize_t n = getrandom(out + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rv = CKR_DEVICE_ERROR;
			break;
		}
		done += (CK_ULONG)n;
	}
	p11_session_put(s);
	return rv;
}
