/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon rows: vhsmd's UNWRAP and UNWRAP_BATCH throughput with 1, 2 and 8 clients on kept
 * connections, the latency of the 1-client run, the same UNWRAP requests sent to a process
 * that only echoes them (the round-trip ceiling), a connection per request, the vhsmctl CLI
 * and the targets' ratios as paired, alternating samples (harness.h). Every reply is checked:
 * ERRNO 0 and exactly the DEK for every UNWRAP and every batch item, the echo exactly the
 * request, vhsmctl's output exactly the DEK.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bench.h"
#include "fileio.h"
#include "secmem.h"
#include "wire-client.h"
#include "wire.h"
#include "wrap.h"

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

/* What the daemon rows run against (bench_daemon_run's argument). */
static const struct bench_daemon *D;

/* The echo server's socket and process (see echo_start). */
static char echo_socket[4096 + 8];
static pid_t echo_pid;

/* Opens c's connection (to the echo server with echo, else to vhsmd) before any clock
 * starts; request ids from id_base + 1. */
static int conn_open(struct conn *c, uint32_t id_base, bool echo)
{
	const char *path = echo ? echo_socket : D->socket;
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

	if (D->context[0])
		vhsm_wire_add_data(b, VHSM_TAG_CONTEXT, D->context, strlen(D->context));
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
					   in->wrapped_len, (const uint8_t *)D->context,
					   strlen(D->context));
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

	r = conn_open(&c, t->index << 24, sh->echo);
	load_wait_go(sh);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot connect to %s: %s", D->socket, strerror(-r));
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

/* Runs n (<= 8) clients for the given time against vhsmd, or with echo the echo server.
 * Returns 0 and the ops/s, or -EPROTO/-EAGAIN. */
