/*
 * The coordinator: the only process that opens the LMDB environment.
 * It drains the workers' request rings, executes a whole batch of
 * requests in one write transaction, commits, then answers them all.
 * Its state is one struct coord, which every handler is given: a part
 * for each module, declared here, so that what the process remembers
 * between requests can be read in one place.
 */
#ifndef SCSIPUB_COORDINATOR_H
#define SCSIPUB_COORDINATOR_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "shmq.h"

#define COORD_SCHEMA		1	/* layout of the named databases */

#define STORE_MAPSIZE_DEFAULT	((size_t)1 << 30)
#define STORE_KEY_MAX		255	/* KV keys */

struct coord_cluster;
struct coord_slot;
struct mirror;
struct pr_lu;
struct pr_state;
struct proc_env;
struct psess_mirror;
struct psess_rec;
struct shmq_msg;
struct shmq_region;
struct store;

/* ---- The coordinator's state: one struct coord, a part per module. */

/* coordinator/session.c: the live sessions, by I_T nexus */
#define COORD_SESS_MIN		1024	/* first table size, a power of two */
#define COORD_KICK_MAX		256
#define COORD_RESET_MAX		64

struct coord_sess {
	struct shmq_session s_id;	/* s_id.ss_initiator[0] == 0: free */
	uint64_t	 s_hash;
	uint32_t	 s_gen;		/* the slot's generation at login */
};

struct coord_kick {
	int		 k_slot;
	int		 k_why;		/* SHMQ_KICK_* */
	uint32_t	 k_gen;		/* dropped if the slot moved on */
	uint64_t	 k_conn;
};

/* A TARGET COLD RESET, carried out once its round has run. */
struct coord_reset {
	char		 r_target[SHMQ_NAME_MAX];
	uint64_t	 r_conn;	/* the asking session: spared */
	int		 r_slot;
};

/*
 * The registry: open addressing over pointers to its entries, grown
 * (doubled, at half full) as sessions come, so that it holds what
 * max-connections lets in and costs an idle session one entry.
 */
struct coord_sessions {
	struct coord_sess **cs_tab;	/* NULL: free */
	uint32_t	   cs_mask;	/* size - 1 */
	uint32_t	   cs_n;	/* entries */
	uint64_t	   cs_seed;	/* so that nobody picks the buckets */
	struct coord_kick  cs_kick[COORD_KICK_MAX];	/* to deliver */
	int		   cs_nkick;
	struct coord_reset cs_reset[COORD_RESET_MAX];	/* this round's */
	int		   cs_nreset;
	uint64_t	   cs_hello[SHMQ_SLOTS_MAX / 64];	/* slots owed
							   COORD_HELLO */
};

/* coordinator/psess.c: the provisioned sessions (their table: cp_m) */
#define COORD_PEND_MAX		8	/* CREATEs being staged at once */
#define COORD_RATE_MAX		256	/* owners tracked by the rate limit */
#define COORD_PURGE_MAX		64

struct coord_pending {
	uint64_t	 pp_id;
	time_t		 pp_when;
	uint32_t	 pp_have[CFG_MAX_TARGET_LUNS / 32];
	char		 pp_images[CFG_MAX_TARGET_LUNS][CFG_NAME_MAX];
};

struct coord_rate {
	uint64_t	 pr_owner;
	time_t		 pr_start;
	uint32_t	 pr_n;
};

struct coord_psess {
	struct psess_mirror	*cp_m;
	int			 cp_txn;	/* periodic: own transaction */
	struct coord_pending	 cp_pend[COORD_PEND_MAX];
	struct coord_rate	 cp_rate[COORD_RATE_MAX];
	uint64_t		 cp_purge[COORD_PURGE_MAX];	/* files to go */
	int			 cp_npurge;
	uint8_t			 cp_keep[CFG_PSESS_MAX];	/* coord_psess_sync_* */
};

/* coordinator/mirror.c: the shared LUs' map files, mapped */
struct coord_mirrors {
	struct mirror	*cm_v;
	size_t		 cm_n;
	uint64_t	 cm_max;	/* max-map-extents per session; 0: none */
};

/* coordinator/prmirror.c: the shared LUs' reservation mirrors, mapped */
struct coord_prmirrors {
	struct pr_lu	**cr_v;
	size_t		  cr_n;
};

/*
 * coordinator/anon.c: the anonymous directories with something due, by
 * name and by when
 */
struct anon_dir;

struct coord_anon {
	struct anon_dir	**ca_tab;	/* by name, ca_tabsz chains */
	size_t		  ca_tabsz;	/* a power of two */
	uint64_t	  ca_seed;
	struct anon_dir	**ca_heap;	/* by when due, earliest first */
	size_t		  ca_n;
	uint64_t	  ca_retain;	/* anonymous-retain, seconds */
	time_t		  ca_now;	/* the last tick's */
	int		  ca_built;	/* read from the disk */
	uint32_t	 *ca_gens;	/* the slots' generations seen */
	uint64_t	  ca_reads;	/* directories read (tests) */
	uint64_t	  ca_tick_ms;	/* reading per tick; 0: ANON_TICK_MS */
};

