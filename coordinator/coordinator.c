/*
 * The coordinator process: owner of the LMDB environment.
 *
 * One round: note the doorbell, take up to COORD_BATCH requests from
 * every slot that has no answers waiting, execute all of them in one
 * transaction (a write transaction if any of them writes), commit, sync
 * if a MAP_SYNC or a PR_COMMIT asked for it, then push the answers and
 * wake each worker that got some, or whose requests waited for the
 * room this made (common/shmq.c).  A request leaves its ring only when
 * its answer is in the response ring, so answers that do not fit wait
 * in memory and the slot takes no new work until they are delivered; a
 * restarted coordinator executes again whatever was not answered.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator.h"
#include "log.h"
#include "proc.h"
#include "shmq.h"

#define COORD_BATCH	256	/* requests per slot per round */
#define COORD_WAIT_MS	1000	/* idle sleep; periodic work */
#define COORD_RETRY_MS	1	/* answers waiting for ring space */

enum coord_txn {
	COORD_TXN_NONE,
	COORD_TXN_READ,
	COORD_TXN_WRITE
};

struct coord_slot {
	uint32_t	 cs_n;		/* requests taken this round */
	uint32_t	 cs_sent;	/* answers pushed so far */
	int		 cs_fresh;	/* taken this round, to execute */
	struct shmq_msg	 cs_req[COORD_BATCH];
	struct shmq_msg	 cs_rsp[COORD_BATCH];
};

struct coord_op {
	coord_fn	 op_fn;
	enum coord_txn	 op_txn;
	int		 op_sync;	/* answer only once durable */
};

static int	coord_ping(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);
static int	coord_map_change(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);
static int	coord_map_sync(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);
static int	coord_map_lookup(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);
static int	coord_kv_put(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);
static int	coord_kv_get(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);
static int	coord_kv_del(struct coord *, const struct shmq_msg *,
		    struct shmq_msg *);

static const struct coord_op coord_ops[SHMQ_TYPE_MAX] = {
	[SHMQ_PING] =		{ coord_ping,		COORD_TXN_NONE,  0 },
	[SHMQ_MAP_SET] =	{ coord_map_change,	COORD_TXN_WRITE, 0 },
	[SHMQ_MAP_CLEAR] =	{ coord_map_change,	COORD_TXN_WRITE, 0 },
	[SHMQ_MAP_SYNC] =	{ coord_map_sync,	COORD_TXN_NONE,  1 },
	[SHMQ_MAP_LOOKUP] =	{ coord_map_lookup,	COORD_TXN_READ,  0 },
	[SHMQ_KV_PUT] =		{ coord_kv_put,		COORD_TXN_WRITE, 0 },
	[SHMQ_KV_GET] =		{ coord_kv_get,		COORD_TXN_READ,  0 },
	[SHMQ_KV_DEL] =		{ coord_kv_del,		COORD_TXN_WRITE, 0 },
	[SHMQ_MAP_REGISTER] =	{ coord_map_register,	COORD_TXN_WRITE, 0 },
	[SHMQ_SESSION_START] =	{ coord_session_start,	COORD_TXN_NONE,  0 },
	[SHMQ_SESSION_END] =	{ coord_session_end,	COORD_TXN_NONE,  0 },
	[SHMQ_PSESS_LUNS] =	{ coord_psess_luns,	COORD_TXN_NONE,  0 },
	[SHMQ_PSESS_CREATE] =	{ coord_psess_create,	COORD_TXN_WRITE, 0 },
	[SHMQ_PSESS_DELETE] =	{ coord_psess_delete,	COORD_TXN_WRITE, 0 },
	[SHMQ_PSESS_TOUCH] =	{ coord_psess_touch,	COORD_TXN_WRITE, 0 },
	[SHMQ_PR_COMMIT] =	{ coord_pr_commit,	COORD_TXN_WRITE, 1 },
	[SHMQ_TARGET_RESET] =	{ coord_target_reset,	COORD_TXN_NONE,  0 },
};

static volatile sig_atomic_t	coord_quit;
static volatile sig_atomic_t	coord_reopen;

