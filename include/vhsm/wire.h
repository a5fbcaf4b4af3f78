/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm wire protocol: the contract between vhsmd and its clients (vhsmctl, the LUKS2 token
 * plugin, the request-key helper). AF_UNIX SOCK_SEQPACKET, one request datagram -> one reply
 * datagram. Versioned binary TLV with hard limits. Documented in docs/PROTOCOL.md; the codec
 * is lib/wire.c. All integers little-endian.
 *
 *   header (16 bytes): magic "VHSM" | u16 version (1) | u16 op | u32 request id | u32 length
 *                      (length = total message size including the header)
 *   fields:            u16 tag | u16 reserved (0) | u32 length | value, padded to 4 bytes
 */
#pragma once

#include <stdint.h>

#define VHSM_WIRE_MAGIC 0x4d534856u /* "VHSM" read as u32 LE */
#define VHSM_WIRE_VERSION 1u
#define VHSM_WIRE_HEADER_SIZE 16u
#define VHSM_WIRE_FIELD_HEADER_SIZE 8u
#define VHSM_WIRE_MAX_MESSAGE (64u * 1024u) /* hard cap on any datagram */
#define VHSM_WIRE_MAX_FIELDS 64u
#define VHSM_WIRE_MAX_STRING 255u           /* names, descriptions (no NUL inside) */
#define VHSM_WIRE_MAX_TEXT (48u * 1024u)    /* JSON listings, messages */
#define VHSM_WIRE_MAX_DATA (32u * 1024u)    /* payloads: keys, wrapped blobs, reports */

/* Operations (requests). Replies carry the same op with VHSM_OP_REPLY_FLAG set. */
enum vhsm_op {
	VHSM_OP_STATUS = 1,
	VHSM_OP_ATTEST_REPORT = 2, /* fresh report for a nonce, with certificates */
	VHSM_OP_KEK_CREATE = 16,
	VHSM_OP_KEK_IMPORT = 17,
	VHSM_OP_KEK_LIST = 18,
	VHSM_OP_KEK_SHOW = 19,
	VHSM_OP_KEK_ROTATE = 20,
	VHSM_OP_KEK_RESEAL = 21,
	VHSM_OP_KEK_DISABLE = 22,
	VHSM_OP_KEK_ENABLE = 23,
	VHSM_OP_KEK_DELETE = 24,
	VHSM_OP_KEK_RECOVER = 25,
	VHSM_OP_KEK_PURGE = 26,
	VHSM_OP_KEK_EXPORT_EXCHANGE_KEY = 27,
	VHSM_OP_KEK_BACKUP = 28,
	VHSM_OP_KEK_SET_ACL = 29,
	VHSM_OP_WRAP = 32,
	VHSM_OP_UNWRAP = 33,
	VHSM_OP_REWRAP = 34,
	VHSM_OP_DEK_CREATE = 48,
	VHSM_OP_DEK_LOAD = 49,
	VHSM_OP_DEK_LIST = 50,
	VHSM_OP_DEK_DROP = 51,
	VHSM_OP_KEYRING_REQUEST = 52, /* request-key upcall on behalf of uid/gid */
	VHSM_OP_KEK_SHRED_VOLUME = 53, /* audit: a volume suspended by `kek disable --shred` */
	VHSM_OP_DEK_RECOVER = 54,     /* undo a DEK_DROP with DELETE within the retention */
	VHSM_OP_DEK_PURGE = 55,       /* remove a deleted DEK from the registry for good */
	VHSM_OP_LUKS_UNLOCK = 64,     /* token: unseal a keyslot secret */
	VHSM_OP_LUKS_ENROLL = 65,     /* new keyslot secret + token material for a volume */
	VHSM_OP_LUKS_REWRAP = 66,     /* token material to the KEK's newest version and TCB */
	VHSM_OP_LUKS_BIND = 67,       /* volume name -> token material, for the key socket */
	VHSM_OP_LUKS_UNBIND = 68,     /* forget the bindings of a LUKS UUID */
	VHSM_OP_AUDIT_VERIFY = 80,
	VHSM_OP_UNWRAP_BATCH = 96, /* up to VHSM_BATCH_MAX unwraps, each checked and audited */
	/* Asymmetric key pairs held by vhsmd (PKCS#11 module, vhsmctl key). */
	VHSM_OP_KEY_CREATE = 112,
	VHSM_OP_KEY_LIST = 113,
	VHSM_OP_KEY_GET = 114,
	VHSM_OP_KEY_SIGN = 115,
	VHSM_OP_KEY_DECRYPT = 116,
	VHSM_OP_KEY_SET_CERT = 117,
	VHSM_OP_KEY_DISABLE = 118,
	VHSM_OP_KEY_ENABLE = 119,
	VHSM_OP_KEY_DELETE = 120,
	VHSM_OP_KEY_RECOVER = 121,
	VHSM_OP_KEY_PURGE = 122,
	VHSM_OP_KEY_SET_ACL = 123,
	VHSM_OP_KEY_ATTEST = 124, /* fresh report whose REPORT_DATA binds the public key */
	/* AES operations under a KEK for PKCS#11 (CKM_AES_KEY_WRAP_KWP, CKM_AES_GCM). */
	VHSM_OP_KEK_WRAP_KWP = 128,
	VHSM_OP_KEK_UNWRAP_KWP = 129,
	VHSM_OP_KEK_GCM_ENCRYPT = 130,
	VHSM_OP_KEK_GCM_DECRYPT = 131,
	/* Attested enrollment of this CVM's fleet identity (docs/fleet.md "Enrollment"). */
	VHSM_OP_FLEET_ENROLL = 140,       /* CSR + report binding its key, nonce and expiry */
	VHSM_OP_FLEET_INSTALL_CERT = 141, /* the fleet CA's certificate for the identity */
	VHSM_OP_FLEET_SHOW = 142,         /* the identity and its certificate (JSON) */
	VHSM_OP_FLEET_CHECK = 143,        /* a KMIP Locate over mutual TLS with the identity */
	/* Fleet mode: KEKs pulled from the key manager (docs/fleet.md). */
	VHSM_OP_FLEET_SYNC = 150,   /* admin: start a sync now; reply: JSON status */
	VHSM_OP_FLEET_STATUS = 151, /* admin: reply: JSON status of the last syncs */
	_VHSM_OP_MAX = 0x7fff,
};
#define VHSM_OP_REPLY_FLAG 0x8000u

