/*
 * The coordinator's side of the shared copy-on-write maps.  LMDB holds
 * the authoritative runs of every shared LU (M runs under the LU's id, Z
 * runs under id | COWMAP_ZLU); the map files in state-dir/overlays are
 * the mirror every worker reads without asking.  Workers register each
 * shared LU (MAP_REGISTER: id, blocks, file name); at start the
 * coordinator puts every committed run back into its map file (a lost or
 * stale file is rebuilt from LMDB).  A MAP_SET or MAP_CLEAR says which
 * blocks changed; what is committed for them is the state the file
 * holds when the commit is made, never the change replayed: workers
 * change the same blocks at once and their messages may arrive in any
 * order, while the file always holds the latest state (and the quota
 * was counted on the changes made to it).  The coordinator writes the
 * file only at start, adding bits: a bit set by a worker whose MAP_SET
 * is still in its ring is left alone.
 *
 * The records a session's LUs hold in LMDB (their runs, M and Z) are
 * counted, per session (the map file's name up to its last "-":
 * "psess-ID", "static-NAME"), in a kv record 'E' + that name, changed in
 * the transaction that changes the runs.  A commit that would take a
 * session past max-map-extents is taken back whole (a nested
 * transaction) and fails with EDQUOT: UNMAP is free of quota, and
 * every other block deallocated would otherwise be a record each.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "coordinator.h"
#include "cowmap.h"
#include "log.h"
#include "shmq.h"

#define MIRROR_KEY	'L'		/* kv key: 'L' + be64 id */
#define MIRROR_KEYLEN	9
#define MIRROR_NAME_MAX	(SHMQ_DATA_MAX - SHMQ_REGISTER_LEN)
#define MIRROR_ACCT_KEY	'E'		/* kv key: 'E' + session name */

struct mirror {
	uint64_t	 mi_id;
	uint64_t	 mi_nblocks;
	uint8_t		*mi_base;	/* header page, then the bits */
	size_t		 mi_len;
	char		 mi_acct[MIRROR_NAME_MAX + 1];	/* its session */
};

/* The session a map file's name belongs to: the name to its last "-". */
static void
mirror_acct(const char *name, char acct[MIRROR_NAME_MAX + 1])
{
	const char	*dash = strrchr(name, '-');
	size_t		 n = dash != NULL ? (size_t)(dash - name) : strlen(name);

	if (n > MIRROR_NAME_MAX)
		n = MIRROR_NAME_MAX;
	memcpy(acct, name, n);
	acct[n] = '\0';
}

static struct mirror *
mirror_find(struct coord_mirrors *cm, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < cm->cm_n; i++)
		if (cm->cm_v[i].mi_id == id)
			return &cm->cm_v[i];
	return NULL;
}

/* A file name of state-dir/overlays: not empty, no "/", no dot first. */
int
coord_mirror_name_ok(const char *name, size_t len)
{
	size_t	 i;

	if (len == 0 || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == '\0')
			return 0;
	return 1;
}

/* Map file of one LU, created at its full size when it is missing. */
static int
mirror_open(const char *dir, uint64_t id, uint64_t nblocks, const char *name,
    struct mirror *mi)
{
	char	 path[PATH_MAX];
	size_t	 len = cowmap_file_len(nblocks);
	struct stat st;
	int	 fd;
	void	*m;

