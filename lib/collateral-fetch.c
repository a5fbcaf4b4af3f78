/* SPDX-License-Identifier: Apache-2.0 */
/* Filling the collateral cache from the network: AMD KDS and Azure THIM (see collateral.h). */
#include <stdio.h>
#include <string.h>

#include "collateral.h"
#include "http-fetch.h"

#define FETCH_TIMEOUT_SEC 30L

static void add_counts(struct collateral_added *sum, const struct collateral_added *a)
{
	sum->vcek += a->vcek;
	sum->ask += a->ask;
	sum->asvk += a->asvk;
	sum->ark += a->ark;
	sum->crl += a->crl;
}

/* GETs url and imports the answer; why names the URL on failure. */
static int fetch_one(const char *dir, const char *url, const char *header,
		     struct collateral_added *sum, char *why, size_t whylen)
{
	const struct http_fetch_opts o = {
		.max_bytes = COLLATERAL_FILE_MAX, .timeout_sec = FETCH_TIMEOUT_SEC, .header = header,
	};
	_cleanup_free_ uint8_t *body = NULL;
	struct collateral_added a = {};
	char reason[256] = "";
	size_t len = 0;
	int r;

	if (!url)
		return -ENOMEM;
	r = http_fetch(url, &o, &body, &len, NULL, reason, sizeof(reason));
	if (r >= 0)
		r = collateral_import(dir, body, len, &a, reason, sizeof(reason));
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", url, reason[0] ? reason : strerror(-r));
		return r;
	}
	add_counts(sum, &a);
	return 0;
}

int collateral_fetch_kds(const char *dir, const char *base, const struct collateral_id *id,
			 bool vlek, struct collateral_added *ret_added, char *why, size_t whylen)
{
	struct collateral_added sum = {};
	int r;

	if (!dir || !base || !id || !snp_product_kds_name(id->product))
		return -EINVAL;
	_cleanup_free_ char *chain = collateral_kds_chain_url(base, id->product, vlek);
	_cleanup_free_ char *crl = collateral_kds_crl_url(base, id->product, vlek);
	_cleanup_free_ char *vcek = vlek ? NULL : collateral_kds_vcek_url(base, id);
	r = fetch_one(dir, chain, NULL, &sum, why, whylen);
	if (r >= 0)
		r = fetch_one(dir, crl, NULL, &sum, why, whylen);
	if (r >= 0 && !vlek)
		r = fetch_one(dir, vcek, NULL, &sum, why, whylen);
	if (r < 0)
		return r;
	if (!vlek) {
		struct collateral c = {};
		r = collateral_lookup(dir, id, true, false, &c);
		bool found = r >= 0 && c.vek;
		collateral_done(&c);
		if (!found) {
			snprintf(why, whylen, "%s: the VCEK is for another chip or TCB", vcek);
			return -EBADMSG;
		}
	}
	if (ret_added)
		*ret_added = sum;
	return 0;
}

int collateral_fetch_thim(const char *dir, const char *url, struct collateral_added *ret_added,
			  char *why, size_t whylen)
{
	struct collateral_added sum = {};
	int r;

	if (!dir || !url)
		return -EINVAL;
	r = fetch_one(dir, url, "Metadata: true", &sum, why, whylen);
	if (r < 0)
		return r;
	if (ret_added)
		*ret_added = sum;
	return 0;
}
