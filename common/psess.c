/*
 * Provisioned sessions: the record, its encodings (LMDB value, shmq
 * messages) and the mirror file.  See psess.h.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"
#include "psess.h"
#include "shmq.h"

#define MIRROR_MAGIC	0x50534d52	/* "PSMR" */
#define MIRROR_VERSION	1
#define MIRROR_HDR	4096
#define MIRROR_TRIES	100000
#define REC_FIXED	(8 * 6 + 4 + 2)
#define LUNS_HDR	11		/* PSESS_LUNS: id, first, count */

struct psess_mirror {
	int		 pm_fd;
	uint8_t		*pm_base;
	size_t		 pm_len;
	size_t		 pm_entsize;
};

struct mirror_hdr {
	uint32_t	 mh_magic;
	uint32_t	 mh_version;
	uint32_t	 mh_nentries;
	uint32_t	 mh_entsize;
};

void
psess_id_fmt(uint64_t id, char buf[PSESS_IDSTR])
{
	snprintf(buf, PSESS_IDSTR, "%016llx", (unsigned long long)id);
}

/* Exactly 16 lower-case hex digits, not all zero. */
int
psess_id_parse(const char *s, uint64_t *id)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 16; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			v = v << 4 | (uint64_t)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v = v << 4 | (uint64_t)(s[i] - 'a' + 10);
		else
			return -1;
	}
	if (s[16] != '\0' || v == 0)
		return -1;
	*id = v;
	return 0;
}

enum psess_state
psess_state(const struct psess_rec *r, uint32_t nconns)
{
	if (nconns > 0)
		return PSESS_ACTIVE;
	if (r->ps_flags & PSESS_F_LOGGED_IN)
		return PSESS_SUSPENDED;
	return PSESS_WAITING;
}

const char *
psess_state_name(enum psess_state s)
{
	static const char *const names[] = {
		[PSESS_WAITING] = "waiting",
		[PSESS_ACTIVE] = "active",
		[PSESS_SUSPENDED] = "suspended",
	};

	return names[s];
}

/*
 * When the session expires (wall clock), 0 for never: the TTL runs from
 * its creation, or from its last connection's close; never while a
 * connection is open.
 */
uint64_t
psess_expires(const struct psess_rec *r, uint32_t nconns)
{
	if (r->ps_ttl == 0 || nconns > 0)
		return 0;
	return (r->ps_idle > r->ps_created ? r->ps_idle : r->ps_created) +
	    r->ps_ttl;
}

static uint8_t *
put_str(uint8_t *p, const char *s, size_t width)
{
	size_t	 n = strnlen(s, width - 1);

	memset(p, 0, width);
	memcpy(p, s, n);
	return p + width;
}

static const uint8_t *
get_str(const uint8_t *p, char *s, size_t width)
{
	memcpy(s, p, width);
	s[width - 1] = '\0';
	return p + width;
}

static uint8_t *
put_fixed(uint8_t *p, const struct psess_rec *r)
{
	be64enc(p, r->ps_id);
	be64enc(p + 8, r->ps_owner);
	be64enc(p + 16, r->ps_created);
	be64enc(p + 24, r->ps_idle);
	be64enc(p + 32, r->ps_ttl);
	be64enc(p + 40, r->ps_quota);
	be32enc(p + 48, r->ps_flags);
	be16enc(p + 52, r->ps_nluns);
	p += REC_FIXED;
	p = put_str(p, r->ps_tier, sizeof(r->ps_tier));
	p = put_str(p, r->ps_iqn, sizeof(r->ps_iqn));
	p = put_str(p, r->ps_user, sizeof(r->ps_user));
	return put_str(p, r->ps_secret, sizeof(r->ps_secret));
}

