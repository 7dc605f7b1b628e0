/*
 * The one LMDB wrapper.  Keys are fixed-width big-endian so that byte
 * order is numeric order; every value starts with a format-version byte;
 * LMDB errors come back as negative errno values (MDB_MAP_FULL is
 * -ENOSPC).  One transaction at a time, held in the store.
 *
 * Databases:
 *	meta	"schema" -> [1] u32 schema version
 *	map	u64 lu, u64 first block -> [1] u64 count: runs of blocks held
 *		by the lu's overlay; never overlapping, never adjacent
 *	kv	key bytes -> [1] value bytes
 *	psess	u64 session id -> [1] record (psess_rec_encode())
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "bytes.h"
#include "coordinator.h"
#include "log.h"

#define STORE_VFMT	1	/* format-version byte of every value */
#define STORE_MAXDBS	16
#define STORE_MAPKEY	16
#define STORE_MAPVAL	9
#define STORE_SCHEMAVAL	5

struct store {
	MDB_env		*st_env;
	MDB_txn		*st_txn;
	MDB_txn		*st_outer;	/* st_txn's parent (store_nest) */
	int		 st_err;	/* first LMDB error of st_txn */
	int64_t		 st_maprecs;	/* map records added, less deleted */
	MDB_dbi		 st_meta;
	MDB_dbi		 st_map;
	MDB_dbi		 st_kv;
	MDB_dbi		 st_psess;
};

struct store_run {
	uint64_t	 r_start;
	uint64_t	 r_end;		/* exclusive */
};

static const struct {
	int	 e_mdb;
	int	 e_errno;
} store_errs[] = {
	{ MDB_NOTFOUND,		ENOENT },
	{ MDB_KEYEXIST,		EEXIST },
	{ MDB_MAP_FULL,		ENOSPC },
	{ MDB_TXN_FULL,		ENOBUFS },
	{ MDB_DBS_FULL,		EMFILE },
	{ MDB_READERS_FULL,	EAGAIN },
	{ MDB_TLS_FULL,		EAGAIN },
	{ MDB_MAP_RESIZED,	EAGAIN },
	{ MDB_BAD_VALSIZE,	EINVAL },
	{ MDB_BAD_DBI,		EBADF },
	{ MDB_VERSION_MISMATCH,	EPROTO },
	{ MDB_INVALID,		EPROTO },
	{ MDB_INCOMPATIBLE,	EPROTO },
};

/* Map an LMDB return code to 0 or a negative errno. */
int
store_errno(int rc)
{
	size_t	 i;

	if (rc >= 0)
		return -rc;
	for (i = 0; i < sizeof(store_errs) / sizeof(store_errs[0]); i++)
		if (store_errs[i].e_mdb == rc)
			return -store_errs[i].e_errno;
	return -EIO;	/* corrupted, panic, bad txn, page full, ... */
}

/* Note an error that leaves the transaction unusable. */
static int
store_rc(struct store *st, int rc, const char *what)
{
	if (rc == 0 || rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
		return store_errno(rc);
	if (st->st_err == 0) {
		st->st_err = store_errno(rc);
		log_warnx("%s: %s", what, mdb_strerror(rc));
	}
	return store_errno(rc);
}

static MDB_txn *
store_txn(struct store *st, const char *caller)
{
	if (st->st_txn == NULL)
		fatalx("%s: no transaction", caller);
	return st->st_txn;
}

static int
store_dbis(struct store *st)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = mdb_txn_begin(st->st_env, NULL, 0, &txn)) != 0)
		return rc;
	if ((rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->st_meta)) != 0 ||
	    (rc = mdb_dbi_open(txn, "map", MDB_CREATE, &st->st_map)) != 0 ||
	    (rc = mdb_dbi_open(txn, "kv", MDB_CREATE, &st->st_kv)) != 0 ||
	    (rc = mdb_dbi_open(txn, "psess", MDB_CREATE, &st->st_psess)) != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int
