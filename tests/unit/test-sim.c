/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulator tests. Requests go through the production device layer (snp_dev_open_transport
 * with the simulator transport), so the marshalling the kernel path uses is what is tested;
 * driver-level envelope cases call the transport directly. RSA-4096 key generation is slow,
 * so one simulated CA per product is made once per run and shared by every simulated chip.
 */
#include <limits.h>
#include <stdio.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "amd-cert.h"
#include "certtable.h"
#include "../../sim/sim.h"
#include "snp-dev.h"
#include "snp-report.h"
#include "snp-verify.h"
#include "test.h"

/* ---- fixtures ---- */

static char ca_paths[_SNP_PRODUCT_MAX][PATH_MAX];

static int ca_state_path(enum snp_product p, const char **ret)
{
	if (!ca_paths[p][0]) {
		_cleanup_(sim_state_freep) struct sim_state *s = NULL;
		int r;

		r = sim_state_new(p, &s);
		if (r >= 0)
			r = sim_ca_generate(s);
		if (r < 0)
			return r;
		snprintf(ca_paths[p], PATH_MAX, "%s/ca.json", test_tmpdir());
		r = sim_state_save(s, ca_paths[p], true);
		if (r < 0) {
			ca_paths[p][0] = '\0';
			return r;
		}
	}
	*ret = ca_paths[p];
	return 0;
}

/* A new simulated chip of product p, sharing the run's CA for p. */
static int new_state(enum snp_product p, struct sim_state **ret)
{
	_cleanup_(sim_state_freep) struct sim_state *ca = NULL, *s = NULL;
	const char *path;
	int r;

	r = ca_state_path(p, &path);
	if (r >= 0)
		r = sim_state_load(path, &ca);
	if (r >= 0)
		r = sim_state_new(p, &s);
	if (r >= 0)
		r = sim_ca_copy(s, ca);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

/* Saves s as dir/name; path receives the file name. */
static int save_as(const struct sim_state *s, const char *dir, const char *name,
		   char path[static PATH_MAX])
{
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	return sim_state_save(s, path, false);
}

static int dev_open(const char *path, struct snp_dev **ret)
{
	const struct snp_transport_ops *ops = NULL;
	void *ctx = NULL;
	int r;

	r = vhsm_snp_sim_open(path, &ops, &ctx);
	if (r < 0)
		return r;
	r = snp_dev_open_transport(ops, ctx, ret);
	if (r >= 0)
		snp_dev_set_retry(*ret, 3, 0);
	return r;
}

static int derive(const char *path, const struct snp_key_request *kr, uint8_t key[32],
		  struct snp_status *st)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	struct snp_status local;
	int r;

	r = dev_open(path, &d);
	if (r < 0)
		return r;
	return snp_dev_get_derived_key(d, kr, key, st ? st : &local);
}

/* An extended report with its certificate table. */
struct evidence {
	uint8_t report[SNP_REPORT_SIZE];
	uint8_t *certs;
	size_t certs_len;
	struct certtable table;
	const struct certtable_entry *ark, *ask, *vcek;
};

static void evidence_done(struct evidence *e)
{
	free(e->certs);
	e->certs = NULL;
}

static int get_evidence(const char *path, const uint8_t data[static 64], uint32_t vmpl,
			struct evidence *e)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	struct snp_status st;
	int r;

	r = dev_open(path, &d);
	if (r >= 0)
		r = snp_dev_get_ext_report(d, data, vmpl, e->report, &e->certs, &e->certs_len, &st);
	if (r >= 0)
		r = certtable_parse(e->certs, e->certs_len, &e->table);
	if (r < 0)
		return r;
	e->ark = certtable_find(&e->table, SNP_CERT_ARK);
	e->ask = certtable_find(&e->table, SNP_CERT_ASK);
	e->vcek = certtable_find(&e->table, SNP_CERT_VCEK);
	return e->ark && e->ask && e->vcek ? 0 : -ENOENT;
}

static int verify(const struct evidence *rep, const struct evidence *certs, bool with_ark,
		  bool trust, struct snp_verify_result *res)
{
	const uint8_t *roots[1] = { certs->ark->data };
	size_t root_lens[1] = { certs->ark->len };
	struct snp_evidence ev = {
		.report = rep->report,
		.report_len = SNP_REPORT_SIZE,
		.vek = certs->vcek->data,
		.vek_len = certs->vcek->len,
		.ask = certs->ask->data,
		.ask_len = certs->ask->len,
		.ark = with_ark ? certs->ark->data : NULL,
		.ark_len = with_ark ? certs->ark->len : 0,
	};
	struct snp_verify_opts opts = {
		.trust_roots = trust ? roots : NULL,
		.trust_root_lens = trust ? root_lens : NULL,
		.n_trust_roots = trust ? 1 : 0,
	};

	return snp_verify(&ev, &opts, res);
}