static const uint8_t *
get_fixed(const uint8_t *p, struct psess_rec *r)
{
	r->ps_id = be64dec(p);
	r->ps_owner = be64dec(p + 8);
	r->ps_created = be64dec(p + 16);
	r->ps_idle = be64dec(p + 24);
	r->ps_ttl = be64dec(p + 32);
	r->ps_quota = be64dec(p + 40);
	r->ps_flags = be32dec(p + 48);
	r->ps_nluns = be16dec(p + 52);
	p += REC_FIXED;
	p = get_str(p, r->ps_tier, sizeof(r->ps_tier));
	p = get_str(p, r->ps_iqn, sizeof(r->ps_iqn));
	p = get_str(p, r->ps_user, sizeof(r->ps_user));
	return get_str(p, r->ps_secret, sizeof(r->ps_secret));
}

#define FIXED_LEN	(REC_FIXED + CFG_NAME_MAX + PSESS_IQN_MAX + \
			PSESS_USER_MAX + PSESS_SECRET_MAX)

/* The LMDB value: the fixed part, then each image name NUL-terminated. */
size_t
psess_rec_encode(const struct psess_rec *r, uint8_t *buf, size_t cap)
{
	uint8_t	*p;
	size_t	 n;
	int	 i;

	if (cap < FIXED_LEN || r->ps_nluns > CFG_MAX_TARGET_LUNS)
		return 0;
	p = put_fixed(buf, r);
	for (i = 0; i < r->ps_nluns; i++) {
		n = strnlen(r->ps_images[i], CFG_NAME_MAX - 1);
		if ((size_t)(p - buf) + n + 1 > cap)
			return 0;
		memcpy(p, r->ps_images[i], n);
		p[n] = '\0';
		p += n + 1;
	}
	return (size_t)(p - buf);
}

int
psess_rec_decode(const uint8_t *buf, size_t len, struct psess_rec *r)
{
	const uint8_t	*p, *end = buf + len, *nul;
	int		 i;

	memset(r, 0, sizeof(*r));
	if (len < FIXED_LEN)
		return -EPROTO;
	p = get_fixed(buf, r);
	if (r->ps_nluns > CFG_MAX_TARGET_LUNS || r->ps_id == 0)
		return -EPROTO;
	for (i = 0; i < r->ps_nluns; i++) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    nul - p >= CFG_NAME_MAX || nul == p)
			return -EPROTO;
		memcpy(r->ps_images[i], p, (size_t)(nul - p + 1));
		p = nul + 1;
	}
	return p == end ? 0 : -EPROTO;
}

_Static_assert(FIXED_LEN + 6 == PSESS_CREATE_LEN, "PSESS_CREATE_LEN");
_Static_assert(PSESS_CREATE_LEN <= SHMQ_DATA_MAX, "CREATE fits a message");
_Static_assert(PSESS_TOUCH_HDR + 8 + 2 <= SHMQ_DATA_MAX, "TOUCH fits");

void
psess_msg_create(struct shmq_msg *m, const struct psess_rec *r,
    const struct psess_limits *pl)
{
	uint8_t	*p;

	memset(m, 0, sizeof(*m));
	m->m_type = SHMQ_PSESS_CREATE;
	p = put_fixed(m->m_data, r);
	be16enc(p, pl->pl_sessions);
	be16enc(p + 2, pl->pl_rate);
	be16enc(p + 4, pl->pl_anon_max);
	m->m_len = PSESS_CREATE_LEN;
}

/* The fixed part into r (images untouched) and the limits. */
int
psess_msg_create_parse(const struct shmq_msg *m, struct psess_rec *r,
    struct psess_limits *pl)
{
	const uint8_t	*p;

	if (m->m_len != PSESS_CREATE_LEN)
		return -EINVAL;
	p = get_fixed(m->m_data, r);
	pl->pl_sessions = be16dec(p);
	pl->pl_rate = be16dec(p + 2);
	pl->pl_anon_max = be16dec(p + 4);
	if (r->ps_id == 0 || r->ps_nluns == 0 ||
	    r->ps_nluns > CFG_MAX_TARGET_LUNS)
		return -EINVAL;
	return 0;
}

/*
 * A PSESS_LUNS message with as many image names from LUN first on as
 * fit; returns the next LUN to send.
 */
