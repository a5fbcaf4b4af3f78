/* SPDX-License-Identifier: Apache-2.0 */
/* vhsmd internal types: the manager's state, peers, KEK metadata, the attestation result. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "macro.h"
#include "policy.h"
#include "seal.h"
#include "snp-dev.h"

struct root_vtpm;
#include "snp-report.h"
#include "snp-verify.h"
#include "vhsm/wire.h"

#define VHSMD_MAX_CONNECTIONS 256u
/* A non-administrator principal (uid, and login uid when set: limits.h) holds at most this
 * many connections, and all non-administrators together leave VHSMD_ADMIN_RESERVED slots
 * free, so nobody can lock root out. */
#define VHSMD_MAX_CONNECTIONS_PER_UID 8u
#define VHSMD_ADMIN_RESERVED 32u
/* Released secure-memory mappings kept for reuse (lib/secmem pool). */
#define VHSMD_SECMEM_POOL 16u
/* A connection without a request for this long is closed. */
#define VHSMD_CONNECTION_IDLE_USEC (30ULL * 1000000ULL)
/* "Each use" of an attest-each-use KEK: an attestation no older than this (--attest-fresh-ms,
 * within the bounds), or one made during the same request. */
#define VHSMD_ATTEST_FRESH_MS_DEFAULT 100u
#define VHSMD_ATTEST_FRESH_MS_MIN 10u
#define VHSMD_ATTEST_FRESH_MS_MAX 10000u
#define VHSMD_MAX_TRUST_ROOTS 8u
#define VHSMD_DEFAULT_SOCKET "/run/vhsm/vhsmd.sock"
#define VHSMD_DEFAULT_STATE_DIR "/var/lib/vhsm"
#define VHSMD_DEFAULT_DEVICE "/dev/sev-guest"
#define VHSMD_DEFAULT_POLICY "/etc/vhsm/policy.json"

/* ---- attestation gate (attest.c) ---- */
struct attest_state {
	bool done;                /* at least one attestation ran */
	bool ok;                  /* the last one passed */
	bool no_policy;           /* refused unevaluated: no valid policy in force */
	uint64_t seq;             /* advanced by every attestation (STATUS= follows it) */
	uint64_t at_usec;         /* CLOCK_REALTIME of the last attestation */
	uint64_t mono_usec;       /* CLOCK_MONOTONIC of the last attestation */
	uint64_t request_seq;     /* the request during which it ran (manager.request_seq) */
	struct snp_report report; /* last verified (or failed) report, parsed */
	bool report_valid;
	enum snp_product product;
	char failures[512];       /* comma-separated failed checks and policy rules */
	char error[512];          /* device error or invalid policy: why no report was evaluated */
	char collateral[192];     /* where the certificates and the CRL came from */
	char source[16];          /* "snp-report" (the SNP device) or "hcl-report" (the vTPM) */
	size_t n_findings;        /* each failed check or rule with its reported vs required value */
	struct attest_finding {
		char check[40];   /* verifier check or policy rule name */
		char detail[SNP_CHECK_DETAIL_MAX];
	} findings[_SNP_CHECK_MAX + POLICY_MAX_VIOLATIONS + 2];
};

/* ---- the policy file (policy-file.c) ---- */
struct policy_file_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

/* ---- per-KEK metadata (public, authenticated in the sealed blob) ---- */
enum kek_state { KEK_ENABLED, KEK_DISABLED, KEK_DELETED, _KEK_STATE_MAX, _KEK_STATE_INVALID = -EINVAL };

#define KEK_MAX_VERSIONS 64u
#define KEK_MAX_ACL 32u
#define KEK_NAME_MAX 64u
#define KEK_DEFAULT_RETENTION_DAYS 90u
#define KEK_MIN_RETENTION_DAYS 7u
#define KEK_MAX_RETENTION_DAYS 3650u
/* A key manager's identifier of a KEK version pulled from it (fleet-sync.c). */
#define KEK_KMIP_UID_MAX 64u

enum acl_op {
	ACL_OP_WRAP = 1u << 0,
	ACL_OP_UNWRAP = 1u << 1,
	ACL_OP_REWRAP = 1u << 2,
	ACL_OP_READ = 1u << 3, /* metadata */
	ACL_OP_ADMIN = 1u << 4,
	ACL_OP_ALL = 0x1fu,
};

enum acl_kind { ACL_UID, ACL_GID, ACL_UNIT };

struct acl_entry {
	enum acl_kind kind;
	uint32_t id;          /* uid or gid */
	char unit[128];       /* systemd unit name */
	uint32_t ops;         /* enum acl_op mask */
};

/* The lifecycle KEKs and key pairs share; kek-meta.c writes and reads it as JSON. */
#define KEY_LIFECYCLE_MEMBERS                                                                     \
	enum kek_state state;                                                                     \
	enum kek_state state_before_delete;                                                       \
	uint64_t created; /* seconds since the epoch */                                           \
	uint64_t updated;                                                                         \
	uint64_t deleted_at; /* 0 unless deleted */                                               \
	uint32_t retention_days;                                                                  \
	bool purge_protection;
struct key_lifecycle {
	KEY_LIFECYCLE_MEMBERS
};
/* The members by name (meta.state) and as one struct (meta.life), as the kernel's
 * struct_group() does. */