static const struct coord_op *
coord_op(uint32_t type)
{
	if (type >= SHMQ_TYPE_MAX || coord_ops[type].op_fn == NULL)
		return NULL;
	return &coord_ops[type];
}

static int
coord_ping(struct coord *c, const struct shmq_msg *req, struct shmq_msg *rsp)
{
	(void)c;
	memcpy(rsp->m_data, req->m_data, req->m_len);
	rsp->m_len = req->m_len;
	return 0;
}

/*
 * MAP_SET, MAP_CLEAR: these blocks changed.  Committed as the map file
 * holds them now (coordinator/mirror.c); an LU without a file here gets
 * the change as sent.
 */
static int
coord_map_change(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	uint64_t	 lu, first;
	uint32_t	 count;
	int		 rv;

	(void)rsp;
	if (shmq_map_dec(req, &lu, &first, &count) != 0)
		return -EINVAL;
	coord_cluster_charge(c, lu, count, req->m_type == SHMQ_MAP_SET);
	if ((rv = coord_mirror_commit(c, lu, first, count)) != -ENOENT)
		return rv;
	if (req->m_type == SHMQ_MAP_SET)
		return store_map_set(c->c_store, lu, first, count);
	return store_map_clear(c->c_store, lu, first, count);
}

/* Nothing to do here: the round syncs after its commit. */
static int
coord_map_sync(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	(void)c;
	(void)req;
	(void)rsp;
	return 0;
}

static int
coord_map_lookup(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	uint64_t	 lu, block, first, count;
	uint32_t	 unused;
	int		 rv;

	if (shmq_map_dec(req, &lu, &block, &unused) != 0)
		return -EINVAL;
	rv = store_map_lookup(c->c_store, lu, block, &first, &count);
	if (rv != 0)
		return rv;
	shmq_lookup_enc(rsp, first, count);
	return 0;
}

static int
coord_kv_put(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	const uint8_t	*key, *val;
	size_t		 klen, vlen;

	(void)rsp;
	if (shmq_kv_dec(req, &key, &klen, &val, &vlen) != 0)
		return -EINVAL;
	return store_kv_put(c->c_store, key, klen, val, vlen);
}

static int
coord_kv_get(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	const uint8_t	*key, *val;
	size_t		 klen, vlen;
	int		 rv;

	if (shmq_kv_dec(req, &key, &klen, &val, &vlen) != 0)
		return -EINVAL;
	rv = store_kv_get(c->c_store, key, klen, rsp->m_data, SHMQ_DATA_MAX,
	    &vlen);
	if (rv == 0)
		rsp->m_len = (uint32_t)vlen;
	return rv;
}

static int
coord_kv_del(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	const uint8_t	*key, *val;
	size_t		 klen, vlen;

	(void)rsp;
	if (shmq_kv_dec(req, &key, &klen, &val, &vlen) != 0)
		return -EINVAL;
	return store_kv_del(c->c_store, key, klen);
}

/* Execute one request in the open transaction (if its type needs one). */
static void
coord_dispatch(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	const struct coord_op	*op = coord_op(req->m_type);
	int			 rv;

	rsp->m_type = req->m_type;
	rsp->m_id = req->m_id;
	rsp->m_gen = req->m_gen;
	rsp->m_len = 0;
	if (op == NULL || req->m_len > SHMQ_DATA_MAX) {
		rsp->m_status = EINVAL;
		return;
	}
	rv = op->op_fn(c, req, rsp);
	if (rv != 0)
		rsp->m_len = 0;
	rsp->m_status = (uint32_t)-rv;
}

/* Take up to COORD_BATCH queued requests from a slot with nothing owed. */
static uint32_t
coord_take(struct coord *c, int slot)
{
	struct coord_slot	*cs = &c->c_slot[slot];
	uint32_t		 n = 0;
	int			 rv;

	cs->cs_fresh = 0;
	if (cs->cs_sent < cs->cs_n)
		return 0;
	while (n < COORD_BATCH) {
		rv = shmq_request_peek(c->c_region, slot, n, &cs->cs_req[n]);
		if (rv == 0)
			break;
		if (rv == -ESTALE)	/* a dead worker's: answer, unseen */
			cs->cs_req[n].m_type = SHMQ_NONE;
		n++;
	}
	cs->cs_n = n;
	cs->cs_sent = 0;
	cs->cs_fresh = n > 0;
	return n;
}