int
psess_msg_luns(struct shmq_msg *m, const struct psess_rec *r, int first)
{
	uint8_t	*p = m->m_data + LUNS_HDR;
	size_t	 n;
	int	 lun = first;

	memset(m, 0, sizeof(*m));
	m->m_type = SHMQ_PSESS_LUNS;
	while (lun < r->ps_nluns && lun - first < 255) {
		n = strnlen(r->ps_images[lun], CFG_NAME_MAX - 1) + 1;
		if ((size_t)(p - m->m_data) + n > SHMQ_DATA_MAX)
			break;
		memcpy(p, r->ps_images[lun], n - 1);
		p[n - 1] = '\0';
		p += n;
		lun++;
	}
	be64enc(m->m_data, r->ps_id);
	be16enc(m->m_data + 8, (uint16_t)first);
	m->m_data[10] = (uint8_t)(lun - first);
	m->m_len = (uint32_t)(p - m->m_data);
	return lun;
}

int
psess_msg_luns_parse(const struct shmq_msg *m, uint64_t *id, int *first,
    int *count, char names[][CFG_NAME_MAX])
{
	const uint8_t	*p = m->m_data + LUNS_HDR, *end = m->m_data + m->m_len;
	const uint8_t	*nul;
	int		 i;

	if (m->m_len < LUNS_HDR || m->m_len > SHMQ_DATA_MAX)
		return -EINVAL;
	*id = be64dec(m->m_data);
	*first = be16dec(m->m_data + 8);
	*count = m->m_data[10];
	if (*id == 0 || *first + *count > CFG_MAX_TARGET_LUNS)
		return -EINVAL;
	for (i = 0; i < *count; i++) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL ||
		    nul - p >= CFG_NAME_MAX || nul == p)
			return -EINVAL;
		memcpy(names[i], p, (size_t)(nul - p + 1));
		p = nul + 1;
	}
	return p == end ? 0 : -EINVAL;
}

void
psess_msg_id(struct shmq_msg *m, uint32_t type, uint64_t id)
{
	memset(m, 0, sizeof(*m));
	m->m_type = type;
	be64enc(m->m_data, id);
	m->m_len = 8;
}

int
psess_msg_id_parse(const struct shmq_msg *m, uint64_t *id)
{
	if (m->m_len != 8)
		return -EINVAL;
	*id = be64dec(m->m_data);
	return *id == 0 ? -EINVAL : 0;
}

void
psess_msg_touch(struct shmq_msg *m, const struct psess_touch *t)
{
	const struct psess_conn	*pc = &t->pt_conn;
	uint8_t			*p;
	size_t			 n, hdr = PSESS_TOUCH_HDR;

	memset(m, 0, sizeof(*m));
	m->m_type = SHMQ_PSESS_TOUCH;
	be64enc(m->m_data, t->pt_id);
	be64enc(m->m_data + 8, pc->pc_conn);
	be32enc(m->m_data + 16, pc->pc_slot);
	m->m_data[20] = !t->pt_start ? 0 : t->pt_from != 0 ?
	    PSESS_TOUCH_MOVED : 1;
	p = put_str(m->m_data + 21, pc->pc_peer, PSESS_PEER_MAX);
	if (m->m_data[20] == PSESS_TOUCH_MOVED) {
		be64enc(p, t->pt_from);
		p += 8;
		hdr += 8;
	}
	n = strnlen(pc->pc_initiator, PSESS_INI_MAX - 1);
	if (n > SHMQ_DATA_MAX - hdr)
		n = SHMQ_DATA_MAX - hdr;
	memcpy(p, pc->pc_initiator, n);
	m->m_len = (uint32_t)(hdr + n);
}

