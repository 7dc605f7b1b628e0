/*
 * The mirror of a logical unit's persistent reservation state (see
 * prstate.h): the file, its two copies, the lock and the seqlock.
 *
 * PATH.pr is a header page and two copies of struct pr_state; ph_active
 * names the current one.  A change takes an exclusive OFD lock on the
 * file, copies the current state into the spare, changes the spare,
 * seals it with its CRC and flips ph_active.  Readers take no lock:
 * ps_seq makes a seqlock of each copy.  The file is never synced: LMDB
 * is where the state is durable, and the CRC tells the coordinator at
 * start whether a copy that survived a crash is whole.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "prstate.h"

#define PR_MAGIC	"scsipr\0\2"
#define PR_VERSION	2
#define PR_HDR_LEN	4096u
#define PR_COPY_LEN	((sizeof(struct pr_state) + 4095) & ~(size_t)4095)
#define PR_FILE_LEN	(PR_HDR_LEN + 2 * PR_COPY_LEN)
#define PR_CRC_FROM	offsetof(struct pr_state, ps_generation)

struct pr_hdr {
	char		 ph_magic[8];
	uint32_t	 ph_version;
	uint32_t	 ph_statelen;	/* sizeof(struct pr_state) */
	uint32_t	 ph_active;	/* the current copy, 0 or 1 */
};

static int
pr_lock(struct pr_lu *pl, int type)
{
	struct flock	 fl;

	if (pl->pl_fd == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;		/* l_start 0, l_len 0: all of it */
	while (fcntl(pl->pl_fd, F_OFD_SETLKW, &fl) == -1) {
		if (errno != EINTR) {
			log_warn("%s: fcntl", __func__);
			return -1;
		}
	}
	return 0;
}

static void
pr_map(struct pr_lu *pl, uint8_t *base)
{
	pl->pl_base = base;
	pl->pl_hdr = (struct pr_hdr *)(void *)base;
	pl->pl_st[0] = (struct pr_state *)(void *)(base + PR_HDR_LEN);
	pl->pl_st[1] = (struct pr_state *)(void *)(base + PR_HDR_LEN +
	    PR_COPY_LEN);
}

/* No RESERVE(6) held: its holder forgotten. */
void
pr_state_r6_clear(struct pr_state *st)
{
	st->ps_r6 = 0;
	st->ps_r6relport = 0;
	st->ps_r6pid = 0;
	memset(st->ps_r6isid, 0, sizeof(st->ps_r6isid));
	memset(st->ps_r6name, 0, sizeof(st->ps_r6name));
}

/* The CRC32C sealing a copy: everything after ps_seq and ps_crc. */
uint32_t
pr_state_crc(const struct pr_state *st)
{
	return crc32c(0, (const uint8_t *)st + PR_CRC_FROM,
	    sizeof(*st) - PR_CRC_FROM);
}

static int
pr_valid(const struct pr_lu *pl)
{
	const struct pr_hdr *h = pl->pl_hdr;
	const struct pr_state *st;

	if (memcmp(h->ph_magic, PR_MAGIC, sizeof(h->ph_magic)) != 0 ||
	    h->ph_version != PR_VERSION ||
	    h->ph_statelen != sizeof(struct pr_state) || h->ph_active > 1)
		return 0;
	st = pl->pl_st[h->ph_active];
	return (st->ps_seq & 1) == 0 && st->ps_crc == pr_state_crc(st);
}

/* A blank state: copy 0, then the header that makes it current. */
static void
pr_format(struct pr_lu *pl)
{
	memset(pl->pl_base, 0, PR_FILE_LEN);
	pl->pl_st[0]->ps_seq = 2;
	pl->pl_st[0]->ps_crc = pr_state_crc(pl->pl_st[0]);
	memcpy(pl->pl_hdr->ph_magic, PR_MAGIC, sizeof(pl->pl_hdr->ph_magic));
	pl->pl_hdr->ph_version = PR_VERSION;
	pl->pl_hdr->ph_statelen = sizeof(struct pr_state);
	pl->pl_hdr->ph_active = 0;
}

/* The mirror file's name as the coordinator knows it: no dir, no ".pr". */
static void
pr_lu_name(struct pr_lu *pl, const char *path)
{
	const char	*b = strrchr(path, '/');
	size_t		 n;

	b = b != NULL ? b + 1 : path;
	n = strlen(b);
	if (n > 3 && strcmp(b + n - 3, ".pr") == 0)
		n -= 3;
	if (n > PR_FNAME_MAX) {
		log_warnx("%s: %s: name too long for the coordinator",
		    __func__, path);
		n = 0;
	}
	memcpy(pl->pl_name, b, n);
	pl->pl_name[n] = '\0';
}

/*
 * The mirror at path, made if need be.  A file that is not a whole
 * state is reset to a blank one; the coordinator puts LMDB's back.
 */
struct pr_lu *
pr_lu_open(const char *path)
{
	struct pr_lu	*pl;
	struct stat	 sb;
	void		*m;

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return NULL;
	pr_lu_name(pl, path);
	pl->pl_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (pl->pl_fd == -1 || pr_lock(pl, F_WRLCK) == -1 ||
	    fstat(pl->pl_fd, &sb) == -1 ||
	    ((size_t)sb.st_size != PR_FILE_LEN &&
	    ftruncate(pl->pl_fd, PR_FILE_LEN) == -1) ||
	    (m = mmap(NULL, PR_FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
	    pl->pl_fd, 0)) == MAP_FAILED)
		goto fail;
	pr_map(pl, m);
	if (!pr_valid(pl)) {
		if (sb.st_size != 0)
			log_warnx("%s: %s: not a whole state, reset", __func__,
			    path);
		pr_format(pl);
	}
	pr_lock(pl, F_UNLCK);
	return pl;
fail:
	log_warn("%s: %s", __func__, path);
	pr_lu_close(pl);
	return NULL;
}

/* The state of a private LU: anonymous memory, gone with it. */
struct pr_lu *
pr_lu_anon(void)
{
	struct pr_lu	*pl;
	void		*m;

	if ((pl = calloc(1, sizeof(*pl))) == NULL)
		return NULL;
	pl->pl_fd = -1;
	m = mmap(NULL, PR_FILE_LEN, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(pl);
		return NULL;
	}
	pr_map(pl, m);
	pr_format(pl);
	return pl;
}

void
pr_lu_close(struct pr_lu *pl)
{
	if (pl == NULL)
		return;
	if (pl->pl_base != NULL)
		munmap(pl->pl_base, PR_FILE_LEN);
	if (pl->pl_fd != -1)
		close(pl->pl_fd);	/* drops the OFD lock too */
	free(pl);
}

/* Does the state persist through power loss (PTPL_C)? */
int
pr_lu_ptpl(const struct pr_lu *pl)
{
	return pl != NULL && pl->pl_fd != -1;
}

/* The current copy and its sequence number, never one being written. */
const struct pr_state *
pr_current(const struct pr_lu *pl, uint32_t *seq)
{
	const struct pr_state *st;
	uint32_t	 a;

	for (;;) {
		a = __atomic_load_n(&pl->pl_hdr->ph_active,
		    __ATOMIC_ACQUIRE) & 1;
		st = pl->pl_st[a];
		*seq = __atomic_load_n(&st->ps_seq, __ATOMIC_ACQUIRE);
		if ((*seq & 1) == 0)
			return st;
	}
}

/* Was st left alone while it was read? */
int
pr_stable(const struct pr_state *st, uint32_t seq)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&st->ps_seq, __ATOMIC_RELAXED) == seq;
}

