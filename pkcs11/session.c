/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions: a table of up to P11_SESSIONS_MAX, handles that are never reused while the module
 * is initialised, each session with its own lock and its own connection to vhsmd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "p11.h"
#include "secmem.h"

static struct p11_session *sessions[P11_SESSIONS_MAX];
static CK_SESSION_HANDLE next_handle = 1;

/* Module lock held. */
static struct p11_session **slot_of(CK_SESSION_HANDLE h)
{
	for (size_t i = 0; i < P11_SESSIONS_MAX; i++)
		if (sessions[i] && sessions[i]->handle == h && !sessions[i]->closing)
			return &sessions[i];
	return NULL;
}

CK_RV p11_session_get(CK_SESSION_HANDLE h, struct p11_session **ret)
{
	struct p11_session **p;
	CK_RV rv = p11_check_init();

	if (rv != CKR_OK)
		return rv;
	p11_lock();
	p = slot_of(h);
	if (p)
		(*p)->refs++;
	p11_unlock();
	if (!p)
		return CKR_SESSION_HANDLE_INVALID;
	*ret = *p;
	return CKR_OK;
}

void p11_session_op_reset(struct p11_session *s)
{
	if (s->op_buf)
		s->op_buf = secmem_free(s->op_buf);
	s->op_len = 0;
	free(s->found);
	s->found = NULL;
	s->n_found = s->found_pos = 0;
	s->op = P11_OP_NONE;
	s->op_key = CK_INVALID_HANDLE;
	s->op_param_len = 0;
	s->op_iv_out = NULL;
}

static void session_free(struct p11_session *s)
{
	p11_session_op_reset(s);
	free(s);
}

void p11_session_put(struct p11_session *s)
{
	bool last;

	if (!s)
		return;
	p11_lock();
	last = --s->refs == 0 && s->closing;
	p11_unlock();
	if (last)
		session_free(s);
}

/* Takes the session out of the table; frees it now or when its last user puts it. */
static void session_close(struct p11_session **p)
{
	struct p11_session *s = *p;
	bool now;

	*p = NULL;
	s->closing = true;
	p11_objects_drop_session(s->handle);
	now = s->refs == 0;
	if (now)
		session_free(s);
}

static size_t count_sessions(void)
{
	size_t n = 0;

	for (size_t i = 0; i < P11_SESSIONS_MAX; i++)
		n += sessions[i] != NULL;
	return n;
}

CK_RV vhsm_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
			 CK_SESSION_HANDLE_PTR ret)
{
	struct p11_session *s;
	CK_RV rv = p11_check_init();

	(void)app, (void)notify; /* no callbacks: nothing here is asynchronous */
	if (rv != CKR_OK)
		return rv;
	if (!ret)
		return CKR_ARGUMENTS_BAD;
	if (slot != P11_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (!(flags & CKF_RW_SESSION) && p11_logged_in_so())
		return CKR_SESSION_READ_WRITE_SO_EXISTS;
	s = calloc(1, sizeof(*s));
	if (!s)
		return CKR_HOST_MEMORY;
	s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	if (!p11_daemon_present()) {
		session_free(s);
		return CKR_TOKEN_NOT_PRESENT;
	}
	p11_lock();
	rv = CKR_SESSION_COUNT;
	for (size_t i = 0; i < P11_SESSIONS_MAX; i++)
		if (!sessions[i]) {
			s->handle = next_handle++;
			sessions[i] = s;
			rv = CKR_OK;
			break;
		}
	p11_unlock();
	if (rv != CKR_OK) {
		session_free(s);
		return rv;
	}
	*ret = s->handle;
	return CKR_OK;
}

CK_RV vhsm_C_CloseSession(CK_SESSION_HANDLE h)
{
	struct p11_session **p;
	CK_RV rv = p11_check_init();

	if (rv != CKR_OK)
		return rv;
	p11_lock();
	p = slot_of(h);
	if (p) {
		session_close(p);
		if (count_sessions() == 0)
			p11_logout_all(); /* the login ends with the application's last session */
	}
	p11_unlock();
	return p ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

void p11_sessions_close_all(void)
{
	p11_lock();
	for (size_t i = 0; i < P11_SESSIONS_MAX; i++)
		if (sessions[i])
			session_close(&sessions[i]);
	p11_logout_all();
	p11_unlock();
}

void p11_sessions_abandon(void)
{
	for (size_t i = 0; i < P11_SESSIONS_MAX; i++) {
		struct p11_session *s = sessions[i];
		if (!s)
			continue;
		/* Left alone: the parent's memory (secmem is wiped on fork anyway). */
		sessions[i] = NULL;
	}
	next_handle = 1;
}

bool p11_sessions_any_ro(void)
{
	for (size_t i = 0; i < P11_SESSIONS_MAX; i++)
		if (sessions[i] && !(sessions[i]->flags & CKF_RW_SESSION))
			return true;
	return false;
}

CK_RV vhsm_C_CloseAllSessions(CK_SLOT_ID slot)
{
	CK_RV rv = p11_check_init();

	if (rv != CKR_OK)
		return rv;
	if (slot != P11_SLOT_ID)
		return CKR_SLOT_ID_INVALID;
	p11_sessions_close_all();
	return CKR_OK;
}

CK_RV vhsm_C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
	struct p11_session *s;
	CK_RV rv = p11_session_get(h, &s);
	bool rw;

	if (rv != CKR_OK)
		return rv;
	if (!info) {
		p11_session_put(s);
		return CKR_ARGUMENTS_BAD;
	}
	rw = s->flags & CKF_RW_SESSION;
	memset(info, 0, sizeof(*info));
	info->slotID = P11_SLOT_ID;
	info->flags = s->flags;
	if (p11_logged_in_so())
		info->state = CKS_RW_SO_FUNCTIONS;
	else if (p11_logged_in())
		info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	else
		info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
	p11_session_put(s);
	return CKR_OK;
}