int
psess_msg_touch_parse(const struct shmq_msg *m, struct psess_touch *t)
{
	struct psess_conn	*pc = &t->pt_conn;
	size_t			 n, hdr = PSESS_TOUCH_HDR;

	memset(t, 0, sizeof(*t));
	if (m->m_len < PSESS_TOUCH_HDR || m->m_len > SHMQ_DATA_MAX)
		return -EINVAL;
	t->pt_id = be64dec(m->m_data);
	pc->pc_conn = be64dec(m->m_data + 8);
	pc->pc_slot = be32dec(m->m_data + 16);
	t->pt_start = m->m_data[20] != 0;
	get_str(m->m_data + 21, pc->pc_peer, PSESS_PEER_MAX);
	if (m->m_data[20] == PSESS_TOUCH_MOVED) {
		if (m->m_len < PSESS_TOUCH_HDR + 8)
			return -EINVAL;
		t->pt_from = be64dec(m->m_data + PSESS_TOUCH_HDR);
		hdr += 8;
	}
	n = m->m_len - hdr;
	if (n >= PSESS_INI_MAX)
		n = PSESS_INI_MAX - 1;
	memcpy(pc->pc_initiator, m->m_data + hdr, n);
	pc->pc_initiator[n] = '\0';
	return t->pt_id == 0 || pc->pc_conn == 0 ? -EINVAL : 0;
}

/* ---- The mirror file ---- */

static size_t
mirror_entsize(void)
{
	return (sizeof(struct psess_ment) + 63) & ~(size_t)63;
}

static size_t
mirror_len(void)
{
	return MIRROR_HDR + PSESS_MAX * mirror_entsize();
}

static int
mirror_hdr_ok(const struct mirror_hdr *h)
{
	return h->mh_magic == MIRROR_MAGIC && h->mh_version == MIRROR_VERSION &&
	    h->mh_nentries == PSESS_MAX && h->mh_entsize == mirror_entsize();
}

/*
 * The writer (coordinator) keeps a good file, and resets any other; a
 * reset file has no magic until psess_mirror_publish(), so that workers
 * do not map it half loaded.
 */
static int
mirror_prepare(int fd)
{
	struct mirror_hdr	 h;
	struct stat		 st;

	if (fstat(fd, &st) == -1)
		return -1;
	if ((size_t)st.st_size == mirror_len() &&
	    pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    mirror_hdr_ok(&h))
		return 0;
	if (st.st_size != 0)
		log_info("%s: resetting an unknown mirror", __func__);
	if (ftruncate(fd, 0) == -1 || ftruncate(fd, (off_t)mirror_len()) == -1)
		return -1;
	h.mh_magic = 0;
	h.mh_version = MIRROR_VERSION;
	h.mh_nentries = PSESS_MAX;
	h.mh_entsize = (uint32_t)mirror_entsize();
	return pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) ? 0 : -1;
}

/*
 * Map the mirror: writable (the coordinator; created or reset as needed)
 * or read-only (workers; NULL until the coordinator has written it).
 */
struct psess_mirror *
psess_mirror_open(const char *path, int writer)
{
	struct psess_mirror	*m;
	struct stat		 st;
	int			 saved;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->pm_len = mirror_len();
	m->pm_entsize = mirror_entsize();
	m->pm_base = MAP_FAILED;
	m->pm_fd = open(path, writer ? O_RDWR | O_CREAT | O_CLOEXEC :
	    O_RDONLY | O_CLOEXEC, 0600);
	if (m->pm_fd == -1)
		goto fail;
	if (writer && mirror_prepare(m->pm_fd) == -1)
		goto fail;
	if (fstat(m->pm_fd, &st) == -1 || (size_t)st.st_size != m->pm_len) {
		errno = EAGAIN;
		goto fail;
	}
	m->pm_base = mmap(NULL, m->pm_len, writer ? PROT_READ | PROT_WRITE :
	    PROT_READ, MAP_SHARED, m->pm_fd, 0);
	if (m->pm_base == MAP_FAILED)
		goto fail;
	/*
	 * Scans read a word or two of each entry, a page in six: without
	 * this, readahead brought the whole file (23 MiB) into memory.
	 */
	(void)madvise(m->pm_base, m->pm_len, MADV_RANDOM);
	if (!writer && !mirror_hdr_ok((const struct mirror_hdr *)m->pm_base)) {
		errno = EAGAIN;
		goto fail;
	}
	return m;
fail:
	saved = errno;
	psess_mirror_close(m);
	errno = saved;
	return NULL;
}

/* Writer: the table is complete; workers may map it from now on. */
void
psess_mirror_publish(struct psess_mirror *m)
{
	struct mirror_hdr	*h = (struct mirror_hdr *)m->pm_base;

	atomic_thread_fence(memory_order_release);
	h->mh_magic = MIRROR_MAGIC;
	msync(m->pm_base, MIRROR_HDR, MS_ASYNC);
}

