/*
 * The transport of a node sharing a Ceph cluster (README "Several
 * machines"): discovery names every live node's portal, and a login may
 * be sent to another node with "Target moved temporarily" (RFC 7143
 * 11.13.5), which initiators follow.  What the node knows of the others
 * is the coordinator's page (common/cluster.h), read without a round
 * trip.
 *
 * "cluster redirect" says when: off, never; session, when the target is
 * served by another live node and not by this one (its sessions then
 * stay on one node, where its reservations need no round trip); load,
 * that, and a login to a target served nowhere goes to the least loaded
 * live node when this one serves cluster-balance sessions more.  Public
 * targets are never redirected: their overlays are this node's.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "iscsi.h"
#include "log.h"

/*
 * The i-th live node's portal as a SendTargets answer's TargetAddress
 * (this node's own, from its config, when the page is not there yet).
 * 0, or -1 past the last.
 */
int
redirect_portal(struct worker *w, int i, char *kv, size_t len)
{
	const struct cfg_cluster *cc = &w->w_cfg->c_cluster;
	static struct cluster_view v;
	uint32_t	 n, live = 0;

	if (cluster_page_view(cluster_page(w->w_cfg->c_state_dir), NULL,
	    &v) != 0) {
		if (i != 0)
			return -1;
		snprintf(kv, len, "TargetAddress=%s,1", cc->cc_addr);
		return 0;
	}
	for (n = 0; n < v.cv_nnodes; n++) {
		if (!v.cv_nodes[n].cn_alive && n != v.cv_self)
			continue;
		if ((int)live++ == i) {
			snprintf(kv, len, "TargetAddress=%s,1",
			    v.cv_nodes[n].cn_addr);
			return 0;
		}
	}
	return -1;
}

/*
 * Where a login to t should go instead of here: 1 with addr set (a
 * TargetAddress), 0 to serve it here, -1 when this node cannot serve a
 * shared target yet (its coordinator has not loaded the cluster's
 * state).
 */
int
redirect_login(struct conn *c, const struct target *t, char *addr, size_t len)
{
	struct worker	*w = c->c_w;
	static struct cluster_view v;
	int		 to;

	if (t->tg_kind != TARGET_STATIC && t->tg_kind != TARGET_PSESS)
		return 0;
	if (cluster_page_view(cluster_page(w->w_cfg->c_state_dir), t->tg_iqn,
	    &v) != 0 || v.cv_self >= v.cv_nnodes)
		return -1;
	if ((to = cluster_redirect_pick(&v, w->w_cfg->c_cluster.cc_redirect,
	    w->w_cfg->c_cluster_balance)) < 0)
		return 0;
	snprintf(addr, len, "%s,1", v.cv_nodes[to].cn_addr);
	log_info("login from %s (%s) to %s: redirected to node %s (%s)",
	    c->c_peer, c->c_login.l_initiator, t->tg_iqn,
	    v.cv_nodes[to].cn_name, v.cv_nodes[to].cn_addr);
	return 1;
}
