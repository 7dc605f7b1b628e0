/*
 * Shared-memory request/response rings: see shmq.h for the protocol.
 *
 * Each ring index is a free-running 32-bit counter written by one side
 * only (head by the producer, tail by the consumer) and published with
 * release/acquire ordering; head - tail is the number of queued messages.
 *
 * A producer that finds its ring full says so (r_waiting) before it
 * looks at the tail once more; a consumer that frees room looks at
 * r_waiting after it moves the tail (both sequentially consistent), so
 * one of them sees the other and the producer is woken whatever freed
 * the room: an answer, a message that wanted none, a stale one skipped.
 */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"
#include "shmq.h"

#define SHMQ_RING_MASK	(SHMQ_RING_SIZE - 1)
/*
 * "shmq" and the layout's version: a master executed from a new binary
 * maps its predecessor's region only if it lays it out the same way.
 */
#define SHMQ_MAGIC	(0x73686d71U ^ SHMQ_LAYOUT)
#define SHMQ_CACHELINE	64

_Static_assert(sizeof(struct shmq_msg) == 512, "shmq_msg is 512 bytes");
_Static_assert((SHMQ_RING_SIZE & SHMQ_RING_MASK) == 0,
    "ring size is a power of two");
#define SHMQ_WSTATS_WORDS (sizeof(struct shmq_wstats) / sizeof(uint64_t))

_Static_assert(sizeof(struct shmq_wstats) % sizeof(uint64_t) == 0,
    "shmq_wstats is whole words");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
    "shared atomics must be lock-free");

struct shmq_ring {
	alignas(SHMQ_CACHELINE) _Atomic uint32_t r_head;  /* producer's */
	alignas(SHMQ_CACHELINE) _Atomic uint32_t r_tail;  /* consumer's */
	_Atomic uint32_t	 r_waiting;	/* the producer found it full */
	alignas(SHMQ_CACHELINE) struct shmq_msg r_msg[SHMQ_RING_SIZE];
};

struct shmq_slot {
	alignas(SHMQ_CACHELINE) _Atomic pid_t s_pid;	/* owner, 0: none */
	_Atomic uint32_t	 s_gen;
	int			 s_efd;		/* coordinator -> worker */
	_Atomic uint64_t	 s_wstats[SHMQ_WSTATS_WORDS];
	struct shmq_ring	 s_req;		/* worker -> coordinator */
	struct shmq_ring	 s_rsp;		/* coordinator -> worker */
};

struct shmq_region {
	uint32_t		 rg_magic;
	int			 rg_nslots;
	size_t			 rg_size;
	alignas(SHMQ_CACHELINE) _Atomic uint32_t rg_doorbell;	/* futex */
	_Atomic uint32_t	 rg_sleepers;
	alignas(SHMQ_CACHELINE) _Atomic pid_t rg_coord_pid;
	_Atomic uint64_t	 rg_requests;
	_Atomic uint64_t	 rg_commits;
	_Atomic uint64_t	 rg_syncs;
	_Atomic uint64_t	 rg_commit_ns;
	time_t			 rg_started;
	int			 rg_fd;		/* memfd, in the master */
	struct shmq_slot	 rg_slot[];
};

static const char *const shmq_names[SHMQ_TYPE_MAX] = {
	[SHMQ_NONE] = "NONE",
#define SHMQ_NAME(name)	[SHMQ_##name] = #name,
	SHMQ_TYPES(SHMQ_NAME)
#undef SHMQ_NAME
};

static struct shmq_slot *
shmq_slot(struct shmq_region *rg, int slot)
{
	if (rg == NULL || rg->rg_magic != SHMQ_MAGIC)
		fatalx("%s: not a shmq region", __func__);
	if (slot < 0 || slot >= rg->rg_nslots)
		fatalx("%s: slot %d out of range", __func__, slot);
	return &rg->rg_slot[slot];
}