/* Independent of snp-verify: ECDSA P-384 over 0x000-0x29F with the VCEK from the table. */
static bool report_sig_ok(const uint8_t *report, const uint8_t *vcek_der, size_t vcek_len)
{
	const uint8_t *p = vcek_der;
	X509 *x = d2i_X509(NULL, &p, (long)vcek_len);
	EVP_PKEY *pub = x ? X509_get_pubkey(x) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_lebin2bn(report + SNP_R_SIG_R, SNP_SIG_COMPONENT_LEN, NULL);
	BIGNUM *s = BN_lebin2bn(report + SNP_R_SIG_S, SNP_SIG_COMPONENT_LEN, NULL);
	unsigned char *der = NULL;
	int der_len = -1;
	bool ok = false;

	if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
		r = s = NULL;
		der_len = i2d_ECDSA_SIG(sig, &der);
	}
	if (pub && md && der_len > 0 &&
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA384", NULL, NULL, pub, NULL) == 1)
		ok = EVP_DigestVerify(md, der, (size_t)der_len, report, SNP_REPORT_SIGNED_LEN) == 1;
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

/* Independent of snp-verify: child's signature verifies with parent's key. */
static bool cert_signed_by(const struct certtable_entry *child,
			   const struct certtable_entry *parent)
{
	const uint8_t *pc = child->data, *pp = parent->data;
	X509 *c = d2i_X509(NULL, &pc, (long)child->len);
	X509 *p = d2i_X509(NULL, &pp, (long)parent->len);
	EVP_PKEY *k = p ? X509_get_pubkey(p) : NULL;
	bool ok = c && k && X509_verify(c, k) == 1;

	EVP_PKEY_free(k);
	X509_free(c);
	X509_free(p);
	ERR_clear_error();
	return ok;
}

/* ---- derived keys ---- */

#define ALL_FIELDS SNP_FIELD_VALID_MASK

static struct snp_key_request base_key_req(const struct sim_state *s)
{
	struct snp_tcb t = s->committed_tcb;

	t.snp--; /* an older TCB than the committed one is allowed */
	return (struct snp_key_request){
		.key_sel = 1,
		.field_select = ALL_FIELDS,
		.vmpl = 0,
		.guest_svn = 3,
		.tcb_version = snp_tcb_encode(&t, s->product),
	};
}

TEST(sim_key_deterministic)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL, *s2 = NULL;
	const char *dir = test_tmpdir();
	char p1[PATH_MAX], p2[PATH_MAX];
	uint8_t k1[32], k2[32], k3[32], zero[32] = {};
	struct snp_key_request kr;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->guest_svn = 5;
	kr = base_key_req(s);
	ASSERT_OK(save_as(s, dir, "a.json", p1));
	ASSERT_OK(derive(p1, &kr, k1, NULL));
	ASSERT_OK(derive(p1, &kr, k2, NULL));
	ASSERT_MEMEQ(k1, k2, 32);
	ASSERT_MEMNE(k1, zero, 32);
	/* Loading and saving again changes nothing. */
	ASSERT_OK(sim_state_load(p1, &s2));
	ASSERT_OK(save_as(s2, dir, "b.json", p2));
	ASSERT_OK(derive(p2, &kr, k3, NULL));
	ASSERT_MEMEQ(k1, k3, 32);
	/* KEY_SEL 0 (VLEK if installed, else VCEK) is the VCEK on a chip without a VLEK. */
	kr.key_sel = 0;
	ASSERT_OK(derive(p1, &kr, k3, NULL));
	ASSERT_MEMEQ(k1, k3, 32);
}

enum key_change {
	CHANGE_POLICY,
	CHANGE_IMAGE_ID,
	CHANGE_FAMILY_ID,
	CHANGE_MEASUREMENT,
	CHANGE_GUEST_SVN,
	CHANGE_TCB,
	CHANGE_VMPL,
	CHANGE_CHIP,
	_CHANGE_MAX,
};

/* Derives with one input changed from the base state at base_path and request kr. */
static int derive_changed(const char *base_path, const char *dir, enum key_change c,
			  struct snp_key_request kr, uint8_t key[32])
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	char path[PATH_MAX], name[32];
	int r;

	r = sim_state_load(base_path, &s);
	if (r < 0)
		return r;
	switch (c) {
	case CHANGE_POLICY:
		s->policy ^= SNP_POLICY_SINGLE_SOCKET;
		break;
	case CHANGE_IMAGE_ID:
		s->image_id[15] ^= 1;
		break;
	case CHANGE_FAMILY_ID:
		s->family_id[0] ^= 0x80;
		break;
	case CHANGE_MEASUREMENT:
		s->measurement[47] ^= 1;
		break;
	case CHANGE_GUEST_SVN:
		kr.guest_svn--;
		break;
	case CHANGE_TCB:
		kr.tcb_version -= 1; /* bootloader (byte 0) one lower */
		break;
	case CHANGE_VMPL:
		kr.vmpl = 2;
		break;
	case CHANGE_CHIP:
		/* Another chip: a new chip secret, everything else equal. */
		s->chip_secret[0] ^= 1;
		break;
	case _CHANGE_MAX:
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "changed-%d.json", (int)c);
	r = save_as(s, dir, name, path);
	if (r < 0)
		return r;
	return derive(path, &kr, key, NULL);
}

TEST(sim_key_selected_fields_bind)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	const char *dir = test_tmpdir();
	uint8_t base[32], keys[_CHANGE_MAX][32];
	struct snp_key_request kr;
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->guest_svn = 5;
	ASSERT_OK(save_as(s, dir, "base.json", path));
	kr = base_key_req(s);
	ASSERT_OK(derive(path, &kr, base, NULL));
	for (int c = 0; c < _CHANGE_MAX; c++) {
		ASSERT_OK(derive_changed(path, dir, (enum key_change)c, kr, keys[c]));
		if (memcmp(keys[c], base, 32) == 0)
			test_fail(__FILE__, __LINE__, "change %d did not change the key", c);
		for (int o = 0; o < c; o++)
			if (memcmp(keys[c], keys[o], 32) == 0)
				test_fail(__FILE__, __LINE__, "changes %d and %d collide", o, c);
	}
}

TEST(sim_key_unselected_fields_ignored)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	const char *dir = test_tmpdir();
	uint8_t base[32], k[32];
	struct snp_key_request kr;
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->guest_svn = 5;
	ASSERT_OK(save_as(s, dir, "base.json", path));
	kr = base_key_req(s);
	/* Nothing selected: only the chip and the VMPL bind the key. */
	kr.field_select = 0;
	ASSERT_OK(derive(path, &kr, base, NULL));
	for (int c = 0; c < _CHANGE_MAX; c++) {
		bool binds = c == CHANGE_VMPL || c == CHANGE_CHIP;

		ASSERT_OK(derive_changed(path, dir, (enum key_change)c, kr, k));
		if ((memcmp(k, base, 32) != 0) != binds)
			test_fail(__FILE__, __LINE__, "change %d: key %s", c,
				  binds ? "unchanged" : "changed although not selected");
	}
	/* Only MEASUREMENT selected: the policy does not matter, the measurement does. */
	kr.field_select = SNP_FIELD_MEASUREMENT;
	ASSERT_OK(derive(path, &kr, base, NULL));
	ASSERT_OK(derive_changed(path, dir, CHANGE_POLICY, kr, k));
	ASSERT_MEMEQ(k, base, 32);
	ASSERT_OK(derive_changed(path, dir, CHANGE_TCB, kr, k));
	ASSERT_MEMEQ(k, base, 32);
	ASSERT_OK(derive_changed(path, dir, CHANGE_MEASUREMENT, kr, k));
	ASSERT_MEMNE(k, base, 32);
}

static int derive_status(const char *path, const struct snp_key_request *kr, uint32_t *ret)
{
	struct snp_status st = {};
	uint8_t key[32];
	int r;

	memset(key, 0xAA, sizeof(key));
	r = derive(path, kr, key, &st);
	*ret = st.msg_status;
	/* A refused request must not hand out anything. */
	if (r == -EREMOTEIO && key[0] != 0xAA)
		return -EFAULT;
	return r;
}

