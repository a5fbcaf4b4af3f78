/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhsm-bench: micro-benchmarks of the library's hot paths and a load generator for vhsmd.
 * Driven by bench/run.sh, which prepares a simulated CVM and a running daemon and passes their
 * paths. Prints one "name: value unit" line per result on stdout; progress and errors go to
 * stderr. Every result is checked (verification passes, unsealed and unwrapped bytes are the
 * originals, every daemon reply is ERRNO 0 with the right key); any wrong answer aborts the
 * run with exit status 1, so a fast but broken build never produces numbers.
 *
 * Times come from CLOCK_MONOTONIC. Micro-benchmarks warm up, then time samples of a batch of
 * calls sized so that one sample lasts at least ~20 us (clock overhead stays negligible) and
 * report the median per call.
 */
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "amd-cert.h"
#include "bench.h"
#include "fileio.h"
#include "policy.h"
#include "seal.h"
#include "secmem.h"
#include "snp-dev.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "wire-client.h"
#include "wire.h"
#include "wrap.h"

#define SAMPLE_MIN_NS 20000ull    /* a sample lasts at least this long (batching) */
#define VERIFY_AT 1767225600      /* 2026-01-01: validity is checked at a fixed time */
#define BENCH_DEK_LEN 64u
#define BENCH_KEK_NAME "bench-kek"

bool arg_quick;
static const char *arg_vectors;   /* directory with report.bin, vcek.der, ask.pem, ark.pem */
static const char *arg_sim_state; /* simulator state for the derived-key benchmark */
static const char *arg_socket;    /* vhsmd socket for the daemon benchmarks */
static const char *arg_wrapped;   /* a DEK wrapped by that daemon */
static const char *arg_dek;       /* the DEK itself */
static const char *arg_context = "";
static const char *arg_vhsmctl;   /* vhsmctl binary for the CLI latency */
static const char *arg_softhsm2;  /* libsofthsm2.so for the PKCS#11 peer */
static const char *arg_luks_image;  /* --token-open: image, token type, TPM device */
static const char *arg_token_type;
static const char *arg_tpm2_device;
static double unwrap_ops_1c;      /* daemon throughput with one client, for the ratio */
static double unwrap_batch_ops_1c; /* the same with UNWRAP_BATCH */
static double echo_ops_1c;         /* the same requests, echoed (run_echo) */

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "vhsm-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

void result(const char *name, double value, const char *unit)
{
	printf("%s: %.*f %s\n", name, value >= 100.0 ? 0 : value >= 1.0 ? 2 : 3, value, unit);
	fflush(stdout);
}

/* ---- sample sets ---- */

struct samples {
	double *v;
	size_t n, cap;
};

static int samples_push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

static void samples_done(struct samples *s)
{
	free(s->v);
	*s = (struct samples){};
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile (0 < p <= 100); sorts the samples. */
static double samples_percentile(struct samples *s, double p)
{
	size_t k;

	if (s->n == 0)
		return NAN;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	k = (size_t)ceil(p / 100.0 * (double)s->n);
	return s->v[k ? k - 1 : 0];
}

static double samples_median(struct samples *s)
{
	if (s->n == 0)
		return NAN;
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	if (s->n % 2)
		return s->v[s->n / 2];
	return (s->v[s->n / 2 - 1] + s->v[s->n / 2]) / 2.0;
}

/* ---- micro-benchmark driver ---- */

struct micro_limits {
	unsigned warmup;     /* calls before timing */
	unsigned max_samples;
	unsigned min_samples;
	double budget_s;     /* stop sampling after this (once min_samples are taken) */
};

static struct micro_limits micro_limits(void)
{
	if (arg_quick)
		return (struct micro_limits){ 5, 200, 5, 0.3 };
	return (struct micro_limits){ 50, 5000, 20, 3.0 };
}

/* Calls fn until it has run for SAMPLE_MIN_NS and returns the calls per sample. */
static int micro_calibrate(bench_fn fn, void *ctx, unsigned *ret_batch)
{
	uint64_t t0 = now_ns(), t;
	unsigned calls = 0;
	int r;

	do {
		r = fn(ctx);
		if (r < 0)
			return r;
		calls++;
		t = now_ns() - t0;
	} while (t < SAMPLE_MIN_NS);
	*ret_batch = calls;
	return 0;
}

/* Runs one micro-benchmark and prints "name: median us". Returns 0 or the first error. */
int micro_run(const char *name, bench_fn fn, void *ctx)
{
	const struct micro_limits lim = micro_limits();
	struct samples s = {};
	uint64_t deadline;
	unsigned batch = 1;
	int r = 0;

	for (unsigned i = 0; i < lim.warmup && r >= 0; i++)
		r = fn(ctx);
	if (r >= 0)
		r = micro_calibrate(fn, ctx, &batch);
	deadline = now_ns() + (uint64_t)(lim.budget_s * (double)NSEC_PER_SEC);
	while (r >= 0 && s.n < lim.max_samples) {
		uint64_t t0 = now_ns();

		for (unsigned b = 0; b < batch && r >= 0; b++)
			r = fn(ctx);
		if (r >= 0)
			r = samples_push(&s, (double)(now_ns() - t0) / batch / 1000.0);
		if (s.n >= lim.min_samples && now_ns() > deadline)
			break;
	}
	if (r < 0)
		bench_fail("%s: %s", name, strerror(-r));
	else
		result(name, samples_median(&s), "us");
	samples_done(&s);
	return r;
}

/* ---- report verification and policy ---- */

struct verify_ctx {
	uint8_t *report, *vek, *ask, *ark;
	struct snp_evidence ev;
	struct snp_verify_opts opts;
	struct snp_verify_result res;
	struct snp_policy *policy;
};

static void verify_ctx_done(struct verify_ctx *c)
{
	free(c->report);
	free(c->vek);
	free(c->ask);
	free(c->ark);
	c->policy = snp_policy_free(c->policy);
}

static int load_cert(const char *dir, const char *name, uint8_t **ret, size_t *ret_len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return amd_cert_load_file(path, ret, ret_len);
}

static int verify_ctx_load(struct verify_ctx *c, const char *dir)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/report.bin", dir);
	r = fileio_read_all(path, 64 * 1024, &c->report, &c->ev.report_len);
	if (r >= 0)
		r = load_cert(dir, "vcek.der", &c->vek, &c->ev.vek_len);
	if (r >= 0)
		r = load_cert(dir, "ask.pem", &c->ask, &c->ev.ask_len);
	if (r >= 0)
		r = load_cert(dir, "ark.pem", &c->ark, &c->ev.ark_len);
	if (r >= 0)
		r = snp_policy_new_default(&c->policy);
	if (r < 0) {
		bench_fail("cannot load the vector in %s: %s", dir, strerror(-r));
		return r;
	}
	c->ev.report = c->report;
	c->ev.vek = c->vek;
	c->ev.ask = c->ask;
	c->ev.ark = c->ark;
	c->opts.at = VERIFY_AT;
	return 0;
}

