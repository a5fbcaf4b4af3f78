/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator as a transport (snp-dev.h): the sev-guest driver's ioctl semantics around
 * the simulated firmware (SNP-ABI section 1.8). The envelope is checked first (msg_version,
 * pointers, certificate buffer), then the host-side faults (VMPCK lockout, BUSY, transport
 * errors, a certificate buffer that is too small), then the firmware answers.
 *
 * The state file is loaded at open. Before each request the file is stat()ed and reloaded
 * when someone changed it (vhsm-snp-sim set/fault/reboot while a daemon runs), and fault
 * state the transport consumes (busy counts, the VMPCK lockout) is written back atomically,
 * so it survives a re-open the way a real lockout survives until reboot.
 */
#include <sys/stat.h>

#include "log.h"
#include "sim.h"

/* What one version of the state file gives: the state, its keys and certificate table. */
struct sim_loaded {
	struct sim_state *state;
	struct sim_keys *keys;
	uint8_t *table;
	size_t table_len;
};

struct sim_ctx {
	char *path;
	struct sim_loaded cur;
	struct stat st; /* of the file as last loaded or written */
	bool st_valid;
};

static void loaded_done(struct sim_loaded *l)
{
	l->state = sim_state_free(l->state);
	l->keys = sim_keys_free(l->keys);
	free(l->table);
	l->table = NULL;
	l->table_len = 0;
}

static int loaded_load(const char *path, struct sim_loaded *ret)
{
	struct sim_loaded l = {};
	int r;

	r = sim_state_load(path, &l.state);
	if (r >= 0)
		r = sim_keys_load(l.state, &l.keys);
	if (r >= 0 && !l.state->host_certs_none)
		r = sim_cert_table(l.keys, &l.table, &l.table_len);
	if (r < 0) {
		loaded_done(&l);
		return r;
	}
	*ret = l;
	return 0;
}

static bool stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Picks up changes made to the state file since it was loaded; keeps the old state if the
 * file vanished or does not parse (a request should not fail because of a bad edit). */
static void ctx_refresh(struct sim_ctx *c)
{
	struct sim_loaded l;
	struct stat st;
	int r;

	if (stat(c->path, &st) < 0 || (c->st_valid && stat_same(&st, &c->st)))
		return;
	r = loaded_load(c->path, &l);
	if (r < 0) {
		vhsm_log_debug("sim: %s changed but cannot be loaded (%s); keeping the old state",
			       c->path, strerror(-r));
		c->st = st;
		c->st_valid = true;
		return;
	}
	loaded_done(&c->cur);
	c->cur = l;
	c->st = st;
	c->st_valid = true;
}

static void ctx_persist(struct sim_ctx *c)
{
	int r = sim_state_save(c->cur.state, c->path, false);

	if (r < 0) {
		vhsm_log_debug("sim: cannot save fault state to %s: %s", c->path, strerror(-r));
		return;
	}
	c->st_valid = stat(c->path, &c->st) == 0;
}

/*
 * Host-side faults, in the order the driver meets them. Returns 1 with *ret set when a fault
 * answered the request, 0 to go on to the firmware.
 */
static int faults_apply(struct sim_ctx *c, struct snp_guest_request *io, int *ret)
{
	struct sim_faults *f = &c->cur.state->faults;

	if (f->vmpck_disabled) {
		io->exitinfo2 = SNP_EXITINFO2_NOT_SENT;
		*ret = -ENOTTY;
		return 1;
	}
	if (f->busy_count > 0) {
		f->busy_count--;
		ctx_persist(c);
		io->exitinfo2 = (uint64_t)SNP_VMM_ERR_BUSY << 32;
		*ret = -EAGAIN;
		return 1;
	}
	if (f->transport_error) {
		/* The driver wipes the VMPCK after a failed transport; nothing works after. */
		f->transport_error = false;
		f->vmpck_disabled = true;
		ctx_persist(c);
		io->exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
		*ret = -EIO;
		return 1;
	}
	return 0;
}