TEST(sim_key_refusals)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	const char *dir = test_tmpdir();
	struct snp_key_request base, kr;
	struct snp_tcb t;
	char path[PATH_MAX];
	uint32_t status;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->guest_svn = 2;
	s->vmpck_vmpl = 1;
	ASSERT_OK(save_as(s, dir, "s.json", path));
	base = base_key_req(s);
	base.guest_svn = 2;
	base.vmpl = 1;
	ASSERT_OK(derive_status(path, &base, &status));

	/* Each TCB component above the committed TCB. */
	for (int c = 0; c < 4; c++) {
		t = s->committed_tcb;
		if (c == 0)
			t.bootloader++;
		else if (c == 1)
			t.tee++;
		else if (c == 2)
			t.snp++;
		else
			t.microcode++;
		kr = base;
		kr.tcb_version = snp_tcb_encode(&t, s->product);
		ASSERT_EQ(derive_status(path, &kr, &status), -EREMOTEIO);
		ASSERT_EQ(status, SNP_FW_INVALID_PARAM);
	}
	/* A reserved TCB byte (legacy layout byte 2). */
	kr = base;
	kr.tcb_version = snp_tcb_encode(&s->committed_tcb, s->product) | 1ull << 16;
	ASSERT_EQ(derive_status(path, &kr, &status), -EREMOTEIO);
	ASSERT_EQ(status, SNP_FW_INVALID_PARAM);
	/* The committed TCB itself is fine. */
	kr = base;
	kr.tcb_version = snp_tcb_encode(&s->committed_tcb, s->product);
	ASSERT_OK(derive_status(path, &kr, &status));

	kr = base;
	kr.guest_svn = 3; /* above the launch SVN */
	ASSERT_EQ(derive_status(path, &kr, &status), -EREMOTEIO);
	ASSERT_EQ(status, SNP_FW_INVALID_PARAM);
	kr = base;
	kr.root_key_select = 1; /* VMRK: no migration agent */
	ASSERT_EQ(derive_status(path, &kr, &status), -EREMOTEIO);
	ASSERT_EQ(status, SNP_FW_INVALID_PARAM);
	kr = base;
	kr.key_sel = 2; /* VLEK: none installed */
	ASSERT_EQ(derive_status(path, &kr, &status), -EREMOTEIO);
	ASSERT_EQ(status, SNP_FW_INVALID_KEY);
	kr = base;
	kr.vmpl = 0; /* more privileged than the VMPCK in use */
	ASSERT_EQ(derive_status(path, &kr, &status), -EREMOTEIO);
	ASSERT_EQ(status, SNP_FW_INVALID_PARAM);
}

/* Calls the transport directly, as the driver's ioctl would. */
struct raw {
	const struct snp_transport_ops *ops;
	void *ctx;
};

static void raw_close(struct raw *r)
{
	if (r->ops)
		r->ops->close(r->ctx);
	r->ops = NULL;
}

static int raw_call(struct raw *t, enum snp_ioctl_nr nr, void *req, void *resp,
		    uint64_t *exitinfo2)
{
	struct snp_guest_request io = {
		.msg_version = 1,
		.req_data = (uint64_t)(uintptr_t)req,
		.resp_data = (uint64_t)(uintptr_t)resp,
		.exitinfo2 = 0,
	};
	int r = t->ops->guest_request(t->ctx, nr, &io);

	if (exitinfo2)
		*exitinfo2 = io.exitinfo2;
	return r;
}

static uint32_t raw_key_status(struct raw *t, const struct snp_derived_key_req *req)
{
	struct snp_derived_key_resp resp;

	memset(&resp, 0xEE, sizeof(resp));
	if (raw_call(t, SNP_IOCTL_GET_DERIVED_KEY, (void *)(uintptr_t)req, &resp, NULL) < 0)
		return UINT32_MAX;
	/* Refusals: only STATUS, everything else zero. */
	if (resp.status != 0 && !mem_is_zero(resp.rsvd, sizeof(resp.rsvd) + sizeof(resp.key)))
		return UINT32_MAX - 1;
	return resp.status;
}