/* The full verifier: parse, reserved fields, ARK pinning, chain, report signature, TCB. */
static int verify_once(void *ctx)
{
	struct verify_ctx *c = ctx;
	int r = snp_verify(&c->ev, &c->opts, &c->res);

	if (r == -EKEYREJECTED)
		bench_fail("the vector does not verify: %s", snp_verify_first_failure(&c->res));
	return r;
}

static int policy_once(void *ctx)
{
	struct verify_ctx *c = ctx;
	struct snp_policy_result pr;
	int r = snp_policy_eval(c->policy, &c->res.report, c->res.product, &pr);

	if (r == -EKEYREJECTED)
		bench_fail("the default policy refuses the vector: %s", pr.n ? pr.v[0].rule : "?");
	return r;
}

/* ---- sealing, derived key, wrapping ---- */

struct crypt_ctx {
	uint8_t *key;           /* secmem: derived key (seal) or KEK (wrap) */
	uint8_t *key2;          /* secmem: the same key derived again */
	struct seal_params params;
	struct seal_binding binding;
	uint8_t payload[BENCH_DEK_LEN];
	uint8_t *wrapped;       /* for unwrap */
	size_t wrapped_len;
	struct snp_dev *dev;    /* derived key through the simulator */
	struct snp_key_request kreq;
};

static void crypt_ctx_done(struct crypt_ctx *c)
{
	c->key = secmem_free(c->key);
	c->key2 = secmem_free(c->key2);
	free(c->wrapped);
	c->wrapped = NULL;
	c->dev = snp_dev_close(c->dev);
}

static const char bench_meta[] =
	"{\"name\":\"" BENCH_KEK_NAME "\",\"state\":\"enabled\",\"versions\":[{\"version\":1}]}";

static int seal_unseal_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	_cleanup_free_ uint8_t *blob = NULL;
	_cleanup_secmem_ uint8_t *pt = NULL;
	size_t len, pt_len;
	int r;

	r = seal_blob(c->key, &c->params, &c->binding, BENCH_KEK_NAME,
		      (const uint8_t *)bench_meta, sizeof(bench_meta) - 1, c->payload,
		      sizeof(c->payload), &blob, &len);
	if (r < 0)
		return r;
	r = unseal_blob(c->key, blob, len, &pt, &pt_len);
	if (r < 0)
		return r;
	if (pt_len != sizeof(c->payload) || CRYPTO_memcmp(pt, c->payload, pt_len) != 0) {
		bench_fail("unseal returned other bytes");
		return -EBADMSG;
	}
	return 0;
}

/*
 * MSG_KEY_REQ through the device layer and the simulator (which stat()s its state file per
 * request); the key must equal the first one derived. No allocation in the timed path.
 */