void
psess_mirror_close(struct psess_mirror *m)
{
	if (m == NULL)
		return;
	if (m->pm_base != MAP_FAILED)
		munmap(m->pm_base, m->pm_len);
	if (m->pm_fd != -1)
		close(m->pm_fd);
	free(m);
}

struct psess_ment *
psess_mirror_entry(struct psess_mirror *m, int idx)
{
	if (idx < 0 || idx >= PSESS_MAX)
		fatalx("%s: entry %d", __func__, idx);
	return (struct psess_ment *)(m->pm_base + MIRROR_HDR +
	    (size_t)idx * m->pm_entsize);
}

/* Writer: the entry is about to change. */
void
psess_mirror_begin(struct psess_ment *e)
{
	uint32_t	 s = atomic_load_explicit(&e->me_seq,
	    memory_order_relaxed);

	atomic_store_explicit(&e->me_seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

/* Writer: the entry is consistent again. */
void
psess_mirror_end(struct psess_ment *e)
{
	uint32_t	 s = atomic_load_explicit(&e->me_seq,
	    memory_order_relaxed);

	atomic_store_explicit(&e->me_seq, s + 1, memory_order_release);
}

/* Copy len bytes at off of entry idx, consistently; me_used, or -1. */
static int
mirror_copy(struct psess_mirror *m, int idx, size_t off, size_t len,
    void *dst)
{
	struct psess_ment	*e = psess_mirror_entry(m, idx);
	uint32_t		 s1, s2, used;
	int			 i;

	for (i = 0; i < MIRROR_TRIES; i++) {
		s1 = atomic_load_explicit(&e->me_seq, memory_order_acquire);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		used = e->me_used;
		if (len > 0)
			memcpy(dst, (const uint8_t *)e + off, len);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&e->me_seq, memory_order_relaxed);
		if (s1 == s2)
			return (int)used;
	}
	return -1;
}

/* A consistent copy of entry idx: 1 when it holds a session, else 0. */
int
psess_mirror_read(struct psess_mirror *m, int idx, struct psess_ment *out)
{
	int	 used;

	used = mirror_copy(m, idx, 0, sizeof(*out), out);
	if (used <= 0)
		return 0;
	out->me_nconns = out->me_nconns > PSESS_CONNS_MAX ? PSESS_CONNS_MAX :
	    out->me_nconns;
	out->me_rec.ps_nluns = out->me_rec.ps_nluns > CFG_MAX_TARGET_LUNS ?
	    CFG_MAX_TARGET_LUNS : out->me_rec.ps_nluns;
	return 1;
}

/* The id of the session in entry idx: 1, or 0 when the entry is free. */
int
psess_mirror_peek(struct psess_mirror *m, int idx, uint64_t *id)
{
	return mirror_copy(m, idx, offsetof(struct psess_ment, me_rec) +
	    offsetof(struct psess_rec, ps_id), sizeof(*id), id) > 0;
}

/*
 * Find a session by id (non-zero) or else by IQN suffix (compared
 * without case, as iSCSI names are); its index with a copy in out, or -1.
 */
int
psess_mirror_find(struct psess_mirror *m, uint64_t id, const char *iqn,
    struct psess_ment *out)
{
	char		 name[PSESS_IQN_MAX];
	uint64_t	 eid;
	int		 i;

	for (i = 0; i < PSESS_MAX; i++) {
		if (id != 0) {
			if (!psess_mirror_peek(m, i, &eid) || eid != id)
				continue;
		} else {
			if (mirror_copy(m, i, offsetof(struct psess_ment,
			    me_rec) + offsetof(struct psess_rec, ps_iqn),
			    sizeof(name), name) <= 0)
				continue;
			name[sizeof(name) - 1] = '\0';
			if (strcasecmp(name, iqn) != 0)
				continue;
		}
		if (psess_mirror_read(m, i, out) == 1 &&
		    (id == 0 || out->me_rec.ps_id == id))
			return i;
	}
	return -1;
}
