/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module's life: C_Initialize (OS locks, the application's mutex callbacks, or none),
 * C_Finalize, C_GetInfo, fork detection and the one exported symbol, C_GetFunctionList.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "p11.h"
#include "wire-client.h"

struct p11_mutex {
	pthread_mutex_t pm; /* OS locking */
	void *app;          /* the application's mutex (callbacks) */
};

/* What C_Initialize chose; fixed until C_Finalize. */
static struct {
	bool initialized;
	pid_t pid;
	bool app_locks; /* use the application's callbacks */
	CK_CREATEMUTEX create;
	CK_DESTROYMUTEX destroy;
	CK_LOCKMUTEX lock;
	CK_UNLOCKMUTEX unlock;
	struct p11_mutex *module_lock;
	char socket[108];
} g;

/* Serialises C_Initialize and C_Finalize themselves (the module lock does not exist then). */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

struct p11_mutex *p11_mutex_new(void)
{
	struct p11_mutex *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (g.app_locks) {
		if (g.create(&m->app) != CKR_OK) {
			free(m);
			return NULL;
		}
	} else if (pthread_mutex_init(&m->pm, NULL) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

struct p11_mutex *p11_mutex_free(struct p11_mutex *m)
{
	if (!m)
		return NULL;
	if (g.app_locks)
		g.destroy(m->app);
	else
		pthread_mutex_destroy(&m->pm);
	free(m);
	return NULL;
}

void p11_mutex_lock(struct p11_mutex *m)
{
	if (g.app_locks)
		(void)g.lock(m->app);
	else
		pthread_mutex_lock(&m->pm);
}

void p11_mutex_unlock(struct p11_mutex *m)
{
	if (g.app_locks)
		(void)g.unlock(m->app);
	else
		pthread_mutex_unlock(&m->pm);
}

void p11_lock(void)
{
	p11_mutex_lock(g.module_lock);
}

void p11_unlock(void)
{
	p11_mutex_unlock(g.module_lock);
}

CK_RV p11_check_init(void)
{
	return g.initialized && g.pid == getpid() ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

const char *p11_socket_path(void)
{
	return g.socket;
}

CK_RV p11_rv_from_errno(int r)
{
	switch (r) {
	case 0:
		return CKR_OK;
	case -ENOENT:
	case -EACCES:
	case -EPERM:
		/* vhsmd gives non-admins one refusal (EPERM) for "no such key" and "not allowed". */
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	case -EKEYREVOKED:
	case -EKEYEXPIRED:
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	case -EKEYREJECTED:
		return CKR_FUNCTION_REJECTED; /* attestation or policy refused */
	case -EINVAL:
		return CKR_MECHANISM_PARAM_INVALID;
	case -EOPNOTSUPP:
		return CKR_KEY_TYPE_INCONSISTENT;
	case -EBADMSG:
		return CKR_ENCRYPTED_DATA_INVALID;
	case -EMSGSIZE:
	case -E2BIG:
		return CKR_DATA_LEN_RANGE;
	case -ENOMEM:
		return CKR_HOST_MEMORY;
	case -ENOTCONN:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EPIPE:
		return CKR_DEVICE_REMOVED;
	default:
		return CKR_DEVICE_ERROR;
	}
}

/* The mutex callbacks must come all four or none (PKCS#11 2.40 §5.4). */
static CK_RV init_args(const CK_C_INITIALIZE_ARGS *a)
{
	bool any, all;

	g.app_locks = false;
	if (!a)
		return CKR_OK;
	if (a->pReserved)
		return CKR_ARGUMENTS_BAD;
	any = a->CreateMutex || a->DestroyMutex || a->LockMutex || a->UnlockMutex;
	all = a->CreateMutex && a->DestroyMutex && a->LockMutex && a->UnlockMutex;
	if (any && !all)
		return CKR_ARGUMENTS_BAD;
	/* With CKF_OS_LOCKING_OK the module may use OS locks whether or not callbacks came. */
	if (all && !(a->flags & CKF_OS_LOCKING_OK)) {
		g.app_locks = true;
		g.create = a->CreateMutex;
		g.destroy = a->DestroyMutex;
		g.lock = a->LockMutex;
		g.unlock = a->UnlockMutex;
	}
	return CKR_OK;
}

static CK_RV init_socket(void)
{
	const char *s = vhsm_client_socket_default();

	if (strlen(s) >= sizeof(g.socket) || s[0] != '/')
		return CKR_ARGUMENTS_BAD; /* $VHSM_SOCKET: an absolute path within sun_path */
	memcpy(g.socket, s, strlen(s) + 1);
	return CKR_OK;
}

static CK_RV vhsm_C_Initialize(CK_VOID_PTR init)
{
	CK_RV rv;

	pthread_mutex_lock(&init_lock);
	if (g.initialized && g.pid == getpid()) {
		pthread_mutex_unlock(&init_lock);
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	}
	if (g.initialized) {
		/* A forked child: the parent's sessions, connections and secmem stay untouched
		 * (secmem is wiped in the child anyway); only the fds are the child's to close. */
		p11_sessions_abandon();
		p11_objects_free(true);
		p11_conns_free(true);
		g.initialized = false;
	}
	rv = init_args(init);
	if (rv == CKR_OK)
		rv = init_socket();
	if (rv == CKR_OK) {
		g.module_lock = p11_mutex_new();
		if (!g.module_lock)
			rv = g.app_locks ? CKR_CANT_LOCK : CKR_HOST_MEMORY;
	}
	if (rv == CKR_OK) {
		g.pid = getpid();
		g.initialized = true;
	}
	pthread_mutex_unlock(&init_lock);
	return rv;
}

static CK_RV vhsm_C_Finalize(CK_VOID_PTR reserved)
{
	if (reserved)
		return CKR_ARGUMENTS_BAD;
	pthread_mutex_lock(&init_lock);
	if (p11_check_init() != CKR_OK) {
		pthread_mutex_unlock(&init_lock);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	p11_sessions_close_all();
	p11_lock();
	p11_objects_free(false);
	p11_logout_all();
	p11_unlock();
	p11_conns_free(false);
	g.module_lock = p11_mutex_free(g.module_lock);
	g.initialized = false;
	pthread_mutex_unlock(&init_lock);
	return CKR_OK;
}

/* Copies s into a blank-padded, unterminated PKCS#11 text field. */
static void pad(CK_UTF8CHAR *out, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(out, ' ', n);
	memcpy(out, s, l < n ? l : n);
}

static CK_RV vhsm_C_GetInfo(CK_INFO_PTR info)
{
	CK_RV rv = p11_check_init();

	if (rv != CKR_OK)
		return rv;
	if (!info)
		return CKR_ARGUMENTS_BAD;
	memset(info, 0, sizeof(*info));
	info->cryptokiVersion.major = 2;
	info->cryptokiVersion.minor = 40;
	pad(info->manufacturerID, sizeof(info->manufacturerID), P11_MANUFACTURER);
	pad(info->libraryDescription, sizeof(info->libraryDescription),
	    "vhsm PKCS#11 module (vhsmd client)");
	info->libraryVersion.major = 1;
	info->libraryVersion.minor = 0;
	return CKR_OK;
}

/* ---- functions this module does not offer ---- */
#define NOT_SUPPORTED(name, ...)                                                                   \
	static CK_RV vhsm_##name(__VA_ARGS__)                                                      \
	{                                                                                          \
		return p11_check_init() ?: CKR_FUNCTION_NOT_SUPPORTED;                             \
	}

/* The stubs take the whole signature and use none of it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
NOT_SUPPORTED(C_InitToken, CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d)
NOT_SUPPORTED(C_InitPIN, CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c)
NOT_SUPPORTED(C_SetPIN, CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c, CK_UTF8CHAR_PTR d,
	      CK_ULONG e)
NOT_SUPPORTED(C_GetOperationState, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NOT_SUPPORTED(C_SetOperationState, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
	      CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e)
NOT_SUPPORTED(C_CopyObject, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,
	      CK_ULONG d, CK_OBJECT_HANDLE_PTR e)
NOT_SUPPORTED(C_GetObjectSize, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ULONG_PTR c)
NOT_SUPPORTED(C_SetAttributeValue, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c,
	      CK_ULONG d)
NOT_SUPPORTED(C_DigestInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b)
NOT_SUPPORTED(C_Digest, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
	      CK_ULONG_PTR e)
NOT_SUPPORTED(C_DigestUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NOT_SUPPORTED(C_DigestKey, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b)
NOT_SUPPORTED(C_DigestFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NOT_SUPPORTED(C_SignRecoverInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_SignRecover, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
	      CK_ULONG_PTR e)
NOT_SUPPORTED(C_VerifyInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_Verify, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d, CK_ULONG e)
NOT_SUPPORTED(C_VerifyUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NOT_SUPPORTED(C_VerifyFinal, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
NOT_SUPPORTED(C_VerifyRecoverInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_VerifyRecover, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
	      CK_ULONG_PTR e)
NOT_SUPPORTED(C_DigestEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
	      CK_BYTE_PTR d, CK_ULONG_PTR e)
NOT_SUPPORTED(C_DecryptDigestUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
	      CK_BYTE_PTR d, CK_ULONG_PTR e)
NOT_SUPPORTED(C_SignEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
	      CK_ULONG_PTR e)
NOT_SUPPORTED(C_DecryptVerifyUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
	      CK_BYTE_PTR d, CK_ULONG_PTR e)
NOT_SUPPORTED(C_GenerateKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_ATTRIBUTE_PTR c,
	      CK_ULONG d, CK_OBJECT_HANDLE_PTR e)
NOT_SUPPORTED(C_DeriveKey, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c,
	      CK_ATTRIBUTE_PTR d, CK_ULONG e, CK_OBJECT_HANDLE_PTR f)
NOT_SUPPORTED(C_SeedRandom, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c)
#pragma GCC diagnostic pop

static CK_RV vhsm_C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
	(void)h;
	return p11_check_init() ?: CKR_FUNCTION_NOT_PARALLEL;
}

static CK_RV vhsm_C_CancelFunction(CK_SESSION_HANDLE h)
{
	(void)h;
	return p11_check_init() ?: CKR_FUNCTION_NOT_PARALLEL;
}

static CK_RV vhsm_C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
	(void)flags, (void)slot, (void)reserved;
	return p11_check_init() ?: CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV vhsm_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret);

#define F(name) .name = vhsm_##name
static CK_FUNCTION_LIST function_list = {
	.version = { 2, 40 },
	F(C_Initialize), F(C_Finalize), F(C_GetInfo), F(C_GetFunctionList),
	F(C_GetSlotList), F(C_GetSlotInfo), F(C_GetTokenInfo), F(C_GetMechanismList),
	F(C_GetMechanismInfo), F(C_InitToken), F(C_InitPIN), F(C_SetPIN),
	F(C_OpenSession), F(C_CloseSession), F(C_CloseAllSessions), F(C_GetSessionInfo),
	F(C_GetOperationState), F(C_SetOperationState), F(C_Login), F(C_Logout),
	F(C_CreateObject), F(C_CopyObject), F(C_DestroyObject), F(C_GetObjectSize),
	F(C_GetAttributeValue), F(C_SetAttributeValue), F(C_FindObjectsInit), F(C_FindObjects),
	F(C_FindObjectsFinal), F(C_EncryptInit), F(C_Encrypt), F(C_EncryptUpdate),
	F(C_EncryptFinal), F(C_DecryptInit), F(C_Decrypt), F(C_DecryptUpdate),
	F(C_DecryptFinal), F(C_DigestInit), F(C_Digest), F(C_DigestUpdate),
	F(C_DigestKey), F(C_DigestFinal), F(C_SignInit), F(C_Sign),
	F(C_SignUpdate), F(C_SignFinal), F(C_SignRecoverInit), F(C_SignRecover),
	F(C_VerifyInit), F(C_Verify), F(C_VerifyUpdate), F(C_VerifyFinal),
	F(C_VerifyRecoverInit), F(C_VerifyRecover), F(C_DigestEncryptUpdate),
	F(C_DecryptDigestUpdate), F(C_SignEncryptUpdate), F(C_DecryptVerifyUpdate),
	F(C_GenerateKey), F(C_GenerateKeyPair), F(C_WrapKey), F(C_UnwrapKey),
	F(C_DeriveKey), F(C_SeedRandom), F(C_GenerateRandom), F(C_GetFunctionStatus),
	F(C_CancelFunction), F(C_WaitForSlotEvent),
};

static CK_RV vhsm_C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	if (!ret)
		return CKR_ARGUMENTS_BAD;
	*ret = &function_list;
	return CKR_OK;
}

/* The one exported symbol (pkcs11.sym). */
__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret);
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ret)
{
	return vhsm_C_GetFunctionList(ret);
}