	if (snprintf(path, sizeof(path), "%s/%s.map", dir, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -errno;
	if (fstat(fd, &st) == -1 || ((size_t)st.st_size < len &&
	    ftruncate(fd, (off_t)len) == -1) ||
	    (m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
	    MAP_FAILED) {
		int e = errno;

		close(fd);
		return -e;
	}
	close(fd);
	mi->mi_id = id;
	mi->mi_nblocks = nblocks;
	mi->mi_base = m;
	mi->mi_len = len;
	mirror_acct(name, mi->mi_acct);
	return 0;
}

struct mirror_fill {
	struct mirror	*f_mi;
	int		 f_bits;
};

static int
mirror_fill_run(void *arg, uint64_t first, uint64_t count)
{
	struct mirror_fill *f = arg;
	uint64_t	 b;

	for (b = first; b < first + count && b < f->f_mi->mi_nblocks; b++)
		cowmap_or(f->f_mi->mi_base + COWMAP_BITS, b, f->f_bits);
	return 0;
}

/* Put every committed run of the LU into its map file. */
static int
mirror_rebuild(struct store *st, struct mirror *mi)
{
	struct mirror_fill f = { mi, COWMAP_M };
	int		 rv;

	if ((rv = store_map_foreach(st, mi->mi_id & ~COWMAP_ZLU,
	    mirror_fill_run, &f)) != 0)
		return rv;
	f.f_bits = COWMAP_M | COWMAP_Z;
	if ((rv = store_map_foreach(st, mi->mi_id | COWMAP_ZLU,
	    mirror_fill_run, &f)) != 0)
		return rv;
	return msync(mi->mi_base, mi->mi_len, MS_SYNC) == -1 ? -errno : 0;
}

static int
mirror_add(struct coord *c, uint64_t id, uint64_t nblocks, const char *name)
{
	struct coord_mirrors *cm = &c->c_mirror;
	struct mirror	 mi, *v;
	int		 rv;

	if (mirror_find(cm, id) != NULL)
		return 0;
	if ((rv = mirror_open(c->c_ovldir, id, nblocks, name, &mi)) != 0) {
		log_warnx("%s: %s: %s", __func__, name, strerror(-rv));
		return rv;
	}
	if ((v = reallocarray(cm->cm_v, cm->cm_n + 1, sizeof(*v))) == NULL) {
		munmap(mi.mi_base, mi.mi_len);
		return -ENOMEM;
	}
	cm->cm_v = v;
	cm->cm_v[cm->cm_n++] = mi;
	if ((rv = mirror_rebuild(c->c_store, &cm->cm_v[cm->cm_n - 1])) != 0)
		log_warnx("%s: rebuilding %s: %s", __func__, name,
		    strerror(-rv));
	return 0;
}

/*
 * The LMDB record of a registered LU: key 'L' + be64 id, value be64
 * blocks + file name.
 */
static void
mirror_key(uint8_t k[MIRROR_KEYLEN], uint64_t id)
{
	k[0] = MIRROR_KEY;
	be64enc(k + 1, id);
}

static int
mirror_rec_put(struct store *st, uint64_t id, uint64_t nblocks,
    const char *name)
{
	uint8_t	 k[MIRROR_KEYLEN], v[8 + MIRROR_NAME_MAX];
	size_t	 n = strlen(name);

	if (n > MIRROR_NAME_MAX)
		return -EINVAL;
	mirror_key(k, id);
	be64enc(v, nblocks);
	memcpy(v + 8, name, n);
	return store_kv_put(st, k, sizeof(k), v, 8 + n);
}

static int
mirror_rec_dec(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
    uint64_t *id, uint64_t *nblocks, char name[MIRROR_NAME_MAX + 1])
{
	if (klen != MIRROR_KEYLEN || vlen <= 8 || vlen - 8 > MIRROR_NAME_MAX ||
	    !coord_mirror_name_ok((const char *)v + 8, vlen - 8))
		return -EINVAL;
	*id = be64dec(k + 1);
	*nblocks = be64dec(v);
	memcpy(name, v + 8, vlen - 8);
	name[vlen - 8] = '\0';
	return 0;
}

static int
mirror_load_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen)
{
	char		 name[MIRROR_NAME_MAX + 1];
	uint64_t	 id, nblocks;

	if (mirror_rec_dec(k, klen, v, vlen, &id, &nblocks, name) == 0)
		mirror_add(arg, id, nblocks, name);
	return 0;
}

/* At start: every registered shared LU's map file rebuilt from LMDB. */
int
coord_mirror_init(struct coord *c)
{
	uint8_t	 prefix = MIRROR_KEY;
	int	 rv;

	if ((rv = store_begin(c->c_store, 0)) != 0)
		return rv;
	rv = store_kv_foreach(c->c_store, &prefix, 1, mirror_load_one, c);
	store_abort(c->c_store);
	if (c->c_mirror.cm_n > 0)
		log_info("%s: %zu shared maps rebuilt from LMDB", __func__,
		    c->c_mirror.cm_n);
	return rv;
}

void
coord_mirror_fini(struct coord *c)
{
	struct coord_mirrors *cm = &c->c_mirror;
	size_t	 i;

	for (i = 0; i < cm->cm_n; i++)
		munmap(cm->cm_v[i].mi_base, cm->cm_v[i].mi_len);
	free(cm->cm_v);
	cm->cm_v = NULL;
	cm->cm_n = 0;
}

/* MAP_REGISTER: a shared LU and its map file (no "/"), in a write txn. */
int
coord_map_register(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	char		 name[MIRROR_NAME_MAX + 1];
	uint64_t	 id, nblocks;
	int		 rv;

	(void)rsp;
	if (shmq_register_dec(req, &id, &nblocks, name, sizeof(name)) != 0 ||
	    !coord_mirror_name_ok(name, strlen(name)))
		return -EINVAL;
	if ((rv = mirror_rec_put(c->c_store, id, nblocks, name)) != 0)
		return rv;
	coord_cluster_register(c, id, name);	/* its quota, in RADOS */
	return mirror_add(c, id, nblocks, name);
}

/* ---- Records per session (max-map-extents) */

static size_t
acct_key(uint8_t k[1 + MIRROR_NAME_MAX], const char *acct)
{
	size_t	 n = strlen(acct);

	k[0] = MIRROR_ACCT_KEY;
	memcpy(k + 1, acct, n);
	return 1 + n;
}

static int
acct_count_run(void *arg, uint64_t first, uint64_t count)
{
	(void)first;
	(void)count;
	(*(uint64_t *)arg)++;
	return 0;
}

struct acct_count {
	struct store	*ac_st;
	const char	*ac_acct;
	uint64_t	 ac_n;
};

static int
acct_count_lu(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen)
{
	struct acct_count *ac = arg;
	char		 name[MIRROR_NAME_MAX + 1], acct[MIRROR_NAME_MAX + 1];
	uint64_t	 id, nblocks;
	int		 rv;

	if (mirror_rec_dec(k, klen, v, vlen, &id, &nblocks, name) != 0)
		return 0;
	mirror_acct(name, acct);
	if (strcmp(acct, ac->ac_acct) != 0)
		return 0;
	if ((rv = store_map_foreach(ac->ac_st, id, acct_count_run,
	    &ac->ac_n)) != 0)
		return rv;
	return store_map_foreach(ac->ac_st, id | COWMAP_ZLU, acct_count_run,
	    &ac->ac_n);
}

/*
 * The records of session acct's runs: its count (0), or counted (1: an
 * environment older than the count, or a session that never committed).
 */
static int
acct_get(struct store *st, const char *acct, uint64_t *n)
{
	uint8_t		 k[1 + MIRROR_NAME_MAX], v[8], prefix = MIRROR_KEY;
	struct acct_count ac = { st, acct, 0 };
	size_t		 klen = acct_key(k, acct), vlen;
	int		 rv;

	rv = store_kv_get(st, k, klen, v, sizeof(v), &vlen);
	if (rv == 0 && vlen == sizeof(v)) {
		*n = be64dec(v);
		return 0;
	}
	if (rv != 0 && rv != -ENOENT)
		return rv;
	if ((rv = store_kv_foreach(st, &prefix, 1, acct_count_lu, &ac)) != 0)
		return rv;
	*n = ac.ac_n;
	return 1;
}

static int
acct_put(struct store *st, const char *acct, uint64_t n)
{
	uint8_t	 k[1 + MIRROR_NAME_MAX], v[8];

	be64enc(v, n);
	return store_kv_put(st, k, acct_key(k, acct), v, sizeof(v));
}

/* ---- Commits */

/*
 * The runs of blocks [first, end) in the file, plane bit: each put in
 * LMDB (st not NULL); their number.
 */
static int
mirror_runs(struct store *st, struct mirror *mi, uint64_t lu, uint64_t first,
    uint64_t end, uint64_t *nruns)
{
	const uint8_t	*bits = mi->mi_base + COWMAP_BITS;
	int		 bit = (lu & COWMAP_ZLU) ? COWMAP_Z : COWMAP_M, on, rv;
	uint64_t	 b, run;

	*nruns = 0;
	for (b = first; b < end; b += run) {
		on = cowmap_get(bits, b) & bit;
		for (run = 1; b + run < end && (cowmap_get(bits, b + run) &
		    bit) == on; run++)
			continue;
		(*nruns)++;
		if (st == NULL)
			continue;
		rv = on ? store_map_set(st, lu, b, run) :
		    store_map_clear(st, lu, b, run);
		if (rv != 0)
			return rv;
	}
	return 0;
}

/*
 * Put the runs in LMDB, counted for the session; past its max-map-extents
 * (n records before, nruns at most added: one each), nested, and taken
 * back with EDQUOT if its records grew past it.
 */
static int
mirror_put_runs(struct coord *c, struct mirror *mi, uint64_t lu,
    uint64_t first, uint64_t end, uint64_t n, uint64_t nruns, int counted)
{
	struct store	*st = c->c_store;
	uint64_t	 max = c->c_mirror.cm_max, unused;
	int64_t		 before = store_map_records(st), grew;
	int		 nest = max != 0 && n + nruns > max, rv;

	if (nest && (rv = store_nest(st)) != 0)
		return rv;
	rv = mirror_runs(st, mi, lu, first, end, &unused);
	grew = store_map_records(st) - before;
	if (nest && rv == 0 && grew > 0 && n + (uint64_t)grew > max) {
		store_unnest(st, 0);
		log_info("%s: %s holds %llu map records, at most %llu: "
		    "refused", __func__, mi->mi_acct, (unsigned long long)n,
		    (unsigned long long)max);
		return -EDQUOT;
	}
	if (nest && (rv = store_unnest(st, rv == 0)) != 0)
		return rv;
	if (rv != 0 || (grew == 0 && !counted))
		return rv;
	return acct_put(st, mi->mi_acct, grew < 0 && (uint64_t)-grew > n ? 0 :
	    n + (uint64_t)grew);
}

/*
 * Commit blocks [first, first + count) of lu (its M bits, or its Z bits
 * with COWMAP_ZLU) as its map file holds them now, in runs.  -ENOENT
 * for an LU without a file here; -EDQUOT past max-map-extents.
 */
int
coord_mirror_commit(struct coord *c, uint64_t lu, uint64_t first,
    uint64_t count)
{
	struct mirror	*mi = mirror_find(&c->c_mirror, lu & ~COWMAP_ZLU);
	uint64_t	 n, nruns;
	int		 counted;

	if (mi == NULL)
		return -ENOENT;
	if (first >= mi->mi_nblocks || count > mi->mi_nblocks - first)
		return -EINVAL;
	if ((counted = acct_get(c->c_store, mi->mi_acct, &n)) < 0)
		return counted;
	(void)mirror_runs(NULL, mi, lu, first, first + count, &nruns);
	return mirror_put_runs(c, mi, lu, first, first + count, n, nruns,
	    counted);
}

/* Ids (and block counts) of the registered LUs whose name has a prefix. */
struct mirror_ids {
	const char	*mf_prefix;
	uint64_t	*mf_v;		/* id, blocks, id, blocks, ... */
	size_t		 mf_n;
};

static int
mirror_id_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen)
{
	struct mirror_ids *f = arg;
	size_t		 plen = strlen(f->mf_prefix);
	uint64_t	*nv;

	if (klen != MIRROR_KEYLEN || vlen < 8 || vlen - 8 < plen ||
	    memcmp(v + 8, f->mf_prefix, plen) != 0)
		return 0;
	if ((nv = reallocarray(f->mf_v, 2 * (f->mf_n + 1), sizeof(*nv))) ==
	    NULL)
		return -ENOMEM;
	f->mf_v = nv;
	nv[2 * f->mf_n] = be64dec(k + 1);
	nv[2 * f->mf_n + 1] = be64dec(v);
	f->mf_n++;
	return 0;
}

static void
mirror_drop(struct coord_mirrors *cm, uint64_t id)
{
	struct mirror	*mi = mirror_find(cm, id);

	if (mi == NULL)
		return;
	munmap(mi->mi_base, mi->mi_len);
	*mi = cm->cm_v[--cm->cm_n];
}

/* The count of the session whose LUs are named prefix + LUN. */
static int
acct_forget(struct store *st, const char *prefix)
{
	char	 name[MIRROR_NAME_MAX + 1], acct[MIRROR_NAME_MAX + 1];
	uint8_t	 k[1 + MIRROR_NAME_MAX];
	int	 rv;

	snprintf(name, sizeof(name), "%s0", prefix);	/* any LUN */
	mirror_acct(name, acct);
	rv = store_kv_del(st, k, acct_key(k, acct));
	return rv == -ENOENT ? 0 : rv;
}

/*
 * A session ended: the LUs registered under names with prefix leave
 * LMDB (registration and runs) and this process, in the open write txn.
 */
int
coord_mirror_forget(struct coord *c, const char *prefix)
{
	struct store	*st = c->c_store;
	struct mirror_ids f = { prefix, NULL, 0 };
	uint8_t		 key[MIRROR_KEYLEN];
	uint64_t	 id, nblocks;
	size_t		 i;
	int		 rv;

	key[0] = MIRROR_KEY;
	rv = store_kv_foreach(st, key, 1, mirror_id_one, &f);
	for (i = 0; i < f.mf_n && rv == 0; i++) {
		id = f.mf_v[2 * i];
		nblocks = f.mf_v[2 * i + 1];
		if ((rv = store_map_clear(st, id, 0, nblocks)) == 0 &&
		    (rv = store_map_clear(st, id | COWMAP_ZLU, 0, nblocks)) == 0) {
			mirror_key(key, id);
			rv = store_kv_del(st, key, sizeof(key));
		}
		mirror_drop(&c->c_mirror, id);
	}
	free(f.mf_v);
	return rv != 0 ? rv : acct_forget(st, prefix);
}