#define KEY_LIFECYCLE_GROUP                                                                       \
	union {                                                                                   \
		struct {                                                                          \
			KEY_LIFECYCLE_MEMBERS                                                     \
		};                                                                                \
		struct key_lifecycle life;                                                        \
	}

struct kek_meta {
	char name[KEK_NAME_MAX + 1];
	KEY_LIFECYCLE_GROUP;
	bool exportable;
	bool imported;
	bool attest_each_use; /* a fresh attestation before every use of this KEK */
	bool fleet;           /* origin: pulled from the key manager (docs/fleet.md) */
	uint32_t n_versions;
	struct {
		uint32_t version;
		uint64_t created;
		char kmip_uid[KEK_KMIP_UID_MAX + 1]; /* the key manager's object; "" for local */
	} versions[KEK_MAX_VERSIONS];
	size_t n_acl;
	struct acl_entry acl[KEK_MAX_ACL];
};

/* ---- identity of a peer (SO_PEERCRED + unit) ---- */
struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char unit[128]; /* "" when unknown */
	bool admin;     /* root or member of the vhsm admin group */
	bool has_loginuid; /* /proc/PID/loginuid was set at accept */
	uid_t loginuid;
	size_t n_groups; /* supplementary groups (from /proc; may be empty) */
	gid_t groups[32];
};

/* The wall clock and CLOCK_BOOTTIME read together (clock.h). */
struct clock_anchor {
	uint64_t wall;
	uint64_t boot;
	bool set;
};

struct manager {
	sd_event *event;
	int listen_fd;
	int luks_key_fd;     /* crypttab key socket (stream), or -EBADF */
	char *luks_key_path; /* set when we bound it ourselves */
	bool luks_standalone; /* no KEK store: tokens unlock with their sealed copy */
	char *socket_path;   /* set when we bound the socket ourselves */
	char *state_dir;
	int state_fd;        /* O_PATH|O_DIRECTORY of state_dir */
	char *device_spec;
	char *collateral_dir; /* AMD certificates and CRLs cached (lib/collateral), or NULL */
	char *tcti;           /* the vTPM (lib/tpm2-nv TCTI string), or NULL: none */
	struct snp_dev *dev;
	struct root_vtpm *root; /* the vtpm platform's root (root-vtpm.h), owned by dev, or NULL */
	char *policy_path;   /* the policy file watched: --policy or the default path */
	bool policy_required; /* --policy given: a missing file is an error, not the default */
	bool policy_from_file; /* the policy in force was read from policy_path */
	struct snp_policy *policy; /* NULL while the file is invalid: nothing is released */
	uint8_t policy_digest[32]; /* of the policy in force (zero while invalid) */
	char policy_error[POLICY_ERR_MAX + 64]; /* "" or why the file is invalid */
	struct policy_file_id policy_id; /* the file as last read, to notice changes */
	sd_event_source *policy_watch; /* inotify on policy_path's directory, or NULL */
	size_t policy_watch_off, policy_watch_len; /* the watched name in policy_path */
	bool policy_touched;           /* the watch saw the file change since the last stat */
	uint64_t policy_stat_usec;     /* CLOCK_MONOTONIC of the last stat of the file */
	uint8_t *trust_roots[VHSMD_MAX_TRUST_ROOTS];
	size_t trust_root_lens[VHSMD_MAX_TRUST_ROOTS];
	size_t n_trust_roots;
	gid_t admin_gid;     /* gid of group "vhsm", or (gid_t)-1 */
	uint64_t idle_usec;  /* 0 = never exit on idle */
	uint64_t attest_interval_usec;
	uint64_t attest_fresh_usec; /* "each use": an attestation no older than this */
	char *test_clock_path; /* --test-clock (simulator only), or NULL */
	uint64_t clock_hwm;    /* latest wall-clock second seen (clock.c) */
	uint64_t clock_saved;  /* the value in <state>/clock */
	struct clock_anchor clock_start; /* wall and boot-time clock when vhsmd started */
	struct clock_anchor clock_boot;  /* the earliest anchor of this boot (store manifest) */
	sd_event_source *idle_source;
	unsigned n_connections;
	unsigned n_unprivileged; /* connections of non-administrators */
	struct conn *conns;      /* list of open connections */
	uint8_t *rx, *tx;        /* secmem request/reply buffers, reused (one request at a time) */
	uint8_t *batch;          /* secmem VHSM_WIRE_MAX_DATA: UNWRAP_BATCH reply items */
	uint64_t n_requests;
	uint64_t n_reports;               /* firmware report requests since start */
	uint64_t hcl_quiet_until_usec;    /* a paravisor wait ran out: none again until then */
	uint64_t request_seq;             /* advanced for every request (both sockets) */
	const struct peer *request_peer;  /* the caller of the request being served, or NULL */
	struct limits *limits;            /* per-principal and global limits (limits.c) */
	struct attest_state attest;
	struct shield *shield; /* in-memory shielding of unsealed KEKs (shield.c) */
	struct kek_marks *kek_marks; /* the sealed file behind each KEK in memory (kek-file.c) */
	struct audit *audit;
	struct manifest *manifest; /* store manifest (manifest.c): made with state_fd */
	uint64_t status_seq;       /* attest.seq last told to the service manager (manager.c) */
	struct fleet *fleet;       /* fleet mode (fleet.h), or NULL when not configured */
	struct fleet_fresh *fleet_fresh; /* its require_fresh_sync_s gate (in *fleet), or NULL */
};
