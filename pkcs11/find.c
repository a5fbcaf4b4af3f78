/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_FindObjects* and C_GetAttributeValue. Every C_FindObjectsInit asks vhsmd afresh, so keys
 * created, disabled or deleted meanwhile (by vhsmctl or another process) show.
 */
#include <stdlib.h>

#include "p11.h"

CK_RV vhsm_C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	_cleanup_free_ CK_OBJECT_HANDLE *all = NULL;
	struct p11_session *s;
	size_t n_all = 0, k = 0;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (n > 0 && !t)
		rv = CKR_ARGUMENTS_BAD;
	else if (s->op != P11_OP_NONE)
		rv = CKR_OPERATION_ACTIVE;
	if (rv == CKR_OK)
		rv = p11_objects_update();
	if (rv != CKR_OK) {
		p11_session_put(s);
		return rv;
	}
	p11_lock();
	rv = p11_objects_visible(h, &all, &n_all);
	for (size_t i = 0; rv == CKR_OK && i < n_all; i++)
		if (p11_attr_match(p11_object_find(all[i]), t, n))
			all[k++] = all[i];
	p11_unlock();
	if (rv == CKR_OK) {
		s->found = TAKE_PTR(all);
		s->n_found = k;
		s->found_pos = 0;
		s->op = P11_OP_FIND;
	}
	p11_session_put(s);
	return rv;
}

CK_RV vhsm_C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR list, CK_ULONG max,
			 CK_ULONG_PTR count)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);
	CK_ULONG n = 0;

	if (rv != CKR_OK)
		return rv;
	if (!count || (!list && max > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (s->op != P11_OP_FIND)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	while (rv == CKR_OK && n < max && s->found_pos < s->n_found)
		list[n++] = s->found[s->found_pos++];
	if (rv == CKR_OK)
		*count = n;
	p11_session_put(s);
	return rv;
}

CK_RV vhsm_C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (s->op != P11_OP_FIND)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else
		p11_session_op_reset(s);
	p11_session_put(s);
	return rv;
}

CK_RV vhsm_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE oh, CK_ATTRIBUTE_PTR t,
			       CK_ULONG n)
{
	struct p11_session *s;
	struct p11_object *o;
	CK_RV rv = p11_session_get(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (!t && n > 0) {
		p11_session_put(s);
		return CKR_ARGUMENTS_BAD;
	}
	p11_lock();
	o = p11_object_find(oh);
	if (!o || (o->session && o->session != h))
		rv = CKR_OBJECT_HANDLE_INVALID;
	else
		rv = p11_attr_get(o, t, n);
	p11_unlock();
	p11_session_put(s);
	return rv;
}