/* VHSM_TAG_FLAGS of KEK_CREATE and KEK_IMPORT. */
#define VHSM_KEK_FLAG_EXPORTABLE (1ull << 0)       /* may be backed up (KEK_BACKUP) */
#define VHSM_KEK_FLAG_PURGE_PROTECTION (1ull << 1) /* no purge before the retention ends */
#define VHSM_KEK_FLAG_ATTEST_EACH_USE (1ull << 2)  /* a fresh attestation before every use */
/* VHSM_TAG_FLAGS of KEK_DISABLE and DEK_DROP. */
#define VHSM_KEK_DISABLE_SHRED (1ull << 0) /* also revoke the KEK's DEKs in the kernel keyring */
#define VHSM_DEK_DROP_DELETE (1ull << 0)   /* also delete the DEK (recoverable, see DEK_RECOVER) */
/* VHSM_TAG_FLAGS of FLEET_ENROLL. */
#define VHSM_FLEET_ENROLL_NEW_KEY (1ull << 0) /* replace the fleet key (else kept) */
/* VHSM_TAG_FLAGS of KEY_CREATE: the key pair's usage (at least one). */
#define VHSM_KEY_FLAG_SIGN (1ull << 0)
#define VHSM_KEY_FLAG_DECRYPT (1ull << 1)
#define VHSM_KEY_FLAG_PURGE_PROTECTION (1ull << 2) /* no purge before the retention ends */