static uint32_t
coord_collect(struct coord *c)
{
	uint32_t	 total = 0;
	int		 i;

	for (i = 0; i < c->c_nslots; i++)
		total += coord_take(c, i);
	return total;
}

/* The transaction the fresh requests need, and whether one syncs. */
static enum coord_txn
coord_plan(struct coord *c, int *sync)
{
	const struct coord_op	*op;
	enum coord_txn		 txn = COORD_TXN_NONE;
	struct coord_slot	*cs;
	uint32_t		 j;
	int			 i;

	*sync = 0;
	for (i = 0; i < c->c_nslots; i++) {
		cs = &c->c_slot[i];
		for (j = 0; cs->cs_fresh && j < cs->cs_n; j++) {
			if ((op = coord_op(cs->cs_req[j].m_type)) == NULL)
				continue;
			if (op->op_txn > txn)
				txn = op->op_txn;
			*sync |= op->op_sync;
		}
	}
	return txn;
}

/* Run every fresh request in the open transaction; 0 or its failure. */
static int
coord_run_all(struct coord *c)
{
	struct coord_slot	*cs;
	uint32_t		 j;
	int			 i;

	for (i = 0; i < c->c_nslots; i++) {
		cs = &c->c_slot[i];
		for (j = 0; cs->cs_fresh && j < cs->cs_n; j++) {
			coord_dispatch(c, &cs->cs_req[j], &cs->cs_rsp[j]);
			if (store_failed(c->c_store))
				return store_failed(c->c_store);
		}
	}
	return 0;
}

/* One request, in a transaction of its own. */
static int
coord_run_one(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	const struct coord_op	*op = coord_op(req->m_type);
	int			 rv;

	if (op == NULL || op->op_txn == COORD_TXN_NONE) {
		coord_dispatch(c, req, rsp);
		return 0;
	}
	if ((rv = store_begin(c->c_store, op->op_txn == COORD_TXN_WRITE)) == 0) {
		coord_dispatch(c, req, rsp);
		rv = store_commit(c->c_store);
	}
	if (rv != 0) {
		rsp->m_type = req->m_type;
		rsp->m_id = req->m_id;
		rsp->m_gen = req->m_gen;
		rsp->m_len = 0;
		rsp->m_status = (uint32_t)-rv;
	}
	return op->op_txn == COORD_TXN_WRITE && rv == 0;
}

/*
 * The batch failed as a whole (store full, say): run each request alone
 * so that only those that cannot succeed fail.  Returns the commits.
 */
static uint64_t
coord_run_each(struct coord *c)
{
	struct coord_slot	*cs;
	uint64_t		 commits = 0;
	uint32_t		 j;
	int			 i;

	for (i = 0; i < c->c_nslots; i++) {
		cs = &c->c_slot[i];
		for (j = 0; cs->cs_fresh && j < cs->cs_n; j++)
			commits += coord_run_one(c, &cs->cs_req[j],
			    &cs->cs_rsp[j]);
	}
	return commits;
}

/* The sync failed: so did every fresh request that wanted durability. */
static void
coord_fail_syncs(struct coord *c, int err)
{
	const struct coord_op	*op;
	struct coord_slot	*cs;
	uint32_t		 j;
	int			 i;

	for (i = 0; i < c->c_nslots; i++) {
		cs = &c->c_slot[i];
		for (j = 0; cs->cs_fresh && j < cs->cs_n; j++) {
			op = coord_op(cs->cs_req[j].m_type);
			if (op == NULL || !op->op_sync)
				continue;
			cs->cs_rsp[j].m_status = (uint32_t)-err;
			cs->cs_rsp[j].m_len = 0;
		}
	}
}

