/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvhsm-pkcs11.so: a PKCS#11 2.40 module that is a thin client of vhsmd. One slot holds one
 * token, "vhsm"; its objects are the key pairs and KEKs vhsmd lets the calling uid see. Private
 * keys and KEKs never enter this process: signing, decryption, wrapping and unwrapping are
 * requests to vhsmd (docs/pkcs11.md). Internal header of the module; nothing here is exported
 * but C_GetFunctionList (pkcs11/pkcs11.sym).
 *
 * Locking: one module lock (p11_lock) guards the session table, the object table and the login
 * state; it is never held across a request to vhsmd. A request borrows a connection from a
 * small pool (daemon.c), so sessions of different threads work in parallel.
 */
#pragma once

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define P11_SLOT_ID 1ul
#define P11_MANUFACTURER "vhsm"
#define P11_TOKEN_LABEL "vhsm"
#define P11_MODEL "vhsmd"
/* Most sessions one process may open (each holds a connection to vhsmd once it is used). */
#define P11_SESSIONS_MAX 1024u
/* Most objects the module tracks (key pairs count three: private, public, certificate). */
#define P11_OBJECTS_MAX 4096u
/* Request/reply buffers of one connection: a certificate (16 KiB) plus a public key and JSON. */
#define P11_MSG_MAX (64u * 1024u)
/* How long a presence probe (C_GetSlotInfo, C_GetTokenInfo) waits for vhsmd's STATUS. */
#define P11_PROBE_TIMEOUT_MS 10000u
/* Longest single-part input to sign, decrypt, wrap or encrypt (below the wire's DATA limit). */
#define P11_DATA_MAX (32u * 1024u)
#define P11_GCM_IV_SIZE 12u /* the AES-GCM IV vhsmd chooses for an encryption */

/* ---- module.c: initialisation, locking, fork detection ---- */

/* A mutex of the kind C_Initialize asked for (OS locks or the application's callbacks). */
struct p11_mutex;
struct p11_mutex *p11_mutex_new(void);
struct p11_mutex *p11_mutex_free(struct p11_mutex *m);
void p11_mutex_lock(struct p11_mutex *m);
void p11_mutex_unlock(struct p11_mutex *m);

/* The module lock. */
void p11_lock(void);
void p11_unlock(void);

/*
 * CKR_OK when C_Initialize succeeded in this process (a forked child is not initialised until
 * it calls C_Initialize itself), else CKR_CRYPTOKI_NOT_INITIALIZED.
 */
CK_RV p11_check_init(void);

/* The socket path of vhsmd ($VHSM_SOCKET or the default), fixed at C_Initialize. */
const char *p11_socket_path(void);

/* Maps a vhsmd status or transport error (-errno) to a CKR_* for an operation on a key. */
CK_RV p11_rv_from_errno(int r);

/* ---- daemon.c: requests to vhsmd ---- */
struct vhsm_client;
struct vhsm_wire_builder;

/*
 * A fresh client for the module's socket (no wait for a missing socket). Returns 0 or -errno.
 */
int p11_client_new(struct vhsm_client **ret);

/*
 * Sends the request built on c and checks the reply's op. Returns 0 with c->msg holding the
 * reply, the daemon's status (-errno, c->message says why) or a transport error (-errno).
 * Never logs.
 */
int p11_call(struct vhsm_client *c, uint16_t op, unsigned timeout_ms);

/* True when vhsmd answers STATUS within P11_PROBE_TIMEOUT_MS (on a pooled connection). */
bool p11_daemon_present(void);

/*
 * Connections: a request borrows one (an idle one, else a new one) and gives it back. At most
 * P11_IDLE_CONNS stay open while idle, so many sessions cost vhsmd few connections (vhsmd
 * limits connections per user). p11_conn_get() returns 0 or -errno; p11_conn_put(NULL) is a
 * no-op.
 */
#define P11_IDLE_CONNS 2u
int p11_conn_get(struct vhsm_client **ret);
void p11_conn_put(struct vhsm_client *c);
/* Closes the idle connections (C_Finalize); abandon = forked child: close the fds only. */
void p11_conns_free(bool abandon);

/* ---- slot.c ---- */
/* Login state (module lock held or not: a plain read). */
bool p11_logged_in(void);
bool p11_logged_in_so(void);
void p11_logout_all(void);

/* ---- session.c ---- */
enum p11_op_kind {
	P11_OP_NONE,
	P11_OP_FIND,
	P11_OP_SIGN,
	P11_OP_DECRYPT,
	P11_OP_ENCRYPT,
	_P11_OP_KIND_MAX,
};