static int
ring_push(struct shmq_ring *r, const struct shmq_msg *m, uint32_t gen)
{
	uint32_t	 head, tail;
	struct shmq_msg	*dst;

	if (m->m_len > SHMQ_DATA_MAX)
		return -EMSGSIZE;
	head = atomic_load_explicit(&r->r_head, memory_order_acquire);
	tail = atomic_load_explicit(&r->r_tail, memory_order_acquire);
	if (head - tail >= SHMQ_RING_SIZE) {
		atomic_store(&r->r_waiting, 1);	/* then the tail once more */
		tail = atomic_load(&r->r_tail);
		if (head - tail >= SHMQ_RING_SIZE)
			return -EAGAIN;
	}
	dst = &r->r_msg[head & SHMQ_RING_MASK];
	memcpy(dst, m, offsetof(struct shmq_msg, m_data) + m->m_len);
	dst->m_gen = gen;
	atomic_store_explicit(&r->r_head, head + 1, memory_order_release);
	return 0;
}

/* Copy the idx-th queued message without consuming it. */
static int
ring_peek(struct shmq_ring *r, uint32_t idx, struct shmq_msg *m)
{
	uint32_t	 head, tail;

	head = atomic_load_explicit(&r->r_head, memory_order_acquire);
	tail = atomic_load_explicit(&r->r_tail, memory_order_acquire);
	if (head - tail <= idx)
		return 0;
	memcpy(m, &r->r_msg[(tail + idx) & SHMQ_RING_MASK], sizeof(*m));
	return 1;
}

/* Consume n messages; 1 if the producer waits for the room: wake it. */
static int
ring_release(struct shmq_ring *r, uint32_t n)
{
	atomic_fetch_add(&r->r_tail, n);
	return atomic_load(&r->r_waiting) != 0 &&
	    atomic_exchange(&r->r_waiting, 0) != 0;
}

/* Consumer side: drop everything queued. */
static void
ring_drain(struct shmq_ring *r)
{
	uint32_t	 head;

	head = atomic_load_explicit(&r->r_head, memory_order_acquire);
	atomic_store_explicit(&r->r_tail, head, memory_order_release);
}

/*
 * Pop the next message of the current generation, skipping stale ones;
 * *wake set if the producer waits for the room this made.
 */
static int
ring_pop(struct shmq_slot *s, struct shmq_ring *r, struct shmq_msg *m,
    int *wake)
{
	uint32_t	 gen;

	gen = atomic_load_explicit(&s->s_gen, memory_order_acquire);
	while (ring_peek(r, 0, m) == 1) {
		*wake |= ring_release(r, 1);
		if (m->m_gen == gen)
			return 1;
	}
	return 0;
}

static void
shmq_eventfd_clear(int fd)
{
	uint64_t	 v;

	while (read(fd, &v, sizeof(v)) == -1 && errno == EINTR)
		continue;
}

static int
shmq_eventfds(struct shmq_region *rg)
{
	int	 i, j, saved;

	for (i = 0; i < rg->rg_nslots; i++) {
		rg->rg_slot[i].s_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (rg->rg_slot[i].s_efd == -1) {
			saved = errno;
			for (j = 0; j < i; j++)
				close(rg->rg_slot[j].s_efd);
			errno = saved;
			return -1;
		}
	}
	return 0;
}

/*
 * The region: shared pages of a memfd, so that a master executing a new
 * binary maps the same one again (shmq_region_attach).
 */
