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

struct mirror {
	uint64_t	 mi_id;
	uint64_t	 mi_nblocks;
	uint8_t		*mi_base;	/* header page, then the bits */
	size_t		 mi_len;
};

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
	return mirror_add(c, id, nblocks, name);
}

/*
 * Commit blocks [first, first + count) of lu (its M bits, or its Z bits
 * with COWMAP_ZLU) as its map file holds them now, in runs.  -ENOENT
 * for an LU without a file here.
 */
int
coord_mirror_commit(struct coord *c, uint64_t lu, uint64_t first,
    uint64_t count)
{
	struct mirror	*mi = mirror_find(&c->c_mirror, lu & ~COWMAP_ZLU);
	int		 bit = (lu & COWMAP_ZLU) ? COWMAP_Z : COWMAP_M, on, rv;
	uint64_t	 b, end, run;

	if (mi == NULL)
		return -ENOENT;
	if (first >= mi->mi_nblocks || count > mi->mi_nblocks - first)
		return -EINVAL;
	end = first + count;
	for (b = first; b < end; b += run) {
		on = cowmap_get(mi->mi_base + COWMAP_BITS, b) & bit;
		for (run = 1; b + run < end && (cowmap_get(mi->mi_base +
		    COWMAP_BITS, b + run) & bit) == on; run++)
			continue;
		rv = on ? store_map_set(c->c_store, lu, b, run) :
		    store_map_clear(c->c_store, lu, b, run);
		if (rv != 0)
			return rv;
	}
	return 0;
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
	return rv;
}