static int load_run(const struct load_input *in, bool batch, bool echo, unsigned n,
		    double seconds, struct samples *lat, double *ret_ops_per_s)
{
	struct load_shared sh = { .in = in, .batch = batch, .echo = echo,
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

static int process_cpu_us(pid_t pid, double *ret);

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

/* ipc_echo_ops_per_s_{1,2}c: the UNWRAP requests of the unwrap rows, echoed (see above), and
 * the echo server's CPU time per request in the 1-client run (as the daemon's below). */
static int run_echo(const struct load_input *in, double seconds)
{
	static const unsigned clients[] = { 1, 2 };
	char name[64];
	double ops, c0 = 0, c1 = 0;
	uint64_t t0;
	int r = 0;

	for (unsigned i = 0; r >= 0 && i < ELEMENTSOF(clients); i++) {
		t0 = now_ns();
		r = process_cpu_us(echo_pid, &c0);
		if (r >= 0)
			r = load_run(in, false, true, clients[i], seconds, NULL, &ops);
		if (r >= 0)
			r = process_cpu_us(echo_pid, &c1);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "ipc_echo_ops_per_s_%uc", clients[i]);
		result(name, ops, "ops/s");
		if (clients[i] == 1)
			result("ipc_echo_server_cpu_us_per_request",
			       (c1 - c0) / (ops * (double)(now_ns() - t0) / NSEC_PER_SEC), "us");
	}
	return r;
}

/* ---- daemon: one connection per request, and the vhsmctl CLI ---- */

static int newconn_once(void *ctx)
{
	const struct load_input *in = ctx;
	struct conn c;
	char err[256];
	int r;

	r = conn_open(&c, 1, false);
	if (r < 0)
		snprintf(err, sizeof(err), "cannot connect to %s: %s", D->socket, strerror(-r));
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
			execl(D->vhsmctl, D->vhsmctl, "--socket", D->socket, "unwrap",
			      "--context", D->context, (char *)NULL);
		else
			execl(D->vhsmctl, D->vhsmctl, "--version", (char *)NULL);
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

	in_fd = open(D->wrapped, O_RDONLY | O_CLOEXEC);
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

	r = fileio_read_all(D->wrapped, WRAP_BLOB_MAX, &in->wrapped, &in->wrapped_len);
	if (r < 0) {
		bench_fail("cannot read %s: %s", D->wrapped, strerror(-r));
		return r;
	}
	fd = open(D->dek, O_RDONLY | O_CLOEXEC);
	r = fd < 0 ? negative_errno() : fileio_read_fd_secret(fd, WRAP_PLAINTEXT_MAX, &in->dek,
							      &in->dek_len);
	if (r < 0)
		bench_fail("cannot read %s: %s", D->dek, strerror(-r));
	return r;
}

/* ---- the targets: paired, alternating samples ---- */

/* Pairs and the length of one throughput sample: short samples, many pairs. */
static unsigned pair_count(void)
{
	return arg_quick ? 3 : 15;
}

static double pair_seconds(void)
{
	return arg_quick ? 0.1 : 0.3;
}

static int sample_unwrap(void *ctx, double *ret)
{
	return load_run(ctx, false, false, 1, pair_seconds(), NULL, ret);
}

static int sample_echo(void *ctx, double *ret)
{
	return load_run(ctx, false, true, 1, pair_seconds(), NULL, ret);
}

static int sample_batch(void *ctx, double *ret)
{
	return load_run(ctx, true, false, 1, pair_seconds(), NULL, ret);
}

static int sample_softhsm2(void *ctx, double *ret)
{
	(void)ctx;
	return bench_softhsm2_sample(D->softhsm2, pair_seconds(), ret);
}

/* One run of fn, timed in us. */
static int sample_time(bench_fn fn, void *ctx, double *ret)
{
	uint64_t t0 = now_ns();
	int r = fn(ctx);

	if (r >= 0)
		*ret = (double)(now_ns() - t0) / 1000.0;
	return r;
}

static int sample_cli_unwrap(void *ctx, double *ret)
{
	return sample_time(cli_unwrap_once, ctx, ret);
}

static int sample_cli_version(void *ctx, double *ret)
{
	return sample_time(cli_version_once, ctx, ret);
}

/*
 * The echo side of the single UNWRAP's pairs, followed at once by a sample of the floor
 * (bench/bench-unwrap-floor.c) when there is one: the pair's echo round trip rt (wall time)
 * and the floor's CPU time per request w give rt / (rt + w), the ratio a server that did
 * exactly the floor's work on top of an echo would reach in that moment (at best: it would
 * also have to be scheduled at once for its work after every wake-up).
 */
struct echo_floor {
	struct load_input *in;
	struct samples ratio, rt, work; /* per pair */
};

static int sample_echo_floor(void *ctx, double *ret)
{
	struct echo_floor *x = ctx;
	double ops, w;
	int r = sample_echo(x->in, &ops);

	if (r < 0 || !D->unwrap_floor) {
		if (r >= 0)
			*ret = ops;
		return r;
	}
	if (!(ops > 0.0)) {
		bench_fail("echo: no round trip in a sample");
		return -EDOM;
	}
	r = unwrap_floor_sample(D->unwrap_floor, pair_seconds(), &w);
	if (r >= 0)
		r = samples_push(&x->rt, 1e6 / ops);
	if (r >= 0)
		r = samples_push(&x->work, w);
	if (r >= 0)
		r = samples_push(&x->ratio, 1e6 / ops / (1e6 / ops + w));
	if (r >= 0)
		*ret = ops;
	return r;
}

/* unwrap_1c_floor_vs_ipc_echo_ratio from the pairs' echo samples and floor samples. */
static void result_floor_ratio(struct echo_floor *x, unsigned pairs)
{
	struct paired p = { .n = pairs };
	char what[200];

	p.ratio_median = samples_median(&x->ratio); /* sorted from here on */
	p.ratio_min = x->ratio.v[0];
	p.ratio_max = x->ratio.v[x->ratio.n - 1];
	snprintf(what, sizeof(what),
		 "echo round trip %.2f us + floor %.2f us of CPU per request, medians; the most "
		 "a server doing that work can reach: 0.8 is reachable only where this is >= 0.8",
		 samples_median(&x->rt), samples_median(&x->work));
	result_ratio("unwrap_1c_floor_vs_ipc_echo_ratio", &p, what);
}

/* Single UNWRAP against the echo ceiling (target >= 0.8), and the floor against the same
 * echo samples. */
static int pair_unwrap_echo(struct load_input *in)
{
	struct echo_floor x = { .in = in };
	struct paired p;
	char what[160];
	int r = paired_run(pair_count(), sample_unwrap, in, sample_echo_floor, &x, &p);

	if (r >= 0) {
		snprintf(what, sizeof(what), "unwrap %.0f, echo %.0f ops/s; target >= 0.8",
			 p.a_median, p.b_median);
		result_ratio("unwrap_1c_vs_ipc_echo_ratio", &p, what);
		if (D->unwrap_floor)
			result_floor_ratio(&x, p.n);
	}
	samples_done(&x.ratio);
	samples_done(&x.rt);
	samples_done(&x.work);
	return r;
}

/*
 * The same comparison interleaved request by request: one client with two kept connections
 * sends one UNWRAP to vhsmd and the same request to the echo server, alternately (the side that
 * goes first alternates too), for one sample's time, timing every round trip. Each side's rate
 * is its requests over the time its own round trips took, so both are measured over the same
 * moments: on a shared machine a stall of a few hundred microseconds (a client or server woken
 * on a busy CPU) hits both sides alike instead of one whole sample of one side, which is what
 * made the whole-sample pairs above swing from 0.01 to 10.
 */
struct interleaved {
	struct load_input *in;
	double echo_rate; /* of the last sample, handed to the pair's second side */
};

static int interleaved_once(struct conn *c, const struct load_input *in, bool echo,
			    uint64_t *acc_ns, char *err, size_t errlen)
{
	uint64_t t0 = now_ns();
	int r = conn_unwrap(c, in, echo, err, errlen);

	*acc_ns += now_ns() - t0;
	return r;
}

static int sample_interleaved(void *ctx, double *ret)
{
	struct interleaved *x = ctx;
	struct conn cd = {}, ce = {};
	uint64_t deadline, unwrap_ns = 0, echo_ns = 0, n = 0;
	char err[256] = "";
	int r;

	r = conn_open(&cd, 1u << 24, false);
	if (r >= 0)
		r = conn_open(&ce, 2u << 24, true);
	if (r < 0) {
		bench_fail("interleaved: cannot connect: %s", strerror(-r));
		conn_close(&cd);
		conn_close(&ce);
		return r;
	}
	deadline = now_ns() + (uint64_t)(pair_seconds() * NSEC_PER_SEC);
	while (r >= 0 && now_ns() < deadline) {
		bool echo_first = n % 2;

		r = interleaved_once(echo_first ? &ce : &cd, x->in, echo_first,
				     echo_first ? &echo_ns : &unwrap_ns, err, sizeof(err));
		if (r >= 0)
			r = interleaved_once(echo_first ? &cd : &ce, x->in, !echo_first,
					     echo_first ? &unwrap_ns : &echo_ns, err, sizeof(err));
		n++;
	}
	conn_close(&cd);
	conn_close(&ce);
	if (r < 0) {
		bench_fail("interleaved unwrap/echo: %s", err);
		return r;
	}
	*ret = (double)n * NSEC_PER_SEC / (double)unwrap_ns;
	x->echo_rate = (double)n * NSEC_PER_SEC / (double)echo_ns;
	return 0;
}

/* The pair's second side: the echo rate the same interleaved sample measured. */
static int sample_interleaved_echo(void *ctx, double *ret)
{
	*ret = ((struct interleaved *)ctx)->echo_rate;
	return 0;
}

static int pair_unwrap_echo_interleaved(struct load_input *in)
{
	struct interleaved x = { .in = in };
	struct paired p;
	char what[200];
	int r = paired_run(pair_count(), sample_interleaved, &x, sample_interleaved_echo, &x, &p);

	if (r < 0)
		return r;
	snprintf(what, sizeof(what),
		 "unwrap %.0f, echo %.0f ops/s over the same moments, requests alternating; "
		 "target >= 0.8", p.a_median, p.b_median);
	result_ratio("unwrap_1c_vs_ipc_echo_interleaved_ratio", &p, what);
	return 0;
}

/* UNWRAP_BATCH against SoftHSM2's C_UnwrapKey (target >= 10), and the cost per item against
 * the floor. */
static int pair_batch_softhsm2(struct load_input *in)
{
	struct paired p;
	char what[160];
	int r = paired_run(pair_count(), sample_batch, in, sample_softhsm2, NULL, &p);

	if (r < 0)
		return r;
	result("softhsm2_unwrap_ops_per_s", p.b_median, "ops/s");
	snprintf(what, sizeof(what), "batch %.0f, SoftHSM2 %.0f unwraps/s; target >= 10",
		 p.a_median, p.b_median);
	result_ratio("unwrap_batch_1c_vs_softhsm2_ratio", &p, what);
	return 0;
}

/* vhsmctl unwrap against vhsmctl --version, one run each per pair (target <= 2). */
static int pair_cli(struct load_input *in)
{
	struct paired p;
	char what[160];
	int r = paired_run(arg_quick ? 5 : 41, sample_cli_unwrap, in, sample_cli_version, NULL,
			   &p);

	if (r < 0)
		return r;
	result("vhsmctl_unwrap_us_median", p.a_median, "us");
	result("vhsmctl_version_us_median", p.b_median, "us");
	snprintf(what, sizeof(what), "difference %.0f us, min %.0f, max %.0f; target <= 2",
		 p.diff_median, p.diff_min, p.diff_max);
	result_ratio("vhsmctl_unwrap_vs_version_ratio", &p, what);
	return 0;
}

/* The CPU time (user + system) process pid has used so far, in us, or -errno. */
static int process_cpu_us(pid_t pid, double *ret)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* Fields after the command name (which may hold spaces): state is field 3, utime 14. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -EBADMSG;
	*ret = (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* One run of 1 client; with the daemon's pid known, also prints the daemon's CPU time per
 * unwrap (name_cpu): unlike a rate, it hardly moves with the machine's load. */
static int load_run_cpu(const struct load_input *in, bool batch, double seconds,
			struct samples *lat, const char *name_cpu, double *ret_ops_per_s)
{
	double c0 = 0, c1 = 0;
	uint64_t t0 = now_ns();
	int r = D->daemon_pid > 0 ? process_cpu_us(D->daemon_pid, &c0) : 0;

	if (r >= 0)
		r = load_run(in, batch, false, 1, seconds, lat, ret_ops_per_s);
	if (r >= 0 && D->daemon_pid > 0) {
		double items = *ret_ops_per_s * (double)(now_ns() - t0) / NSEC_PER_SEC;

		r = process_cpu_us(D->daemon_pid, &c1);
		if (r >= 0)
			result(name_cpu, (c1 - c0) / items, "us");
	}
	if (r < 0)
		bench_fail("vhsmd CPU time: %s", strerror(-r));
	return r;
}

/* unwrap_ops_per_s_{1,2,8}c, the latencies of the 1-client run, unwrap_batch_ops_per_s_*. */
static int run_load_rows(struct load_input *in, double seconds)
{
	static const unsigned clients[] = { 1, 2, 8 };
	struct samples lat = {};
	char name[64];
	double ops, batch1 = 0;
	int r = 0;

	for (unsigned i = 0; r >= 0 && i < ELEMENTSOF(clients); i++) {
		if (clients[i] == 1)
			r = load_run_cpu(in, false, seconds, &lat, "unwrap_daemon_cpu_us_per_request",
					 &ops);
		else
			r = load_run(in, false, false, clients[i], seconds, NULL, &ops);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "unwrap_ops_per_s_%uc", clients[i]);
		result(name, ops, "ops/s");
	}
	if (r >= 0) {
		result("unwrap_latency_p50_us", samples_percentile(&lat, 50.0), "us");
		result("unwrap_latency_p99_us", samples_percentile(&lat, 99.0), "us");
	}
	samples_done(&lat);
	/* The same unwraps, BENCH_BATCH per UNWRAP_BATCH request (each item audited). */
	for (unsigned i = 0; r >= 0 && i < ELEMENTSOF(clients); i++) {
		if (clients[i] == 1)
			r = load_run_cpu(in, true, seconds, NULL, "unwrap_batch_daemon_cpu_us_per_item",
					 &ops);
		else
			r = load_run(in, true, false, clients[i], seconds, NULL, &ops);
		if (r < 0)
			break;
		snprintf(name, sizeof(name), "unwrap_batch_ops_per_s_%uc", clients[i]);
		result(name, ops, "ops/s");
		if (clients[i] == 1)
			batch1 = ops;
	}
	if (r >= 0 && D->floor_item_us > 0) {
		result("unwrap_batch_item_us", 1e6 / batch1, "us");
		printf("unwrap_batch_item_vs_floor_ratio: %.2f x (floor_unwrap_item_us %.3f us)\n",
		       1e6 / batch1 / D->floor_item_us, D->floor_item_us);
	}
	return r;
}

static int run_rows(struct load_input *in)
{
	const double seconds = arg_quick ? 0.5 : 3.0;
	int r = 0;

	/* Warm-up: the first use attests and unseals the KEK (a firmware key request). */
	for (unsigned i = 0; r >= 0 && i < (arg_quick ? 20u : 200u); i++)
		r = newconn_once(in);
	if (r >= 0)
		r = run_load_rows(in, seconds);
	if (r >= 0)
		r = run_echo(in, seconds);
	if (r >= 0 && D->unwrap_floor)
		r = unwrap_floor_rows(D->unwrap_floor, NULL);
	if (r >= 0)
		r = pair_unwrap_echo(in);
	if (r >= 0)
		r = pair_unwrap_echo_interleaved(in);
	if (r >= 0 && D->softhsm2)
		r = pair_batch_softhsm2(in);
	if (r >= 0)
		r = micro_run("unwrap_newconn_us_median", newconn_once, in, NULL);
	if (r >= 0 && D->vhsmctl)
		r = pair_cli(in);
	return r;
}

int bench_daemon_run(const struct bench_daemon *d)
{
	struct load_input in = {};
	int r;

	D = d;
	r = load_input_read(&in);
	if (r < 0)
		return r;
	snprintf(echo_socket, sizeof(echo_socket), "%s.echo", d->socket);
	r = echo_start(echo_socket, &echo_pid);
	if (r < 0) {
		bench_fail("cannot start the echo server on %s: %s", echo_socket, strerror(-r));
	} else {
		r = run_rows(&in);
		echo_stop(echo_socket, echo_pid);
	}
	free(in.wrapped);
	secmem_free(in.dek);
	return r;
}

int bench_daemon_load(const struct bench_daemon *d, const char *what, double seconds)
{
	struct load_input in = {};
	bool batch = strcmp(what, "batch") == 0;
	double ops;
	int r;

	if (!batch && strcmp(what, "unwrap") != 0)
		return -EINVAL;
	D = d;
	r = load_input_read(&in);
	for (unsigned i = 0; r >= 0 && i < 20; i++)
		r = newconn_once(&in);
	if (r >= 0)
		r = load_run(&in, batch, false, 1, seconds, NULL, &ops);
	if (r >= 0)
		result(batch ? "unwrap_batch_ops_per_s_1c" : "unwrap_ops_per_s_1c", ops, "ops/s");
	free(in.wrapped);
	secmem_free(in.dek);
	return r;
}