struct shmq_region *
shmq_region_create(int nslots)
{
	struct shmq_region	*rg;
	size_t			 size, pg;
	int			 fd, saved;

	if (nslots < 1 || nslots > SHMQ_SLOTS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	pg = (size_t)sysconf(_SC_PAGESIZE);
	size = sizeof(*rg) + (size_t)nslots * sizeof(struct shmq_slot);
	size = (size + pg - 1) / pg * pg;
	if ((fd = memfd_create("scsipub-rings", MFD_CLOEXEC)) == -1)
		return NULL;
	if (ftruncate(fd, (off_t)size) == -1 ||
	    (rg = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	rg->rg_fd = fd;
	rg->rg_nslots = nslots;
	rg->rg_size = size;
	rg->rg_started = time(NULL);
	if (shmq_eventfds(rg) == -1) {
		saved = errno;
		munmap(rg, size);
		close(fd);
		errno = saved;
		return NULL;
	}
	rg->rg_magic = SHMQ_MAGIC;
	return rg;
}

/*
 * The region a master executed before this one made (its memfd, and
 * its eventfds, kept open across the exec): mapped again, or NULL
 * (EPROTO when it is not laid out as this build lays it out).
 */
struct shmq_region *
shmq_region_attach(int fd)
{
	struct shmq_region	*rg;
	struct stat		 st;
	size_t			 size;

	if (fstat(fd, &st) == -1)
		return NULL;
	if ((size_t)st.st_size < sizeof(*rg)) {
		errno = EPROTO;
		return NULL;
	}
	size = (size_t)st.st_size;
	rg = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rg == MAP_FAILED)
		return NULL;
	if (rg->rg_magic != SHMQ_MAGIC || rg->rg_size != size ||
	    rg->rg_nslots < 1 || rg->rg_nslots > SHMQ_SLOTS_MAX ||
	    sizeof(*rg) + (size_t)rg->rg_nslots * sizeof(struct shmq_slot) >
	    size) {
		munmap(rg, size);
		errno = EPROTO;
		return NULL;
	}
	rg->rg_fd = fd;
	return rg;
}

/*
 * Keep the region's descriptors (its memfd, the slots' eventfds) open
 * across an exec (on), or close them there again.  0, or -1.
 */
int
shmq_region_inherit(struct shmq_region *rg, int on)
{
	int	 i, rv = 0;

	rv |= fcntl(rg->rg_fd, F_SETFD, on ? 0 : FD_CLOEXEC);
	for (i = 0; i < rg->rg_nslots; i++)
		rv |= fcntl(rg->rg_slot[i].s_efd, F_SETFD, on ? 0 :
		    FD_CLOEXEC);
	return rv == 0 ? 0 : -1;
}

int
shmq_region_fd(const struct shmq_region *rg)
{
	return rg->rg_fd;
}

/* The slot's generation: what an unasked message to its owner carries. */
uint32_t
shmq_slot_gen(struct shmq_region *rg, int slot)
{
	return atomic_load(&shmq_slot(rg, slot)->s_gen);
}

void
shmq_region_destroy(struct shmq_region *rg)
{
	int	 i, fd;

	if (rg == NULL)
		return;
	for (i = 0; i < rg->rg_nslots; i++)
		close(rg->rg_slot[i].s_efd);
	rg->rg_magic = 0;
	fd = rg->rg_fd;
	munmap(rg, rg->rg_size);
	close(fd);
}

int
shmq_region_nslots(const struct shmq_region *rg)
{
	return rg->rg_nslots;
}

/*
 * Start a new generation: responses still queued or still to come for
 * the previous owner are skipped, its queued requests are not executed.
 */
static void
shmq_slot_reset(struct shmq_slot *s)
{
	atomic_fetch_add_explicit(&s->s_gen, 1, memory_order_acq_rel);
	ring_drain(&s->s_rsp);
	shmq_eventfd_clear(s->s_efd);
}

/*
 * Give the slot to process pid.  Called by the master once the previous
 * owner has been released (the usual case: nothing to reset) or, if it
 * was not, before the new owner first pushes.
 */
void
shmq_slot_claim(struct shmq_region *rg, int slot, pid_t pid)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);
	pid_t			 old;

	old = atomic_exchange_explicit(&s->s_pid, pid, memory_order_acq_rel);
	if (old != 0 && old != pid)
		shmq_slot_reset(s);
}

