/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SEV-SNP guest ABI layouts, written from the firmware ABI specification (AMD pub. 56860) and
 * the GHCB specification (pub. 56421), not copied from the kernel header. Every field carries
 * its offset; _Static_assert pins sizes and offsets. All integers are little-endian.
 *
 * These are the request/response structs of the guest-request messages. The device layer
 * (snp-dev.c) hands them to a transport: the kernel's /dev/sev-guest ioctls, or the
 * simulator (sim/), which answers the same structs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* ---- ioctl envelope (Linux uapi struct snp_guest_request_ioctl, 32 bytes) ---- */
struct snp_guest_request {
	uint8_t msg_version;   /* 0x00: must be non-zero; we use 1 */
	uint8_t pad[7];        /* 0x01 */
	uint64_t req_data;     /* 0x08: pointer to the request struct */
	uint64_t resp_data;    /* 0x10: pointer to the response struct */
	uint64_t exitinfo2;    /* 0x18: bits 31:0 firmware error, 63:32 VMM error */
};
_Static_assert(sizeof(struct snp_guest_request) == 32, "guest request size");
_Static_assert(offsetof(struct snp_guest_request, exitinfo2) == 0x18, "exitinfo2 offset");

enum snp_ioctl_nr {
	SNP_IOCTL_GET_REPORT = 0,
	SNP_IOCTL_GET_DERIVED_KEY = 1,
	SNP_IOCTL_GET_EXT_REPORT = 2,
};

#define SNP_EXITINFO2_FW(x) ((uint32_t)((x) & 0xffffffffu))
#define SNP_EXITINFO2_VMM(x) ((uint32_t)((x) >> 32))
#define SNP_VMM_ERR_INVALID_LEN 1u
#define SNP_VMM_ERR_BUSY 2u
#define SNP_EXITINFO2_NOT_SENT 0xffu            /* driver failed before the transport */
#define SNP_EXITINFO2_NO_FW_CALL UINT64_MAX     /* transport failed; firmware not called */

/* ---- MSG_REPORT_REQ (96 bytes) ---- */
struct snp_report_req {
	uint8_t user_data[64]; /* 0x00: REPORT_DATA */
	uint32_t vmpl;         /* 0x40: VMPL for the report, >= VMPL of the VMPCK */
	uint32_t key_sel;      /* 0x44: bits 1:0 KEY_SEL (0 VLEK-if-any, 1 VCEK, 2 VLEK); rest MBZ */
	uint8_t rsvd[24];      /* 0x48: MBZ */
};
_Static_assert(sizeof(struct snp_report_req) == 96, "report req size");
_Static_assert(offsetof(struct snp_report_req, vmpl) == 0x40, "report req vmpl");
_Static_assert(offsetof(struct snp_report_req, rsvd) == 0x48, "report req rsvd");

/* ---- MSG_REPORT_RSP as returned by the driver (4000 bytes) ---- */
#define SNP_REPORT_SIZE 0x4A0u
#define SNP_REPORT_RESP_SIZE 4000u
struct snp_report_resp {
	uint32_t status;                     /* 0x000: 0 success, 0x16 invalid params, 0x27 invalid key */
	uint32_t report_size;                /* 0x004: 0x4A0 */
	uint8_t rsvd[24];                    /* 0x008 */
	uint8_t report[SNP_REPORT_SIZE];     /* 0x020: ATTESTATION_REPORT */
	uint8_t unused[SNP_REPORT_RESP_SIZE - 0x20 - SNP_REPORT_SIZE]; /* 0x4C0 */
};
_Static_assert(sizeof(struct snp_report_resp) == 4000, "report resp size");
_Static_assert(offsetof(struct snp_report_resp, report) == 0x20, "report offset");