/* Consumes an injected MSG_*_RSP STATUS. Returns true when one was pending. */
static bool fail_status_take(struct sim_ctx *c, uint32_t *ret)
{
	struct sim_faults *f = &c->cur.state->faults;

	if (!f->fail_status_set)
		return false;
	*ret = f->fail_status;
	f->fail_status_set = false;
	f->fail_status = 0;
	ctx_persist(c);
	return true;
}

static void *user_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

static int do_report(struct sim_ctx *c, const struct snp_report_req *req,
		     struct snp_guest_request *io)
{
	struct snp_report_resp resp;
	uint32_t status;
	int r;

	if (fail_status_take(c, &status)) {
		memset(&resp, 0, sizeof(resp));
		resp.status = status;
	} else {
		r = sim_fw_report(c->cur.state, c->cur.keys->vcek_key, req, &resp);
		if (r < 0) {
			io->exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
			return r;
		}
	}
	memcpy(user_ptr(io->resp_data), &resp, sizeof(resp));
	return 0;
}

static int do_key(struct sim_ctx *c, struct snp_guest_request *io)
{
	struct snp_derived_key_req req;
	struct snp_derived_key_resp resp;
	uint32_t status;
	int r = 0;

	memcpy(&req, user_ptr(io->req_data), sizeof(req));
	if (fail_status_take(c, &status)) {
		memset(&resp, 0, sizeof(resp));
		resp.status = status;
	} else {
		r = sim_fw_derived_key(c->cur.state, &req, &resp);
	}
	if (r >= 0)
		memcpy(user_ptr(io->resp_data), &resp, sizeof(resp));
	else
		io->exitinfo2 = SNP_EXITINFO2_NO_FW_CALL;
	explicit_bzero(&req, sizeof(req));
	explicit_bzero(&resp, sizeof(resp));
	return r;
}

/*
 * The extended request: the host hands out the certificate table, or refuses with EIO and
 * INVALID_LEN (needed size written back to certs_len) when the buffer is too small.
 */
static int do_ext_report(struct sim_ctx *c, const struct snp_ext_report_req *req,
			 struct snp_guest_request *io)
{
	bool want_certs = req->certs_len != 0 && req->certs_address != 0;

	if (want_certs) {
		if (c->cur.table_len > req->certs_len) {
			struct snp_ext_report_req *ureq = user_ptr(io->req_data);

			ureq->certs_len = (uint32_t)c->cur.table_len;
			io->exitinfo2 = (uint64_t)SNP_VMM_ERR_INVALID_LEN << 32;
			return -EIO;
		}
		if (c->cur.table_len) /* a bare-metal host (--host-certs none) has no table */
			memcpy(user_ptr(req->certs_address), c->cur.table, c->cur.table_len);
		memset((uint8_t *)user_ptr(req->certs_address) + c->cur.table_len, 0,
		       req->certs_len - c->cur.table_len);
	}
	return do_report(c, &req->data, io);
}

/* The envelope checks the driver makes before anything reaches the host. */
static int envelope_check(enum snp_ioctl_nr nr, struct snp_guest_request *io,
			  struct snp_ext_report_req *ext)
{
	if (io->msg_version == 0)
		return -EINVAL; /* the driver does not even copy the struct back */
	if (nr != SNP_IOCTL_GET_REPORT && nr != SNP_IOCTL_GET_DERIVED_KEY &&
	    nr != SNP_IOCTL_GET_EXT_REPORT)
		return -ENOTTY;
	io->exitinfo2 = SNP_EXITINFO2_NOT_SENT;
	if (!io->req_data || !io->resp_data)
		return -EINVAL;
	if (nr == SNP_IOCTL_GET_EXT_REPORT) {
		memcpy(ext, user_ptr(io->req_data), sizeof(*ext));
		if (ext->certs_len != 0 && ext->certs_address != 0 &&
		    (ext->certs_len % SNP_CERTS_PAGE != 0 || ext->certs_len > SNP_CERTS_MAX))
			return -EINVAL;
	} else if (nr == SNP_IOCTL_GET_REPORT) {
		memcpy(&ext->data, user_ptr(io->req_data), sizeof(ext->data));
	}
	return 0;
}