TEST(sim_key_reserved_fields)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(raw_close) struct raw t = {};
	struct snp_derived_key_req base = {}, req;
	struct snp_derived_key_resp resp;
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));

	base.guest_field_select = SNP_FIELD_MEASUREMENT;
	ASSERT_EQ(raw_key_status(&t, &base), 0);
	memset(&resp, 0xEE, sizeof(resp));
	ASSERT_OK(raw_call(&t, SNP_IOCTL_GET_DERIVED_KEY, &base, &resp, NULL));
	ASSERT_EQ(resp.status, 0);
	ASSERT_TRUE(mem_is_zero(resp.rsvd, sizeof(resp.rsvd)));
	ASSERT_FALSE(mem_is_zero(resp.key, sizeof(resp.key)));

	req = base;
	req.root_key_select = 1u << 3; /* reserved bits 31:3 */
	ASSERT_EQ(raw_key_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.root_key_select = 3u << 1; /* KEY_SEL 3 is reserved */
	ASSERT_EQ(raw_key_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.rsvd = 1;
	ASSERT_EQ(raw_key_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.guest_field_select |= 1ull << 6; /* LAUNCH_MIT_VECTOR: not in message version 1 */
	ASSERT_EQ(raw_key_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.vmpl = 4;
	ASSERT_EQ(raw_key_status(&t, &req), SNP_FW_INVALID_PARAM);
}

/* ---- reports ---- */

static void fill_nonce(uint8_t data[static 64], uint8_t seed)
{
	for (size_t i = 0; i < 64; i++)
		data[i] = (uint8_t)(seed + 31 * i);
}

TEST(sim_report_contents)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(evidence_done) struct evidence e = {};
	struct snp_tcb committed;
	struct amd_vek_ext ext;
	const char *bad = NULL;
	uint8_t data[64], ff[32];
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->guest_svn = 7;
	s->host_data[3] = 0x42;
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	fill_nonce(data, 1);
	ASSERT_OK(get_evidence(path, data, 2, &e));

	ASSERT_EQ(le32_get(e.report + SNP_R_VERSION), 3);
	ASSERT_EQ(le32_get(e.report + SNP_R_GUEST_SVN), 7);
	ASSERT_EQ(le64_get(e.report + SNP_R_POLICY), 0x30000);
	ASSERT_EQ(le32_get(e.report + SNP_R_VMPL), 2);
	ASSERT_EQ(le32_get(e.report + SNP_R_SIGNATURE_ALGO), 1);
	ASSERT_EQ(le32_get(e.report + SNP_R_SIGNER_INFO), 0); /* VCEK, no author key */
	ASSERT_MEMEQ(e.report + SNP_R_REPORT_DATA, data, 64);
	ASSERT_MEMEQ(e.report + SNP_R_MEASUREMENT, s->measurement, 48);
	ASSERT_MEMEQ(e.report + SNP_R_HOST_DATA, s->host_data, 32);
	ASSERT_MEMEQ(e.report + SNP_R_CHIP_ID, s->chip_id, 64);
	ASSERT_MEMEQ(e.report + SNP_R_REPORT_ID, s->report_id, 32);
	memset(ff, 0xff, sizeof(ff));
	ASSERT_MEMEQ(e.report + SNP_R_REPORT_ID_MA, ff, 32);
	ASSERT_EQ(e.report[SNP_R_CPUID_FAM], 0x19);
	ASSERT_EQ(e.report[SNP_R_CPUID_MOD], 0x01);
	committed = s->committed_tcb;
	ASSERT_EQ(le64_get(e.report + SNP_R_REPORTED_TCB), snp_tcb_encode(&committed, s->product));
	ASSERT_EQ(le64_get(e.report + SNP_R_COMMITTED_TCB),
		  snp_tcb_encode(&committed, s->product));
	ASSERT_EQ(e.report[SNP_R_CURRENT_MAJOR], 1);
	ASSERT_EQ(snp_report_check_reserved(e.report, SNP_PRODUCT_MILAN, &bad), 0);

	/* Signature and chain, checked here with plain OpenSSL. */
	ASSERT_TRUE(report_sig_ok(e.report, e.vcek->data, e.vcek->len));
	ASSERT_TRUE(cert_signed_by(e.vcek, e.ask));
	ASSERT_TRUE(cert_signed_by(e.ask, e.ark));
	ASSERT_TRUE(cert_signed_by(e.ark, e.ark));
	e.report[SNP_R_REPORT_DATA] ^= 1;
	ASSERT_FALSE(report_sig_ok(e.report, e.vcek->data, e.vcek->len));
	e.report[SNP_R_REPORT_DATA] ^= 1;

	/* The VCEK extensions say what a KDS-issued Milan VCEK says. */
	ASSERT_OK(amd_vek_ext_parse(e.vcek->data, e.vcek->len, &ext));
	ASSERT_STREQ(ext.product_name, "Milan-B0");
	ASSERT_TRUE(ext.has_struct_version);
	ASSERT_EQ(ext.struct_version, 0);
	ASSERT_TRUE(ext.has_bl && ext.has_tee && ext.has_snp && ext.has_ucode);
	ASSERT_FALSE(ext.has_fmc);
	ASSERT_EQ(ext.bl_spl, committed.bootloader);
	ASSERT_EQ(ext.snp_spl, committed.snp);
	ASSERT_EQ(ext.ucode_spl, committed.microcode);
	ASSERT_EQ(ext.hwid_len, 64);
	ASSERT_MEMEQ(ext.hwid, s->chip_id, 64);
}

TEST(sim_report_verifies_only_with_trust_root)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(evidence_done) struct evidence e = {};
	struct snp_verify_result res;
	char path[PATH_MAX];
	uint8_t data[64];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	fill_nonce(data, 2);
	ASSERT_OK(get_evidence(path, data, 0, &e));

	ASSERT_EQ(verify(&e, &e, true, true, &res), 0);
	ASSERT_TRUE(snp_verify_first_failure(&res) == NULL);
	ASSERT_TRUE(res.trusted_by_extra_root);
	ASSERT_EQ(res.product, SNP_PRODUCT_MILAN);
	for (int c = 0; c < _SNP_CHECK_MAX; c++)
		if (res.state[c] == SNP_CHECK_FAIL || res.state[c] == SNP_CHECK_NOT_RUN)
			test_fail(__FILE__, __LINE__, "check %s did not pass", snp_check_name(c));

	/* The simulated ARK is not AMD's: offered as evidence it is not the pinned root. */
	ASSERT_EQ(verify(&e, &e, true, false, &res), -EKEYREJECTED);
	ASSERT_EQ(res.state[SNP_CHECK_ARK_PINNED], SNP_CHECK_FAIL);
	ASSERT_FALSE(res.trusted_by_extra_root);
	/* Without an ARK, the pinned AMD ARK is used, and it did not sign the simulated ASK. */
	ASSERT_EQ(verify(&e, &e, false, false, &res), -EKEYREJECTED);
	ASSERT_EQ(res.state[SNP_CHECK_ASK_BY_ARK], SNP_CHECK_FAIL);
}

TEST(sim_report_other_chip_vcek)
{
	_cleanup_(sim_state_freep) struct sim_state *a = NULL, *b = NULL;
	_cleanup_(evidence_done) struct evidence ea = {}, eb = {};
	struct snp_verify_result res;
	const char *dir = test_tmpdir();
	char pa[PATH_MAX], pb[PATH_MAX];
	uint8_t data[64];

	/* Two chips of one product share the CA but not the VCEK. */
	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &a));
	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &b));
	ASSERT_OK(save_as(a, dir, "a.json", pa));
	ASSERT_OK(save_as(b, dir, "b.json", pb));
	fill_nonce(data, 3);
	ASSERT_OK(get_evidence(pa, data, 0, &ea));
	ASSERT_OK(get_evidence(pb, data, 0, &eb));
	ASSERT_MEMEQ(ea.ark->data, eb.ark->data, ea.ark->len);
	ASSERT_FALSE(report_sig_ok(ea.report, eb.vcek->data, eb.vcek->len));
	ASSERT_EQ(verify(&ea, &eb, true, true, &res), -EKEYREJECTED);
	ASSERT_EQ(res.state[SNP_CHECK_REPORT_SIG], SNP_CHECK_FAIL);
	ASSERT_EQ(verify(&ea, &ea, true, true, &res), 0);
}