struct coord {
	struct store		*c_store;
	struct shmq_region	*c_region;
	int			 c_nslots;
	struct coord_slot	*c_slot;	/* c_nslots: this round's work */
	pid_t			 c_ppid;
	time_t			 c_periodic;
	const char		*c_statedir;
	char			 c_ovldir[PATH_MAX];	/* state-dir/overlays */
	struct coord_sessions	 c_sess;
	struct coord_psess	 c_psess;
	struct coord_mirrors	 c_mirror;
	struct coord_prmirrors	 c_prm;
	struct coord_anon	 c_anon;
	struct coord_cluster	*c_cluster;	/* rados.c; NULL: one machine */
};

/* A request's handler: 0 or -errno; an answer's payload goes in rsp. */
typedef int (*coord_fn)(struct coord *, const struct shmq_msg *,
    struct shmq_msg *);

/* coordinator/anon.c */
void		 coord_anon_periodic(struct coord *);
void		 coord_anon_tick(struct coord *, time_t, time_t);
void		 coord_anon_ended(struct coord *, const struct shmq_session *);
void		 coord_anon_free(struct coord *);

/* coordinator/coordinator.c */
int		 coordinator_main(struct proc_env *);
struct coord	*coord_new(const char *, struct shmq_region *, int);
void		 coord_free(struct coord *);
uint64_t	 coord_now_ns(void);

/* coordinator/store.c */
int	 store_open(struct store **, const char *, size_t);
void	 store_close(struct store *);
int	 store_errno(int);
int	 store_begin(struct store *, int);
int	 store_commit(struct store *);
void	 store_abort(struct store *);
int	 store_failed(const struct store *);
int	 store_nest(struct store *);
int	 store_unnest(struct store *, int);
int64_t	 store_map_records(const struct store *);
int	 store_sync(struct store *);
int	 store_schema_get(struct store *, uint32_t *);
int	 store_schema_put(struct store *, uint32_t);
int	 store_map_set(struct store *, uint64_t, uint64_t, uint64_t);
int	 store_map_clear(struct store *, uint64_t, uint64_t, uint64_t);
int	 store_map_lookup(struct store *, uint64_t, uint64_t, uint64_t *,
	    uint64_t *);
int	 store_kv_put(struct store *, const void *, size_t, const void *,
	    size_t);
int	 store_kv_get(struct store *, const void *, size_t, void *, size_t,
	    size_t *);
int	 store_kv_del(struct store *, const void *, size_t);
int	 store_map_foreach(struct store *, uint64_t,
	    int (*)(void *, uint64_t, uint64_t), void *);
int	 store_kv_foreach(struct store *, const void *, size_t,
	    int (*)(void *, const uint8_t *, size_t, const uint8_t *, size_t),
	    void *);
int	 store_psess_put(struct store *, uint64_t, const void *, size_t);
int	 store_psess_get(struct store *, uint64_t, void *, size_t, size_t *);
int	 store_psess_del(struct store *, uint64_t);
int	 store_psess_foreach(struct store *, int (*)(uint64_t, const void *,
	    size_t, void *), void *);

/* coordinator/session.c */
void	 coord_session_hello(struct coord *);
void	 coord_session_fini(struct coord *);
int	 coord_session_start(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_session_end(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_target_reset(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
void	 coord_session_kicks(struct coord *);

/* coordinator/psess.c */
int	 coord_psess_init(struct coord *);
void	 coord_psess_fini(struct coord *);
void	 coord_psess_periodic(struct coord *);
void	 coord_psess_work(struct coord *);
int	 coord_psess_luns(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_psess_create(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_psess_delete(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_psess_touch(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);

/* coordinator/mirror.c */
int	 coord_mirror_init(struct coord *);
void	 coord_mirror_fini(struct coord *);
int	 coord_map_register(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_mirror_commit(struct coord *, uint64_t, uint64_t, uint64_t);
int	 coord_mirror_forget(struct coord *, const char *);
int	 coord_mirror_name_ok(const char *, size_t);

/* coordinator/psess.c: a node in a cluster, the table made RADOS's */
int	 coord_psess_sync_begin(struct coord *);
void	 coord_psess_sync_one(struct coord *, const struct psess_rec *);
void	 coord_psess_sync_end(struct coord *, int);

/* coordinator/rados*.c: a node sharing a Ceph cluster (no-ops without) */
int	 coord_cluster_init(struct coord *, const struct config *);
void	 coord_cluster_fini(struct coord *);
void	 coord_cluster_work(struct coord *);
int	 coord_cluster_pr(struct coord *, const char *,
	    const struct pr_state *);
int	 coord_cluster_psess_put(struct coord *, const struct psess_rec *);
void	 coord_cluster_psess_gone(struct coord *, const struct psess_rec *);
int	 coord_cluster_psess_elsewhere(struct coord *,
	    const struct psess_rec *);
void	 coord_cluster_register(struct coord *, uint64_t, const char *);
void	 coord_cluster_charge(struct coord *, uint64_t, uint32_t, int);

/* coordinator/prmirror.c */
int	 coord_prmirror_init(struct coord *);
void	 coord_prmirror_fini(struct coord *);
int	 coord_pr_commit(struct coord *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_prmirror_forget(struct coord *, const char *);

#endif /* SCSIPUB_COORDINATOR_H */
