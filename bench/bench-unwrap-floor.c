/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The floor of one single UNWRAP (bench.h): what vhsmd must do for one request beyond what the
 * echo server does (receive, send, one epoll wake-up), in this process, through the cheapest
 * correct path, which is the project's own code where that is the cheapest:
 *   - parse: the request decoded (lib/wire), its context and blob found and bounded, the
 *     blob's KEK name and version parsed (lib/wrap) and the name checked (lib/text);
 *   - gate: the constant part of the attestation gate and policy check (one monotonic clock
 *     read, the age and "policy unchanged" comparisons) and the ACL and state decision
 *     (daemon/acl.c) for a peer with the benchmark's own credentials and unit;
 *   - unshield: the KEK's versions from the in-memory shield into pooled secure memory
 *     (daemon/shield.c: SHA-256 of the 4 KiB prekey, AES-256-GCM of the versions);
 *   - unwrap: HKDF-SHA256 and AES-256-GCM of the blob into pooled secure memory
 *     (lib/wrap.h unwrap_key), the reply built (lib/wire) and both message buffers wiped;
 *   - audit: the record an UNWRAP writes (daemon/audit-record.c, the key name escaped), its
 *     chain hash, its MAC under a 32-byte audit key (daemon/audit-key.c), the line built and
 *     write() to a file opened O_APPEND as vhsmd opens audit.log.
 * Not included, because vhsmd does it off the reply path or not per request: the group
 * commit's fdatasync (a thread, shared by the releases of a window), the journal entry (at
 * most one per second per event and key), attestation and the firmware. Every round checks
 * its result (the DEK, the whole line written), and set-up checks that a modified blob and
 * a wrong context are refused, so the floor cannot be cheaper by being wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "../daemon/acl.h"
#include "../daemon/audit-key.h"
#include "../daemon/audit-record.h"
#include "../daemon/peer-unit.h"
#include "../daemon/shield.h"
#include "bench.h"
#include "ct.h"
#include "hkdf.h"
#include "secmem.h"
#include "text.h"
#include "wire.h"
#include "wrap.h"

#define FLOOR_KEK_NAME "bench-kek"
#define FLOOR_DEK_LEN 64u
#define FLOOR_HASH_HEX 64u
#define FLOOR_LINE_MAX 4096u
#define FLOOR_ATTEST_INTERVAL_NS (3600ull * NSEC_PER_SEC)

struct unwrap_floor {
	struct shield *shield;
	struct peer peer;
	uint8_t *audit_key; /* secmem, AUDIT_KEY_SIZE */
	int audit_fd;
	uint8_t dek[FLOOR_DEK_LEN];
	uint8_t *req; /* the UNWRAP request as a client sends it */
	size_t req_len;
	uint8_t *reply; /* VHSM_WIRE_MAX_MESSAGE */
	uint64_t attest_ns, seq;
	bool policy_touched;
	char prev[FLOOR_HASH_HEX + 1];
	size_t line_len;

	/* one request's state, handed from one part to the next */
	struct vhsm_wire_msg msg;
	const struct vhsm_wire_field *blob, *ctx;
	struct wrap_info info;
	struct kek_meta meta;
	struct seal_params params;
	struct seal_binding binding;
	uint8_t *keys; /* secmem: the unshielded versions */
};

/* Decodes the request, finds and bounds its fields, parses the blob's public part. */
static int floor_parse(struct unwrap_floor *f)
{
	if (vhsm_wire_decode(f->req, f->req_len, &f->msg) < 0 || f->msg.op != VHSM_OP_UNWRAP)
		return -EBADMSG;
	f->ctx = vhsm_wire_get(&f->msg, VHSM_TAG_CONTEXT);
	f->blob = vhsm_wire_get(&f->msg, VHSM_TAG_DATA);
	if (!f->blob || (f->ctx && f->ctx->len > WRAP_CONTEXT_MAX) ||
	    wrap_parse(f->blob->value, f->blob->len, &f->info) < 0 ||
	    !text_key_name_valid(f->info.kek_name))
		return -EBADMSG;
	return 0;
}

/* The gate's constant part: attested recently enough, policy file untouched. */
static int floor_gate(struct unwrap_floor *f)
{
	return !f->policy_touched && now_ns() - f->attest_ns < FLOOR_ATTEST_INTERVAL_NS ? 0
											 : -EKEYREJECTED;
}