store_env(struct store *st, const char *dir, size_t mapsize)
{
	int	 rc, dead;

	if ((rc = mdb_env_create(&st->st_env)) != 0)
		return rc;
	if ((rc = mdb_env_set_maxdbs(st->st_env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(st->st_env, mapsize)) != 0)
		return rc;
	/*
	 * Each commit writes and syncs its data pages but not the meta
	 * page: a system crash may undo the last commits but never
	 * corrupts.  store_sync() makes everything durable.
	 */
	if ((rc = mdb_env_open(st->st_env, dir, MDB_NOMETASYNC, 0600)) != 0)
		return rc;
	if ((rc = mdb_reader_check(st->st_env, &dead)) != 0)
		return rc;
	if (dead > 0)
		log_info("%s: cleared %d stale readers", __func__, dead);
	return store_dbis(st);
}

/* Open (creating if needed) the environment in directory dir. */
int
store_open(struct store **stp, const char *dir, size_t mapsize)
{
	struct store	*st;
	int		 rc;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -errno;
	if (mapsize == 0)
		mapsize = STORE_MAPSIZE_DEFAULT;
	if ((rc = store_env(st, dir, mapsize)) != 0) {
		log_warnx("%s: %s: %s", __func__, dir, mdb_strerror(rc));
		if (st->st_env != NULL)
			mdb_env_close(st->st_env);
		free(st);
		return store_errno(rc);
	}
	*stp = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->st_txn != NULL)
		store_abort(st);
	mdb_env_close(st->st_env);
	free(st);
}

int
store_begin(struct store *st, int write)
{
	int	 rc;

	if (st->st_txn != NULL)
		fatalx("%s: transaction already open", __func__);
	st->st_err = 0;
	rc = mdb_txn_begin(st->st_env, NULL, write ? 0 : MDB_RDONLY,
	    &st->st_txn);
	if (rc != 0) {
		st->st_txn = NULL;
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
	}
	return store_errno(rc);
}

/* Commit; a transaction that failed is aborted and its error returned. */
int
store_commit(struct store *st)
{
	MDB_txn	*txn = store_txn(st, __func__);
	int	 rc;

	st->st_txn = NULL;
	if (st->st_err != 0) {
		mdb_txn_abort(txn);
		return st->st_err;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
		st->st_err = store_errno(rc);
	}
	return store_errno(rc);
}

void
store_abort(struct store *st)
{
	mdb_txn_abort(store_txn(st, __func__));
	st->st_txn = NULL;
}

/* 0, or the error that made the open transaction unusable. */
int
store_failed(const struct store *st)
{
	/* An error belongs to the open transaction; none is open: none. */
	return st->st_txn != NULL ? st->st_err : 0;
}

/*
 * A transaction inside the open write transaction, so that what one
 * request changed can be taken back alone (store_unnest, keep 0)
 * without the others' changes of the round.
 */
int
store_nest(struct store *st)
{
	MDB_txn	*txn;
	int	 rc;

	if (st->st_outer != NULL)
		fatalx("%s: already nested", __func__);
	rc = mdb_txn_begin(st->st_env, store_txn(st, __func__), 0, &txn);
	if (rc != 0)
		return store_rc(st, rc, __func__);
	st->st_outer = st->st_txn;
	st->st_txn = txn;
	return 0;
}

/* Keep (into the outer transaction) or take back what was nested. */
int
store_unnest(struct store *st, int keep)
{
	MDB_txn	*txn = store_txn(st, __func__);

	if (st->st_outer == NULL)
		fatalx("%s: not nested", __func__);
	st->st_txn = st->st_outer;
	st->st_outer = NULL;
	if (keep && st->st_err == 0)
		return store_rc(st, mdb_txn_commit(txn), __func__);
	mdb_txn_abort(txn);
	return 0;
}

/* Map records added less deleted so far: the difference is what ran. */
int64_t
store_map_records(const struct store *st)
{
	return st->st_maprecs;
}

int
store_sync(struct store *st)
{
	int	 rc;

	if ((rc = mdb_env_sync(st->st_env, 1)) != 0)
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
	return store_errno(rc);
}

int
store_schema_get(struct store *st, uint32_t *version)
{
	MDB_val		 key = { 6, "schema" }, val;
	const uint8_t	*v;
	int		 rc;

	rc = mdb_get(store_txn(st, __func__), st->st_meta, &key, &val);
	if (rc != 0)
		return store_rc(st, rc, __func__);
	v = val.mv_data;
	if (val.mv_size != STORE_SCHEMAVAL || v[0] != STORE_VFMT)
		return -EPROTO;
	*version = be32dec(v + 1);
	return 0;
}

int
store_schema_put(struct store *st, uint32_t version)
{
	uint8_t	 v[STORE_SCHEMAVAL];
	MDB_val	 key = { 6, "schema" }, val = { sizeof(v), v };

	v[0] = STORE_VFMT;
	be32enc(v + 1, version);
	return store_rc(st, mdb_put(store_txn(st, __func__), st->st_meta,
	    &key, &val, 0), __func__);
}

static void
store_mapkey(uint8_t k[STORE_MAPKEY], uint64_t lu, uint64_t block)
{
	be64enc(k, lu);
	be64enc(k + 8, block);
}

/* Put a run; fresh: its key is new (counted in st_maprecs). */
static int
store_map_put(struct store *st, uint64_t lu, uint64_t start, uint64_t count,
    int fresh)
{
	uint8_t	 k[STORE_MAPKEY], v[STORE_MAPVAL];
	MDB_val	 key = { sizeof(k), k }, val = { sizeof(v), v };
	int	 rv;

	store_mapkey(k, lu, start);
	v[0] = STORE_VFMT;
	be64enc(v + 1, count);
	rv = store_rc(st, mdb_put(store_txn(st, __func__), st->st_map,
	    &key, &val, 0), __func__);
	if (rv == 0 && fresh)
		st->st_maprecs++;
	return rv;
}

static int
store_map_del(struct store *st, uint64_t lu, uint64_t start)
{
	uint8_t	 k[STORE_MAPKEY];
	MDB_val	 key = { sizeof(k), k };
	int	 rv;

	store_mapkey(k, lu, start);
	rv = store_rc(st, mdb_del(store_txn(st, __func__), st->st_map,
	    &key, NULL), __func__);
	if (rv == 0)
		st->st_maprecs--;
	return rv;
}

static int
store_map_decode(const MDB_val *key, const MDB_val *val, uint64_t lu,
    struct store_run *run)
{
	const uint8_t	*k = key->mv_data, *v = val->mv_data;

	if (key->mv_size != STORE_MAPKEY || be64dec(k) != lu)
		return -ENOENT;
	if (val->mv_size != STORE_MAPVAL || v[0] != STORE_VFMT)
		return -EPROTO;
	run->r_start = be64dec(k + 8);
	run->r_end = run->r_start + be64dec(v + 1);
	return 0;
}

/*
 * Find the lu's first run starting at or after block, or (before) its
 * last run starting before block.  -ENOENT when there is none.
 */
static int
store_map_seek(struct store *st, uint64_t lu, uint64_t block, int before,
    struct store_run *run)
{
	MDB_cursor	*cur;
	uint8_t		 k[STORE_MAPKEY];
	MDB_val		 key = { sizeof(k), k }, val;
	int		 rc, rv;

	store_mapkey(k, lu, block);
	rc = mdb_cursor_open(store_txn(st, __func__), st->st_map, &cur);
	if (rc != 0)
		return store_rc(st, rc, __func__);
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	if (before && (rc == 0 || rc == MDB_NOTFOUND))
		rc = mdb_cursor_get(cur, &key, &val,
		    rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == 0)
		rv = store_map_decode(&key, &val, lu, run);
	else
		rv = store_rc(st, rc, __func__);
	mdb_cursor_close(cur);
	return rv;
}

static int
store_map_range(uint64_t first, uint64_t count, uint64_t *end)
{
	*end = first + count;
	if (count == 0 || *end < first)
		return -EINVAL;
	return 0;
}

/* Map blocks [first, first + count) of lu, merging with touching runs. */
int
store_map_set(struct store *st, uint64_t lu, uint64_t first, uint64_t count)
{
	struct store_run	 run;
	uint64_t		 start = first, end;
	int			 rv, fresh = 1;

	if ((rv = store_map_range(first, count, &end)) != 0)
		return rv;
	rv = store_map_seek(st, lu, first, 1, &run);
	if (rv == 0 && run.r_end >= first) {
		start = run.r_start;
		fresh = 0;
		if (run.r_end > end)
			end = run.r_end;
	}
	while (rv == 0 || rv == -ENOENT) {
		rv = store_map_seek(st, lu, first, 0, &run);
		if (rv != 0 || run.r_start > end)
			break;
		if (run.r_end > end)
			end = run.r_end;
		rv = store_map_del(st, lu, run.r_start);
	}
	if (rv != 0 && rv != -ENOENT)
		return rv;
	return store_map_put(st, lu, start, end - start, fresh);
}

/* Unmap blocks [first, first + count) of lu, trimming and splitting runs. */
int
store_map_clear(struct store *st, uint64_t lu, uint64_t first, uint64_t count)
{
	struct store_run	 run;
	uint64_t		 end;
	int			 rv;

	if ((rv = store_map_range(first, count, &end)) != 0)
		return rv;
	rv = store_map_seek(st, lu, first, 1, &run);
	if (rv == 0 && run.r_end > first) {
		rv = store_map_put(st, lu, run.r_start, first - run.r_start, 0);
		if (rv == 0 && run.r_end > end)
			return store_map_put(st, lu, end, run.r_end - end, 1);
	}
	while (rv == 0 || rv == -ENOENT) {
		rv = store_map_seek(st, lu, first, 0, &run);
		if (rv != 0 || run.r_start >= end)
			break;
		rv = store_map_del(st, lu, run.r_start);
		if (rv == 0 && run.r_end > end)
			return store_map_put(st, lu, end, run.r_end - end, 1);
	}
	return rv == -ENOENT ? 0 : rv;
}

/* The run holding block: 0 with its first block and count, or -ENOENT. */
int
store_map_lookup(struct store *st, uint64_t lu, uint64_t block,
    uint64_t *first, uint64_t *count)
{
	struct store_run	 run;
	int			 rv;

	rv = store_map_seek(st, lu, block, 0, &run);
	if (rv == 0 && run.r_start != block)
		rv = -ENOENT;
	if (rv == -ENOENT) {
		rv = store_map_seek(st, lu, block, 1, &run);
		if (rv == 0 && run.r_end <= block)
			rv = -ENOENT;
	}
	if (rv == 0) {
		*first = run.r_start;
		*count = run.r_end - run.r_start;
	}
	return rv;
}

static int
store_kv_key(MDB_val *key, const void *k, size_t klen)
{
	if (klen == 0 || klen > STORE_KEY_MAX)
		return -EINVAL;
	key->mv_data = (void *)k;
	key->mv_size = klen;
	return 0;
}

/* Put a value behind its format-version byte. */
static int
store_val_put(struct store *st, MDB_dbi dbi, MDB_val *key, const void *v,
    size_t vlen, const char *caller)
{
	MDB_val	 val = { vlen + 1, NULL };
	int	 rv;

	rv = store_rc(st, mdb_put(store_txn(st, caller), dbi, key, &val,
	    MDB_RESERVE), caller);
	if (rv == 0) {
		((uint8_t *)val.mv_data)[0] = STORE_VFMT;
		if (vlen > 0)
			memcpy((uint8_t *)val.mv_data + 1, v, vlen);
	}
	return rv;
}

/* Copy a value into buf; *vlen is its length (-EMSGSIZE if > size). */
static int
store_val_get(struct store *st, MDB_dbi dbi, MDB_val *key, void *buf,
    size_t size, size_t *vlen, const char *caller)
{
	MDB_val		 val;
	const uint8_t	*v;
	int		 rv;

	rv = store_rc(st, mdb_get(store_txn(st, caller), dbi, key, &val),
	    caller);
	if (rv != 0)
		return rv;
	v = val.mv_data;
	if (val.mv_size < 1 || v[0] != STORE_VFMT)
		return -EPROTO;
	*vlen = val.mv_size - 1;
	if (*vlen > size)
		return -EMSGSIZE;
	memcpy(buf, v + 1, *vlen);
	return 0;
}

int
store_kv_put(struct store *st, const void *k, size_t klen, const void *v,
    size_t vlen)
{
	MDB_val	 key;
	int	 rv;

	if ((rv = store_kv_key(&key, k, klen)) != 0)
		return rv;
	return store_val_put(st, st->st_kv, &key, v, vlen, __func__);
}

/* Copy the value into buf; *vlen is its length (-EMSGSIZE if > size). */
int
store_kv_get(struct store *st, const void *k, size_t klen, void *buf,
    size_t size, size_t *vlen)
{
	MDB_val	 key;
	int	 rv;

	if ((rv = store_kv_key(&key, k, klen)) != 0)
		return rv;
	return store_val_get(st, st->st_kv, &key, buf, size, vlen, __func__);
}

