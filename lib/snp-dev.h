/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SNP guest device layer: MSG_REPORT_REQ, MSG_KEY_REQ and the extended report, marshalled into
 * the structs of snp-abi.h and handed to a transport. Transports:
 *   "/dev/sev-guest" (or any path) - the kernel's sev-guest ioctls;
 *   "configfs"                     - configfs-tsm reports (reports only; keys still need the
 *                                    ioctl device);
 *   "sim:FILE"                     - the vhsm SNP simulator (sim/), loaded as a module.
 * Firmware status (MSG_*_RSP STATUS), firmware error and VMM error are returned through
 * struct snp_status, never mixed into the errno. Library code; logs at debug only.
 *
 * Errors: -EREMOTEIO firmware answered with STATUS != 0 (see status->msg_status);
 * -EBUSY host throttled and retries ran out; -ENOTTY the guest's VMPCK is disabled (every later
 * request fails until the VM reboots: the device stays locked out); -EIO/-ETIMEDOUT/-EBADMSG
 * transport failures (they also disable the VMPCK in the kernel); -ENOBUFS not used outside
 * (the too-small certificate buffer is retried internally); -ENODEV no device.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "macro.h"
#include "snp-abi.h"
#include "tsm-report.h"

struct snp_status {
	uint32_t msg_status; /* STATUS field of MSG_*_RSP; 0 = success */
	uint32_t fw_error;   /* exitinfo2 bits 31:0 (host-side firmware status) */
	uint32_t vmm_error;  /* exitinfo2 bits 63:32 (SNP_VMM_ERR_*) */
	bool transport_called; /* false when the request never left the guest driver */
};

/*
 * A transport performs one guest-request ioctl the way the kernel driver does: it reads the
 * request struct at io->req_data, writes the response at io->resp_data, and sets io->exitinfo2
 * following the driver's rules (see SNP-ABI facts, "Driver behaviour"). Returns 0 or -errno.
 */
struct snp_transport_ops {
	const char *name;  /* "sev-guest", "simulator" */
	bool simulated;    /* evidence is not AMD-signed */
	int (*guest_request)(void *ctx, enum snp_ioctl_nr nr, struct snp_guest_request *io);
	void (*close)(void *ctx);
	/* The VMPL the guest runs at (0..3), or -errno when unknown; NULL: see
	 * snp_dev_running_vmpl(). */
	int (*running_vmpl)(void *ctx);
};

struct snp_dev;

/*
 * Opens a device from a spec string (see above). Returns 0 and a new device the caller frees
 * with snp_dev_close(), or -ENODEV/-EACCES/-errno. "sim:FILE" dlopens the simulator module
 * named by $VHSM_SNP_SIM_MODULE or the built-in default, and fails with -ENOPKG when the
 * module is not installed.
 */
int snp_dev_open(const char *spec, struct snp_dev **ret) _wur_;

/* Wraps a transport (used by the simulator module and tests). Takes ownership of ctx. */
int snp_dev_open_transport(const struct snp_transport_ops *ops, void *ctx,
			   struct snp_dev **ret) _wur_;

struct snp_dev *snp_dev_close(struct snp_dev *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_dev *, snp_dev_close);

bool snp_dev_is_simulated(const struct snp_dev *d);

/*
 * The configfs-tsm report directory snp_dev_get_ext_report() tries first (NULL: never): set to
 * TSM_REPORT_ROOT_DEFAULT for /dev/sev-guest, NULL for other transports; tests point it at a
 * fake tree. Where it does not exist or serves another provider the ioctl is used. Returns 0,
 * -EINVAL or -ENOMEM.
 */
