/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm SNP simulator, internal interfaces. The simulator models the guest-request side of the
 * SEV-SNP firmware (MSG_REPORT_REQ, MSG_KEY_REQ) and the sev-guest driver's ioctl semantics,
 * behind the transport interface of lib/snp-dev.h. Its state (chip secret, launch parameters,
 * TCBs, the simulated ARK/ASK keys and the fault-injection settings) lives in one JSON file.
 *
 * Not for production: every "secret" here is stored in a plain file. The simulated
 * certificates say O = "vhsm SNP simulator" and chain to a simulated ARK that no verifier
 * trusts unless told to (--trust-root).
 *
 * Files: sim-state.c (state, JSON), sim-cert.c (ARK/ASK/VCEK), sim-fw.c (firmware messages),
 * sim-transport.c (driver semantics, module entry point). All of them are library-style code:
 * they return 0/-errno and log at debug level only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "macro.h"
#include "openssl-util.h"
#include "snp-abi.h"
#include "snp-dev.h"
#include "snp-report.h"

#define SIM_STATE_FORMAT 1
#define SIM_STATE_MAX (256u * 1024u) /* a state file is ~15 KiB; refuse anything huge */
#define SIM_PEM_MAX (16u * 1024u)
#define SIM_CHIP_SECRET_LEN 32u
#define SIM_VMPL_MAX 3u

struct sim_fw_version {
	uint8_t major, minor, build;
};

/* Fault injection; consumed by the transport and persisted in the state file. */
struct sim_faults {
	uint32_t busy_count;  /* the next N requests answer BUSY (EAGAIN, vmm_error 2) */
	bool vmpck_disabled;  /* every request fails with ENOTTY until "reboot" */
	bool fail_status_set; /* the next request answers MSG_*_RSP STATUS fail_status */
	uint32_t fail_status;
	bool transport_error; /* the next request fails with EIO and disables the VMPCK */
};

struct sim_state {
	enum snp_product product;
	uint8_t chip_secret[SIM_CHIP_SECRET_LEN];
	uint8_t chip_id[64]; /* Turin: 8 bytes, rest zero */
	/* launch parameters */
	uint8_t measurement[48];
	uint64_t policy;
	uint8_t family_id[16];
	uint8_t image_id[16];
	uint8_t host_data[32];
	uint8_t id_key_digest[48];
	uint8_t author_key_digest[48];
	bool author_key_en;
	uint32_t guest_svn;  /* launch guest SVN (ID block) */
	uint32_t vmpck_vmpl; /* VMPL of the VMPCK the guest driver uses */
	bool host_certs_none; /* the host sends an empty certificate table (bare metal) */
	/* platform */
	struct snp_tcb current_tcb, committed_tcb, launch_tcb;
	bool reported_tcb_set; /* else REPORTED_TCB = COMMITTED_TCB */
	struct snp_tcb reported_tcb;
	struct sim_fw_version fw_current, fw_committed;
	uint64_t platform_info;
	uint8_t cpuid_fam, cpuid_mod, cpuid_step;
	uint32_t report_version; /* 2, 3 or 5 */
	uint64_t launch_mit_vector, current_mit_vector;
	uint8_t report_id[32];
	uint8_t report_id_ma[32];
	/* simulated AMD CA: PEM text, NUL-terminated, malloc'ed (may be NULL before sim_ca_*) */
	char *ark_key_pem, *ark_cert_pem, *ask_key_pem, *ask_cert_pem;
	struct sim_faults faults;
};

/* ---- sim-state.c ---- */

/*
 * A new state for product p with realistic defaults for that product, a fresh random chip
 * secret, CHIP_ID, REPORT_ID and MEASUREMENT, and no CA yet (see sim_ca_generate/sim_ca_copy).
 * Returns 0 or -errno; free with sim_state_free().
 */
int sim_state_new(enum snp_product p, struct sim_state **ret) _wur_;

/* Wipes and frees a state. NULL is fine. Returns NULL. */
struct sim_state *sim_state_free(struct sim_state *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sim_state *, sim_state_free);

/*
 * PLATFORM_INFO as real firmware of product p reports it in a report of that version:
 * SMT_EN | ECC_EN, ALIAS_CHECK_COMPLETE from v3 on, and on Turin the undocumented bit 6 that
 * real Turin firmware sets.
 */
uint64_t sim_default_platform_info(enum snp_product p, uint32_t version);

/* True for the report versions the simulator can produce (2, 3, 5). */
bool sim_report_version_ok(uint32_t version);

/*
 * Parses a state from JSON text (untrusted: every field is type- and range-checked, unknown
 * keys are refused). Returns 0, -EBADMSG (malformed), -EMSGSIZE (too large) or -ENOMEM.
 */