/* ---- MSG_KEY_REQ version 1 (32 bytes) ---- */
struct snp_derived_key_req {
	uint32_t root_key_select;    /* 0x00: bit 0 root (0 VCEK, 1 VMRK); bits 2:1 KEY_SEL; MBZ above */
	uint32_t rsvd;               /* 0x04: MBZ */
	uint64_t guest_field_select; /* 0x08: SNP_FIELD_* */
	uint32_t vmpl;               /* 0x10: >= current VMPL */
	uint32_t guest_svn;          /* 0x14: <= launch guest SVN */
	uint64_t tcb_version;        /* 0x18: <= committed TCB */
};
_Static_assert(sizeof(struct snp_derived_key_req) == 32, "key req size");
_Static_assert(offsetof(struct snp_derived_key_req, tcb_version) == 0x18, "key req tcb");

/* ---- MSG_KEY_RSP (64 bytes) ---- */
struct snp_derived_key_resp {
	uint32_t status;  /* 0x00 */
	uint8_t rsvd[28]; /* 0x04 */
	uint8_t key[32];  /* 0x20: DERIVED_KEY */
};
_Static_assert(sizeof(struct snp_derived_key_resp) == 64, "key resp size");

/* ---- extended report request (112 bytes on x86-64) ---- */
struct snp_ext_report_req {
	struct snp_report_req data; /* 0x00 */
	uint64_t certs_address;     /* 0x60: pointer to a page-multiple buffer */
	uint32_t certs_len;         /* 0x68: in: buffer size; out (EIO + INVALID_LEN): needed size */
	uint32_t pad;               /* 0x6C: tail padding the kernel copies too */
};
_Static_assert(sizeof(struct snp_ext_report_req) == 112, "ext report req size");
_Static_assert(offsetof(struct snp_ext_report_req, certs_len) == 0x68, "certs_len offset");

#define SNP_CERTS_PAGE 4096u
#define SNP_CERTS_MAX 0x4000u /* SEV_FW_BLOB_MAX_SIZE in mainline */

/* GUEST_FIELD_SELECT bits (MSG_KEY_REQ 0x08) */
#define SNP_FIELD_POLICY (1ull << 0)
#define SNP_FIELD_IMAGE_ID (1ull << 1)
#define SNP_FIELD_FAMILY_ID (1ull << 2)
#define SNP_FIELD_MEASUREMENT (1ull << 3)
#define SNP_FIELD_GUEST_SVN (1ull << 4)
#define SNP_FIELD_TCB_VERSION (1ull << 5)
#define SNP_FIELD_VALID_MASK 0x3full

/* Firmware status codes a guest sees (psp-sev.h SEV_RET_*) */
#define SNP_FW_SUCCESS 0x00u
#define SNP_FW_INVALID_LEN 0x04u
#define SNP_FW_POLICY_FAILURE 0x07u
#define SNP_FW_INVALID_PARAM 0x16u
#define SNP_FW_RESOURCE_LIMIT 0x17u
#define SNP_FW_INVALID_KEY 0x27u