/* The KEK's versions out of the shield, then the ACL and state decision on its metadata. */
static int floor_unshield(struct unwrap_floor *f)
{
	int r = shield_get(f->shield, f->info.kek_name, &f->meta, &f->params, &f->binding,
			   &f->keys);

	if (r < 0)
		return r;
	if (!acl_allows(&f->meta, &f->peer, ACL_OP_UNWRAP) || f->meta.state != KEK_ENABLED ||
	    f->meta.versions[0].version != f->info.kek_version)
		return -EPERM;
	return 0;
}

/* HKDF + AES-256-GCM of the blob, the reply with the DEK built, both buffers wiped. */
static int floor_unwrap(struct unwrap_floor *f)
{
	_cleanup_secmem_ uint8_t *pt = NULL;
	struct vhsm_wire_builder b;
	size_t len;
	int r, n;

	r = unwrap_key(f->keys, WRAP_PURPOSE_GENERIC, f->blob->value, f->blob->len,
		       f->ctx ? f->ctx->value : NULL, f->ctx ? f->ctx->len : 0, &pt, &len);
	if (r < 0)
		return r;
	if (len != FLOOR_DEK_LEN || CRYPTO_memcmp(pt, f->dek, len) != 0)
		return -EPROTO;
	vhsm_wire_begin(&b, f->reply, VHSM_WIRE_MAX_MESSAGE, VHSM_OP_UNWRAP | VHSM_OP_REPLY_FLAG,
			f->msg.id);
	vhsm_wire_add_i32(&b, VHSM_TAG_ERRNO, 0);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, pt, len);
	vhsm_wire_add_str(&b, VHSM_TAG_NAME, f->meta.name);
	vhsm_wire_add_u32(&b, VHSM_TAG_VERSION, f->info.kek_version);
	n = vhsm_wire_finish(&b);
	if (n < 0)
		return n;
	/* vhsmd wipes the used part of its request and reply buffers after each request. The
	 * request here is the one kept for the next round: wipe a copy's length of the reply
	 * twice instead, the same bytes of work. */
	explicit_bzero(f->reply, (size_t)n);
	explicit_bzero(f->reply, f->req_len);
	return 0;
}

/* The UNWRAP's audit record: formatted, chain-hashed, MAC'ed and written in one write(). */
static int floor_audit(struct unwrap_floor *f)
{
	char key[TEXT_ESCAPE_SIZE(KEK_NAME_MAX)], js[FLOOR_LINE_MAX + 1], line[FLOOR_LINE_MAX + 160];
	char hash[FLOOR_HASH_HEX + 1], mac[FLOOR_HASH_HEX + 1];
	uint8_t md[HKDF_SHA256_LEN];
	struct audit_record rec = { .event = "unwrap", .key = key,
				    .version = f->info.kek_version, .peer = &f->peer };
	struct audit_record_chain ch = { .seq = f->seq + 1, .time = (int64_t)time(NULL),
					 .prev = f->prev };
	size_t n;
	int len, r;

	text_escape_bytes((const uint8_t *)f->meta.name, strlen(f->meta.name), key, sizeof(key));
	len = audit_record_format(&rec, &ch, js, sizeof(js));
	if (len < 2)
		return -EMSGSIZE;
	r = hkdf_sha256_digest(f->prev, FLOOR_HASH_HEX, "\n", 1, js, (size_t)len, md);
	if (r < 0)
		return r;
	ct_hex_encode(hash, md, sizeof(md));
	r = audit_key_mac(f->audit_key, hash, FLOOR_HASH_HEX, mac);
	if (r < 0)
		return r;
	/* The line: the record with ,"hash":"H","mac":"M"} replacing its closing brace. */
	n = (size_t)len - 1;
	memcpy(line, js, n);
	memcpy(line + n, ",\"hash\":\"", 9);
	memcpy(line + n + 9, hash, FLOOR_HASH_HEX);
	memcpy(line + n + 9 + FLOOR_HASH_HEX, "\",\"mac\":\"", 9);
	memcpy(line + n + 18 + FLOOR_HASH_HEX, mac, FLOOR_HASH_HEX);
	memcpy(line + n + 18 + 2 * FLOOR_HASH_HEX, "\"}\n", 3);
	n += 21 + 2 * FLOOR_HASH_HEX;
	if (write(f->audit_fd, line, n) != (ssize_t)n)
		return -EIO;
	memcpy(f->prev, hash, sizeof(hash));
	f->seq++;
	f->line_len = n;
	return 0;
}

static int floor_keys_done(struct unwrap_floor *f, int r)
{
	f->keys = secmem_free(f->keys);
	return r;
}