/* The owner is gone (reaped): nobody may use the slot's old messages. */
void
shmq_slot_release(struct shmq_region *rg, int slot)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);

	struct shmq_wstats	 zero;

	atomic_store_explicit(&s->s_pid, 0, memory_order_release);
	shmq_slot_reset(s);
	memset(&zero, 0, sizeof(zero));
	shmq_wstats_set(rg, slot, &zero);
}

static int
shmq_pid_alive(pid_t pid)
{
	if (pid <= 0)
		return 0;
	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 0;
	return 1;
}

int
shmq_peer_alive(struct shmq_region *rg, int slot)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);

	return shmq_pid_alive(atomic_load(&s->s_pid));
}

/*
 * Called by the coordinator as it starts (pid = getpid()) and stops
 * (pid = 0).  The coordinator is the only process that waits on the
 * doorbell, so a predecessor killed while asleep leaves no sleeper.
 */
void
shmq_coordinator_set(struct shmq_region *rg, pid_t pid)
{
	atomic_store(&rg->rg_sleepers, 0);
	atomic_store(&rg->rg_coord_pid, pid);
}

int
shmq_coordinator_alive(struct shmq_region *rg)
{
	return shmq_pid_alive(atomic_load(&rg->rg_coord_pid));
}

/* Worker: queue a request; -EAGAIN when the ring is full. */
int
shmq_request_push(struct shmq_region *rg, int slot, const struct shmq_msg *m)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);

	return ring_push(&s->s_req, m, atomic_load(&s->s_gen));
}

/*
 * Consume the next current request: 1, or 0 when there is none.  The
 * worker is woken if it waits for room (as by shmq_request_release).
 */
int
shmq_request_pop(struct shmq_region *rg, int slot, struct shmq_msg *m)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);
	int			 wake = 0, rv;

	rv = ring_pop(s, &s->s_req, m, &wake);
	if (wake)
		shmq_worker_notify(rg, slot);
	return rv;
}

/*
 * Coordinator: copy the idx-th queued request, leaving it queued.
 * Returns 1, 0 when there are not that many, or -ESTALE for a request of
 * a previous owner (copied too: release it, do not execute it).
 */
int
shmq_request_peek(struct shmq_region *rg, int slot, uint32_t idx,
    struct shmq_msg *m)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);

	if (ring_peek(&s->s_req, idx, m) == 0)
		return 0;
	if (m->m_gen != atomic_load(&s->s_gen))
		return -ESTALE;
	return 1;
}

/*
 * Coordinator: the first n queued requests have been answered (or
 * wanted no answer).  A worker that found the ring full is woken
 * through its eventfd, whether or not an answer was pushed: it has
 * requests waiting for this room.
 */
void
shmq_request_release(struct shmq_region *rg, int slot, uint32_t n)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);

	if (ring_release(&s->s_req, n))
		shmq_worker_notify(rg, slot);
}

/*
 * Coordinator: queue a response, m_gen copied from its request.
 * -EAGAIN when the ring is full; a response for a previous owner is
 * dropped and counts as delivered (0).
 */
int
shmq_response_push(struct shmq_region *rg, int slot, const struct shmq_msg *m)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);
	uint32_t		 gen = atomic_load(&s->s_gen);

	if (m->m_gen != gen)
		return 0;
	return ring_push(&s->s_rsp, m, gen);
}

/*
 * Worker: the next answer, 1, or 0 when there is none.  A coordinator
 * that found the ring full (answers or kicks waiting for room) gets
 * the doorbell.
 */
int
shmq_response_pop(struct shmq_region *rg, int slot, struct shmq_msg *m)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);
	int			 wake = 0, rv;

	rv = ring_pop(s, &s->s_rsp, m, &wake);
	if (wake)
		shmq_doorbell_ring(rg);
	return rv;
}

static int
shmq_futex(_Atomic uint32_t *word, int op, uint32_t val,
    const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
	return (int)syscall(SYS_futex, (void *)word, op, val, ts, NULL, 0);
}