int sim_state_from_json(const char *text, size_t len, struct sim_state **ret) _wur_;

/* Serialises a state to a malloc'ed JSON string (contains the secrets). */
int sim_state_to_json(const struct sim_state *s, char **ret, size_t *ret_len) _wur_;

/* Loads the state file at path (at most SIM_STATE_MAX bytes). Returns 0 or -errno. */
int sim_state_load(const char *path, struct sim_state **ret) _wur_;

/*
 * Writes the state atomically with mode 0600. With create, refuses with -EEXIST when path
 * exists. Returns 0 or -errno.
 */
int sim_state_save(const struct sim_state *s, const char *path, bool create) _wur_;

/* The TCB the VCEK is issued for: the explicit reported TCB, else the committed one. */
struct snp_tcb sim_state_reported_tcb(const struct sim_state *s);

/* Checks the relations a loaded or edited state must satisfy. Returns 0 or -EINVAL. */
int sim_state_validate(const struct sim_state *s) _wur_;

/* ---- sim-cert.c ---- */

/*
 * HKDF (RFC 5869) with digest md ("SHA256", "SHA384") through EVP_KDF. Returns 0 or -EIO
 * (OpenSSL errors drained to the debug log).
 */
int sim_hkdf(const char *md, const uint8_t *key, size_t key_len, const uint8_t *salt,
	     size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
	     size_t out_len) _wur_;

/* The keys and certificates of one state, ready to sign with. */
struct sim_keys {
	EVP_PKEY *ark_key, *ask_key, *vcek_key;
	X509 *ark, *ask, *vcek;
};

struct sim_keys *sim_keys_free(struct sim_keys *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct sim_keys *, sim_keys_free);

/* Generates a new simulated ARK and ASK (two RSA-4096 keys: slow) into s. Returns 0/-errno. */
int sim_ca_generate(struct sim_state *s) _wur_;

/*
 * Copies the ARK/ASK keys and certificates of from into s, as chips of one product share
 * them. Returns 0, -EXDEV when the products differ, -ENOKEY when from has no CA, -ENOMEM.
 */
int sim_ca_copy(struct sim_state *s, const struct sim_state *from) _wur_;

/*
 * Loads the CA from s, derives the VCEK for the reported TCB and issues its certificate
 * (valid from now - 1 day for 7 years). Returns 0 or -errno (-ENOKEY: no CA in s,
 * -EBADMSG: a key or certificate in s is malformed or they do not match).
 */
int sim_keys_load(const struct sim_state *s, struct sim_keys **ret) _wur_;

/* DER encoding of a certificate, malloc'ed. Returns 0 or -errno. */
int sim_cert_der(X509 *x, uint8_t **ret, size_t *ret_len) _wur_;

/* The GHCB certificate table (ARK, ASK, VCEK) for keys, padded to pages. */
int sim_cert_table(const struct sim_keys *k, uint8_t **ret, size_t *ret_len) _wur_;

/*
 * Derives the VCEK private scalar for tcb: HKDF-SHA384 over the chip secret, reduced modulo
 * the P-384 order. Exposed for tests. Returns 0 with a new EVP_PKEY or -errno.
 */
int sim_vcek_derive(const struct sim_state *s, const struct snp_tcb *tcb, EVP_PKEY **ret) _wur_;

/* ---- sim-fw.c ---- */

/*
 * MSG_REPORT_REQ: checks the request as the firmware does and fills resp (STATUS != 0 for a
 * refused request). vcek_key signs. Returns 0 (also for refusals) or -errno when signing
 * failed internally.
 */
int sim_fw_report(const struct sim_state *s, EVP_PKEY *vcek_key, const struct snp_report_req *req,
		  struct snp_report_resp *resp) _wur_;

/* MSG_KEY_REQ: as above; the key is HKDF-SHA256 over the chip secret and selected fields. */
int sim_fw_derived_key(const struct sim_state *s, const struct snp_derived_key_req *req,
		       struct snp_derived_key_resp *resp) _wur_;

/* ---- sim-transport.c ---- */

/*
 * Module entry point (see snp_sim_open_fn in snp-dev.h): loads the state file and returns
 * the simulator transport and its context (freed by ops->close). Returns 0 or -errno.
 */
int vhsm_snp_sim_open(const char *state_file, const struct snp_transport_ops **ret_ops,
		      void **ret_ctx) _wur_;

/*
 * Module entry point (see snp_sim_set_log_fn in snp-dev.h): the loading program's debug
 * sink, which this module's entry points then install for their thread. Never fails.
 */
void vhsm_snp_sim_set_log(vhsm_log_sink_t sink, void *userdata);