int unwrap_floor_request(void *p)
{
	struct unwrap_floor *f = p;
	int r = floor_parse(f);

	if (r >= 0)
		r = floor_gate(f);
	if (r >= 0)
		r = floor_unshield(f);
	if (r >= 0)
		r = floor_unwrap(f);
	r = floor_keys_done(f, r);
	if (r >= 0)
		r = floor_audit(f);
	if (r < 0)
		bench_fail("unwrap floor: %s", strerror(-r));
	return r;
}

/* The parts alone, for the rows that split the floor. */
static int part_parse(void *p)
{
	struct unwrap_floor *f = p;

	return floor_parse(f) < 0 || floor_gate(f) < 0 ? -EBADMSG : 0;
}

static int part_unshield(void *p)
{
	return floor_keys_done(p, floor_unshield(p));
}

/* With the KEK unshielded once before (unwrap_floor_rows). */
static int part_unwrap(void *p)
{
	return floor_unwrap(p);
}

static int part_audit(void *p)
{
	return floor_audit(p);
}

static int floor_checked(const char *what, int r)
{
	if (r < 0)
		bench_fail("unwrap floor: %s: %s", what, strerror(-r));
	return r;
}

/* A KEK in the shield, its DEK wrapped under context, the request as a client builds it. */
static int floor_setup_request(struct unwrap_floor *f, const char *context)
{
	_cleanup_secmem_ uint8_t *kek = secmem_alloc(32);
	_cleanup_free_ uint8_t *blob = NULL;
	struct seal_params params = {};
	struct seal_binding binding = {};
	struct vhsm_wire_builder b;
	size_t len, ctx_len = strlen(context);
	int n;

	if (!kek || RAND_priv_bytes(kek, 32) != 1 || RAND_bytes(f->dek, sizeof(f->dek)) != 1)
		return -ENOMEM;
	f->meta = (struct kek_meta){ .name = FLOOR_KEK_NAME, .state = KEK_ENABLED,
				     .n_versions = 1 };
	f->meta.versions[0].version = 1;
	if (shield_put(f->shield, &f->meta, &params, &binding, kek, 32) < 0 ||
	    wrap_key(kek, WRAP_PURPOSE_GENERIC, FLOOR_KEK_NAME, 1, (const uint8_t *)context,
		     ctx_len, f->dek, sizeof(f->dek), &blob, &len) < 0)
		return -EIO;
	f->req = malloc(VHSM_WIRE_MAX_MESSAGE);
	if (!f->req)
		return -ENOMEM;
	vhsm_wire_begin(&b, f->req, VHSM_WIRE_MAX_MESSAGE, VHSM_OP_UNWRAP, 1);
	if (ctx_len)
		vhsm_wire_add_data(&b, VHSM_TAG_CONTEXT, context, ctx_len);
	vhsm_wire_add_data(&b, VHSM_TAG_DATA, blob, len);
	n = vhsm_wire_finish(&b);
	if (n < 0)
		return n;
	f->req_len = (size_t)n;
	return 0;
}

/* Flips one bit of the request byte that field's value starts at, and back on the second call. */
static void floor_flip(struct unwrap_floor *f, const struct vhsm_wire_field *field, size_t i)
{
	f->req[(size_t)(field->value - f->req) + i] ^= 1;
}

/* A floor that accepts what vhsmd refuses measures nothing: a modified blob, a wrong context. */
static int floor_check_refusals(struct unwrap_floor *f)
{
	int r = floor_parse(f);

	if (r >= 0)
		r = floor_unshield(f);
	if (r < 0)
		return floor_keys_done(f, r);
	floor_flip(f, f->blob, f->blob->len - 1);
	r = floor_unwrap(f);
	floor_flip(f, f->blob, f->blob->len - 1);
	if (r != -EKEYREJECTED)
		return floor_keys_done(f, -EPROTO);
	if (f->ctx) {
		floor_flip(f, f->ctx, 0);
		r = floor_unwrap(f);
		floor_flip(f, f->ctx, 0);
		if (r != -EKEYREJECTED)
			return floor_keys_done(f, -EPROTO);
	}
	return floor_keys_done(f, floor_unwrap(f));
}

/* The peer as vhsmd sees the benchmark: its credentials and systemd unit. */
static void floor_setup_peer(struct peer *p)
{
	*p = (struct peer){ .pid = getpid(), .uid = getuid(), .gid = getgid() };
	p->admin = p->uid == 0;
	if (peer_unit_get(p->pid, p->unit, sizeof(p->unit)) < 0)
		p->unit[0] = '\0';
}