/* Worker: tell the coordinator that requests are queued. */
void
shmq_doorbell_ring(struct shmq_region *rg)
{
	atomic_fetch_add(&rg->rg_doorbell, 1);
	if (atomic_load(&rg->rg_sleepers) != 0)
		shmq_futex(&rg->rg_doorbell, FUTEX_WAKE, INT32_MAX, NULL);
}

/* Read before draining the rings; pass to shmq_doorbell_wait(). */
uint32_t
shmq_doorbell_read(struct shmq_region *rg)
{
	return atomic_load(&rg->rg_doorbell);
}

/*
 * Sleep until the doorbell differs from seen, at most timeout_ms
 * (forever if negative).  Returns 0 when rung (or spuriously woken),
 * -ETIMEDOUT, or -EINTR.
 */
int
shmq_doorbell_wait(struct shmq_region *rg, uint32_t seen, int timeout_ms)
{
	struct timespec	 ts, *tsp = NULL;
	int		 rv = 0;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	/* Sleepers before doorbell here, doorbell before sleepers in ring. */
	atomic_fetch_add(&rg->rg_sleepers, 1);
	if (atomic_load(&rg->rg_doorbell) == seen &&
	    shmq_futex(&rg->rg_doorbell, FUTEX_WAIT, seen, tsp) == -1) {
		if (errno == ETIMEDOUT || errno == EINTR)
			rv = -errno;
	}
	atomic_fetch_sub(&rg->rg_sleepers, 1);
	return rv;
}

/* Worker: the fd its event loop watches for responses. */
int
shmq_worker_fd(struct shmq_region *rg, int slot)
{
	return shmq_slot(rg, slot)->s_efd;
}

/* Coordinator: responses are queued for this slot. */
void
shmq_worker_notify(struct shmq_region *rg, int slot)
{
	uint64_t	 one = 1;
	int		 fd = shmq_slot(rg, slot)->s_efd;

	while (write(fd, &one, sizeof(one)) == -1 && errno == EINTR)
		continue;
}

/* Worker: reset the fd before draining the response ring. */
void
shmq_worker_clear(struct shmq_region *rg, int slot)
{
	shmq_eventfd_clear(shmq_slot(rg, slot)->s_efd);
}

void
shmq_stats_add(struct shmq_region *rg, const struct shmq_stats *st)
{
	atomic_fetch_add(&rg->rg_requests, st->st_requests);
	atomic_fetch_add(&rg->rg_commits, st->st_commits);
	atomic_fetch_add(&rg->rg_syncs, st->st_syncs);
	atomic_fetch_add(&rg->rg_commit_ns, st->st_commit_ns);
}

void
shmq_stats_get(struct shmq_region *rg, struct shmq_stats *st)
{
	st->st_requests = atomic_load(&rg->rg_requests);
	st->st_commits = atomic_load(&rg->rg_commits);
	st->st_syncs = atomic_load(&rg->rg_syncs);
	st->st_commit_ns = atomic_load(&rg->rg_commit_ns);
}

/* Worker: publish its counters in its slot (word by word, relaxed). */
void
shmq_wstats_set(struct shmq_region *rg, int slot, const struct shmq_wstats *ws)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);
	uint64_t		 w[SHMQ_WSTATS_WORDS];
	size_t			 i;

	memcpy(w, ws, sizeof(w));
	for (i = 0; i < SHMQ_WSTATS_WORDS; i++)
		atomic_store_explicit(&s->s_wstats[i], w[i],
		    memory_order_relaxed);
}

void
shmq_wstats_get(struct shmq_region *rg, int slot, struct shmq_wstats *ws)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);
	uint64_t		 w[SHMQ_WSTATS_WORDS];
	size_t			 i;

	for (i = 0; i < SHMQ_WSTATS_WORDS; i++)
		w[i] = atomic_load_explicit(&s->s_wstats[i],
		    memory_order_relaxed);
	memcpy(ws, w, sizeof(w));
}