int snp_dev_set_tsm_root(struct snp_dev *d, const char *root) _wur_;
/* "configfs-tsm" when reports come from configfs-tsm, else the transport's name. */
const char *snp_dev_report_path(const struct snp_dev *d);
const char *snp_dev_name(const struct snp_dev *d);
/*
 * The VMPL this guest runs at, which every report and key request must name (the firmware
 * refuses a more privileged one): the transport's answer (the simulator's VMPL mode), else
 * /sys/devices/system/cpu/sev/vmpl (Linux 6.11), else 0 (older kernels run guests at VMPL 0
 * only). Never fails.
 */
uint32_t snp_dev_running_vmpl(const struct snp_dev *d);

/* True once the device returned ENOTTY (VMPCK disabled): no request is sent after that. */
bool snp_dev_locked_out(const struct snp_dev *d);

/*
 * Throttling: when the host answers BUSY (EAGAIN, or vmm_error 2), retry up to max_tries
 * times, sleeping delay_ms between tries. Defaults 3 and 2000. Kernels with their own retry
 * loop return ETIMEDOUT after 60 s instead, which is final.
 */
void snp_dev_set_retry(struct snp_dev *d, unsigned max_tries, unsigned delay_ms);

/*
 * MSG_REPORT_REQ: a report over report_data at the given VMPL, signed with the key chosen by
 * key_sel (0 = VLEK if installed else VCEK). Writes the raw 0x4A0-byte report.
 */
int snp_dev_get_report(struct snp_dev *d, const uint8_t report_data[static 64], uint32_t vmpl,
		       uint32_t key_sel, uint8_t ret_report[static SNP_REPORT_SIZE],
		       struct snp_status *ret_status) _wur_;

/*
 * Extended report: the report plus the host's certificate table, from configfs-tsm where the
 * device's tsm root exists (snp_dev_set_tsm_root), else the ioctl, growing the buffer when the
 * host says it is too small (bounded by SNP_CERTS_MAX). *ret_certs is malloc'ed (may be an
 * empty, all-zero table); the caller frees it.
 */
int snp_dev_get_ext_report(struct snp_dev *d, const uint8_t report_data[static 64],
			   uint32_t vmpl, uint8_t ret_report[static SNP_REPORT_SIZE],
			   uint8_t **ret_certs, size_t *ret_certs_len,
			   struct snp_status *ret_status) _wur_;

struct snp_key_request {
	uint32_t root_key_select; /* 0 = VCEK, 1 = VMRK */
	uint32_t key_sel;         /* 0 = VLEK if installed else VCEK, 1 = VCEK, 2 = VLEK */
	uint64_t field_select;    /* SNP_FIELD_* */
	uint32_t vmpl;
	uint32_t guest_svn;
	uint64_t tcb_version;
};

/*
 * MSG_KEY_REQ: derives a 32-byte key. ret_key should be secret memory; it is written only on
 * success. Request and response structs are wiped on every path.
 */
int snp_dev_get_derived_key(struct snp_dev *d, const struct snp_key_request *req,
			    uint8_t ret_key[static 32], struct snp_status *ret_status) _wur_;

/* Human-readable name of a firmware status code ("INVALID_PARAM"), or "UNKNOWN". */
const char *snp_fw_status_name(uint32_t status);

/*
 * Entry point a simulator module exports (symbol "vhsm_snp_sim_open"): opens the simulator
 * state file and returns its transport. Returns 0 or -errno.
 */
typedef int (*snp_sim_open_fn)(const char *state_file, const struct snp_transport_ops **ret_ops,
			       void **ret_ctx);
#define SNP_SIM_OPEN_SYMBOL "vhsm_snp_sim_open"

/*
 * Optional second entry point (symbol "vhsm_snp_sim_set_log"): the sink the module's debug
 * messages go to, installed by each of its entry points. snp_dev_open() passes
 * vhsm_log_forward, so that they appear wherever the program's own debug messages do.
 */
typedef void (*snp_sim_set_log_fn)(vhsm_log_sink_t sink, void *userdata);
#define SNP_SIM_SET_LOG_SYMBOL "vhsm_snp_sim_set_log"