TEST(sim_report_turin)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(evidence_done) struct evidence e = {};
	struct snp_verify_result res;
	struct snp_tcb t;
	struct amd_vek_ext ext;
	const char *bad = NULL;
	char path[PATH_MAX];
	uint8_t data[64];

	ASSERT_OK(new_state(SNP_PRODUCT_TURIN, &s));
	s->current_mit_vector = 1;
	s->launch_mit_vector = 3;
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	fill_nonce(data, 4);
	ASSERT_OK(get_evidence(path, data, 0, &e));

	ASSERT_EQ(le32_get(e.report + SNP_R_VERSION), 5);
	ASSERT_EQ(e.report[SNP_R_CPUID_FAM], 0x1a);
	ASSERT_EQ(le64_get(e.report + SNP_R_LAUNCH_MIT_VECTOR), 3);
	ASSERT_EQ(le64_get(e.report + SNP_R_CURRENT_MIT_VECTOR), 1);
	ASSERT_TRUE(mem_is_zero(e.report + SNP_R_CHIP_ID + 8, 56));
	ASSERT_FALSE(mem_is_zero(e.report + SNP_R_CHIP_ID, 8));
	/* Turin layout: FMC, BL, TEE, SNP in bytes 0-3. */
	ASSERT_OK(snp_tcb_decode(le64_get(e.report + SNP_R_REPORTED_TCB), SNP_PRODUCT_TURIN, &t));
	ASSERT_EQ(t.fmc, s->committed_tcb.fmc);
	ASSERT_EQ(t.snp, s->committed_tcb.snp);
	ASSERT_EQ(e.report[SNP_R_REPORTED_TCB + 3], s->committed_tcb.snp);
	ASSERT_EQ(snp_report_check_reserved(e.report, SNP_PRODUCT_TURIN, &bad), 0);

	ASSERT_OK(amd_vek_ext_parse(e.vcek->data, e.vcek->len, &ext));
	ASSERT_STREQ(ext.product_name, "Turin");
	ASSERT_EQ(ext.struct_version, 1);
	ASSERT_TRUE(ext.has_fmc);
	ASSERT_EQ(ext.fmc_spl, s->committed_tcb.fmc);
	ASSERT_EQ(ext.hwid_len, 8);
	ASSERT_MEMEQ(ext.hwid, s->chip_id, 8);
	ASSERT_TRUE(report_sig_ok(e.report, e.vcek->data, e.vcek->len));
	ASSERT_EQ(verify(&e, &e, true, true, &res), 0);
	ASSERT_EQ(res.product, SNP_PRODUCT_TURIN);
}

TEST(sim_report_v2)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(evidence_done) struct evidence e = {};
	struct snp_verify_result res;
	const char *bad = NULL;
	char path[PATH_MAX];
	uint8_t data[64];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->report_version = 2;
	s->platform_info = sim_default_platform_info(SNP_PRODUCT_MILAN, 2);
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	fill_nonce(data, 5);
	ASSERT_OK(get_evidence(path, data, 0, &e));
	ASSERT_EQ(le32_get(e.report + SNP_R_VERSION), 2);
	/* v2 has no CPUID: 0x188-0x19F are reserved. */
	ASSERT_TRUE(mem_is_zero(e.report + SNP_R_CPUID_FAM, SNP_R_CHIP_ID - SNP_R_CPUID_FAM));
	ASSERT_EQ(le64_get(e.report + SNP_R_PLATFORM_INFO),
		  SNP_PLATFORM_SMT_EN | SNP_PLATFORM_ECC_EN);
	ASSERT_EQ(snp_report_check_reserved(e.report, SNP_PRODUCT_MILAN, &bad), 0);
	ASSERT_TRUE(report_sig_ok(e.report, e.vcek->data, e.vcek->len));
	ASSERT_EQ(verify(&e, &e, true, true, &res), 0);
}

static uint32_t raw_report_status(struct raw *t, const struct snp_report_req *req)
{
	struct snp_report_resp resp;

	memset(&resp, 0xEE, sizeof(resp));
	if (raw_call(t, SNP_IOCTL_GET_REPORT, (void *)(uintptr_t)req, &resp, NULL) < 0)
		return UINT32_MAX;
	if (resp.status != 0 && !mem_is_zero((uint8_t *)&resp + 4, sizeof(resp) - 4))
		return UINT32_MAX - 1;
	return resp.status;
}

TEST(sim_report_refusals)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	_cleanup_(raw_close) struct raw t = {};
	struct snp_report_req base = {}, req;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st;
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	s->vmpck_vmpl = 1;
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(dev_open(path, &d));
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EREMOTEIO);
	ASSERT_EQ(st.msg_status, SNP_FW_INVALID_PARAM);
	ASSERT_EQ(snp_dev_get_report(d, data, 1, 2, report, &st), -EREMOTEIO);
	ASSERT_EQ(st.msg_status, SNP_FW_INVALID_KEY);
	ASSERT_OK(snp_dev_get_report(d, data, 3, 1, report, &st));
	ASSERT_EQ(le32_get(report + SNP_R_VMPL), 3);

	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));
	base.vmpl = 1;
	ASSERT_EQ(raw_report_status(&t, &base), 0);
	req = base;
	req.key_sel = 3;
	ASSERT_EQ(raw_report_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.key_sel = 1u << 2;
	ASSERT_EQ(raw_report_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.rsvd[23] = 1;
	ASSERT_EQ(raw_report_status(&t, &req), SNP_FW_INVALID_PARAM);
	req = base;
	req.vmpl = 4;
	ASSERT_EQ(raw_report_status(&t, &req), SNP_FW_INVALID_PARAM);
}

/* ---- driver semantics ---- */

TEST(sim_ext_report_certs_buffer)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(raw_close) struct raw t = {};
	_cleanup_free_ uint8_t *certs = NULL;
	_cleanup_free_ struct snp_report_resp *resp = NULL;
	struct snp_ext_report_req req = {};
	struct certtable table;
	char path[PATH_MAX];
	uint64_t e2;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));
	certs = calloc(1, SNP_CERTS_MAX);
	resp = calloc(1, sizeof(*resp));
	ASSERT_TRUE(certs && resp);
	req.certs_address = (uint64_t)(uintptr_t)certs;

	/* RSA-4096 ARK and ASK make the table larger than one page. */
	req.certs_len = SNP_CERTS_PAGE;
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_EXT_REPORT, &req, resp, &e2), -EIO);
	ASSERT_EQ(e2, (uint64_t)SNP_VMM_ERR_INVALID_LEN << 32);
	ASSERT_EQ(req.certs_len, 2 * SNP_CERTS_PAGE);
	ASSERT_EQ(resp->status, 0);
	ASSERT_EQ(resp->report_size, 0); /* no report with INVALID_LEN */

	ASSERT_OK(raw_call(&t, SNP_IOCTL_GET_EXT_REPORT, &req, resp, NULL));
	ASSERT_EQ(resp->status, 0);
	ASSERT_EQ(resp->report_size, SNP_REPORT_SIZE);
	ASSERT_OK(certtable_parse(certs, req.certs_len, &table));
	ASSERT_EQ(table.n_entries, 3);
	ASSERT_TRUE(certtable_find(&table, SNP_CERT_ARK) && certtable_find(&table, SNP_CERT_ASK) &&
		    certtable_find(&table, SNP_CERT_VCEK));
	ASSERT_TRUE(report_sig_ok(resp->report, certtable_find(&table, SNP_CERT_VCEK)->data,
				  certtable_find(&table, SNP_CERT_VCEK)->len));

	/* Lengths the driver refuses before anything reaches the host. */
	req.certs_len = SNP_CERTS_PAGE + 1;
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_EXT_REPORT, &req, resp, &e2), -EINVAL);
	ASSERT_EQ(e2, SNP_EXITINFO2_NOT_SENT);
	req.certs_len = SNP_CERTS_MAX + SNP_CERTS_PAGE;
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_EXT_REPORT, &req, resp, &e2), -EINVAL);

	/* No buffer: a plain report, the certificate memory untouched. */
	memset(certs, 0x5A, SNP_CERTS_MAX);
	req.certs_len = 0;
	ASSERT_OK(raw_call(&t, SNP_IOCTL_GET_EXT_REPORT, &req, resp, NULL));
	ASSERT_EQ(resp->report_size, SNP_REPORT_SIZE);
	ASSERT_EQ(certs[0], 0x5A);
	req.certs_len = SNP_CERTS_MAX;
	req.certs_address = 0;
	ASSERT_OK(raw_call(&t, SNP_IOCTL_GET_EXT_REPORT, &req, resp, NULL));
	ASSERT_EQ(resp->report_size, SNP_REPORT_SIZE);
}