int unwrap_floor_new(const char *dir, const char *context, struct unwrap_floor **ret)
{
	struct unwrap_floor *f = calloc(1, sizeof(*f));
	char path[4096];
	int r;

	if (!f)
		return -ENOMEM;
	f->audit_fd = -EBADF;
	floor_setup_peer(&f->peer);
	memset(f->prev, '0', FLOOR_HASH_HEX);
	f->attest_ns = now_ns();
	r = floor_checked("shield", shield_new(&f->shield));
	if (r >= 0) {
		f->audit_key = secmem_alloc(AUDIT_KEY_SIZE);
		f->reply = secmem_alloc(VHSM_WIRE_MAX_MESSAGE);
		if (!f->audit_key || !f->reply ||
		    RAND_priv_bytes(f->audit_key, AUDIT_KEY_SIZE) != 1)
			r = floor_checked("secure memory", -ENOMEM);
	}
	if (r >= 0)
		r = floor_checked("request", floor_setup_request(f, context));
	if (r >= 0)
		r = floor_checked("a modified blob or context was not refused",
				  floor_check_refusals(f));
	if (r >= 0 && (size_t)snprintf(path, sizeof(path), "%s/unwrap-floor-audit.XXXXXX", dir) >=
			      sizeof(path))
		r = floor_checked(dir, -ENAMETOOLONG);
	if (r >= 0) {
		/* Opened as vhsmd opens audit.log; the name is removed at once. */
		int fd = mkostemp(path, O_CLOEXEC | O_APPEND);

		r = floor_checked(path, fd < 0 ? negative_errno() : 0);
		if (fd >= 0) {
			(void)unlink(path);
			f->audit_fd = fd;
		}
	}
	if (r < 0) {
		unwrap_floor_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

struct unwrap_floor *unwrap_floor_free(struct unwrap_floor *f)
{
	if (!f)
		return NULL;
	if (f->audit_fd >= 0)
		close(f->audit_fd);
	shield_free(f->shield);
	secmem_free(f->keys);
	secmem_free(f->audit_key);
	secmem_free(f->reply);
	free(f->req);
	OPENSSL_cleanse(f->dek, sizeof(f->dek));
	free(f);
	return NULL;
}

/* vhsmd's secure-memory pool (VHSMD_SECMEM_POOL), only while the floor runs. */
#define FLOOR_SECMEM_POOL 16u

/* The file starts empty for every run, so that its size stays bounded. */
static int floor_audit_rewind(struct unwrap_floor *f)
{
	return ftruncate(f->audit_fd, 0) < 0 ? floor_checked("audit file", negative_errno()) : 0;
}

int unwrap_floor_rows(struct unwrap_floor *f, double *ret_us)
{
	int r = secmem_pool_enable(FLOOR_SECMEM_POOL);

	if (r >= 0)
		r = floor_audit_rewind(f);
	if (r >= 0)
		r = micro_run("unwrap_floor_parse_gate_us_median", part_parse, f, NULL);
	if (r >= 0)
		r = micro_run("unwrap_floor_unshield_acl_us_median", part_unshield, f, NULL);
	if (r >= 0)
		r = floor_unshield(f);
	if (r >= 0)
		r = micro_run("unwrap_floor_unwrap_reply_us_median", part_unwrap, f, NULL);
	r = floor_keys_done(f, r);
	if (r >= 0)
		r = micro_run("unwrap_floor_audit_record_us_median", part_audit, f, NULL);
	if (r >= 0)
		r = micro_run("unwrap_floor_request_us_median", unwrap_floor_request, f, ret_us);
	if (r >= 0)
		result("unwrap_floor_audit_line_bytes", (double)f->line_len, "bytes");
	(void)secmem_pool_enable(0);
	return r;
}

/* This thread's CPU time in ns. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int unwrap_floor_sample(struct unwrap_floor *f, double seconds, double *ret_us)
{
	uint64_t c0, deadline, n = 0;
	int r = secmem_pool_enable(FLOOR_SECMEM_POOL);

	if (r >= 0)
		r = floor_audit_rewind(f);
	/* Untimed: the pool's mappings are made by the first rounds. */
	for (unsigned i = 0; r >= 0 && i < 8; i++)
		r = unwrap_floor_request(f);
	c0 = thread_cpu_ns();
	deadline = now_ns() + (uint64_t)(seconds * NSEC_PER_SEC);
	while (r >= 0 && (n == 0 || now_ns() < deadline)) {
		r = unwrap_floor_request(f);
		n++;
	}
	if (r >= 0)
		*ret_us = (double)(thread_cpu_ns() - c0) / 1000.0 / (double)n;
	(void)secmem_pool_enable(0);
	return r;
}