/* The process that owns the slot, 0 for none. */
pid_t
shmq_slot_pid(struct shmq_region *rg, int slot)
{
	return atomic_load(&shmq_slot(rg, slot)->s_pid);
}

pid_t
shmq_coordinator_pid(struct shmq_region *rg)
{
	return atomic_load(&rg->rg_coord_pid);
}

/* Requests queued on the slot's ring, executed or not yet answered. */
uint32_t
shmq_request_depth(struct shmq_region *rg, int slot)
{
	struct shmq_slot	*s = shmq_slot(rg, slot);

	return atomic_load_explicit(&s->s_req.r_head, memory_order_acquire) -
	    atomic_load_explicit(&s->s_req.r_tail, memory_order_acquire);
}

/* When the master created the region: the daemon's start. */
time_t
shmq_region_started(const struct shmq_region *rg)
{
	return rg->rg_started;
}

const char *
shmq_type_name(uint32_t type)
{
	if (type >= SHMQ_TYPE_MAX || shmq_names[type] == NULL)
		return "UNKNOWN";
	return shmq_names[type];
}

/*
 * ---- The payloads: one encoder and one decoder per format, used by
 * both processes.  An encoder sets m_type (requests), m_status and
 * m_len; a decoder refuses with -EINVAL a payload whose length is not
 * exactly what its format says.
 */