static int derive_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	struct snp_status st;
	int r;

	r = snp_dev_get_derived_key(c->dev, &c->kreq, c->key2, &st);
	if (r < 0)
		return r;
	if (CRYPTO_memcmp(c->key2, c->key, 32) != 0) {
		bench_fail("the simulator derived another key for the same request");
		return -EBADMSG;
	}
	return 0;
}

static const char bench_context[] = "bench-volume";

/* What every unseal, unwrap and daemon request buffer pays: a locked, guarded mapping. */
static int secmem_once(void *ctx)
{
	uint8_t *p = secmem_alloc(BENCH_DEK_LEN);

	(void)ctx;
	if (!p)
		return -ENOMEM;
	p[0] = 1;
	secmem_free(p);
	return 0;
}

static int wrap_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	_cleanup_free_ uint8_t *blob = NULL;
	size_t len;
	int r;

	r = wrap_key(c->key, WRAP_PURPOSE_GENERIC, BENCH_KEK_NAME, 1,
		     (const uint8_t *)bench_context, sizeof(bench_context) - 1, c->payload,
		     sizeof(c->payload), &blob, &len);
	if (r >= 0 && len <= sizeof(c->payload))
		r = -EBADMSG;
	return r;
}

static int unwrap_once(void *ctx)
{
	struct crypt_ctx *c = ctx;
	_cleanup_secmem_ uint8_t *pt = NULL;
	size_t len;
	int r;

	r = unwrap_key(c->key, WRAP_PURPOSE_GENERIC, c->wrapped, c->wrapped_len,
		       (const uint8_t *)bench_context, sizeof(bench_context) - 1, &pt, &len);
	if (r < 0)
		return r;
	if (len != sizeof(c->payload) || CRYPTO_memcmp(pt, c->payload, len) != 0) {
		bench_fail("unwrap returned other bytes");
		return -EBADMSG;
	}
	return 0;
}

static int crypt_ctx_init(struct crypt_ctx *c, const struct verify_ctx *v)
{
	uint8_t digest[32];

	c->key = secmem_alloc(32);
	c->key2 = secmem_alloc(32);
	if (!c->key || !c->key2)
		return -ENOMEM;
	/* A fixed key: the cost does not depend on its value, and runs stay comparable. */
	for (unsigned i = 0; i < 32; i++)
		c->key[i] = (uint8_t)(0xa5 ^ i);
	for (unsigned i = 0; i < sizeof(c->payload); i++)
		c->payload[i] = (uint8_t)(i * 7 + 1);
	snp_policy_digest(v->policy, digest);
	seal_params_from_report(SEAL_PROFILE_STRICT, &v->res.report, &c->params);
	seal_binding_from_report(&v->res.report, digest, &c->binding);
	return wrap_key(c->key, WRAP_PURPOSE_GENERIC, BENCH_KEK_NAME, 1,
			(const uint8_t *)bench_context, sizeof(bench_context) - 1, c->payload,
			sizeof(c->payload), &c->wrapped, &c->wrapped_len);
}

/* Opens the simulator like vhsmd does and derives the strict-profile key of its report. */
static int derive_init(struct crypt_ctx *c, const char *state)
{
	uint8_t data[64] = {}, raw[SNP_REPORT_SIZE];
	struct snp_report rep;
	struct seal_params p;
	struct snp_status st;
	char spec[4096];
	int r;

	snprintf(spec, sizeof(spec), "sim:%s", state);
	r = snp_dev_open(spec, &c->dev);
	if (r >= 0)
		r = snp_dev_get_report(c->dev, data, 0, 0, raw, &st);
	if (r >= 0)
		r = snp_report_parse(raw, sizeof(raw), &rep);
	if (r < 0) {
		bench_fail("simulator %s: %s", state, strerror(-r));
		return r;
	}
	seal_params_from_report(SEAL_PROFILE_STRICT, &rep, &p);
	seal_key_request(&p, &c->kreq);
	r = snp_dev_get_derived_key(c->dev, &c->kreq, c->key, &st);
	if (r < 0)
		bench_fail("simulator key request: %s (status %s)", strerror(-r),
			   snp_fw_status_name(st.msg_status));
	return r;
}

static int run_micro(void)
{
	struct verify_ctx v = {};
	struct crypt_ctx c = {};
	int r;

	r = verify_ctx_load(&v, arg_vectors);
	if (r >= 0)
		r = micro_run("report_verify_us_median", verify_once, &v);
	if (r >= 0)
		r = micro_run("policy_eval_us_median", policy_once, &v);
	if (r >= 0)
		r = crypt_ctx_init(&c, &v);
	if (r >= 0)
		r = micro_run("seal_unseal_us_median", seal_unseal_once, &c);
	if (r >= 0)
		r = micro_run("wrap_us_median", wrap_once, &c);
	if (r >= 0)
		r = micro_run("unwrap_us_median", unwrap_once, &c);
	if (r >= 0)
		r = micro_run("secmem_alloc_free_us_median", secmem_once, NULL);
	if (r >= 0)
		r = bench_kwp();
	if (r >= 0 && arg_sim_state) {
		r = derive_init(&c, arg_sim_state);
		if (r >= 0)
			r = micro_run("derived_key_sim_us_median", derive_once, &c);
	}
	crypt_ctx_done(&c);
	verify_ctx_done(&v);
	return r;
}

