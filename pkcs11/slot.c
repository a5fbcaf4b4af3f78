/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one slot and its token, mechanisms, and login.
 *
 * Token flags (docs/pkcs11.md "Login"): the real authentication is the caller's SO_PEERCRED
 * identity checked by vhsmd against each key's ACL, plus vhsmd's attestation gate, so the PIN
 * carries no secret and is ignored. CKF_LOGIN_REQUIRED keeps private keys behind C_Login as
 * every consumer expects (and systemd's "auto" token pick tests it); with
 * CKF_PROTECTED_AUTHENTICATION_PATH systemd logs in headless with C_Login(CKU_USER, NULL, 0),
 * ssh -I and pkcs11-tool --login ask for no PIN (OpenSSH 9.2's agent still wants a non-empty
 * one, which is ignored: docs/pkcs11.md). CKF_TOKEN_INITIALIZED
 * (OpenSSH ignores tokens without it), CKF_USER_PIN_INITIALIZED and CKF_RNG complete the set.
 */
#include <string.h>

#include "p11.h"

#define TOKEN_FLAGS                                                                                \
	(CKF_TOKEN_INITIALIZED | CKF_RNG | CKF_LOGIN_REQUIRED | CKF_PROTECTED_AUTHENTICATION_PATH | \
	 CKF_USER_PIN_INITIALIZED)

static CK_USER_TYPE logged_in = (CK_USER_TYPE)-1;

bool p11_logged_in(void)
{
	return logged_in == CKU_USER || logged_in == CKU_SO;
}

bool p11_logged_in_so(void)
{
	return logged_in == CKU_SO;
}

void p11_logout_all(void)
{
	logged_in = (CK_USER_TYPE)-1;
}

static void pad(CK_UTF8CHAR *out, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(out, ' ', n);
	memcpy(out, s, l < n ? l : n);
}

/* The checks every slot query starts with: initialised, an output, this module's one slot. */
static CK_RV slot_args(CK_SLOT_ID slot, const void *out)
{
	CK_RV rv = p11_check_init();

	if (rv != CKR_OK)
		return rv;
	if (!out)
		return CKR_ARGUMENTS_BAD;
	return slot == P11_SLOT_ID ? CKR_OK : CKR_SLOT_ID_INVALID;
}

/* A list answer (PKCS#11 2.40 §5.2): the length for a NULL list or a too small one. */
static CK_RV list_out(const void *items, size_t n, size_t size, void *list, CK_ULONG_PTR count)
{
	if (list && *count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	if (list && n)
		memcpy(list, items, n * size);
	*count = n;
	return CKR_OK;
}

/* What the slot and the token say alike: the manufacturer and versions 1.0. */
static void fill_device(CK_UTF8CHAR manufacturer[static 32], CK_VERSION *hw, CK_VERSION *fw)
{
	pad(manufacturer, 32, P11_MANUFACTURER);
	hw->major = fw->major = 1;
}

CK_RV vhsm_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
	CK_RV rv = p11_check_init();
	CK_ULONG n;

	if (rv != CKR_OK)
		return rv;
	if (!count)
		return CKR_ARGUMENTS_BAD;
	n = !present || p11_daemon_present() ? 1 : 0;
	return list_out(&(CK_SLOT_ID){ P11_SLOT_ID }, n, sizeof(CK_SLOT_ID), list, count);
}

CK_RV vhsm_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
	CK_RV rv = slot_args(slot, info);

	if (rv != CKR_OK)
		return rv;
	memset(info, 0, sizeof(*info));
	pad(info->slotDescription, sizeof(info->slotDescription), "vhsmd (virtual HSM in the CVM)");
	fill_device(info->manufacturerID, &info->hardwareVersion, &info->firmwareVersion);
	/* CKF_HW_SLOT: systemd-cryptenroll lists only such slots; vhsmd is the device. */
	info->flags = CKF_HW_SLOT | (p11_daemon_present() ? CKF_TOKEN_PRESENT : 0);
	return CKR_OK;
}

CK_RV vhsm_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
	CK_RV rv = slot_args(slot, info);

	if (rv != CKR_OK)
		return rv;
	if (!p11_daemon_present())
		return CKR_TOKEN_NOT_PRESENT; /* systemd then tries again later; never a failure */
	memset(info, 0, sizeof(*info));
	pad(info->label, sizeof(info->label), P11_TOKEN_LABEL);
	fill_device(info->manufacturerID, &info->hardwareVersion, &info->firmwareVersion);
	pad(info->model, sizeof(info->model), P11_MODEL);
	/* Stable across boots, so a stored PKCS#11 URI keeps matching. */
	pad(info->serialNumber, sizeof(info->serialNumber), "1");
	pad(info->utcTime, sizeof(info->utcTime), "");
	info->flags = TOKEN_FLAGS;
	info->ulMaxSessionCount = info->ulMaxRwSessionCount = P11_SESSIONS_MAX;
	info->ulSessionCount = info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxPinLen = 255;
	info->ulMinPinLen = 0;
	info->ulTotalPublicMemory = info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	return CKR_OK;
}

CK_RV vhsm_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_RV rv = slot_args(slot, count);
	const CK_MECHANISM_TYPE *m;
	size_t n;

	if (rv != CKR_OK)
		return rv;
	m = p11_mech_list(&n);
	return list_out(m, n, sizeof(*m), list, count);
}

CK_RV vhsm_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	CK_RV rv = slot_args(slot, info);

	return rv != CKR_OK ? rv : p11_mech_info(type, info);
}

/* The PIN is not checked (see the top of this file): any PIN, or none, logs in. */
CK_RV vhsm_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	(void)pin, (void)len;
	if (rv != CKR_OK)
		return rv;
	p11_lock();
	if (user != CKU_USER && user != CKU_SO && user != CKU_CONTEXT_SPECIFIC)
		rv = CKR_USER_TYPE_INVALID;
	else if (user == CKU_CONTEXT_SPECIFIC)
		rv = p11_logged_in() ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
	else if (logged_in == user)
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (p11_logged_in())
		rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	else if (user == CKU_SO && p11_sessions_any_ro())
		rv = CKR_SESSION_READ_ONLY_EXISTS;
	else
		logged_in = user;
	p11_unlock();
	p11_session_put(s);
	return rv;
}

CK_RV vhsm_C_Logout(CK_SESSION_HANDLE h)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	p11_lock();
	rv = p11_logged_in() ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
	p11_logout_all();
	p11_unlock();
	p11_session_put(s);
	return rv;
}