/* A consistent copy of the current state. */
void
pr_lu_snapshot(struct pr_lu *pl, struct pr_state *out)
{
	const struct pr_state *st;
	uint32_t	 seq;

	do {
		st = pr_current(pl, &seq);
		memcpy(out, st, sizeof(*out));
	} while (!pr_stable(st, seq));
	out->ps_seq = seq;
}

/* Lock and start a change: the spare copy, holding the current state. */
struct pr_state *
pr_begin(struct pr_lu *pl)
{
	const struct pr_state *src;
	struct pr_state	*dst;
	uint32_t	 a;

	if (pr_lock(pl, F_WRLCK) == -1)
		return NULL;
	a = __atomic_load_n(&pl->pl_hdr->ph_active, __ATOMIC_ACQUIRE) & 1;
	src = pl->pl_st[a];
	dst = pl->pl_st[a ^ 1];
	__atomic_store_n(&dst->ps_seq, src->ps_seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy((uint8_t *)dst + sizeof(dst->ps_seq),
	    (const uint8_t *)src + sizeof(src->ps_seq),
	    sizeof(*dst) - sizeof(dst->ps_seq));
	pl->pl_w = dst;
	return dst;
}

void
pr_abort(struct pr_lu *pl)
{
	pl->pl_w = NULL;
	pr_lock(pl, F_UNLCK);
}

/* Seal the change, make it current and unlock. */
void
pr_commit(struct pr_lu *pl)
{
	struct pr_state	*dst = pl->pl_w;
	uint32_t	 a = dst == pl->pl_st[1];

	dst->ps_crc = pr_state_crc(dst);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&dst->ps_seq, dst->ps_seq + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&pl->pl_hdr->ph_active, a, __ATOMIC_RELEASE);
	pl->pl_w = NULL;
	pr_lock(pl, F_UNLCK);
}

/* Make src (from LMDB) the current state, as one change. */
int
pr_lu_replace(struct pr_lu *pl, const struct pr_state *src)
{
	struct pr_state	*dst;

	if ((dst = pr_begin(pl)) == NULL)
		return -1;
	memcpy((uint8_t *)dst + sizeof(dst->ps_seq),
	    (const uint8_t *)src + sizeof(src->ps_seq),
	    sizeof(*dst) - sizeof(dst->ps_seq));
	pr_commit(pl);
	return 0;
}

static int
pr_nexus_same(const struct pr_nexus *a, const struct pr_nexus *b)
{
	return a->pn_key == b->pn_key && a->pn_flags == b->pn_flags &&
	    a->pn_relport == b->pn_relport &&
	    memcmp(a->pn_isid, b->pn_isid, sizeof(a->pn_isid)) == 0 &&
	    strncmp(a->pn_name, b->pn_name, PR_NAME_MAX) == 0;
}

/*
 * Do a and b hold the same durable state: registrations, reservation,
 * generation?  Unit attentions and RESERVE(6) are not durable.
 */
int
pr_state_same(const struct pr_state *a, const struct pr_state *b)
{
	int	 i, ra, rb;

	if (a->ps_generation != b->ps_generation ||
	    a->ps_type != b->ps_type || a->ps_scope != b->ps_scope ||
	    a->ps_aptpl != b->ps_aptpl || a->ps_holder != b->ps_holder)
		return 0;
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		ra = (a->ps_nexus[i].pn_flags & PN_REG) != 0;
		rb = (b->ps_nexus[i].pn_flags & PN_REG) != 0;
		if (ra != rb || (ra &&
		    !pr_nexus_same(&a->ps_nexus[i], &b->ps_nexus[i])))
			return 0;
	}
	return 1;
}