/* ---- daemon: connections and UNWRAP requests ---- */

struct load_input {
	uint8_t *wrapped;
	size_t wrapped_len;
	uint8_t *dek; /* secmem */
	size_t dek_len;
};

struct conn {
	struct vhsm_client *cl; /* lib/wire-client, kept connected: request and reply in secmem */
	uint8_t *items;         /* secmem, VHSM_WIRE_MAX_DATA: UNWRAP_BATCH items */
};

/* The echo server's socket (see echo_start), or NULL: connections then go to vhsmd. */
static const char *echo_socket;

/* Opens c's connection before any clock starts; request ids from id_base + 1. */
static int conn_open(struct conn *c, uint32_t id_base)
{
	const char *path = echo_socket ? echo_socket : arg_socket;
	int r;

	*c = (struct conn){};
	r = vhsm_client_new(path, 0, 0, &c->cl);
	if (r < 0)
		return r;
	c->cl->next_id = id_base + 1;
	c->items = secmem_alloc(VHSM_WIRE_MAX_DATA);
	if (!c->items)
		return -ENOMEM;
	return vhsm_client_connect(c->cl, vhsm_client_deadline(VHSM_CLIENT_TIMEOUT_MS));
}

static void conn_close(struct conn *c)
{
	c->cl = vhsm_client_free(c->cl);
	c->items = secmem_free(c->items);
}

/* Checks c's reply: status 0, DATA the DEK (op and id are checked by the client). Writes a
 * reason on failure. */
static int check_reply(const struct conn *c, const struct load_input *in, char *err,
		       size_t errlen)
{
	const struct vhsm_wire_field *data;

	if (c->cl->status != 0) {
		snprintf(err, errlen, "daemon answered errno %d: %.160s", -c->cl->status,
			 c->cl->message);
		return -EPROTO;
	}
	data = vhsm_wire_get(&c->cl->msg, VHSM_TAG_DATA);
	if (!data || data->len != in->dek_len ||
	    CRYPTO_memcmp(data->value, in->dek, in->dek_len) != 0) {
		snprintf(err, errlen, "reply does not carry the wrapped key");
		return -EPROTO;
	}
	return 0;
}

/* Sends the request built in c->cl and receives the reply: 0, or -errno with err set. With
 * echo, the peer is the echo server: its answer must be the request itself. */
static int conn_call(struct conn *c, bool echo, char *err, size_t errlen)
{
	uint64_t deadline = vhsm_client_deadline(VHSM_CLIENT_TIMEOUT_MS);
	int len = vhsm_wire_finish(&c->cl->b), r;
	ssize_t n;

	if (len < 0) {
		snprintf(err, errlen, "cannot build the request: %s", strerror(-len));
		return len;
	}
	if (echo) {
		n = vhsm_client_exchange(c->cl, c->cl->req, (size_t)len, deadline);
		if (n < 0) {
			snprintf(err, errlen, "%.200s", c->cl->error);
			return (int)n;
		}
		if (n != len || memcmp(c->cl->rep, c->cl->req, (size_t)len) != 0) {
			snprintf(err, errlen, "the echo server sent back other bytes");
			return -EPROTO;
		}
		return 0;
	}
	r = vhsm_client_request(c->cl, c->cl->req, (size_t)len, deadline);
	if (r < 0)
		snprintf(err, errlen, "%.200s", c->cl->error);
	return r;
}

/* One UNWRAP request and its reply on c, built with the wire codec like vhsmctl does. With
 * echo, c is connected to the echo server, and the reply must be the request itself. */
static int conn_unwrap(struct conn *c, const struct load_input *in, bool echo, char *err,
		       size_t errlen)
{
	struct vhsm_wire_builder *b = vhsm_client_begin(c->cl, VHSM_OP_UNWRAP);
	int r;

	if (arg_context[0])
		vhsm_wire_add_data(b, VHSM_TAG_CONTEXT, arg_context, strlen(arg_context));
	vhsm_wire_add_data(b, VHSM_TAG_DATA, in->wrapped, in->wrapped_len);
	r = conn_call(c, echo, err, errlen);
	if (r < 0 || echo)
		return r;
	return check_reply(c, in, err, errlen);
}

/* Items per UNWRAP_BATCH request in the batch rows. */
#define BENCH_BATCH 64u