/* ---- ATTESTATION_REPORT field offsets (0x4A0 bytes) ---- */
enum snp_report_offset {
	SNP_R_VERSION = 0x000,
	SNP_R_GUEST_SVN = 0x004,
	SNP_R_POLICY = 0x008,
	SNP_R_FAMILY_ID = 0x010,
	SNP_R_IMAGE_ID = 0x020,
	SNP_R_VMPL = 0x030,
	SNP_R_SIGNATURE_ALGO = 0x034,
	SNP_R_CURRENT_TCB = 0x038,
	SNP_R_PLATFORM_INFO = 0x040,
	SNP_R_SIGNER_INFO = 0x048,
	SNP_R_RSVD_04C = 0x04C,
	SNP_R_REPORT_DATA = 0x050,
	SNP_R_MEASUREMENT = 0x090,
	SNP_R_HOST_DATA = 0x0C0,
	SNP_R_ID_KEY_DIGEST = 0x0E0,
	SNP_R_AUTHOR_KEY_DIGEST = 0x110,
	SNP_R_REPORT_ID = 0x140,
	SNP_R_REPORT_ID_MA = 0x160,
	SNP_R_REPORTED_TCB = 0x180,
	SNP_R_CPUID_FAM = 0x188,
	SNP_R_CPUID_MOD = 0x189,
	SNP_R_CPUID_STEP = 0x18A,
	SNP_R_RSVD_18B = 0x18B,
	SNP_R_CHIP_ID = 0x1A0,
	SNP_R_COMMITTED_TCB = 0x1E0,
	SNP_R_CURRENT_BUILD = 0x1E8,
	SNP_R_CURRENT_MINOR = 0x1E9,
	SNP_R_CURRENT_MAJOR = 0x1EA,
	SNP_R_RSVD_1EB = 0x1EB,
	SNP_R_COMMITTED_BUILD = 0x1EC,
	SNP_R_COMMITTED_MINOR = 0x1ED,
	SNP_R_COMMITTED_MAJOR = 0x1EE,
	SNP_R_RSVD_1EF = 0x1EF,
	SNP_R_LAUNCH_TCB = 0x1F0,
	SNP_R_LAUNCH_MIT_VECTOR = 0x1F8,
	SNP_R_CURRENT_MIT_VECTOR = 0x200,
	SNP_R_RSVD_208 = 0x208,
	SNP_R_SIGNATURE = 0x2A0,
	SNP_R_SIG_R = 0x2A0,
	SNP_R_SIG_S = 0x2E8,
	SNP_R_SIG_RSVD = 0x330,
	SNP_R_END = 0x4A0,
};
#define SNP_REPORT_SIGNED_LEN 0x2A0u /* bytes 0x000-0x29F are signed (SHA-384) */
#define SNP_SIG_COMPONENT_LEN 72u    /* R and S: little-endian, zero-extended */
#define SNP_P384_LEN 48u

/* POLICY bits (report 0x08) */
#define SNP_POLICY_ABI_MINOR_MASK 0xffull
#define SNP_POLICY_ABI_MAJOR_SHIFT 8
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_RSVD_MBO (1ull << 17)
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)
#define SNP_POLICY_CXL_ALLOW (1ull << 21)
#define SNP_POLICY_MEM_AES_256_XTS (1ull << 22)
#define SNP_POLICY_RAPL_DIS (1ull << 23)
#define SNP_POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define SNP_POLICY_PAGE_SWAP_DISABLE (1ull << 25)
#define SNP_POLICY_KNOWN_MASK 0x3ffffffull /* bits 25:0; 63:26 are reserved (MBZ) */

/* PLATFORM_INFO bits (report 0x40) */
#define SNP_PLATFORM_SMT_EN (1ull << 0)
#define SNP_PLATFORM_TSME_EN (1ull << 1)
#define SNP_PLATFORM_ECC_EN (1ull << 2)
#define SNP_PLATFORM_RAPL_DIS (1ull << 3)
#define SNP_PLATFORM_CIPHERTEXT_HIDING (1ull << 4)
#define SNP_PLATFORM_ALIAS_CHECK_COMPLETE (1ull << 5)
#define SNP_PLATFORM_TIO_EN (1ull << 7)

/* signer info (report 0x48) */
#define SNP_SIGNER_AUTHOR_KEY_EN (1u << 0)
#define SNP_SIGNER_MASK_CHIP_KEY (1u << 1)
#define SNP_SIGNER_SIGNING_KEY_SHIFT 2
#define SNP_SIGNER_SIGNING_KEY_MASK (7u << 2)
#define SNP_SIGNER_RSVD_MASK 0xffffffe0u
#define SNP_SIGNING_KEY_VCEK 0u
#define SNP_SIGNING_KEY_VLEK 1u
#define SNP_SIGNING_KEY_NONE 7u

/* ---- GHCB certificate table (SNP_GET_EXT_REPORT / configfs-tsm auxblob) ---- */
#define SNP_CERT_ENTRY_SIZE 24u
/* GUIDs in RFC 4122 byte order (textual order), as hosts write them. */
#define SNP_GUID_ARK                                                                               \
	{ 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae }
#define SNP_GUID_ASK                                                                               \
	{ 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 }
#define SNP_GUID_VCEK                                                                              \
	{ 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd }
#define SNP_GUID_VLEK                                                                              \
	{ 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 }
#define SNP_GUID_CRL                                                                               \
	{ 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea }
