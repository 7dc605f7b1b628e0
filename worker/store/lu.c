/*
 * Copy-on-write storage behind a logical unit.
 *
 * The overlay is a sparse file at the LU's offsets.  The map holds two
 * bits per COW block: M (the overlay is authoritative for the block) and
 * Z (the block was deallocated: its overlay space is punched out and it
 * reads as zeros).  A private map lives in anonymous memory and dies
 * with the connection; a shared map is a file mapped MAP_SHARED by every
 * worker, so all of them see each other's blocks at once, and the pages
 * survive the death of any process.  Writes into blocks not yet mapped
 * copy the rest of the block from the base first, under a lock on that
 * block's byte of the map file that holds across processes.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "cowmap.h"
#include "log.h"
#include "lu.h"
#include "prstate.h"

#define MAP_M	COWMAP_M
#define MAP_Z	COWMAP_Z

static int
cow_bits(const struct lu_cow *cw, uint64_t b)
{
	return cw->cw_map != NULL ? cowmap_get(cw->cw_map, b) : 0;
}

/* Room for one more entry in the log; 0, or -1 (noted: cw_logfail). */
static int
cow_log_room(struct lu_cow *cw)
{
	struct cow_logent	*v;
	size_t			 n;

	if (cw->cw_nlog < cw->cw_logcap)
		return 0;
	n = cw->cw_logcap ? cw->cw_logcap * 2 : 16;
	if ((v = reallocarray(cw->cw_log, n, sizeof(*v))) == NULL) {
		cw->cw_logfail = 1;
		return -1;
	}
	cw->cw_log = v;
	cw->cw_logcap = n;
	return 0;
}

/*
 * Note a change of a shared map for the coordinator (when its changes
 * are logged): blocks [first, first + count) now all hold bits, credit
 * of them left the quota (were M alone), zchg: some Z bit changed.  A
 * run that continues the last one with the same bits joins it, so a
 * command's changes are a few runs however many blocks they touch.
 */
void
cow_log(struct lu_cow *cw, uint64_t first, uint64_t count, int bits,
    uint64_t credit, int zchg)
{
	struct cow_logent	*e;
	uint32_t		 n, c;

	if (!cw->cw_logging || count == 0)
		return;
	e = cw->cw_nlog > 0 ? &cw->cw_log[cw->cw_nlog - 1] : NULL;
	if (e != NULL && e->le_bits == bits && e->le_first + e->le_count ==
	    first && count <= UINT32_MAX - e->le_count) {
		e->le_count += (uint32_t)count;
		e->le_credit += (uint32_t)credit;
		e->le_zchg |= zchg != 0;
		return;
	}
	for (; count > 0; first += n, count -= n, credit -= c) {
		n = count < UINT32_MAX ? (uint32_t)count : UINT32_MAX;
		c = credit < n ? (uint32_t)credit : n;
		if (cow_log_room(cw) != 0)
			return;
		e = &cw->cw_log[cw->cw_nlog++];
		e->le_first = first;
		e->le_count = n;
		e->le_credit = c;
		e->le_bits = (uint8_t)bits;
		e->le_zchg = zchg != 0;
	}
}

/*
 * The quota counts the blocks whose map bits are M alone (written, not
 * deallocated), exactly: a block is counted by whoever moves it into
 * that state and uncounted by whoever moves it out, on the atomic bit
 * change itself, whatever other workers do to the same blocks at the
 * same time.  A write first reserves the blocks it will map, so that it
 * is refused over the quota before anything is written; the bit change
 * turns a reservation into the count, and what was not needed (another
 * writer mapped the block first) is given back.
 */
static uint64_t *
cow_quota_word(struct lu_cow *cw)
{
	struct lu_quota	*q = cw->cw_quota;

	if (q == NULL)
		return NULL;
	return q->q_shared != NULL ? q->q_shared : &q->q_used;
}

/* Reserve blocks within the limit, or -EDQUOT. */
int
cow_quota_take(struct lu_cow *cw, uint64_t blocks)
{
	uint64_t	*p = cow_quota_word(cw);
	uint64_t	 bytes = blocks << cw->cw_shift, used;

	if (p == NULL || blocks == 0)
		return 0;
	used = __atomic_load_n(p, __ATOMIC_RELAXED);
	do {
		if (cw->cw_quota->q_limit != 0 &&
		    used + bytes > cw->cw_quota->q_limit)
			return -EDQUOT;
	} while (!__atomic_compare_exchange_n(p, &used, used + bytes, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

/* Count blocks mapped without a reservation: past the limit if need be. */
static void
cow_quota_charge(struct lu_cow *cw, uint64_t blocks)
{
	uint64_t	*p = cow_quota_word(cw);

	if (p != NULL && blocks != 0)
		__atomic_add_fetch(p, blocks << cw->cw_shift, __ATOMIC_RELAXED);
}

/* Give blocks back: a reservation not used, or blocks unmapped. */
void
cow_quota_credit(struct lu_cow *cw, uint64_t blocks)
{
	uint64_t	*p = cow_quota_word(cw);
	uint64_t	 bytes = blocks << cw->cw_shift, used;

	if (p == NULL || blocks == 0)
		return;
	used = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(p, &used, bytes < used ?
	    used - bytes : 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		continue;
}

/*
 * Set block b's bits, counting it in or out of the quota on the change
 * (*resv: blocks reserved by the caller, used first; NULL: none).
 * Returns its old bits.
 */
static int
cow_setbits(struct lu_cow *cw, uint64_t b, int bits, uint64_t *resv)
{
	int	 old = cowmap_put(cw->cw_map, b, bits);

	if (old != MAP_M && bits == MAP_M) {
		if (resv != NULL && *resv > 0)
			(*resv)--;
		else
			cow_quota_charge(cw, 1);
	} else if (old == MAP_M && bits != MAP_M)
		cow_quota_credit(cw, 1);
	return old;
}

/* Block b now holds data (M): set, counted, logged if it changed. */
static void
cow_setdata(struct lu_cow *cw, uint64_t b, uint64_t *resv)
{
	int	 old = cow_setbits(cw, b, MAP_M, resv);

	if (old != MAP_M)
		cow_log(cw, b, 1, MAP_M, 0, (old & MAP_Z) != 0);
}

/* Blocks [first, end) deallocated (M|Z): set, credited, one run logged. */
static void
cow_setzero(struct lu_cow *cw, uint64_t first, uint64_t end)
{
	uint64_t	 b, credit = 0;
	int		 old, zchg = 0;

	for (b = first; b < end; b++) {
		old = cow_setbits(cw, b, MAP_M | MAP_Z, NULL);
		credit += old == MAP_M;
		zchg |= (old & MAP_Z) == 0;
	}
	if (zchg || credit > 0)
		cow_log(cw, first, end - first, MAP_M | MAP_Z, credit, zchg);
}

/*
 * An OFD lock of type on bytes [start, start + len) of fd, waiting for
 * it or not (-EAGAIN): held by an open file, so let go when the process
 * that took it dies.
 */
static int
ofd_lock(int fd, off_t start, off_t len, int type, int wait)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == -1)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int	cow_anon_open(struct lu_cow *, int);

/* Block b's lock: the byte COWMAP_LOCKS + b of the map file. */
static int
cow_lock(struct lu_cow *cw, uint64_t b, int type)
{
	if (cw->cw_mapfd == -1)
		return 0;
	return ofd_lock(cw->cw_mapfd, (off_t)(COWMAP_LOCKS + b), 1, type, 1);
}

static int	aw_settle(struct lu_cow *, uint64_t, uint64_t);

/* struct lu_hdr fits in the header page, before the LUN reset counter. */
_Static_assert(COWMAP_STORE + sizeof(struct lu_hdr) <= COWMAP_RESET_GEN,
    "struct lu_hdr overlaps the LUN reset counter");

static struct lu_cow *
cow_new(struct image *im, uint32_t bs, struct lu_quota *q)
{
	struct lu_cow	*cw;

	if ((cw = calloc(1, sizeof(*cw))) == NULL)
		return NULL;
	cw->cw_image = im;
	cw->cw_bs = bs;
	cw->cw_shift = __builtin_ctz(bs);
	cw->cw_nblocks = (im->im_size + bs - 1) >> cw->cw_shift;
	cw->cw_maplen = (cw->cw_nblocks + 3) / 4;
	if (cw->cw_maplen == 0)
		cw->cw_maplen = 1;
	cw->cw_quota = q;
	cw->cw_ovl = cw->cw_mapfd = -1;
	return cw;
}

/*
 * An anonymous session's overlay: PATH.ovl and PATH.map, made at its
 * first write, so that a session that only reads holds no file, no
 * descriptor and no map.  The files outlive the process serving the
 * session: a worker that dies, or hands the connection to another,
 * leaves them to whoever serves the session next, who finds them by its
 * identity (PATH, worker/iscsi/target.c).  The session's quota counter
 * (lu_quota_hold) is the lock that says the files are in use.
 * *existed: the files were there already (and are open); existed NULL:
 * the caller knows there are none (their directory is not there), and
 * nothing is looked for.
 */
struct lu_cow *
lu_cow_anon(struct image *im, const char *path, uint32_t bs,
    struct lu_quota *q, int *existed)
{
	struct lu_cow	*cw;

	if (existed != NULL)
		*existed = 0;
	if ((cw = cow_new(im, bs, q)) == NULL)
		return NULL;
	if ((cw->cw_path = strdup(path)) == NULL) {
		free(cw);
		return NULL;
	}
	if (existed != NULL && lu_anon_exists(path) && cow_anon_open(cw, 0) == 0)
		*existed = 1;
	return cw;
}

/* Do PATH's files exist (a session left them)? */
int
lu_anon_exists(const char *path)
{
	char	 p[CFG_PATH_MAX + 200];

	snprintf(p, sizeof(p), "%s.map", path);
	return access(p, F_OK) == 0;
}

/* Open (or with create, make) the anonymous overlay's files and map. */
static int
cow_anon_open(struct lu_cow *cw, int create)
{
	char		 p[CFG_PATH_MAX + 200];
	struct lu_hdr	*hdr;
	int		 flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), r = 0;
	void		*m;

	snprintf(p, sizeof(p), "%s.map", cw->cw_path);
	if ((cw->cw_mapfd = open(p, flags, 0600)) == -1)
		return -errno;
	if (ftruncate(cw->cw_mapfd, COWMAP_BITS + cw->cw_maplen) == -1 ||
	    (m = mmap(NULL, COWMAP_BITS + cw->cw_maplen, PROT_READ |
	    PROT_WRITE, MAP_SHARED, cw->cw_mapfd, 0)) == MAP_FAILED) {
		r = -errno;
		close(cw->cw_mapfd);
		cw->cw_mapfd = -1;
		return r;
	}
	cw->cw_map = (uint8_t *)m + COWMAP_BITS;
	/*
	 * The header page (atomic write slot, sanitize state) is the file's
	 * from now on, as a shared overlay's: what a SANITIZE started before
	 * the first write kept in memory moves there.
	 */
	hdr = (struct lu_hdr *)(void *)((uint8_t *)m + COWMAP_STORE);
	if (cw->cw_hdr != NULL) {
		if (create)
			memcpy(hdr, cw->cw_hdr, sizeof(*hdr));
		free(cw->cw_hdr);
	}
	cw->cw_hdr = hdr;
	snprintf(p, sizeof(p), "%s.ovl", cw->cw_path);
	if ((cw->cw_ovl = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -errno;
	return 0;
}

/* An anonymous overlay's first write: its session's counter, its files. */
static int
cow_materialize(struct lu_cow *cw)
{
	int	 r;

	if (cw->cw_map != NULL && cw->cw_ovl != -1)
		return 0;
	if (cw->cw_quota != NULL && cw->cw_quota->q_page != NULL &&
	    (r = lu_quota_hold(cw->cw_quota)) != 0)
		return r;
	if (cw->cw_map == NULL && (r = cow_anon_open(cw, 1)) != 0) {
		log_warnx("%s: %s: %s", __func__, cw->cw_path, strerror(-r));
		return r;
	}
	return cw->cw_ovl == -1 ? -EIO : 0;
}

/* The session logged out: its overlay goes with it. */
void
lu_cow_discard(struct lu_cow *cw)
{
	if (cw == NULL || cw->cw_path == NULL || cw->cw_map == NULL)
		return;
	lu_anon_discard(cw->cw_path);
}

/* Delete an anonymous overlay's files, PATH.ovl and PATH.map. */
void
lu_anon_discard(const char *path)
{
	char	 p[CFG_PATH_MAX + 200];

	snprintf(p, sizeof(p), "%s.ovl", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.map", path);
	unlink(p);
}

/*
 * An anonymous session's quota counter, the file q_page, made if need
 * be, mapped, and held with a shared lock for as long as the session
 * lives: nobody deletes the session's files while a process holds it
 * (coordinator/anon.c tries an exclusive lock).  -ENOENT: the file was
 * deleted as we came.
 */
static int
quota_open(const char *path)
{
	char	*dir, *slash;
	int	 fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) != -1 ||
	    errno != ENOENT || (dir = strdup(path)) == NULL)
		return fd;
	if ((slash = strrchr(dir, '/')) != NULL) {	/* its directory too */
		*slash = '\0';
		(void)mkdir(dir, 0700);
	}
	free(dir);
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static int
quota_lock(int fd, int type, int wait)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_len = 1;
	while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* Map the held counter file fd as q's. */
static int
quota_map(struct lu_quota *q, int fd)
{
	struct stat	 sb;
	void		*p;

	if (fstat(fd, &sb) == -1 || sb.st_nlink == 0) {
		errno = ENOENT;
		return -1;
	}
	if (ftruncate(fd, LU_QUOTA_PAGE) == -1 || (p = mmap(NULL,
	    LU_QUOTA_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
	    MAP_FAILED)
		return -1;
	q->q_shared = p;
	q->q_fd = fd;
	__atomic_add_fetch(q->q_shared, q->q_used, __ATOMIC_RELAXED);
	return 0;
}

int
lu_quota_hold(struct lu_quota *q)
{
	int	 fd;

	if (q->q_shared != NULL)
		return 0;
	if ((fd = quota_open(q->q_page)) == -1)
		return -errno;
	if (quota_lock(fd, F_RDLCK, 1) == 0 && quota_map(q, fd) == 0)
		return 0;
	close(fd);
	return -errno;
}

/*
 * The counter of another session's files, q_page, taken only if nobody
 * holds it: an exclusive lock first, so that of two logins only one
 * wins, then the shared one a holder keeps.  -EBUSY: somebody holds it.
 */
int
lu_quota_claim(struct lu_quota *q)
{
	int	 fd;

	if ((fd = open(q->q_page, O_RDWR | O_CLOEXEC)) == -1)
		return -errno;
	if (quota_lock(fd, F_WRLCK, 0) == -1) {
		close(fd);
		return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
	}
	if (quota_lock(fd, F_RDLCK, 0) == 0 && quota_map(q, fd) == 0)
		return 0;
	close(fd);
	return -errno;
}

/* Let go of a held counter; discard: the session ended, delete it. */
void
lu_quota_release(struct lu_quota *q, int discard)
{
	if (q->q_shared != NULL) {
		if (discard)
			unlink(q->q_page);
		munmap(q->q_shared, LU_QUOTA_PAGE);
		close(q->q_fd);
	}
	q->q_shared = NULL;
	free(q->q_page);
	q->q_page = NULL;
}

/*
 * A shared overlay: base path names PATH.ovl, PATH.map and PATH.pr (its
 * reservations); kept across connections and restarts.
 */
struct lu_cow *
lu_cow_shared(struct image *im, const char *path, uint32_t bs,
    struct lu_quota *q)
{
	struct lu_cow	*cw;
	char		 p[1200];
	void		*m;

	if ((cw = cow_new(im, bs, q)) == NULL)
		return NULL;
	snprintf(p, sizeof(p), "%s.ovl", path);
	cw->cw_ovl = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	snprintf(p, sizeof(p), "%s.map", path);
	cw->cw_mapfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (cw->cw_ovl == -1 || cw->cw_mapfd == -1 ||
	    ftruncate(cw->cw_mapfd, COWMAP_BITS + cw->cw_maplen) == -1 ||
	    (m = mmap(NULL, COWMAP_BITS + cw->cw_maplen, PROT_READ | PROT_WRITE,
	    MAP_SHARED, cw->cw_mapfd, 0)) == MAP_FAILED) {
		log_warn("%s: %s", __func__, p);
		lu_cow_free(cw);
		return NULL;
	}
	cw->cw_map = (uint8_t *)m + COWMAP_BITS;
	cw->cw_hdr = (struct lu_hdr *)(void *)((uint8_t *)m + COWMAP_STORE);
	snprintf(p, sizeof(p), "%s.pr", path);
	if ((cw->cw_pr = pr_lu_open(p)) == NULL) {
		lu_cow_free(cw);
		return NULL;
	}
	if (q != NULL && q->q_shared == NULL)
		q->q_used += lu_cow_mapped_bytes(cw);
	return cw;
}

void
lu_cow_free(struct lu_cow *cw)
{
	if (cw == NULL)
		return;
	free(cw->cw_log);
	free(cw->cw_path);
	if (cw->cw_map != NULL)
		munmap(cw->cw_map - COWMAP_BITS, COWMAP_BITS + cw->cw_maplen);
	if (cw->cw_ovl != -1)
		close(cw->cw_ovl);
	if (cw->cw_mapfd != -1)
		close(cw->cw_mapfd);
	pr_lu_close(cw->cw_pr);
	sanitize_gone(cw);
	if (cw->cw_mapfd == -1)
		free(cw->cw_hdr);
	free(cw);
}

/* Blocks of map that hold written data: M without Z. */
static uint64_t
cow_count_written(const uint8_t *map, uint64_t nblocks)
{
	uint64_t	 b, n = 0;

	for (b = 0; b < nblocks; b++)
		if (cowmap_get(map, b) == MAP_M)
			n++;
	return n;
}

uint64_t
lu_cow_mapped_bytes(const struct lu_cow *cw)
{
	if (cw->cw_map == NULL)
		return 0;
	return cow_count_written(cw->cw_map, cw->cw_nblocks) << cw->cw_shift;
}

/*
 * Bytes a shared LU's map file at path records as written (as
 * lu_cow_mapped_bytes counts them), without opening the LU: 0 when the
 * file is missing.
 */
uint64_t
lu_cow_file_mapped_bytes(const char *path, uint64_t size, uint32_t bs)
{
	struct stat	 sb;
	uint64_t	 n, nblocks;
	unsigned	 shift = (unsigned)__builtin_ctz(bs);
	size_t		 len;
	uint8_t		*m;
	int		 fd;

	nblocks = (size + bs - 1) >> shift;
	len = cowmap_file_len(nblocks);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &sb) == -1 || (uint64_t)sb.st_size < len ||
	    (m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		return 0;
	}
	close(fd);
	n = cow_count_written(m + COWMAP_BITS, nblocks);
	munmap(m, len);
	return n << shift;
}

/*
 * The shared counter page of a quota account kept across workers (a
 * provisioned session's, a static target's): the file at path, made if
 * missing, mapped.  init (if not NULL) runs on the page under a lock on
 * the file, so that one worker sets up a new counter while the others
 * wait.  The lock is let go explicitly: an OFD lock lives as long as the
 * open file, and the mapping keeps the file open.
 */
uint64_t *
lu_quota_page(const char *path, void (*init)(uint64_t *, void *), void *arg)
{
	struct flock	 fl;
	void		*p = MAP_FAILED;
	int		 fd;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    fcntl(fd, F_OFD_SETLKW, &fl) == -1 ||
	    ftruncate(fd, LU_QUOTA_PAGE) == -1 ||
	    (p = mmap(NULL, LU_QUOTA_PAGE, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED)
		log_warn("%s: %s", __func__, path);
	else if (init != NULL)
		init(p, arg);
	if (fd != -1) {
		fl.l_type = F_UNLCK;
		(void)fcntl(fd, F_OFD_SETLK, &fl);
		close(fd);
	}
	return p == MAP_FAILED ? NULL : p;
}

/* pread all of it; past the end of the base reads as zeros. */
static int
cow_pread(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t	 n;

	while (len > 0) {
		n = pread(fd, buf, len, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0) {
			memset(buf, 0, len);
			return 0;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * At most COW_WRITE_MAX bytes a pwrite: the page cache gives a write a
 * folio as large as the write, and Linux's ext4 (6.x, large folios) walks
 * every block of a folio on each later write into it, so that one 2 MiB
 * write (qemu-img convert's) made every 4 KiB rewrite of those 2 MiB cost
 * 8 us in the kernel instead of 1.5 (README, Speed).
 */
#define COW_WRITE_MAX	(256u << 10)

static int
cow_pwrite(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t	 n;

	while (len > 0) {
		n = pwrite(fd, buf, len < COW_WRITE_MAX ? len : COW_WRITE_MAX,
		    (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The base image's bytes: its file, or im_read (cluster: librbd). */
static int
cow_base_read(struct image *im, uint8_t *buf, size_t len, uint64_t off)
{
	if (im->im_read != NULL)
		return im->im_read(im, buf, len, off);
	return cow_pread(im->im_fd, buf, len, off);
}

/* Where block b is read from: 0 base, 1 overlay (zeros when punched). */
static int
cow_src(const struct lu_cow *cw, uint64_t b)
{
	return (cow_bits(cw, b) & MAP_M) != 0;
}

/* Read, coalescing runs of blocks with the same source into one pread. */
static int
cow_read_map(struct lu_cow *cw, void *buf, size_t len, uint64_t off)
{
	uint8_t		*p = buf;
	uint64_t	 end = off + len, b, runend;
	int		 src, r;

	while (off < end) {
		b = off >> cw->cw_shift;
		src = cow_src(cw, b);
		runend = (b + 1) << cw->cw_shift;
		while (runend < end && cow_src(cw, runend >> cw->cw_shift) ==
		    src)
			runend += cw->cw_bs;
		if (runend > end)
			runend = end;
		r = src ? cow_pread(cw->cw_ovl, p, runend - off, off) :
		    cow_base_read(cw->cw_image, p, runend - off, off);
		if (r != 0)
			return r;
		p += runend - off;
		off = runend;
	}
	return 0;
}

static uint64_t
cow_new_blocks(const struct lu_cow *cw, uint64_t first, uint64_t last)
{
	uint64_t	 b, n = 0;

	for (b = first; b <= last; b++)
		if (cow_bits(cw, b) != MAP_M)
			n++;
	return n;
}

/*
 * A write covering only part of block b while b is not mapped: build
 * the whole block from the base (or zeros) and the new bytes.
 */
static int
cow_partial(struct lu_cow *cw, uint64_t b, const uint8_t *data,
    uint64_t off, uint64_t len, uint64_t *resv)
{
	uint64_t	 bstart = b << cw->cw_shift;
	uint8_t		*blk;
	int		 r;

	if ((r = cow_lock(cw, b, F_WRLCK)) != 0)
		return r;
	if (cow_bits(cw, b) == MAP_M) {
		r = cow_pwrite(cw->cw_ovl, data, len, off);
		goto out;
	}
	if ((blk = malloc(cw->cw_bs)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (cow_bits(cw, b) & MAP_Z)
		memset(blk, 0, cw->cw_bs);
	else
		r = cow_base_read(cw->cw_image, blk, cw->cw_bs, bstart);
	if (r == 0) {
		memcpy(blk + (off - bstart), data, len);
		r = cow_pwrite(cw->cw_ovl, blk, cw->cw_bs, bstart);
	}
	free(blk);
	if (r == 0)
		cow_setdata(cw, b, resv);
out:
	cow_lock(cw, b, F_UNLCK);
	return r;
}

/* Write the blocks first..last of [off, off + len) holds: edges, then the rest. */
static int
cow_write_blocks(struct lu_cow *cw, const uint8_t *p, uint64_t off,
    uint64_t end, uint64_t *resv)
{
	uint64_t	 first = off >> cw->cw_shift, last = (end - 1) >> cw->cw_shift;
	uint64_t	 b, bs, be, s, e;
	int		 r;

	for (b = first; b <= last; b++) {
		bs = b << cw->cw_shift;
		be = bs + cw->cw_bs;
		s = off > bs ? off : bs;
		e = end < be ? end : be;
		if (s == bs && e == be)
			continue;	/* whole block: in the big write below */
		if ((r = cow_partial(cw, b, p + (s - off), s, e - s,
		    resv)) != 0)
			return r;
	}
	/* The whole blocks in one pwrite. */
	s = (off + cw->cw_bs - 1) & ~((uint64_t)cw->cw_bs - 1);
	e = end & ~((uint64_t)cw->cw_bs - 1);
	if (s >= e)
		return 0;
	if ((r = cow_pwrite(cw->cw_ovl, p + (s - off), e - s, s)) != 0)
		return r;
	for (b = s >> cw->cw_shift; b < e >> cw->cw_shift; b++)
		cow_setdata(cw, b, resv);
	return 0;
}

static int
cow_write(void *arg, const void *buf, size_t len, uint64_t off)
{
	struct lu_cow	*cw = arg;
	uint64_t	 resv;
	int		 r;

	if (len == 0)
		return 0;
	if ((r = cow_materialize(cw)) != 0 ||
	    (r = aw_settle(cw, off, len)) != 0)
		return r;
	resv = cow_new_blocks(cw, off >> cw->cw_shift,
	    (off + len - 1) >> cw->cw_shift);
	if ((r = cow_quota_take(cw, resv)) != 0)
		return r;
	r = cow_write_blocks(cw, buf, off, off + len, &resv);
	cow_quota_credit(cw, resv);	/* reserved, not needed */
	return r;
}

static int
cow_unmap(void *arg, uint64_t off, uint64_t len)
{
	struct lu_cow	*cw = arg;
	static const uint8_t zero[512];
	uint64_t	 end = off + len, s, e, o;
	int		 r;

	if ((r = cow_materialize(cw)) != 0 ||
	    (r = aw_settle(cw, off, len)) != 0)
		return r;
	s = (off + cw->cw_bs - 1) & ~((uint64_t)cw->cw_bs - 1);
	e = end & ~((uint64_t)cw->cw_bs - 1);
	/* Partial blocks at the edges are written with zeros. */
	for (o = off; o < end && o < s; o += 512)
		if ((r = cow_write(cw, zero, 512, o)) != 0)
			return r;
	for (o = (e > s ? e : s); o < end; o += 512)
		if (o >= off && (r = cow_write(cw, zero, 512, o)) != 0)
			return r;
	if (s >= e)
		return 0;
	if (fallocate(cw->cw_ovl, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)s, (off_t)(e - s)) == -1)
		return -errno;
	cow_setzero(cw, s >> cw->cw_shift, e >> cw->cw_shift);
	return 0;
}

static int
cow_sync(void *arg)
{
	struct lu_cow	*cw = arg;

	if (cw->cw_ovl == -1)		/* never written */
		return 0;
	if (fdatasync(cw->cw_ovl) == -1)
		return -errno;
	if (cw->cw_mapfd != -1 && msync(cw->cw_map - COWMAP_BITS,
	    COWMAP_BITS + cw->cw_maplen, MS_SYNC) == -1)
		return -errno;
	return 0;
}

/* GET LBA STATUS: deallocated blocks are the punched ones. */
static int
cow_status(void *arg, uint64_t off, uint64_t *len, int *mapped)
{
	struct lu_cow	*cw = arg;
	uint64_t	 b = off >> cw->cw_shift, end, o;
	int		 z;

	z = (cow_bits(cw, b) & MAP_Z) != 0;
	*mapped = !z;
	end = off + *len;
	o = (b + 1) << cw->cw_shift;
	while (o < end && ((cow_bits(cw, o >> cw->cw_shift) & MAP_Z) != 0) ==
	    z)
		o += cw->cw_bs;
	if (o > end)
		o = end;
	*len = o - off;
	return 0;
}

/*
 * COMPARE AND WRITE on a shared LU: an OFD lock on the blocks' bytes of
 * the overlay file, so that its compare and write are one step for every
 * worker's COMPARE AND WRITE (plain writes take no lock).
 */
static int
cow_excl(void *arg, uint64_t off, uint64_t len, int on)
{
	struct lu_cow	*cw = arg;

	if (cw->cw_mapfd == -1 || len == 0 || off > INT64_MAX ||
	    len > INT64_MAX - off)
		return 0;
	return ofd_lock(cw->cw_ovl, (off_t)off, (off_t)len,
	    on ? F_WRLCK : F_UNLCK, 1);
}

/* ---------------------------------------------------------------- */
/* WRITE ATOMIC */

/*
 * An atomic write of a shared LU is staged, then applied in place under
 * a state every reader looks at, so that no reader on any worker and no
 * kill -9 of any process sees some of its blocks new and others old:
 *
 *  1. under the LU's atomic lock (an OFD lock on the header page: one
 *     atomic write of the LU at a time, across workers), a slot a dead
 *     writer left applying is finished first (aw_recover);
 *  2. the new data goes to the staging slot past the LU's end in the
 *     overlay file, made durable; nobody reads it yet;
 *  3. h_aoff/h_alen name the bytes, and h_aword turns odd: from that
 *     one store on, every read of those bytes is served from the slot
 *     (all new), and a writer that dies leaves a slot the next one to
 *     meet it applies again from the slot (all new);
 *  4. the data is written in place and the map bits set (new blocks
 *     charged to the quota), the per-block locks held against partial
 *     writes copying from the base, and made durable;
 *  5. h_aword turns even again: reads go to the map, which now says new.
 *
 * A reader checks h_aword before and after it reads and reads again if
 * it moved, so no read mixes the two.  A plain write, UNMAP or SANITIZE
 * over bytes of a slot being applied first waits for it (aw_settle).
 * A plain write racing an atomic write over the same blocks lands
 * before or after it block by block, as a write that is not itself
 * atomic may.  Offsets and lengths are whole COW blocks, so no block is
 * ever half new.  A private LU has one nexus, in one process, and
 * dies with it: its atomic write is a plain write.
 */

/* Take (wait) or let go of one of the header's locks; shared LUs only. */
static int
hdr_lock(struct lu_cow *cw, int byte, int type, int wait)
{
	if (cw->cw_mapfd == -1)
		return 0;
	return ofd_lock(cw->cw_mapfd, COWMAP_STORE + byte, 1, type, wait);
}

/* The per-block locks of COW blocks [first, last], as cow_lock's. */
static int
cow_lock_run(struct lu_cow *cw, uint64_t first, uint64_t last, int type)
{
	if (cw->cw_mapfd == -1)
		return 0;
	return ofd_lock(cw->cw_mapfd, (off_t)(COWMAP_LOCKS + first),
	    (off_t)(last - first + 1), type, 1);
}

static uint32_t
aw_max(const struct lu_cow *cw)
{
	return cw->cw_bs > LU_ATOMIC_MAX ? cw->cw_bs : LU_ATOMIC_MAX;
}

/* The staging slot: the first COW block past the LU's end. */
static uint64_t
aw_slot(const struct lu_cow *cw)
{
	return cw->cw_nblocks << cw->cw_shift;
}

static int
aw_overlaps(const struct lu_hdr *h, uint64_t off, uint64_t len)
{
	uint64_t aoff = __atomic_load_n(&h->h_aoff, __ATOMIC_RELAXED);
	uint64_t alen = __atomic_load_n(&h->h_alen, __ATOMIC_RELAXED);

	return off < aoff + alen && aoff < off + len;
}

/* Move h_aword on: odd, the slot is being applied; even, it is not. */
static void
aw_flip(struct lu_cow *cw)
{
	__atomic_add_fetch(&cw->cw_hdr->h_aword, 1, __ATOMIC_ACQ_REL);
}

/* The header page and the overlay on disk (power loss, not kill -9). */
static int
aw_durable(struct lu_cow *cw, int ovl)
{
	if (ovl && fdatasync(cw->cw_ovl) == -1)
		return -errno;
	if (msync(cw->cw_map - COWMAP_BITS, COWMAP_BITS + cw->cw_maplen,
	    MS_SYNC) == -1)
		return -errno;
	return 0;
}

/*
 * Step 4: bytes [off, off + len) in place from buf, the blocks' locks
 * held; resv: quota reserved for them (NULL: charged as they map).
 */
static int
aw_apply(struct lu_cow *cw, const uint8_t *buf, uint64_t off, uint64_t len,
    uint64_t *resv)
{
	uint64_t	 first = off >> cw->cw_shift;
	uint64_t	 last = (off + len - 1) >> cw->cw_shift;
	int		 r;

	if ((r = cow_lock_run(cw, first, last, F_WRLCK)) != 0)
		return r;
	r = cow_write_blocks(cw, buf, off, off + len, resv);
	cow_lock_run(cw, first, last, F_UNLCK);
	if (r != 0)
		return r;
	/* blocks a dead writer mapped are in no one's log: this one's */
	cow_log(cw, first, last - first + 1, MAP_M, 0, 1);
	return 0;
}

/* Steps 4 and 5 for a slot left odd by a writer that died; lock held. */
static int
aw_recover(struct lu_cow *cw)
{
	struct lu_hdr	*h = cw->cw_hdr;
	uint64_t	 off = h->h_aoff, len = h->h_alen;
	uint8_t		*buf;
	int		 r;

	if ((__atomic_load_n(&h->h_aword, __ATOMIC_ACQUIRE) & 1) == 0)
		return 0;
	if (len == 0 || len > aw_max(cw) || (buf = malloc(len)) == NULL)
		return -EIO;
	log_info("%s: finishing an atomic write of %llu bytes at %llu",
	    __func__, (unsigned long long)len, (unsigned long long)off);
	if ((r = cow_pread(cw->cw_ovl, buf, len, aw_slot(cw))) == 0 &&
	    (r = aw_apply(cw, buf, off, len, NULL)) == 0 &&
	    (r = aw_durable(cw, 1)) == 0)
		aw_flip(cw);
	free(buf);
	return r;
}

/*
 * Before a write or UNMAP of [off, off + len): a slot being applied
 * over those bytes is waited for, and finished when its writer died.
 */
static int
aw_settle(struct lu_cow *cw, uint64_t off, uint64_t len)
{
	int	 r;

	if (cw->cw_mapfd == -1 ||
	    (__atomic_load_n(&cw->cw_hdr->h_aword, __ATOMIC_ACQUIRE) & 1) == 0 ||
	    !aw_overlaps(cw->cw_hdr, off, len))
		return 0;
	if ((r = hdr_lock(cw, LU_LOCK_ATOMIC, F_WRLCK, 1)) != 0)
		return r;
	r = aw_recover(cw);
	hdr_lock(cw, LU_LOCK_ATOMIC, F_UNLCK, 1);
	return r;
}

/* Steps 2 to 5, the atomic lock held and the quota reserved. */
static int
aw_write(struct lu_cow *cw, const uint8_t *buf, uint64_t len, uint64_t off,
    uint64_t *resv)
{
	struct lu_hdr	*h = cw->cw_hdr;
	int		 r;

	if ((r = cow_pwrite(cw->cw_ovl, buf, len, aw_slot(cw))) != 0 ||
	    (fdatasync(cw->cw_ovl) == -1 && (r = -errno) != 0))
		return r;
	__atomic_store_n(&h->h_aoff, off, __ATOMIC_RELAXED);
	__atomic_store_n(&h->h_alen, len, __ATOMIC_RELAXED);
	aw_flip(cw);
	if ((r = aw_durable(cw, 0)) != 0 ||
	    (r = aw_apply(cw, buf, off, len, resv)) != 0 ||
	    (r = aw_durable(cw, 1)) != 0)
		return r;	/* the slot stays: the next one finishes it */
	aw_flip(cw);
	(void)fallocate(cw->cw_ovl, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)aw_slot(cw), (off_t)len);
	return 0;
}

static int
cow_write_atomic(void *arg, const void *buf, size_t len, uint64_t off)
{
	struct lu_cow	*cw = arg;
	uint64_t	 resv;
	int		 r;

	if (len == 0)
		return 0;
	if (((off | len) & (cw->cw_bs - 1)) != 0 || len > aw_max(cw))
		return -EINVAL;
	if (cw->cw_mapfd == -1)
		return cow_write(cw, buf, len, off);
	if ((r = hdr_lock(cw, LU_LOCK_ATOMIC, F_WRLCK, 1)) != 0)
		return r;
	if ((r = aw_recover(cw)) == 0) {
		resv = cow_new_blocks(cw, off >> cw->cw_shift,
		    (off + len - 1) >> cw->cw_shift);
		if ((r = cow_quota_take(cw, resv)) == 0) {
			r = aw_write(cw, buf, len, off, &resv);
			cow_quota_credit(cw, resv);
		}
	}
	hdr_lock(cw, LU_LOCK_ATOMIC, F_UNLCK, 1);
	return r;
}

/* What WRITE ATOMIC's offsets and lengths are multiples of, and its most. */
static void
cow_atomic_limits(void *arg, uint32_t *unit, uint32_t *max)
{
	struct lu_cow	*cw = arg;

	*unit = cw->cw_bs;
	*max = aw_max(cw);
}

/* Read in place, or the bytes of a slot being applied from the slot. */
static int
aw_read(struct lu_cow *cw, uint8_t *buf, size_t len, uint64_t off)
{
	struct lu_hdr	*h = cw->cw_hdr;
	uint64_t	 aoff, alen, s, e;
	int		 r;

	if ((r = cow_read_map(cw, buf, len, off)) != 0)
		return r;
	aoff = __atomic_load_n(&h->h_aoff, __ATOMIC_RELAXED);
	alen = __atomic_load_n(&h->h_alen, __ATOMIC_RELAXED);
	s = off > aoff ? off : aoff;
	e = off + len < aoff + alen ? off + len : aoff + alen;
	if (s >= e || alen > aw_max(cw))
		return 0;
	return cow_pread(cw->cw_ovl, buf + (s - off), e - s,
	    aw_slot(cw) + (s - aoff));
}

/* A read never mixes an atomic write's old and new data: see above. */
static int
cow_read(void *arg, void *buf, size_t len, uint64_t off)
{
	struct lu_cow	*cw = arg;
	uint64_t	 w;
	int		 r;

	if (cw->cw_mapfd == -1)
		return cow_read_map(cw, buf, len, off);
	do {
		w = __atomic_load_n(&cw->cw_hdr->h_aword, __ATOMIC_ACQUIRE);
		if (w & 1)
			r = aw_read(cw, buf, len, off);
		else
			r = cow_read_map(cw, buf, len, off);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (r == 0 &&
	    __atomic_load_n(&cw->cw_hdr->h_aword, __ATOMIC_ACQUIRE) != w);
	return r;
}

/* ---------------------------------------------------------------- */
/* SANITIZE */

/*
 * A sanitize runs in the background, a chunk at a time
 * (worker/store/sanitize.c calls lu_cow_sanitize_step), and keeps its
 * state in the header: RUNNING with the method, the pattern and how far
 * it got, while the process running it holds the sanitize lock.  A
 * process that finds it RUNNING with the lock free (its process died)
 * takes it over from where it got: each step can be done again.  BLOCK
 * ERASE, and OVERWRITE with a pattern of zeros, punch the overlay out
 * and leave every block deallocated (reads zeros, space reclaimed, the
 * quota credited); OVERWRITE writes the pattern into every block of the
 * overlay, charged to the quota (a quota too small fails the sanitize).
 * Nothing ever writes the base.
 */

/* The header page on disk: a sanitize's state outlives a power loss. */
static void
hdr_durable(struct lu_cow *cw)
{
	if (cw->cw_mapfd != -1)
		(void)msync(cw->cw_map - COWMAP_BITS, COWMAP_HDR,
		    MS_SYNC);
}

static int
san_zero(const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* The header's SANITIZE fields for a new sanitize; -EINVAL for a bad one. */
static int
san_setup(struct lu_cow *cw, const struct scsi_sanitize *sz)
{
	struct lu_hdr	*h = cw->cw_hdr;
	int		 erase = sz->sz_method != SCSI_SANITIZE_OVERWRITE;

	if (!erase) {
		if (sz->sz_blksz == 0 || sz->sz_blksz > LU_PATTERN_MAX ||
		    cw->cw_bs % sz->sz_blksz != 0)
			return -EINVAL;
		memcpy(h->h_spattern, sz->sz_pattern, sz->sz_blksz);
		h->h_spatlen = (uint16_t)sz->sz_blksz;
		erase = san_zero(sz->sz_pattern, sz->sz_blksz);
	}
	h->h_smethod = erase ? SCSI_SANITIZE_ERASE : SCSI_SANITIZE_OVERWRITE;
	h->h_sause = sz->sz_ause != 0;
	__atomic_store_n(&h->h_snext, 0, __ATOMIC_RELAXED);
	return 0;
}

static int
cow_sanitize(void *arg, const struct scsi_sanitize *sz)
{
	struct lu_cow	*cw = arg;
	int		 r;

	if (cw->cw_hdr == NULL &&
	    (cw->cw_hdr = calloc(1, sizeof(*cw->cw_hdr))) == NULL)
		return -ENOMEM;
	if (__atomic_load_n(&cw->cw_hdr->h_sstate, __ATOMIC_ACQUIRE) ==
	    SCSI_SANITIZE_RUNNING)
		return -EBUSY;
	if ((r = cow_materialize(cw)) != 0)
		return r;
	if (hdr_lock(cw, LU_LOCK_SANITIZE, F_WRLCK, 0) != 0)
		return -EBUSY;		/* another process starts one */
	if ((r = san_setup(cw, sz)) == 0) {
		__atomic_store_n(&cw->cw_hdr->h_sstate, SCSI_SANITIZE_RUNNING,
		    __ATOMIC_RELEASE);
		hdr_durable(cw);
		if ((r = sanitize_start(cw)) == 0)
			return 0;
		__atomic_store_n(&cw->cw_hdr->h_sstate, SCSI_SANITIZE_IDLE,
		    __ATOMIC_RELEASE);
	}
	hdr_lock(cw, LU_LOCK_SANITIZE, F_UNLCK, 0);
	return r;
}

/* A sanitize whose process died: this one goes on with it. */
static void
san_adopt(struct lu_cow *cw)
{
	if (cw->cw_job != NULL || cw->cw_mapfd == -1 ||
	    hdr_lock(cw, LU_LOCK_SANITIZE, F_WRLCK, 0) != 0)
		return;
	if (__atomic_load_n(&cw->cw_hdr->h_sstate, __ATOMIC_ACQUIRE) !=
	    SCSI_SANITIZE_RUNNING || sanitize_start(cw) != 0) {
		hdr_lock(cw, LU_LOCK_SANITIZE, F_UNLCK, 0);
		return;
	}
	log_info("%s: going on with a sanitize at %llu bytes", __func__,
	    (unsigned long long)cw->cw_hdr->h_snext);
}

static void
cow_sanitize_state(void *arg, struct scsi_sanitize *sz)
{
	struct lu_cow	*cw = arg;
	struct lu_hdr	*h = cw->cw_hdr;
	uint64_t	 size = cw->cw_nblocks << cw->cw_shift, next;

	memset(sz, 0, sizeof(*sz));
	if (h == NULL)
		return;
	sz->sz_state = (int)__atomic_load_n(&h->h_sstate, __ATOMIC_ACQUIRE);
	sz->sz_method = h->h_smethod;
	sz->sz_ause = h->h_sause;
	if (sz->sz_state != SCSI_SANITIZE_RUNNING)
		return;
	san_adopt(cw);
	next = __atomic_load_n(&h->h_snext, __ATOMIC_RELAXED);
	next /= (size >> 16) + 1;
	sz->sz_progress = (uint16_t)(next > 0xffff ? 0xffff : next);
}

static void
cow_sanitize_exit(void *arg)
{
	struct lu_cow	*cw = arg;

	if (cw->cw_hdr == NULL)
		return;
	__atomic_store_n(&cw->cw_hdr->h_sstate, SCSI_SANITIZE_IDLE,
	    __ATOMIC_RELEASE);
	hdr_durable(cw);
}

/* The pattern over n bytes at off: whole blocks of it, through the map. */
static int
san_fill(struct lu_cow *cw, uint64_t off, uint64_t n)
{
	struct lu_hdr	*h = cw->cw_hdr;
	uint8_t		*buf;
	uint64_t	 i;
	int		 r;

	if (h->h_spatlen == 0 || (buf = malloc(n)) == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i += h->h_spatlen)
		memcpy(buf + i, h->h_spattern, h->h_spatlen);
	r = cow_write(cw, buf, n, off);
	free(buf);
	return r;
}

/*
 * The next bytes (whole COW blocks) of a sanitize this process runs: 1
 * while there is more, 0 once it is all done, or a negative errno.
 */
int
lu_cow_sanitize_step(struct lu_cow *cw, uint64_t bytes)
{
	struct lu_hdr	*h = cw->cw_hdr;
	uint64_t	 size = cw->cw_nblocks << cw->cw_shift, off, n;
	int		 r;

	off = __atomic_load_n(&h->h_snext, __ATOMIC_RELAXED);
	if (off >= size)
		return 0;
	n = bytes & ~((uint64_t)cw->cw_bs - 1);
	if (n == 0)
		n = cw->cw_bs;
	if (n > size - off)
		n = size - off;
	if (h->h_smethod == SCSI_SANITIZE_ERASE)
		r = cow_unmap(cw, off, n);
	else
		r = san_fill(cw, off, n);
	if (r != 0)
		return r;
	__atomic_store_n(&h->h_snext, off + n, __ATOMIC_RELAXED);
	return off + n < size;
}

/* A sanitize this process ran is over: done (err 0) or failed. */
void
lu_cow_sanitize_end(struct lu_cow *cw, int err)
{
	__atomic_store_n(&cw->cw_hdr->h_sstate, err != 0 ?
	    SCSI_SANITIZE_FAILED : SCSI_SANITIZE_IDLE, __ATOMIC_RELEASE);
	hdr_durable(cw);
	hdr_lock(cw, LU_LOCK_SANITIZE, F_UNLCK, 0);
}

/* SWP of nexuses here: a read lock every other process can see. */
static int
cow_wp_hold(void *arg, int on)
{
	return hdr_lock(arg, LU_LOCK_SWP, on ? F_RDLCK : F_UNLCK, 0);
}

static int
cow_wp_elsewhere(void *arg)
{
	struct lu_cow	*cw = arg;
	struct flock	 fl;

	if (cw->cw_mapfd == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = COWMAP_STORE + LU_LOCK_SWP;
	fl.l_len = 1;
	if (fcntl(cw->cw_mapfd, F_OFD_GETLK, &fl) == -1)
		return 0;
	return fl.l_type != F_UNLCK;
}

const struct lu_store_ops lu_cow_ops = {
	.so_read = cow_read,
	.so_write = cow_write,
	.so_unmap = cow_unmap,
	.so_sync = cow_sync,
	.so_status = cow_status,
	.so_excl = cow_excl,
	.so_write_atomic = cow_write_atomic,
	.so_atomic_limits = cow_atomic_limits,
	.so_sanitize = cow_sanitize,
	.so_sanitize_state = cow_sanitize_state,
	.so_sanitize_exit = cow_sanitize_exit,
	.so_wp_hold = cow_wp_hold,
	.so_wp_elsewhere = cow_wp_elsewhere,
};

/*
 * The LUN reset counter of a shared LU, in the map file's header page
 * (COWMAP_RESET_GEN): every worker mapping the LU sees it.  NULL for an
 * anonymous LU.
 */
volatile uint32_t *
lu_cow_reset_gen(struct lu_cow *cw)
{
	if (cw->cw_mapfd == -1 || cw->cw_path != NULL)
		return NULL;
	return (volatile uint32_t *)(void *)(cw->cw_map - COWMAP_BITS +
	    COWMAP_RESET_GEN);
}

/* The LU's reservation state, shared like the map or private like it. */
struct pr_lu *
lu_cow_pr(struct lu_cow *cw)
{
	return cw->cw_pr;
}

/* Keep a log of map changes for the coordinator (shared LUs). */
void
lu_cow_log_enable(struct lu_cow *cw, uint64_t luid)
{
	cw->cw_logging = 1;
	cw->cw_luid = luid;
}

/*
 * The map changes made since the last call, and the log emptied.  Returns
 * the number of entries (*ents stays valid until the LU changes again),
 * or -1 when some change could not be logged (out of memory): the caller
 * must then fail the command.  The log keeps its memory for the next.
 */
ssize_t
lu_cow_log_take(struct lu_cow *cw, struct cow_logent **ents)
{
	ssize_t	 n = (ssize_t)cw->cw_nlog;

	*ents = cw->cw_log;
	cw->cw_nlog = 0;
	if (cw->cw_logfail) {
		cw->cw_logfail = 0;
		return -1;
	}
	return n;
}
