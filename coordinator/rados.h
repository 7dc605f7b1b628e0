/*
 * The coordinator of a node sharing a Ceph cluster: its part of struct
 * coord (c_cluster), private to coordinator/rados*.c.  The layout of the
 * shared state in RADOS is common/cluster.h's.
 *
 * Threads: the coordinator's own (the main one: its rounds, the
 * heartbeat, every change this node makes to RADOS, and the waits for
 * the other nodes to apply them) and one helper, started here, that
 * takes the other nodes' notifications (librados calls back on a thread
 * of its own, which only queues them): it puts a reservation change
 * into this node's mirror before acknowledging it, and hands a change of
 * the sessions to the main thread, acknowledging it once that one has
 * applied it.  The helper also keeps the node's beat in "nodes" and its
 * lease, so that neither stops while the main thread waits for a node
 * that died.  cl_mtx guards the queue, the watch and the reservation
 * states (cl_prs).
 */
#ifndef SCSIPUB_RADOS_H
#define SCSIPUB_RADOS_H

#include <pthread.h>
#include <stdint.h>

#include <rados/librados.h>

#include "cluster.h"
#include "prstate.h"
#include "psess.h"
#include "shmq.h"

#define CL_EVENT_MAX	256	/* notifications waiting for the helper */
#define CL_PAYLOAD_MAX	(CFG_NAME_MAX + 16 + PR_FNAME_MAX)
#define CL_GONE_MAX	1024	/* sessions whose clones are still there */
#define CL_PR_FMT	1	/* format byte of a reservation state */

/* A node as this one sees it. */
struct cl_node {
	char		 n_name[CFG_NAME_MAX];
	char		 n_addr[CLUSTER_ADDR_MAX];
	uint64_t	 n_beat;	/* its heartbeat, as last read */
	uint64_t	 n_moved;	/* when it last moved, ns */
	uint32_t	 n_conns;
	int		 n_alive;
};

/* A notification from another node, waiting to be applied and acked. */
struct cl_event {
	uint64_t	 ev_id;		/* notify id */
	uint64_t	 ev_cookie;
	char		 ev_kind[16];
	char		 ev_arg[PR_FNAME_MAX + 1];
};

/* The reservations of one shared LU as RADOS last had them. */
struct cl_pr {
	char		 cp_name[PR_FNAME_MAX + 1];	/* its mirror file */
	uint64_t	 cp_ver;	/* "ver"; 0: no object yet */
	uint32_t	 cp_seq;	/* the mirror's ps_seq, last compared */
	struct pr_lu	*cp_pl;		/* the mirror, the helper's handle */
	struct pr_state	 cp_st;		/* normalised (cl_pr_norm) */
};

/* A quota account this node counts writes for: its counter page. */
struct cl_acct {
	char		 a_name[CFG_NAME_MAX + 16];	/* psess-ID, static-NAME */
	uint64_t	*a_page;	/* [0] used, [1] magic, [2] RADOS seen */
	int64_t		 a_delta;	/* bytes counted here, not in RADOS */
};

struct cl_lu {
	uint64_t	 l_id;		/* the map id the worker registered */
	size_t		 l_acct;
};

/* What this node serves: a target and its sessions here. */
struct cl_target {
	const char	*t_iqn;		/* in the session table */
	uint32_t	 t_n;
};

/* ... as this node last wrote it into "placement". */
struct cl_place {
	char		 p_iqn[SHMQ_NAME_MAX];
	uint32_t	 p_n;
};

struct cl_gone {
	uint64_t	 g_id;
	int		 g_nluns;
};

struct coord_cluster {
	const struct config	*cl_cfg;
	const struct cfg_cluster *cl_cc;
	struct coord		*cl_coord;
	rados_t			 cl_rados;
	rados_ioctx_t		 cl_pool;	/* images */
	rados_ioctx_t		 cl_io;		/* CLUSTER_NS: the state */
	uint64_t		 cl_watch;
	int			 cl_watching;
	volatile int		 cl_watch_lost;	/* set by librados' thread */
	volatile int		 cl_stale;	/* notifications may be missed */
	struct cluster_page	*cl_pg;
	uint64_t		 cl_timeout;	/* ns */
	uint64_t		 cl_period;	/* ns between heartbeats */
	uint64_t		 cl_next;	/* the next one, ns */
	uint64_t		 cl_beat;	/* the helper's */
	_Atomic uint32_t	 cl_conns;	/* sessions here, for the beat */
	uint64_t		 cl_watch_secs;	/* of the watch at the OSD */
	uint64_t		 cl_now;	/* of the nodes being read */
	struct cl_node		 cl_nodes[CLUSTER_MAX_NODES];
	int			 cl_nnodes;
	/* the placement as read, before it goes to the page */
	struct cluster_place	 cl_place[CLUSTER_MAX_PLACE];
	uint32_t		 cl_nplace;
	int			 cl_applying;	/* applying RADOS's sessions */
	int			 cl_sessions_dirty;

	/* the helper thread */
	pthread_t		 cl_thread;
	int			 cl_thread_on;
	pthread_mutex_t		 cl_mtx;
	pthread_cond_t		 cl_cv;
	int			 cl_stop;
	struct cl_event		 cl_q[CL_EVENT_MAX];	/* for the helper */
	int			 cl_nq;
	struct cl_event		 cl_acks[CL_EVENT_MAX];	/* for the main one */
	int			 cl_nacks;
	uint64_t		 cl_next_beat;	/* the helper's beat, ns */
	int			 cl_lease_said;
	int			 cl_hb_said;

	struct cl_pr		**cl_prs;
	size_t			 cl_nprs;
	struct cl_acct		*cl_accts;
	size_t			 cl_naccts;
	struct cl_lu		*cl_lus;
	size_t			 cl_nlus;
	struct cl_gone		 cl_gone[CL_GONE_MAX];
	int			 cl_ngone;
	struct cl_target	*cl_here;	/* this heartbeat's, sorted */
	size_t			 cl_nhere;
	size_t			 cl_herecap;
	struct cl_place		*cl_pub;	/* in RADOS, sorted */
	size_t			 cl_npub;
	size_t			 cl_pubcap;
};

/* coordinator/rados.c */
typedef int (*cl_kv_fn)(void *, const char *, const char *, size_t);
int	 cl_omap_foreach(struct coord_cluster *, const char *, const char *,
	    cl_kv_fn, void *);
int	 cl_omap_put(struct coord_cluster *, const char *, const char *,
	    const char *, size_t);
int	 cl_omap_rm(struct coord_cluster *, const char *, const char *);
int	 cl_notify(struct coord_cluster *, const char *, const char *);
void	 cl_wake(struct coord_cluster *);
int	 cl_omap_get(struct coord_cluster *, const char *, const char *,
	    char *, size_t, size_t *);

/* coordinator/rados_pr.c */
int	 cl_pr_load_all(struct coord_cluster *);
void	 cl_pr_event(struct coord_cluster *, const char *);
void	 cl_pr_heartbeat(struct coord_cluster *);
void	 cl_pr_forget(struct coord_cluster *, const char *);
void	 cl_pr_fini(struct coord_cluster *);

/* coordinator/rados_psess.c */
int	 cl_psess_load(struct coord_cluster *);
void	 cl_psess_heartbeat(struct coord_cluster *);
void	 cl_quota_heartbeat(struct coord_cluster *);
int	 cl_clones_sweep(struct coord_cluster *);
void	 cl_psess_fini(struct coord_cluster *);

#endif /* SCSIPUB_RADOS_H */