/* One UNWRAP_BATCH of BENCH_BATCH copies of the wrapped DEK; every item must be the DEK. */
static int conn_unwrap_batch(struct conn *c, const struct load_input *in, char *err,
			     size_t errlen)
{
	uint8_t *items = c->items;
	struct vhsm_wire_builder *b;
	const struct vhsm_wire_field *f;
	struct vhsm_batch_cursor cur;
	size_t off = 0, pt_len;
	const uint8_t *pt;
	unsigned n = 0;
	int r, item_err;

	for (unsigned i = 0; i < BENCH_BATCH; i++) {
		r = vhsm_batch_put_request(items, VHSM_WIRE_MAX_DATA, &off, in->wrapped,
					   in->wrapped_len, (const uint8_t *)arg_context,
					   strlen(arg_context));
		if (r < 0) {
			snprintf(err, errlen, "cannot build the batch: %s", strerror(-r));
			return r;
		}
	}
	b = vhsm_client_begin(c->cl, VHSM_OP_UNWRAP_BATCH);
	vhsm_wire_add_data(b, VHSM_TAG_BATCH, items, off);
	r = conn_call(c, false, err, errlen);
	if (r < 0)
		return r;
	if (c->cl->status != 0 || !(f = vhsm_wire_get(&c->cl->msg, VHSM_TAG_BATCH))) {
		snprintf(err, errlen, "batch: failed reply (errno %d): %.160s", -c->cl->status,
			 c->cl->message);
		return -EPROTO;
	}
	cur = (struct vhsm_batch_cursor){ .p = f->value, .left = f->len };
	while ((r = vhsm_batch_next_reply(&cur, &item_err, &pt, &pt_len)) > 0) {
		n++;
		if (item_err != 0 || pt_len != in->dek_len ||
		    CRYPTO_memcmp(pt, in->dek, in->dek_len) != 0) {
			snprintf(err, errlen, "batch item %u: errno %d or not the wrapped key", n,
				 -item_err);
			return -EPROTO;
		}
	}
	if (r < 0 || n != BENCH_BATCH) {
		snprintf(err, errlen, "batch reply has %u items, not %u", n, BENCH_BATCH);
		return -EPROTO;
	}
	return 0;
}

/* ---- daemon: throughput with N client threads ---- */

struct load_shared {
	const struct load_input *in;
	bool batch; /* UNWRAP_BATCH of BENCH_BATCH items instead of UNWRAP */
	bool echo;  /* UNWRAP requests to the echo server instead of vhsmd */
	uint64_t duration_ns;
	atomic_bool failed;
	pthread_mutex_t lock; /* protects ready, go, err */
	pthread_cond_t cond;
	unsigned ready;       /* clients connected (or failed to) */
	bool go;              /* the timed run starts */
	char err[320];
};

struct load_thread {
	pthread_t tid;
	struct load_shared *sh;
	unsigned index;
	uint64_t ops;
	struct samples *lat; /* latencies in us, or NULL */
};

static void load_set_error(struct load_shared *sh, unsigned index, const char *msg)
{
	pthread_mutex_lock(&sh->lock);
	if (!atomic_exchange(&sh->failed, true))
		snprintf(sh->err, sizeof(sh->err), "client %u: %s", index, msg);
	pthread_mutex_unlock(&sh->lock);
}

/* Connections are opened before the clock starts: the run measures requests only. */
static void load_wait_go(struct load_shared *sh)
{
	pthread_mutex_lock(&sh->lock);
	sh->ready++;
	pthread_cond_broadcast(&sh->cond);
	while (!sh->go)
		pthread_cond_wait(&sh->cond, &sh->lock);
	pthread_mutex_unlock(&sh->lock);
}

static void load_start(struct load_shared *sh, unsigned n)
{
	pthread_mutex_lock(&sh->lock);
	while (sh->ready < n)
		pthread_cond_wait(&sh->cond, &sh->lock);
	sh->go = true;
	pthread_cond_broadcast(&sh->cond);
	pthread_mutex_unlock(&sh->lock);
}

static void *load_thread_main(void *arg)
{
	struct load_thread *t = arg;
	struct load_shared *sh = t->sh;
	struct conn c;
	char err[256];
	uint64_t deadline;
	int r;

	r = conn_open(&c, t->index << 24);
	load_wait_go(sh);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot connect to %s: %s", arg_socket, strerror(-r));
		load_set_error(sh, t->index, err);
	}
	deadline = now_ns() + sh->duration_ns;
	while (r >= 0 && !atomic_load(&sh->failed)) {
		uint64_t t0 = now_ns(), t1;

		r = sh->batch ? conn_unwrap_batch(&c, sh->in, err, sizeof(err))
			      : conn_unwrap(&c, sh->in, sh->echo, err, sizeof(err));
		if (r < 0) {
			load_set_error(sh, t->index, err);
			break;
		}
		t1 = now_ns();
		t->ops += sh->batch ? BENCH_BATCH : 1;
		if (t->lat && samples_push(t->lat, (double)(t1 - t0) / 1000.0) < 0) {
			load_set_error(sh, t->index, "out of memory");
			break;
		}
		if (t1 >= deadline)
			break;
	}
	conn_close(&c);
	return NULL;
}

/* Runs n (<= 8) clients for the given time. Returns 0 and the ops/s, or -EPROTO/-EAGAIN. */
static int load_run(const struct load_input *in, bool batch, unsigned n, double seconds,
		    struct samples *lat, double *ret_ops_per_s)
{
	struct load_shared sh = { .in = in, .batch = batch, .echo = echo_socket != NULL,
				  .duration_ns = (uint64_t)(seconds * NSEC_PER_SEC),
				  .lock = PTHREAD_MUTEX_INITIALIZER,
				  .cond = PTHREAD_COND_INITIALIZER };
	struct load_thread t[8] = {};
	uint64_t t0, total = 0;
	unsigned started = 0;

	if (n > ELEMENTSOF(t))
		return -EINVAL;
	for (; started < n; started++) {
		t[started] = (struct load_thread){ .sh = &sh, .index = started,
						   .lat = started == 0 ? lat : NULL };
		if (pthread_create(&t[started].tid, NULL, load_thread_main, &t[started]) != 0) {
			load_set_error(&sh, started, "cannot start a client thread");
			break;
		}
	}
	load_start(&sh, started);
	t0 = now_ns();
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i].tid, NULL);
		total += t[i].ops;
	}
	*ret_ops_per_s = (double)total * NSEC_PER_SEC / (double)(now_ns() - t0);
	if (atomic_load(&sh.failed)) {
		bench_fail("%s with %u clients: %s",
			   sh.echo ? "echo" : batch ? "unwrap batch" : "unwrap", n, sh.err);
		return started < n ? -EAGAIN : -EPROTO;
	}
	return 0;
}

/* ---- the round-trip floor: the same requests to a server that only echoes them ---- */

static void echo_serve(int lfd)
{
	static uint8_t buf[VHSM_WIRE_MAX_MESSAGE + 1];
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd }, got[16];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		_exit(1);
	for (;;) {
		int k = epoll_wait(ep, got, ELEMENTSOF(got), -1);

		for (int i = 0; i < k; i++) {
			int fd = got[i].data.fd;
			ssize_t n;

			if (fd == lfd) {
				ev.data.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (ev.data.fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
					close(ev.data.fd);
				continue;
			}
			n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0 || send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				close(fd); /* also leaves the epoll set */
		}
		if (k < 0 && errno != EINTR)
			_exit(1);
	}
}

/*
 * Starts a child process that accepts SOCK_SEQPACKET connections on path and sends every
 * message back unchanged, one message per wakeup from epoll as vhsmd's event loop serves
 * one request per wakeup. What clients get from it is what a request-reply round trip over
 * this socket type costs on this machine when the server does nothing: the ceiling of any
 * daemon that answers one request per round trip.
 */
static int echo_start(const char *path, pid_t *ret_pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	pid_t pid;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	pid = fork();
	if (pid < 0) {
		close(fd);
		return negative_errno();
	}
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		echo_serve(fd);
	}
	close(fd);
	*ret_pid = pid;
	return 0;
}

static void echo_stop(const char *path, pid_t pid)
{
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	(void)unlink(path);
}

/* ipc_echo_ops_per_s_{1,2}c: the UNWRAP requests of the unwrap rows, echoed (see above). */
static int run_echo(const struct load_input *in, double seconds)
{
	static const unsigned clients[] = { 1, 2 };
	char path[4096 + 8], name[64];
	double ops;
	pid_t pid;
	int r;

	snprintf(path, sizeof(path), "%s.echo", arg_socket);
	r = echo_start(path, &pid);
	if (r < 0) {
		bench_fail("cannot start the echo server on %s: %s", path, strerror(-r));
		return r;
	}
	echo_socket = path;
	for (unsigned i = 0; r >= 0 && i < ELEMENTSOF(clients); i++) {
		r = load_run(in, false, clients[i], seconds, NULL, &ops);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "ipc_echo_ops_per_s_%uc", clients[i]);
		result(name, ops, "ops/s");
		if (clients[i] == 1)
			echo_ops_1c = ops;
	}
	echo_socket = NULL;
	echo_stop(path, pid);
	return r;
}

/* ---- daemon: one connection per request, and the vhsmctl CLI ---- */

static int newconn_once(void *ctx)
{
	const struct load_input *in = ctx;
	struct conn c;
	char err[256];
	int r;

	r = conn_open(&c, 1);
	if (r < 0)
		snprintf(err, sizeof(err), "cannot connect to %s: %s", arg_socket, strerror(-r));
	else
		r = conn_unwrap(&c, in, false, err, sizeof(err));
	conn_close(&c);
	if (r < 0)
		bench_fail("%s", err);
	return r;
}

/* Runs vhsmctl with stdin in_fd (or none) and stdout out_fd; 0 when it exited with 0. */
static int cli_spawn(bool unwrap, int in_fd, int out_fd)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		if ((in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0) ||
		    dup2(out_fd, STDOUT_FILENO) < 0)
			_exit(127);
		if (unwrap)
			execl(arg_vhsmctl, arg_vhsmctl, "--socket", arg_socket, "unwrap",
			      "--context", arg_context, (char *)NULL);
		else
			execl(arg_vhsmctl, arg_vhsmctl, "--version", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return negative_errno();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bench_fail("vhsmctl %s failed (status 0x%x)", unwrap ? "unwrap" : "--version",
			   (unsigned)status);
		return -EPROTO;
	}
	return 0;
}

/* `vhsmctl unwrap` as a user runs it: fork, exec, connect, one request, output to a memfd. */
static int cli_unwrap_once(void *ctx)
{
	const struct load_input *in = ctx;
	_cleanup_close_ int in_fd = -EBADF, out_fd = -EBADF;
	_cleanup_secmem_ uint8_t *out = secmem_alloc(WRAP_PLAINTEXT_MAX + 1);
	ssize_t n;
	int r;

	in_fd = open(arg_wrapped, O_RDONLY | O_CLOEXEC);
	out_fd = memfd_create("vhsm-bench-out", MFD_CLOEXEC);
	if (!out || in_fd < 0 || out_fd < 0)
		return out ? negative_errno() : -ENOMEM;
	r = cli_spawn(true, in_fd, out_fd);
	if (r < 0)
		return r;
	n = pread(out_fd, out, WRAP_PLAINTEXT_MAX + 1, 0);
	if (n < 0 || (size_t)n != in->dek_len || CRYPTO_memcmp(out, in->dek, in->dek_len) != 0) {
		bench_fail("vhsmctl unwrap printed another key");
		return -EPROTO;
	}
	return 0;
}

/* The floor of any CLI call: fork, exec, dynamic linking, OpenSSL and libc start-up, exit. */
static int cli_version_once(void *ctx)
{
	_cleanup_close_ int out_fd = memfd_create("vhsm-bench-out", MFD_CLOEXEC);

	(void)ctx;
	if (out_fd < 0)
		return negative_errno();
	return cli_spawn(false, -EBADF, out_fd);
}

static int load_input_read(struct load_input *in)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = fileio_read_all(arg_wrapped, WRAP_BLOB_MAX, &in->wrapped, &in->wrapped_len);
	if (r < 0) {
		bench_fail("cannot read %s: %s", arg_wrapped, strerror(-r));
		return r;
	}
	fd = open(arg_dek, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? negative_errno() : fileio_read_fd_secret(fd, WRAP_PLAINTEXT_MAX, &in->dek,
							      &in->dek_len);
	if (r < 0)
		bench_fail("cannot read %s: %s", arg_dek, strerror(-r));
	return r;
}

static int run_daemon(void)
{
	static const unsigned clients[] = { 1, 2, 8 };
	const double seconds = arg_quick ? 0.5 : 3.0;
	struct load_input in = {};
	struct samples lat = {};
	char name[64];
	double ops, p50 = NAN, p99 = NAN;
	int r;

	r = load_input_read(&in);
	/* Warm-up: the first use attests and unseals the KEK (a firmware key request). */
	for (unsigned i = 0; r >= 0 && i < (arg_quick ? 20u : 200u); i++)
		r = newconn_once(&in);
	for (unsigned i = 0; r >= 0 && i < ELEMENTSOF(clients); i++) {
		r = load_run(&in, false, clients[i], seconds, clients[i] == 1 ? &lat : NULL, &ops);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "unwrap_ops_per_s_%uc", clients[i]);
		result(name, ops, "ops/s");
		if (clients[i] == 1) {
			unwrap_ops_1c = ops;
			p50 = samples_percentile(&lat, 50.0);
			p99 = samples_percentile(&lat, 99.0);
		}
	}
	/* The same unwraps, BENCH_BATCH per UNWRAP_BATCH request (each item audited). */
	for (unsigned i = 0; r >= 0 && i < ELEMENTSOF(clients); i++) {
		r = load_run(&in, true, clients[i], seconds, NULL, &ops);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "unwrap_batch_ops_per_s_%uc", clients[i]);
		result(name, ops, "ops/s");
		if (clients[i] == 1)
			unwrap_batch_ops_1c = ops;
	}
	if (r >= 0)
		r = run_echo(&in, seconds);
	if (r >= 0) {
		result("unwrap_latency_p50_us", p50, "us");
		result("unwrap_latency_p99_us", p99, "us");
		r = micro_run("unwrap_newconn_us_median", newconn_once, &in);
	}
	if (r >= 0 && arg_vhsmctl)
		r = micro_run("vhsmctl_version_us_median", cli_version_once, NULL);
	if (r >= 0 && arg_vhsmctl)
		r = micro_run("vhsmctl_unwrap_us_median", cli_unwrap_once, &in);
	samples_done(&lat);
	free(in.wrapped);
	secmem_free(in.dek);
	return r;
}

/* ---- main ---- */

static void help(void)
{
	printf("Usage: vhsm-bench [--quick] [--vectors DIR] [--sim-state FILE]\n"
	       "                  [--socket PATH --wrapped FILE --dek FILE [--context S]\n"
	       "                   [--vhsmctl PATH]]\n"
	       "                  [--softhsm2 MODULE]\n\n"
	       "Benchmarks of vhsm; normally run by bench/run.sh (make bench).\n"
	       "  --vectors DIR     report.bin, vcek.der, ask.pem, ark.pem of a genuine report\n"
	       "  --sim-state FILE  simulator state for the derived-key benchmark\n"
	       "  --socket PATH     running vhsmd; --wrapped is a DEK it wrapped with --context,\n"
	       "                    --dek the DEK itself\n"
	       "  --vhsmctl PATH    also time `vhsmctl unwrap` (process spawn included)\n"
	       "  --softhsm2 PATH   also time SoftHSM2's C_UnwrapKey (SOFTHSM2_CONF set)\n"
	       "  --token-open IMAGE --token-type TYPE [--tpm2-device DEV]\n"
	       "                    only check that a TYPE token opens IMAGE (exit 0), as\n"
	       "                    cryptsetup open --test-passphrase --token-only does\n"
	       "  --quick           few iterations, 0.5 s daemon runs (smoke test)\n");
}

static int parse_argv(int argc, char **argv)
{
	enum { O_VEC = 256, O_SIM, O_SOCK, O_WRAPPED, O_DEK, O_CTX, O_CTL, O_QUICK, O_P11, O_LUKS, O_TTYPE,
	       O_TPM2 };
	static const struct option opts[] = {
		{ "vectors", required_argument, NULL, O_VEC },
		{ "sim-state", required_argument, NULL, O_SIM },
		{ "socket", required_argument, NULL, O_SOCK },
		{ "wrapped", required_argument, NULL, O_WRAPPED },
		{ "dek", required_argument, NULL, O_DEK },
		{ "context", required_argument, NULL, O_CTX },
		{ "vhsmctl", required_argument, NULL, O_CTL },
		{ "quick", no_argument, NULL, O_QUICK },
		{ "softhsm2", required_argument, NULL, O_P11 },
		{ "token-open", required_argument, NULL, O_LUKS },
		{ "token-type", required_argument, NULL, O_TTYPE },
		{ "tpm2-device", required_argument, NULL, O_TPM2 },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case O_VEC: arg_vectors = optarg; break;
		case O_SIM: arg_sim_state = optarg; break;
		case O_SOCK: arg_socket = optarg; break;
		case O_WRAPPED: arg_wrapped = optarg; break;
		case O_DEK: arg_dek = optarg; break;
		case O_CTX: arg_context = optarg; break;
		case O_CTL: arg_vhsmctl = optarg; break;
		case O_QUICK: arg_quick = true; break;
		case O_P11: arg_softhsm2 = optarg; break;
		case O_LUKS: arg_luks_image = optarg; break;
		case O_TTYPE: arg_token_type = optarg; break;
		case O_TPM2: arg_tpm2_device = optarg; break;
		case 'h': help(); return 0;
		default: return -EINVAL;
		}
	}
	if (optind < argc || (arg_socket && (!arg_wrapped || !arg_dek)) ||
	    (!arg_socket && arg_vhsmctl) || (arg_sim_state && !arg_vectors) ||
	    !arg_luks_image != !arg_token_type) {
		fprintf(stderr, "vhsm-bench: invalid arguments (see --help)\n");
		return -EINVAL;
	}
	return 1;
}

int main(int argc, char **argv)
{
	int r = parse_argv(argc, argv);

	if (r <= 0)
		return r < 0 ? 2 : 0;
	if (arg_luks_image)
		return bench_luks_token_open(arg_luks_image, arg_token_type, arg_tpm2_device) < 0;
	if (arg_vectors)
		r = run_micro();
	if (r >= 0 && arg_socket)
		r = run_daemon();
	if (r >= 0 && arg_softhsm2) {
		double softhsm2_ops = 0;

		r = bench_softhsm2(arg_softhsm2, arg_quick ? 0.5 : 3.0, &softhsm2_ops);
		if (r >= 0 && unwrap_ops_1c > 0)
			result("unwrap_ops_per_s_1c_vs_softhsm2", unwrap_ops_1c / softhsm2_ops, "x");
		if (r >= 0 && unwrap_batch_ops_1c > 0)
			result("unwrap_batch_ops_per_s_1c_vs_softhsm2",
			       unwrap_batch_ops_1c / softhsm2_ops, "x");
		if (r >= 0 && echo_ops_1c > 0)
			result("ipc_echo_ops_per_s_1c_vs_softhsm2", echo_ops_1c / softhsm2_ops, "x");
	}
	return r < 0 ? 1 : 0;
}