struct p11_session {
	CK_SESSION_HANDLE handle;
	CK_FLAGS flags;
	unsigned refs;
	bool closing;
	/* The active operation (one per session, as PKCS#11 allows). */
	enum p11_op_kind op;
	CK_OBJECT_HANDLE op_key;
	CK_MECHANISM_TYPE op_mech;
	uint8_t op_param[1024]; /* MECH_PARAM for vhsmd */
	size_t op_param_len;
	uint8_t *op_buf; /* multi-part input, malloc'd (secmem for decrypt) */
	size_t op_len;
	CK_BYTE_PTR op_iv_out; /* AES-GCM encryption: the caller's pIv, gets vhsmd's IV */
	CK_OBJECT_HANDLE *found; /* C_FindObjects results */
	size_t n_found, found_pos;
};

/*
 * Looks up an open session and takes a reference (p11_session_put() after). Returns CKR_OK,
 * CKR_CRYPTOKI_NOT_INITIALIZED or CKR_SESSION_HANDLE_INVALID.
 */
CK_RV p11_session_get(CK_SESSION_HANDLE h, struct p11_session **ret);
void p11_session_put(struct p11_session *s);
/* Ends the session's active operation and frees its buffers. */
void p11_session_op_reset(struct p11_session *s);
/* Closes every session (C_Finalize, C_CloseAllSessions). Takes the module lock itself. */
void p11_sessions_close_all(void);
/* Forgets every session without freeing what a forked child must not touch. */
void p11_sessions_abandon(void);
bool p11_sessions_any_ro(void);

/* ---- object.c: the object table ---- */
enum p11_obj_kind {
	P11_OBJ_PRIVATE,
	P11_OBJ_PUBLIC,
	P11_OBJ_CERT,
	P11_OBJ_KEK,
	P11_OBJ_SESSION_SECRET, /* a key C_UnwrapKey or C_CreateObject put into this process */
	_P11_OBJ_KIND_MAX,
};

enum p11_key_type {
	P11_KEY_RSA,
	P11_KEY_EC,
	P11_KEY_AES,
};

struct p11_object {
	CK_OBJECT_HANDLE handle;
	enum p11_obj_kind kind;
	bool gone;        /* vhsmd no longer lists it */
	bool enabled;     /* vhsmd's state is "enabled" */
	CK_SESSION_HANDLE session; /* session objects: their session; 0 for token objects */
	char name[128];   /* vhsmd's name: CKA_LABEL */
	uint8_t id[64];   /* CKA_ID */
	size_t id_len;
	enum p11_key_type type;
	unsigned bits;    /* RSA modulus or EC field size */
	bool can_sign, can_decrypt;
	uint8_t *spki;    /* DER SubjectPublicKeyInfo */
	size_t spki_len;
	uint8_t *cert;    /* DER certificate */
	size_t cert_len;
	uint8_t *secret;  /* secmem: session secret key value */
	size_t secret_len;
	bool sensitive, extractable;
};

/*
 * Refreshes the table from KEY_LIST, KEY_GET and KEK_LIST through c (outside the module lock)
 * and publishes it under the lock. Returns CKR_OK or the mapped error.
 */
CK_RV p11_objects_refresh(struct vhsm_client *c);
/* p11_objects_refresh() on a pooled connection. */
CK_RV p11_objects_update(void);
/* Looks up a live object (module lock held by the caller). NULL when invalid. */
struct p11_object *p11_object_find(CK_OBJECT_HANDLE h);
/* Handles of every live object visible to a session (module lock held); malloc'd. */
CK_RV p11_objects_visible(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE **ret, size_t *ret_n);
/* Adds a session secret key (takes ownership of secret, a secmem buffer). Module lock held. */
CK_RV p11_object_add_secret(CK_SESSION_HANDLE session, uint8_t *secret, size_t len,
			    const char *label, bool sensitive, bool extractable,
			    CK_OBJECT_HANDLE *ret);
/* Destroys a session object, or marks a token object gone. Module lock held. */
void p11_object_drop(struct p11_object *o);
/* Drops the session objects of one session (0: all). Module lock held. */
void p11_objects_drop_session(CK_SESSION_HANDLE session);
/* Frees the table (C_Finalize); abandon = forked child (no secmem frees). */
void p11_objects_free(bool abandon);