/*
 * The sink the loading program gave (vhsm_snp_sim_set_log), for this module's copy of
 * libvhsm: its sink is per thread, so each entry point installs it on the calling thread.
 */
static vhsm_log_sink_t host_sink;
static void *host_userdata;

static void sim_log_enter(void)
{
	if (host_sink)
		vhsm_log_set_sink(host_sink, host_userdata);
}

static int sim_guest_request(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io)
{
	struct sim_ctx *c = ctx;
	struct snp_ext_report_req ext = {};
	uint64_t exitinfo2_in;
	int r;

	sim_log_enter();
	if (!c || !io)
		return -EINVAL;
	exitinfo2_in = io->exitinfo2;
	r = envelope_check(nr, io, &ext);
	if (r < 0)
		return r;
	ctx_refresh(c);
	if (faults_apply(c, io, &r))
		return r;
	/* Success: like the driver, leave the caller's exitinfo2 as it was. */
	io->exitinfo2 = exitinfo2_in;
	switch (nr) {
	case SNP_IOCTL_GET_REPORT:
		r = do_report(c, &ext.data, io);
		break;
	case SNP_IOCTL_GET_DERIVED_KEY:
		r = do_key(c, io);
		break;
	case SNP_IOCTL_GET_EXT_REPORT:
		r = do_ext_report(c, &ext, io);
		break;
	}
	explicit_bzero(&ext, sizeof(ext));
	return r;
}

static void sim_close(void *ctx)
{
	struct sim_ctx *c = ctx;

	sim_log_enter();
	if (!c)
		return;
	loaded_done(&c->cur);
	free(c->path);
	free(c);
}

/* The VMPL of the VMPCK the simulated guest driver uses: the VMPL it runs at. */
static int sim_running_vmpl(void *ctx)
{
	struct sim_ctx *c = ctx;

	ctx_refresh(c);
	return c->cur.state ? (int)c->cur.state->vmpck_vmpl : -ENODEV;
}

static const struct snp_transport_ops sim_ops = {
	.name = "simulator",
	.simulated = true,
	.guest_request = sim_guest_request,
	.close = sim_close,
	.running_vmpl = sim_running_vmpl,
};

_public_ int vhsm_snp_sim_open(const char *state_file, const struct snp_transport_ops **ret_ops,
			       void **ret_ctx)
{
	struct sim_ctx *c;
	int r;

	sim_log_enter();
	if (!state_file || !*state_file || !ret_ops || !ret_ctx)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->path = strdup(state_file);
	if (!c->path) {
		free(c);
		return -ENOMEM;
	}
	/* stat first: a change between stat and load only causes one extra reload later. */
	c->st_valid = stat(c->path, &c->st) == 0;
	r = loaded_load(c->path, &c->cur);
	if (r < 0) {
		vhsm_log_debug("sim: cannot load %s: %s", state_file, strerror(-r));
		sim_close(c);
		return r;
	}
	*ret_ops = &sim_ops;
	*ret_ctx = c;
	return 0;
}

/*
 * sink: where this module's debug messages go from now on (NULL: nowhere), as the loading
 * program's vhsm_log_forward. This copy's own vhsm_log_forward is refused: installed as this
 * copy's sink it would call itself.
 */
_public_ void vhsm_snp_sim_set_log(vhsm_log_sink_t sink, void *userdata)
{
	if (sink == vhsm_log_forward)
		return;
	host_sink = sink;
	host_userdata = userdata;
	vhsm_log_set_sink(sink, userdata);
}