/* The monotonic clock, in nanoseconds. */
uint64_t
coord_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Execute the fresh requests: one transaction, then sync if asked. */
static void
coord_execute(struct coord *c, struct shmq_stats *stats)
{
	enum coord_txn	 txn;
	uint64_t	 t0;
	int		 sync, rv = 0;

	txn = coord_plan(c, &sync);
	if (txn != COORD_TXN_NONE)
		rv = store_begin(c->c_store, txn == COORD_TXN_WRITE);
	if (rv == 0 && (rv = coord_run_all(c)) != 0)
		store_abort(c->c_store);
	else if (rv == 0 && txn != COORD_TXN_NONE) {
		t0 = coord_now_ns();
		rv = store_commit(c->c_store);
		if (txn == COORD_TXN_WRITE)
			stats->st_commit_ns += coord_now_ns() - t0;
	}
	if (rv != 0) {
		log_warnx("%s: batch failed (%s), one at a time", __func__,
		    strerror(-rv));
		stats->st_commits += coord_run_each(c);
	} else if (txn == COORD_TXN_WRITE)
		stats->st_commits++;
	if (sync) {
		stats->st_syncs++;
		if ((rv = store_sync(c->c_store)) != 0)
			coord_fail_syncs(c, rv);
	}
}

/* Push what a slot is owed; 1 if some answers still wait for room. */
static int
coord_flush_slot(struct coord *c, int slot)
{
	struct coord_slot	*cs = &c->c_slot[slot];
	uint32_t		 sent = cs->cs_sent;
	int			 pushed = 0;

	while (cs->cs_sent < cs->cs_n) {
		if (cs->cs_req[cs->cs_sent].m_status != SHMQ_NOREPLY) {
			if (shmq_response_push(c->c_region, slot,
			    &cs->cs_rsp[cs->cs_sent]) != 0)
				break;
			pushed = 1;
		}
		cs->cs_sent++;
	}
	if (cs->cs_sent > sent) {
		shmq_request_release(c->c_region, slot, cs->cs_sent - sent);
		if (pushed)
			shmq_worker_notify(c->c_region, slot);
	}
	return cs->cs_sent < cs->cs_n;
}

static int
coord_flush(struct coord *c)
{
	int	 i, owed = 0;

	for (i = 0; i < c->c_nslots; i++)
		owed += coord_flush_slot(c, i);
	return owed;
}

static void
coord_sighandler(int sig)
{
	if (sig == SIGUSR1)
		coord_reopen = 1;
	else
		coord_quit = 1;
}

static void
coord_signals(void)
{
	struct sigaction	 sa;
	sigset_t		 all;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = coord_sighandler;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* Check, or on a fresh environment write, the schema version. */
static int
coord_schema(struct store *st)
{
	uint32_t	 version = 0;
	int		 rv;

	if ((rv = store_begin(st, 1)) != 0)
		return EXIT_FAILURE;
	rv = store_schema_get(st, &version);
	if (rv == -ENOENT) {
		if (store_schema_put(st, COORD_SCHEMA) != 0 ||
		    store_commit(st) != 0)
			return EXIT_FAILURE;
		log_info("%s: new state, schema %u", __func__, COORD_SCHEMA);
		return 0;
	}
	store_abort(st);
	if (rv == 0 && version == COORD_SCHEMA)
		return 0;
	if (rv == 0)
		log_warnx("%s: state has schema %u, this build knows %u",
		    __func__, version, COORD_SCHEMA);
	else
		log_warnx("%s: unreadable schema record: %s", __func__,
		    strerror(-rv));
	return rv == 0 || rv == -EPROTO ? EX_CONFIG : EXIT_FAILURE;
}

static int
coord_open(struct coord *c, const char *state_dir, size_t map_size)
{
	int	 rv;

	rv = store_open(&c->c_store, state_dir, map_size);
	if (rv == -ENOENT || rv == -EACCES || rv == -ENOTDIR) {
		log_warnx("%s: state-dir %s: %s", __func__, state_dir,
		    strerror(-rv));
		return EX_CONFIG;
	}
	if (rv != 0)
		return EXIT_FAILURE;
	return coord_schema(c->c_store);
}

/* Once a second at most: housekeeping.  Returns 0 to stop. */
static int
coord_periodic(struct coord *c)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == c->c_periodic)
		return 1;
	c->c_periodic = now.tv_sec;
	if (getppid() != c->c_ppid) {
		log_warnx("%s: master gone, exiting", __func__);
		return 0;
	}
	if (coord_reopen) {
		coord_reopen = 0;
		log_reopen();
	}
	coord_psess_periodic(c);
	coord_anon_periodic(c);
	return 1;
}