/* Field tags. Type of each tag is fixed (see vhsm_wire_tag_type in lib/wire.h). */
enum vhsm_tag {
	VHSM_TAG_ERRNO = 1,      /* i32: 0 or a positive errno (replies) */
	VHSM_TAG_MESSAGE = 2,    /* text: human-readable error or status */
	VHSM_TAG_NAME = 3,       /* string: KEK / DEK name */
	VHSM_TAG_VERSION = 4,    /* u32: key version */
	VHSM_TAG_DATA = 5,       /* data: payload (plaintext or wrapped) */
	VHSM_TAG_CONTEXT = 6,    /* data: caller context bound as AAD */
	VHSM_TAG_JSON = 7,       /* text: listing / show output */
	VHSM_TAG_NONCE = 8,      /* data (<= 64): attestation nonce */
	VHSM_TAG_REPORT = 9,     /* data: raw attestation report */
	VHSM_TAG_CERTS = 10,     /* data: GHCB certificate table */
	VHSM_TAG_FLAGS = 11,     /* u64: op-specific flags */
	VHSM_TAG_DAYS = 12,      /* u32: retention days */
	VHSM_TAG_PROFILE = 13,   /* string: sealing profile "strict" | "author" */
	VHSM_TAG_UID = 14,       /* u32 */
	VHSM_TAG_GID = 15,       /* u32 */
	VHSM_TAG_KEYRING = 16,   /* i32: keyring serial or KEY_SPEC_* */
	VHSM_TAG_TIMEOUT = 17,   /* u32: seconds */
	VHSM_TAG_SIZE = 18,      /* u32: key size in bytes */
	VHSM_TAG_ACL = 19,       /* text: ACL entries, see docs/PROTOCOL.md */
	VHSM_TAG_KEK = 20,       /* string: KEK name where NAME is the DEK */
	VHSM_TAG_SERIAL = 21,    /* i32: kernel key serial */
	VHSM_TAG_PUBKEY = 22,    /* data: public key (DER/PEM) */
	VHSM_TAG_TOKEN = 23,     /* data: LUKS2 token payload (sealed KEK copy + wrapped secret) */
	VHSM_TAG_VOLUME = 24,    /* string: volume name or LUKS UUID */
	VHSM_TAG_BUSY = 25,      /* u32 1: declined by a limit, not acted on (replies, ERRNO EAGAIN) */
	VHSM_TAG_SEALED_KEK = 32,     /* data: sealed copy of one KEK version (LUKS2 token) */
	VHSM_TAG_WRAPPED_SECRET = 33, /* data: keyslot secret wrapped under that version */
	VHSM_TAG_POLICY_DIGEST = 34,  /* data (32): attestation policy digest at sealing */
	VHSM_TAG_UUID = 35,           /* string: LUKS2 header UUID */
	VHSM_TAG_KID = 48,       /* string: BYOK exchange key id ("vhsm-xk-<32 hex>") */
	VHSM_TAG_BYOK = 49,      /* text: BYOK transfer file or exchange-key bundle (JSON) */
	VHSM_TAG_BATCH = 56,     /* data: UNWRAP_BATCH items (docs/PROTOCOL.md) */
	VHSM_TAG_KEY_ALG = 64,   /* string: "rsa2048" "rsa3072" "rsa4096" "ec-p256" "ec-p384" */
	VHSM_TAG_KEY_ID = 65,    /* data (1..64): CKA_ID, SHA-1 of the public key bits */
	VHSM_TAG_CERT = 66,      /* data (<= 16 KiB): X.509 certificate, DER */
	VHSM_TAG_MECH = 67,      /* u32: a CKM_* value (PKCS#11 2.40) */
	VHSM_TAG_MECH_PARAM = 68, /* data (<= 1 KiB): mechanism parameters (docs/PROTOCOL.md) */
	VHSM_TAG_CSR = 80,       /* data (<= 8 KiB): PKCS#10 certificate request, DER */
	VHSM_TAG_EXPIRES = 81,   /* u64: Unix time after which an enrollment is not signed */
	VHSM_TAG_CHAIN = 82,     /* data (<= 16 KiB): PEM certificate chain, leaf first */
	VHSM_TAG_CA = 83,        /* data (<= 16 KiB): PEM CA certificate(s) */
	VHSM_TAG_ENDPOINT = 84,  /* string: KMIP endpoint "host:port" */
	VHSM_TAG_GCM_IV = 95,    /* data (12): the GCM IV vhsmd chose (KEK_GCM_ENCRYPT reply) */
	_VHSM_TAG_MAX,
};