/* ---- attr.c: attributes ---- */
/* C_GetAttributeValue over one object, with PKCS#11's per-attribute error rules. */
CK_RV p11_attr_get(const struct p11_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n);
/* True when o matches every attribute of the template (C_FindObjectsInit). */
bool p11_attr_match(const struct p11_object *o, const CK_ATTRIBUTE *t, CK_ULONG n);
/* The CKA_CLASS of an object. */
CK_OBJECT_CLASS p11_obj_class(const struct p11_object *o);

/* ---- mech.c: mechanisms ---- */
/* Mechanism info, or CKR_MECHANISM_INVALID. */
CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *ret);
/* The mechanisms, in order; n set. */
const CK_MECHANISM_TYPE *p11_mech_list(size_t *ret_n);
/*
 * Checks a mechanism and its parameter for an operation (CKF_SIGN, CKF_DECRYPT, CKF_ENCRYPT,
 * CKF_WRAP, CKF_UNWRAP) on key o and encodes the parameter as vhsmd's MECH_PARAM.
 */
CK_RV p11_mech_prepare(const CK_MECHANISM *m, CK_FLAGS op, const struct p11_object *o,
		       uint8_t param[static 1024], size_t *ret_len);
/* The size of the output of a sign or decrypt of in_len bytes (the upper bound). */
size_t p11_mech_out_max(CK_MECHANISM_TYPE mech, const struct p11_object *o, size_t in_len);
/* True for mechanisms whose C_Sign input is the message (hashed by vhsmd): multi-part. */
bool p11_mech_multipart(CK_MECHANISM_TYPE mech);

/* ---- entry points (the function list in module.c; one file per family) ---- */
/* slot.c */
CK_RV vhsm_C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV vhsm_C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
CK_RV vhsm_C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
CK_RV vhsm_C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV vhsm_C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
CK_RV vhsm_C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len);
CK_RV vhsm_C_Logout(CK_SESSION_HANDLE h);
/* session.c */
CK_RV vhsm_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
			 CK_SESSION_HANDLE_PTR ret);
CK_RV vhsm_C_CloseSession(CK_SESSION_HANDLE h);
CK_RV vhsm_C_CloseAllSessions(CK_SLOT_ID slot);
CK_RV vhsm_C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info);
/* find.c */
CK_RV vhsm_C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n);
CK_RV vhsm_C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR list, CK_ULONG max,
			 CK_ULONG_PTR count);
CK_RV vhsm_C_FindObjectsFinal(CK_SESSION_HANDLE h);
CK_RV vhsm_C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
			       CK_ULONG n);
/* manage.c */
CK_RV vhsm_C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
			  CK_OBJECT_HANDLE_PTR ret);
CK_RV vhsm_C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o);
CK_RV vhsm_C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
			     CK_ULONG npub, CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
			     CK_OBJECT_HANDLE_PTR ret_pub, CK_OBJECT_HANDLE_PTR ret_priv);
/* crypt.c */
CK_RV vhsm_C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV vhsm_C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		  CK_ULONG_PTR outlen);
CK_RV vhsm_C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen);
CK_RV vhsm_C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen);
CK_RV vhsm_C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV vhsm_C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		     CK_ULONG_PTR outlen);
CK_RV vhsm_C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
			   CK_ULONG_PTR outlen);
CK_RV vhsm_C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen);
CK_RV vhsm_C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key);
CK_RV vhsm_C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
		     CK_ULONG_PTR outlen);
CK_RV vhsm_C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
			   CK_ULONG_PTR outlen);
CK_RV vhsm_C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR outlen);
/* wrap.c */
CK_RV vhsm_C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping,
		     CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR outlen);
CK_RV vhsm_C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE unwrapping,
		       CK_BYTE_PTR in, CK_ULONG inlen, CK_ATTRIBUTE_PTR t, CK_ULONG n,
		       CK_OBJECT_HANDLE_PTR ret);
/* random.c */
CK_RV vhsm_C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len);

/* ---- template.c: reading application templates ---- */
/* The template's attribute of that type, or NULL. */
const CK_ATTRIBUTE *p11_tmpl_find(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type);
/* A CK_BBOOL attribute, def when absent; CKR_ATTRIBUTE_VALUE_INVALID when malformed. */
CK_RV p11_tmpl_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, bool def,
		    bool *ret);
/* A CK_ULONG attribute; CKR_TEMPLATE_INCOMPLETE when absent. */
CK_RV p11_tmpl_ulong(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, CK_ULONG *ret);
/* CKA_LABEL as a C string of at most outlen - 1 bytes. */
CK_RV p11_tmpl_label(const CK_ATTRIBUTE *t, CK_ULONG n, char *out, size_t outlen);
