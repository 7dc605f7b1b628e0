/*
 * Several nodes sharing a Ceph cluster (README "Several machines"): the
 * formats two processes of a node share, and the names every node gives
 * the same things in RADOS.
 *
 * In the pool of "cluster pool", the default namespace holds the RBD
 * images: the catalog (every image with a protected snapshot named by
 * "cluster snapshot") and the clones that are the shared LUs,
 *	scsipub.t.NAME.LUN	LUN of the static target NAME
 *	scsipub.s.ID.LUN	LUN of the provisioned session ID (16 hex)
 * each a clone of its image's snapshot, made by the first node to open
 * it.  The namespace CLUSTER_NS holds the shared state, in omaps, each
 * changed by the coordinators only (coordinator/rados.c):
 *	nodes		node name -> "beat conns address"
 *	placement	"node/target iqn" -> sessions of the target there
 *	sessions	session id (16 hex) -> its record (psess_rec_encode)
 *	quota		account (psess-ID, static-NAME) -> bytes used, 16 hex
 *	pr.NAME		"state" -> the reservations of the LU whose mirror
 *			file is NAME (format byte, struct pr_state) and
 *			"ver" -> 16 hex digits, moved by every change
 *	events		no data: every coordinator watches it; a change
 *			is notified on it as "NODE KIND ARG"
 *
 * The node's coordinator tells its workers what they need of that state
 * in the file state-dir/cluster.mirror (struct cluster_page), which
 * only it writes: whether the node may serve (its lease on the
 * cluster), the nodes and their addresses, and which node serves which
 * target.  Readers copy under a sequence word (odd while written).
 */
#ifndef SCSIPUB_CLUSTER_H
#define SCSIPUB_CLUSTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CLUSTER_NS		"scsipub"	/* RADOS namespace of the state */
#define CLUSTER_OBJ_EVENTS	"events"
#define CLUSTER_OBJ_NODES	"nodes"
#define CLUSTER_OBJ_PLACEMENT	"placement"
#define CLUSTER_OBJ_SESSIONS	"sessions"
#define CLUSTER_OBJ_QUOTA	"quota"
#define CLUSTER_PR_PREFIX	"pr."
#define CLUSTER_CLONE_PREFIX	"scsipub."
#define CLUSTER_MIRROR_FILE	"cluster.mirror"
#define CLUSTER_MAGIC		0x73636c75u	/* "sclu" */
#define CLUSTER_LAYOUT		1

#define CLUSTER_MAX_NODES	32
#define CLUSTER_MAX_PLACE	1024	/* targets served somewhere */
#define CLUSTER_VIEW_WAIT_NS	100000000ULL	/* a page being written */
#define CLUSTER_ADDR_MAX	80
#define CLUSTER_CLONE_MAX	(CFG_NAME_MAX + 48)
/*
 * A quota account's counter page, state-dir/overlays/ACCOUNT.quota (as
 * worker/store/lu.h's LU_QUOTA_PAGE): u64 [0] bytes used as this node
 * counts them (the workers' word), [1] set marker (static targets), [2]
 * the RADOS total already counted in [0] (the coordinator's).
 */
#define CLUSTER_QUOTA_PAGE	4096

struct cluster_node {
	char		 cn_name[CFG_NAME_MAX];
	char		 cn_addr[CLUSTER_ADDR_MAX];	/* HOST:PORT */
	uint32_t	 cn_conns;	/* sessions it serves */
	uint32_t	 cn_alive;	/* its heartbeat moves */
};

struct cluster_place {
	uint64_t	 cp_hash;	/* cluster_target_hash of the IQN */
	uint16_t	 cp_node;	/* index in cg_nodes */
	uint16_t	 cp_conns;
	uint32_t	 cp_pad;
};

struct cluster_page {
	uint32_t		 cg_magic;
	uint32_t		 cg_layout;
	_Atomic uint32_t	 cg_seq;	/* odd while being written */
	uint32_t		 cg_ready;	/* the state was loaded once */
	_Atomic uint64_t	 cg_lease;	/* serve until, CLOCK_MONOTONIC ns */
	uint32_t		 cg_self;	/* this node's index */
	uint32_t		 cg_nnodes;
	uint32_t		 cg_nplace;
	uint32_t		 cg_pad;
	struct cluster_node	 cg_nodes[CLUSTER_MAX_NODES];
	struct cluster_place	 cg_place[CLUSTER_MAX_PLACE];
};

/* What a worker reads of the page: the nodes and where a target is. */
struct cluster_view {
	uint32_t		 cv_ready;
	uint32_t		 cv_self;
	uint32_t		 cv_nnodes;
	struct cluster_node	 cv_nodes[CLUSTER_MAX_NODES];
	int			 cv_where;	/* a node serving the target, -1 */
	uint32_t		 cv_here;	/* its sessions on this node */
};

/* common/cluster.c */
uint64_t	 cluster_now_ns(void);
uint64_t	 cluster_target_hash(const char *);
int		 cluster_clone_name(char *, size_t, int, const char *, int);
struct cluster_page *cluster_page_open(const char *, int);
void		 cluster_page_close(struct cluster_page *);
struct cluster_page *cluster_page(const char *);
void		 cluster_page_begin(struct cluster_page *);
void		 cluster_page_end(struct cluster_page *);
int		 cluster_page_view(struct cluster_page *, const char *,
		    struct cluster_view *);
int		 cluster_page_serving(struct cluster_page *);
int		 cluster_redirect_pick(const struct cluster_view *,
		    enum cfg_redirect, uint64_t);
int		 cluster_connect(const struct cfg_cluster *, const char *,
		    void **, void **);
void		 cluster_disconnect(void *, void *);

#endif /* SCSIPUB_CLUSTER_H */