static void
coord_loop(struct coord *c)
{
	struct shmq_stats	 stats;
	uint32_t		 seen, fresh;
	int			 owed;

	while (!coord_quit && coord_periodic(c)) {
		seen = shmq_doorbell_read(c->c_region);
		memset(&stats, 0, sizeof(stats));
		if ((fresh = coord_collect(c)) > 0) {
			coord_execute(c, &stats);
			stats.st_requests = fresh;
			shmq_stats_add(c->c_region, &stats);
			coord_psess_work(c);
		}
		owed = coord_flush(c);
		coord_session_kicks(c);
		coord_cluster_work(c);	/* other nodes, the heartbeat */
		if (fresh > 0)
			continue;
		shmq_doorbell_wait(c->c_region, seen,
		    owed ? COORD_RETRY_MS : COORD_WAIT_MS);
	}
}

/*
 * A coordinator's state, for state_dir and slots [0, nslots) of region:
 * nothing open yet.  NULL, with errno set, if it cannot be made.
 */
struct coord *
coord_new(const char *state_dir, struct shmq_region *region, int nslots)
{
	struct coord	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_statedir = state_dir;
	if (snprintf(c->c_ovldir, sizeof(c->c_ovldir), "%s/overlays",
	    state_dir) >= (int)sizeof(c->c_ovldir)) {
		free(c);
		errno = ENAMETOOLONG;
		return NULL;
	}
	c->c_region = region;
	c->c_nslots = nslots;
	c->c_ppid = getppid();
	if (nslots > 0 &&
	    (c->c_slot = calloc(nslots, sizeof(*c->c_slot))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void
coord_free(struct coord *c)
{
	if (c == NULL)
		return;
	coord_anon_free(c);
	coord_session_fini(c);
	free(c->c_slot);
	free(c);
}

/* The store open, the mirrors made to agree with it: 0 or an exit status. */
static int
coord_start(struct coord *c, size_t map_size)
{
	int	 rv;

	if ((rv = coord_open(c, c->c_statedir, map_size)) != 0)
		return rv;
	if (coord_psess_init(c) != 0 || coord_mirror_init(c) != 0 ||
	    coord_prmirror_init(c) != 0)
		return EXIT_FAILURE;
	return 0;
}

static void
coord_stop(struct coord *c)
{
	coord_cluster_fini(c);
	coord_psess_fini(c);
	coord_mirror_fini(c);
	coord_prmirror_fini(c);
	store_close(c->c_store);
	c->c_store = NULL;
}

/*
 * Entry point of the coordinator process, in the child the master
 * forked: serves every slot of env's region, from the config's
 * state-dir, until SIGTERM, SIGINT or SIGQUIT, or until the master goes
 * away.  Returns the process's exit status: 0, EXIT_FAILURE (respawn),
 * or EX_CONFIG (wrong schema or unusable state-dir; do not respawn).
 */
int
coordinator_main(struct proc_env *env)
{
	const char	*state_dir = env->pe_cfg->c_state_dir;
	struct shmq_region *region = env->pe_region;
	struct coord	*c;
	int		 rv, nslots = shmq_region_nslots(region);

	coord_signals();
	if ((c = coord_new(state_dir, region, nslots)) == NULL)
		fatal("%s: %s", __func__, state_dir);
	c->c_anon.ca_retain = env->pe_cfg->c_anon_retain;
	c->c_mirror.cm_max = env->pe_cfg->c_max_map_extents;
	if ((rv = coord_start(c, env->pe_cfg->c_map_size)) == 0 &&
	    (rv = coord_cluster_init(c, env->pe_cfg)) == 0) {
		shmq_coordinator_set(region, getpid());
		coord_session_hello(c);
		log_info("%s: serving %d slots from %s", __func__, nslots,
		    state_dir);
		coord_loop(c);
		shmq_coordinator_set(region, 0);
	}
	coord_stop(c);
	coord_free(c);
	return rv;
}