/* A name at the end of a payload: n bytes, none NUL, into out[size]. */
static int
shmq_name_dec(const uint8_t *p, size_t n, char *out, size_t size)
{
	if (n == 0 || n >= size || memchr(p, '\0', n) != NULL)
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* MAP_SET, MAP_CLEAR, MAP_SYNC, MAP_LOOKUP: u64 lu, u64 first, u32 count. */
void
shmq_map_enc(struct shmq_msg *m, uint32_t type, uint64_t lu, uint64_t first,
    uint32_t count)
{
	m->m_type = type;
	m->m_status = 0;
	m->m_len = SHMQ_MAP_LEN;
	be64enc(m->m_data, lu);
	be64enc(m->m_data + 8, first);
	be32enc(m->m_data + 16, count);
}

int
shmq_map_dec(const struct shmq_msg *m, uint64_t *lu, uint64_t *first,
    uint32_t *count)
{
	if (m->m_len != SHMQ_MAP_LEN)
		return -EINVAL;
	*lu = be64dec(m->m_data);
	*first = be64dec(m->m_data + 8);
	*count = be32dec(m->m_data + 16);
	return 0;
}

/* The answer to MAP_LOOKUP: u64 first block, u64 count of the run. */
void
shmq_lookup_enc(struct shmq_msg *m, uint64_t first, uint64_t count)
{
	m->m_status = 0;
	m->m_len = SHMQ_LOOKUP_LEN;
	be64enc(m->m_data, first);
	be64enc(m->m_data + 8, count);
}

int
shmq_lookup_dec(const struct shmq_msg *m, uint64_t *first, uint64_t *count)
{
	if (m->m_len != SHMQ_LOOKUP_LEN)
		return -EINVAL;
	*first = be64dec(m->m_data);
	*count = be64dec(m->m_data + 8);
	return 0;
}

/* MAP_REGISTER: u64 id, u64 blocks, then the map file's name. */
int
shmq_register_enc(struct shmq_msg *m, uint64_t id, uint64_t nblocks,
    const char *name)
{
	size_t	 n = strlen(name);

	if (n == 0 || n > SHMQ_DATA_MAX - SHMQ_REGISTER_LEN)
		return -EMSGSIZE;
	m->m_type = SHMQ_MAP_REGISTER;
	m->m_status = 0;
	m->m_len = (uint32_t)(SHMQ_REGISTER_LEN + n);
	be64enc(m->m_data, id);
	be64enc(m->m_data + 8, nblocks);
	memcpy(m->m_data + SHMQ_REGISTER_LEN, name, n);
	return 0;
}

/* The name goes to name[size], NUL-terminated. */
int
shmq_register_dec(const struct shmq_msg *m, uint64_t *id, uint64_t *nblocks,
    char *name, size_t size)
{
	if (m->m_len <= SHMQ_REGISTER_LEN || m->m_len > SHMQ_DATA_MAX)
		return -EINVAL;
	*id = be64dec(m->m_data);
	*nblocks = be64dec(m->m_data + 8);
	return shmq_name_dec(m->m_data + SHMQ_REGISTER_LEN,
	    m->m_len - SHMQ_REGISTER_LEN, name, size);
}

/* KV_PUT, KV_GET, KV_DEL: u16 key length, key, value; vlen 0 but for PUT. */
int
shmq_kv_enc(struct shmq_msg *m, uint32_t type, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	if (klen == 0 || klen > UINT16_MAX || vlen > SHMQ_DATA_MAX ||
	    2 + klen + vlen > SHMQ_DATA_MAX)
		return -EMSGSIZE;
	m->m_type = type;
	m->m_status = 0;
	m->m_len = (uint32_t)(2 + klen + vlen);
	be16enc(m->m_data, (uint16_t)klen);
	memcpy(m->m_data + 2, key, klen);
	if (vlen > 0)
		memcpy(m->m_data + 2 + klen, val, vlen);
	return 0;
}

/* Key and value point into m: the value is whatever follows the key. */
int
shmq_kv_dec(const struct shmq_msg *m, const uint8_t **key, size_t *klen,
    const uint8_t **val, size_t *vlen)
{
	if (m->m_len < 2 || m->m_len > SHMQ_DATA_MAX)
		return -EINVAL;
	*klen = be16dec(m->m_data);
	if (*klen == 0 || 2 + *klen > m->m_len)
		return -EINVAL;
	*key = m->m_data + 2;
	*val = *key + *klen;
	*vlen = m->m_len - 2 - *klen;
	return 0;
}

/* PR_COMMIT: u32 epoch, u64 commit, then the mirror file's name. */
int
shmq_pr_enc(struct shmq_msg *m, uint32_t epoch, uint64_t commit,
    const char *name)
{
	size_t	 n = strlen(name);

	if (n == 0 || n > SHMQ_DATA_MAX - SHMQ_PR_LEN)
		return -EMSGSIZE;
	m->m_type = SHMQ_PR_COMMIT;
	m->m_status = 0;
	m->m_len = (uint32_t)(SHMQ_PR_LEN + n);
	be32enc(m->m_data, epoch);
	be64enc(m->m_data + 4, commit);
	memcpy(m->m_data + SHMQ_PR_LEN, name, n);
	return 0;
}

/* The name goes to name[size], NUL-terminated. */
int
shmq_pr_dec(const struct shmq_msg *m, uint32_t *epoch, uint64_t *commit,
    char *name, size_t size)
{
	if (m->m_len <= SHMQ_PR_LEN || m->m_len > SHMQ_DATA_MAX)
		return -EINVAL;
	*epoch = be32dec(m->m_data);
	*commit = be64dec(m->m_data + 4);
	return shmq_name_dec(m->m_data + SHMQ_PR_LEN, m->m_len - SHMQ_PR_LEN,
	    name, size);
}

/* SESSION_KICK, unasked: u64 connection id, u8 SHMQ_KICK_* reason. */
void
shmq_kick_enc(struct shmq_msg *m, uint64_t conn, int why)
{
	m->m_type = SHMQ_SESSION_KICK;
	m->m_status = 0;
	m->m_len = SHMQ_KICK_LEN;
	be64enc(m->m_data, conn);
	m->m_data[8] = (uint8_t)why;
}

int
shmq_kick_dec(const struct shmq_msg *m, uint64_t *conn, int *why)
{
	if (m->m_len != SHMQ_KICK_LEN)
		return -EINVAL;
	if (m->m_data[8] != SHMQ_KICK_REINSTATE &&
	    m->m_data[8] != SHMQ_KICK_TARGET_RESET)
		return -EINVAL;
	*conn = be64dec(m->m_data);
	*why = m->m_data[8];
	return 0;
}

/*
 * SESSION_START, SESSION_END, TARGET_RESET: u64 conn, u32 slot, u8
 * byaddr, ISID, 16 address bytes, then the initiator and target names,
 * each a u8 length and its bytes.
 */
/*
 * u64 conn, u16 slot, u8 byaddr, ISID, address, u48 login time in
 * microseconds; then the two names, a length byte before each.
 */
#define SESS_FIXED	(8 + 2 + 1 + 6 + 16 + 6)

_Static_assert(SESS_FIXED + 2 * SHMQ_NAME_MAX <= SHMQ_DATA_MAX,
    "a session's identity fits a message");

int
shmq_session_enc(struct shmq_msg *m, uint32_t type,
    const struct shmq_session *ss)
{
	size_t	 ni = strnlen(ss->ss_initiator, SHMQ_NAME_MAX);
	size_t	 nt = strnlen(ss->ss_target, SHMQ_NAME_MAX);
	uint8_t	*p = m->m_data;
	uint64_t us = ss->ss_since / 1000;	/* 48 bits: 8 years of uptime */

	if (ni == SHMQ_NAME_MAX || nt == SHMQ_NAME_MAX ||
	    ss->ss_slot > UINT16_MAX)
		return -EMSGSIZE;
	m->m_type = type;
	m->m_status = 0;
	be64enc(p, ss->ss_conn);
	be16enc(p + 8, (uint16_t)ss->ss_slot);
	p[10] = ss->ss_byaddr;
	memcpy(p + 11, ss->ss_isid, 6);
	memcpy(p + 17, ss->ss_addr, 16);
	be16enc(p + 33, (uint16_t)(us >> 32));
	be32enc(p + 35, (uint32_t)us);
	p += SESS_FIXED;
	*p++ = (uint8_t)ni;
	memcpy(p, ss->ss_initiator, ni);
	p += ni;
	*p++ = (uint8_t)nt;
	memcpy(p, ss->ss_target, nt);
	m->m_len = (uint32_t)(SESS_FIXED + 2 + ni + nt);
	return 0;
}

/* A name of the payload at *off: its length byte, then the bytes. */
static int
sess_name(const struct shmq_msg *m, size_t *off, char *out)
{
	size_t	 n;

	if (*off >= m->m_len || (n = m->m_data[*off]) >= SHMQ_NAME_MAX ||
	    n > m->m_len - *off - 1)
		return -EINVAL;
	memcpy(out, m->m_data + *off + 1, n);
	out[n] = '\0';
	*off += 1 + n;
	return 0;
}

int
shmq_session_dec(const struct shmq_msg *m, struct shmq_session *ss)
{
	const uint8_t	*p = m->m_data;
	size_t		 off = SESS_FIXED;

	memset(ss, 0, sizeof(*ss));
	if (m->m_len < SESS_FIXED || m->m_len > SHMQ_DATA_MAX)
		return -EINVAL;
	ss->ss_conn = be64dec(p);
	ss->ss_slot = be16dec(p + 8);
	ss->ss_byaddr = p[10] != 0;
	memcpy(ss->ss_isid, p + 11, 6);
	memcpy(ss->ss_addr, p + 17, 16);
	ss->ss_since = ((uint64_t)be16dec(p + 33) << 32 | be32dec(p + 35)) *
	    1000;
	if (sess_name(m, &off, ss->ss_initiator) != 0 ||
	    sess_name(m, &off, ss->ss_target) != 0 || off != m->m_len ||
	    ss->ss_initiator[0] == '\0')
		return -EINVAL;
	return 0;
}