TEST(sim_ext_report_through_device)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(evidence_done) struct evidence e = {};
	char path[PATH_MAX];
	uint8_t data[64] = {};

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	/* snp-dev starts with one page and grows the buffer on INVALID_LEN. */
	ASSERT_OK(get_evidence(path, data, 0, &e));
	ASSERT_EQ(e.certs_len, 2 * SNP_CERTS_PAGE);
	ASSERT_TRUE(e.ark->len > 1000 && e.ask->len > 1000 && e.vcek->len > 1000);
}

TEST(sim_driver_envelope)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(raw_close) struct raw t = {};
	struct snp_report_req req = {};
	struct snp_report_resp resp;
	struct snp_guest_request io;
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));
	ASSERT_TRUE(t.ops->simulated);
	ASSERT_STREQ(t.ops->name, "simulator");

	/* msg_version 0: EINVAL, and the struct is not copied back. */
	io = (struct snp_guest_request){ .msg_version = 0,
					 .req_data = (uint64_t)(uintptr_t)&req,
					 .resp_data = (uint64_t)(uintptr_t)&resp,
					 .exitinfo2 = 0x1234 };
	ASSERT_EQ(t.ops->guest_request(t.ctx, SNP_IOCTL_GET_REPORT, &io), -EINVAL);
	ASSERT_EQ(io.exitinfo2, 0x1234);
	/* NULL pointers: EINVAL with exitinfo2 0xff. */
	io.msg_version = 1;
	io.req_data = 0;
	ASSERT_EQ(t.ops->guest_request(t.ctx, SNP_IOCTL_GET_REPORT, &io), -EINVAL);
	ASSERT_EQ(io.exitinfo2, SNP_EXITINFO2_NOT_SENT);
	io.req_data = (uint64_t)(uintptr_t)&req;
	io.resp_data = 0;
	io.exitinfo2 = 0;
	ASSERT_EQ(t.ops->guest_request(t.ctx, SNP_IOCTL_GET_DERIVED_KEY, &io), -EINVAL);
	ASSERT_EQ(io.exitinfo2, SNP_EXITINFO2_NOT_SENT);
	/* Unknown ioctl. */
	io.resp_data = (uint64_t)(uintptr_t)&resp;
	ASSERT_EQ(t.ops->guest_request(t.ctx, (enum snp_ioctl_nr)7, &io), -ENOTTY);
	/* Success: exitinfo2 left as the caller had it; firmware refusals too. */
	io.exitinfo2 = 0x77;
	ASSERT_OK(t.ops->guest_request(t.ctx, SNP_IOCTL_GET_REPORT, &io));
	ASSERT_EQ(io.exitinfo2, 0x77);
	ASSERT_EQ(resp.status, 0);
	req.key_sel = 2;
	ASSERT_OK(t.ops->guest_request(t.ctx, SNP_IOCTL_GET_REPORT, &io));
	ASSERT_EQ(io.exitinfo2, 0x77);
	ASSERT_EQ(resp.status, SNP_FW_INVALID_KEY);
}

/* ---- fault injection ---- */

static int set_faults(const char *path, const struct sim_faults *f)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	int r = sim_state_load(path, &s);

	if (r < 0)
		return r;
	s->faults = *f;
	return sim_state_save(s, path, false);
}

static int get_faults(const char *path, struct sim_faults *ret)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	int r = sim_state_load(path, &s);

	if (r >= 0)
		*ret = s->faults;
	return r;
}

static int one_report(const char *path, struct snp_status *st)
{
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	int r;

	r = dev_open(path, &d);
	if (r < 0)
		return r;
	return snp_dev_get_report(d, data, 0, 0, report, st);
}