int
store_kv_del(struct store *st, const void *k, size_t klen)
{
	MDB_val	 key;
	int	 rv;

	if ((rv = store_kv_key(&key, k, klen)) != 0)
		return rv;
	return store_rc(st, mdb_del(store_txn(st, __func__), st->st_kv, &key,
	    NULL), __func__);
}

int
store_psess_put(struct store *st, uint64_t id, const void *v, size_t vlen)
{
	uint8_t	 k[8];
	MDB_val	 key = { sizeof(k), k };

	be64enc(k, id);
	return store_val_put(st, st->st_psess, &key, v, vlen, __func__);
}

/* Copy record id into buf; *vlen is its length (-EMSGSIZE if > size). */
int
store_psess_get(struct store *st, uint64_t id, void *buf, size_t size,
    size_t *vlen)
{
	uint8_t	 k[8];
	MDB_val	 key = { sizeof(k), k };

	be64enc(k, id);
	return store_val_get(st, st->st_psess, &key, buf, size, vlen,
	    __func__);
}

int
store_psess_del(struct store *st, uint64_t id)
{
	uint8_t	 k[8];
	MDB_val	 key = { sizeof(k), k };

	be64enc(k, id);
	return store_rc(st, mdb_del(store_txn(st, __func__), st->st_psess,
	    &key, NULL), __func__);
}

/*
 * Call fn(id, value, length, arg) for every record, in id order; a
 * non-zero return stops the walk and is returned.
 */
int
store_psess_foreach(struct store *st, int (*fn)(uint64_t, const void *,
    size_t, void *), void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 key, val;
	const uint8_t	*v;
	int		 rc, rv = 0;

	rc = mdb_cursor_open(store_txn(st, __func__), st->st_psess, &cur);
	if (rc != 0)
		return store_rc(st, rc, __func__);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0 &&
	    rv == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		v = val.mv_data;
		if (key.mv_size != 8 || val.mv_size < 1 || v[0] != STORE_VFMT) {
			log_warnx("%s: skipping a malformed record", __func__);
			continue;
		}
		rv = fn(be64dec(key.mv_data), v + 1, val.mv_size - 1, arg);
	}
	mdb_cursor_close(cur);
	if (rv == 0 && rc != MDB_NOTFOUND)
		rv = store_rc(st, rc, __func__);
	return rv;
}

/*
 * Call fn(arg, first, count) for every run of lu, in block order.  Stops
 * at the first nonzero return of fn, which it returns.
 */
int
store_map_foreach(struct store *st, uint64_t lu,
    int (*fn)(void *, uint64_t, uint64_t), void *arg)
{
	MDB_cursor	*cur;
	uint8_t		 k[STORE_MAPKEY];
	MDB_val		 key = { sizeof(k), k }, val;
	struct store_run run;
	int		 rc, rv = 0;

	store_mapkey(k, lu, 0);
	rc = mdb_cursor_open(store_txn(st, __func__), st->st_map, &cur);
	if (rc != 0)
		return store_rc(st, rc, __func__);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (store_map_decode(&key, &val, lu, &run) != 0)
			break;
		if ((rv = fn(arg, run.r_start, run.r_end - run.r_start)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = store_rc(st, rc, __func__);
	return rv;
}

/* Call fn(arg, key, klen, value, vlen) for every kv entry under prefix. */
int
store_kv_foreach(struct store *st, const void *prefix, size_t plen,
    int (*fn)(void *, const uint8_t *, size_t, const uint8_t *, size_t),
    void *arg)
{
	MDB_cursor	*cur;
	MDB_val		 key = { plen, (void *)prefix }, val;
	int		 rc, rv = 0;

	rc = mdb_cursor_open(store_txn(st, __func__), st->st_kv, &cur);
	if (rc != 0)
		return store_rc(st, rc, __func__);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size < plen || memcmp(key.mv_data, prefix, plen) != 0)
			break;
		if (val.mv_size < 1 || ((uint8_t *)val.mv_data)[0] != STORE_VFMT)
			continue;
		if ((rv = fn(arg, key.mv_data, key.mv_size,
		    (uint8_t *)val.mv_data + 1, val.mv_size - 1)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rv == 0 && rc != 0 && rc != MDB_NOTFOUND)
		rv = store_rc(st, rc, __func__);
	return rv;
}
