/* SPDX-License-Identifier: Apache-2.0 */
/* Reading typed values out of an application's attribute template, with PKCS#11's errors. */
#include <string.h>

#include "p11.h"

const CK_ATTRIBUTE *p11_tmpl_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; t && i < n; i++)
		if (t[i].type == type)
			return &t[i];
	return NULL;
}

CK_RV p11_tmpl_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, bool def,
		    bool *ret)
{
	const CK_ATTRIBUTE *a = p11_tmpl_find(t, n, type);

	if (!a) {
		*ret = def;
		return CKR_OK;
	}
	if (!a->pValue || a->ulValueLen != sizeof(CK_BBOOL))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*ret = *(const CK_BBOOL *)a->pValue != CK_FALSE;
	return CKR_OK;
}

CK_RV p11_tmpl_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *ret)
{
	const CK_ATTRIBUTE *a = p11_tmpl_find(t, n, type);

	if (!a)
		return CKR_TEMPLATE_INCOMPLETE;
	if (!a->pValue || a->ulValueLen != sizeof(CK_ULONG))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(ret, a->pValue, sizeof(CK_ULONG));
	return CKR_OK;
}

CK_RV p11_tmpl_label(const CK_ATTRIBUTE *t, CK_ULONG n, char *out, size_t outlen)
{
	const CK_ATTRIBUTE *a = p11_tmpl_find(t, n, CKA_LABEL);

	if (!a)
		return CKR_TEMPLATE_INCOMPLETE;
	if (!a->pValue || a->ulValueLen == 0 || a->ulValueLen >= outlen ||
	    memchr(a->pValue, 0, a->ulValueLen))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(out, a->pValue, a->ulValueLen);
	out[a->ulValueLen] = 0;
	return CKR_OK;
}