TEST(sim_fault_busy)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(raw_close) struct raw t = {};
	struct snp_report_req req = {};
	struct snp_report_resp resp;
	struct snp_status st;
	struct sim_faults f;
	char path[PATH_MAX];
	uint64_t e2;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));

	/* Two BUSY answers, then success within snp-dev's three tries. */
	ASSERT_OK(set_faults(path, &(struct sim_faults){ .busy_count = 2 }));
	ASSERT_OK(one_report(path, &st));
	ASSERT_OK(get_faults(path, &f));
	ASSERT_EQ(f.busy_count, 0);

	/* More BUSY than tries: EBUSY; the consumed answers are persisted. */
	ASSERT_OK(set_faults(path, &(struct sim_faults){ .busy_count = 5 }));
	ASSERT_EQ(one_report(path, &st), -EBUSY);
	ASSERT_EQ(st.vmm_error, SNP_VMM_ERR_BUSY);
	ASSERT_OK(get_faults(path, &f));
	ASSERT_EQ(f.busy_count, 2);

	/* What the driver reports: EAGAIN, vmm_error BUSY. */
	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_REPORT, &req, &resp, &e2), -EAGAIN);
	ASSERT_EQ(e2, (uint64_t)SNP_VMM_ERR_BUSY << 32);
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_REPORT, &req, &resp, &e2), -EAGAIN);
	ASSERT_OK(raw_call(&t, SNP_IOCTL_GET_REPORT, &req, &resp, &e2));
	ASSERT_EQ(resp.status, 0);
}

TEST(sim_fault_vmpck_lockout)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	_cleanup_(raw_close) struct raw t = {};
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_report_req req = {};
	struct snp_report_resp resp;
	struct snp_status st;
	struct sim_faults f;
	char path[PATH_MAX];
	uint64_t e2;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(dev_open(path, &d));
	ASSERT_OK(snp_dev_get_report(d, data, 0, 0, report, &st));

	/* A transport error, injected while the device is open: EIO, and the VMPCK is gone. */
	ASSERT_OK(set_faults(path, &(struct sim_faults){ .transport_error = true }));
	ASSERT_EQ(snp_dev_get_report(d, data, 0, 0, report, &st), -EIO);
	ASSERT_TRUE(snp_dev_locked_out(d));
	ASSERT_OK(get_faults(path, &f));
	ASSERT_TRUE(f.vmpck_disabled);
	ASSERT_FALSE(f.transport_error);

	/* Every later request, on any device, fails before reaching the host. */
	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_REPORT, &req, &resp, &e2), -ENOTTY);
	ASSERT_EQ(e2, SNP_EXITINFO2_NOT_SENT);
	raw_close(&t);
	ASSERT_EQ(one_report(path, &st), -ENOTTY);
	ASSERT_FALSE(st.transport_called);
	ASSERT_EQ(one_report(path, &st), -ENOTTY);

	/* A reboot clears it. */
	f.vmpck_disabled = false;
	ASSERT_OK(set_faults(path, &f));
	ASSERT_OK(one_report(path, &st));

	/* What the driver reports for the transport error itself. */
	ASSERT_OK(set_faults(path, &(struct sim_faults){ .transport_error = true }));
	ASSERT_OK(vhsm_snp_sim_open(path, &t.ops, &t.ctx));
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_DERIVED_KEY, &req, &resp, &e2), -EIO);
	ASSERT_EQ(e2, SNP_EXITINFO2_NO_FW_CALL);
	ASSERT_EQ(raw_call(&t, SNP_IOCTL_GET_REPORT, &req, &resp, &e2), -ENOTTY);
}

TEST(sim_fault_fail_status)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;
	struct snp_key_request kr = { .key_sel = 1 };
	struct snp_status st;
	struct sim_faults f;
	char path[PATH_MAX];
	uint8_t key[32];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(set_faults(path, &(struct sim_faults){ .fail_status_set = true,
							 .fail_status = SNP_FW_RESOURCE_LIMIT }));
	ASSERT_EQ(one_report(path, &st), -EREMOTEIO);
	ASSERT_EQ(st.msg_status, SNP_FW_RESOURCE_LIMIT);
	ASSERT_OK(get_faults(path, &f));
	ASSERT_FALSE(f.fail_status_set);
	ASSERT_OK(one_report(path, &st));

	ASSERT_OK(set_faults(path, &(struct sim_faults){ .fail_status_set = true,
							 .fail_status = 0x16 }));
	ASSERT_EQ(derive(path, &kr, key, &st), -EREMOTEIO);
	ASSERT_EQ(st.msg_status, 0x16);
	ASSERT_OK(derive(path, &kr, key, &st));
}

TEST(sim_state_change_while_open)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL, *s2 = NULL;
	_cleanup_(snp_dev_closep) struct snp_dev *d = NULL;
	uint8_t data[64] = {}, report[SNP_REPORT_SIZE];
	struct snp_status st;
	char path[PATH_MAX];

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(save_as(s, test_tmpdir(), "s.json", path));
	ASSERT_OK(dev_open(path, &d));
	ASSERT_OK(snp_dev_get_report(d, data, 0, 0, report, &st));
	ASSERT_MEMEQ(report + SNP_R_MEASUREMENT, s->measurement, 48);
	/* A relaunch with another measurement, written while the device is open. */
	ASSERT_OK(sim_state_load(path, &s2));
	s2->measurement[0] ^= 0xff;
	ASSERT_OK(sim_state_save(s2, path, false));
	ASSERT_OK(snp_dev_get_report(d, data, 0, 0, report, &st));
	ASSERT_MEMEQ(report + SNP_R_MEASUREMENT, s2->measurement, 48);
}

/* ---- VCEK derivation ---- */

#define ENC_PUB OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY

static int pkey_pub(EVP_PKEY *k, uint8_t out[97])
{
	size_t len = 0;

	if (!EVP_PKEY_get_octet_string_param(k, ENC_PUB, out, 97, &len) || len != 97) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

static int vcek_pub(const struct sim_state *s, const struct snp_tcb *t, uint8_t out[97])
{
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
	int r;

	r = sim_vcek_derive(s, t, &k);
	if (r < 0)
		return r;
	return pkey_pub(k, out);
}

TEST(sim_vcek_follows_tcb)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL, *other = NULL;
	_cleanup_(sim_keys_freep) struct sim_keys *k = NULL;
	_cleanup_free_ uint8_t *der = NULL;
	uint8_t p1[97], p2[97], p3[97], p4[97];
	struct snp_tcb t;
	struct amd_vek_ext ext;
	size_t der_len = 0;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &s));
	t = s->committed_tcb;
	ASSERT_OK(vcek_pub(s, &t, p1));
	ASSERT_OK(vcek_pub(s, &t, p2));
	ASSERT_MEMEQ(p1, p2, 97);
	t.snp++;
	ASSERT_OK(vcek_pub(s, &t, p3));
	ASSERT_MEMNE(p1, p3, 97);
	ASSERT_OK(sim_state_new(SNP_PRODUCT_MILAN, &other));
	ASSERT_OK(vcek_pub(other, &s->committed_tcb, p4));
	ASSERT_MEMNE(p1, p4, 97);

	/* A committed firmware update: the VCEK certificate is for the new TCB and key. */
	s->current_tcb = s->committed_tcb = t;
	ASSERT_OK(sim_keys_load(s, &k));
	ASSERT_OK(sim_cert_der(k->vcek, &der, &der_len));
	ASSERT_OK(amd_vek_ext_parse(der, der_len, &ext));
	ASSERT_STREQ(ext.product_name, "Milan-B0");
	ASSERT_EQ(ext.snp_spl, t.snp);
	ASSERT_OK(pkey_pub(k->vcek_key, p2));
	ASSERT_MEMEQ(p2, p3, 97);

	/* A pinned reported TCB keeps the old VCEK. */
	s->reported_tcb_set = true;
	s->reported_tcb = s->launch_tcb;
	k = sim_keys_free(k);
	ASSERT_OK(sim_keys_load(s, &k));
	ASSERT_OK(pkey_pub(k->vcek_key, p2));
	ASSERT_MEMEQ(p2, p1, 97);
}

TEST(sim_ca_product_mismatch)
{
	_cleanup_(sim_state_freep) struct sim_state *m = NULL, *t = NULL;
	_cleanup_(sim_keys_freep) struct sim_keys *k = NULL;

	ASSERT_OK(new_state(SNP_PRODUCT_MILAN, &m));
	ASSERT_OK(sim_state_new(SNP_PRODUCT_TURIN, &t));
	ASSERT_EQ(sim_ca_copy(t, m), -EXDEV);
	/* A state without a CA cannot be saved or used. */
	ASSERT_EQ(sim_keys_load(t, &k), -ENOKEY);
	ASSERT_EQ(sim_state_save(t, "/nonexistent/x.json", false), -ENOKEY);
}

/* ---- state file parsing ---- */

static int json_mutate_parse(const char *text, const char *key, struct json_object *val,
			     struct sim_state **ret)
{
	struct json_object *o = json_tokener_parse(text);
	const char *out;
	int r;

	if (!o) {
		json_object_put(val);
		return -EIO;
	}
	if (val)
		json_object_object_add(o, key, val);
	else
		json_object_object_del(o, key);
	out = json_object_to_json_string(o);
	r = sim_state_from_json(out, strlen(out), ret);
	json_object_put(o);
	return r;
}

static int expect_reject(const char *text, const char *key, struct json_object *val)
{
	struct sim_state *s = NULL;
	int r = json_mutate_parse(text, key, val, &s);

	sim_state_free(s);
	return r;
}

TEST(sim_state_json_strict)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL, *back = NULL;
	_cleanup_free_ char *text = NULL, *big = NULL;
	size_t len = 0;

	ASSERT_OK(new_state(SNP_PRODUCT_TURIN, &s));
	s->reported_tcb_set = true;
	s->reported_tcb = s->launch_tcb;
	s->faults.fail_status_set = true;
	s->faults.fail_status = 0x27;
	s->policy = 0xfedcba9876543210ull;
	ASSERT_OK(sim_state_to_json(s, &text, &len));
	ASSERT_OK(sim_state_from_json(text, len, &back));
	ASSERT_MEMEQ(back->chip_secret, s->chip_secret, 32);
	ASSERT_MEMEQ(back->chip_id, s->chip_id, 64);
	ASSERT_EQ(back->policy, s->policy);
	ASSERT_TRUE(back->reported_tcb_set);
	ASSERT_EQ(back->faults.fail_status, 0x27);
	ASSERT_EQ(back->current_tcb.fmc, s->current_tcb.fmc);
	ASSERT_STREQ(back->ask_cert_pem, s->ask_cert_pem);

	ASSERT_EQ(expect_reject(text, "surprise", json_object_new_int(1)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "format", json_object_new_int(2)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "product", json_object_new_string("venice")), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "policy", json_object_new_int(0x30000)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "policy", json_object_new_string("0x")), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "policy", json_object_new_string("0x10000000000000000")),
		  -EBADMSG);
	ASSERT_EQ(expect_reject(text, "chip_secret", json_object_new_string("00ff")), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "measurement", json_object_new_int(0)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "vmpck_vmpl", json_object_new_int(4)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "guest_svn", json_object_new_int(-1)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "guest_svn", json_object_new_double(1.0)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "report_version", json_object_new_int(4)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "author_key_en", json_object_new_int(1)), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "ark_key", json_object_new_string("not a pem")), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "launch_tcb", json_object_new_object()), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "faults", json_object_new_array()), -EBADMSG);
	ASSERT_EQ(expect_reject(text, "chip_id", NULL), -EBADMSG);
	/* Turin's CHIP_ID is 8 bytes: anything beyond is refused. */
	{
		char hex[129];

		memset(hex, '0', 128);
		hex[128] = '\0';
		hex[20] = '1';
		ASSERT_EQ(expect_reject(text, "chip_id", json_object_new_string(hex)), -EBADMSG);
	}
	/* Not JSON, trailing garbage, NUL bytes, oversize. */
	ASSERT_EQ(sim_state_from_json("{", 1, &back), -EBADMSG);
	ASSERT_EQ(sim_state_from_json("[]", 2, &back), -EBADMSG);
	text[len - 1] = 'x';
	ASSERT_EQ(sim_state_from_json(text, len, &back), -EBADMSG);
	text[len - 1] = '\0';
	ASSERT_EQ(sim_state_from_json(text, len, &back), -EBADMSG);
	big = malloc(SIM_STATE_MAX + 1);
	ASSERT_TRUE(big != NULL);
	memset(big, ' ', SIM_STATE_MAX + 1);
	ASSERT_EQ(sim_state_from_json(big, SIM_STATE_MAX + 1, &back), -EMSGSIZE);
	/* back still holds the round-tripped state: failures leave outputs alone. */
	ASSERT_EQ(back->faults.fail_status, 0x27);
}

TEST(sim_state_fmc_only_on_turin)
{
	_cleanup_(sim_state_freep) struct sim_state *s = NULL;

	ASSERT_OK(sim_state_new(SNP_PRODUCT_MILAN, &s));
	ASSERT_OK(sim_state_validate(s));
	s->committed_tcb.fmc = 1;
	ASSERT_EQ(sim_state_validate(s), -EINVAL);
	s->committed_tcb.fmc = 0;
	s->report_version = 4;
	ASSERT_EQ(sim_state_validate(s), -EINVAL);
}
