/*
 * Shared-memory request/response rings between the workers and the
 * coordinator.
 *
 * The master creates one region before it forks anything, so every child,
 * and every child respawned later, maps the same pages.  The region holds
 * one slot per worker process; a slot is a request ring (worker to
 * coordinator) and a response ring (coordinator to worker), each
 * single-producer single-consumer with SHMQ_RING_SIZE fixed-size messages.
 *
 * Wakeups: workers push, then ring the doorbell, one futex word the
 * coordinator sleeps on.  The coordinator pushes responses, then writes
 * the slot's eventfd, which the worker's event loop watches: a worker
 * never blocks.  Worker loop, on the fd becoming readable:
 *	shmq_worker_clear(rg, slot);
 *	while (shmq_response_pop(rg, slot, &m) == 1)
 *		...;
 *	then push again what found the request ring full.
 * A producer is woken whenever room frees in a ring it found full,
 * whatever freed it: the worker's eventfd is written when the
 * coordinator releases requests (answered or not: a post frees room
 * too), the doorbell rung when the worker pops answers the coordinator
 * could not push.
 *
 * Slot lifetime: the master calls shmq_slot_release() when it reaps a
 * worker and shmq_slot_claim() for the new one.  Each release starts a
 * new slot generation; messages of an older generation are never handed
 * to the new worker (stale responses are skipped, stale requests are not
 * executed).
 *
 * The coordinator consumes requests with peek/release, releasing a
 * request only once its response is in the response ring: a coordinator
 * that dies and is restarted executes again whatever it had not answered.
 * A response may therefore arrive twice; a worker never reuses an m_id
 * and ignores responses whose m_id it no longer waits for.
 */
#ifndef SCSIPUB_SHMQ_H
#define SCSIPUB_SHMQ_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SHMQ_RING_SIZE		1024	/* messages per ring, power of two */
#define SHMQ_DATA_MAX		488	/* payload bytes; message is 512 */
#define SHMQ_SLOTS_MAX		256
#define SHMQ_LAYOUT		4	/* up when a ring or a message changes */

/*
 * Message types, and their payloads (all integers big-endian), each
 * written by one encoder and read by one decoder (common/shmq.c,
 * common/psess.c), whichever process is on either side:
 *	PING		anything; echoed
 *	MAP_SET		u64 lu, u64 first block, u32 count (SHMQ_MAP_LEN;
 *			shmq_map_enc/dec)
 *	MAP_CLEAR	same as MAP_SET: the blocks become unmapped
 *	MAP_SYNC	as MAP_SET, all zero; answered once the map is durable
 *	MAP_LOOKUP	as MAP_SET, count ignored; answer u64 first, u64 count
 *			of the run holding the block (SHMQ_LOOKUP_LEN;
 *			shmq_lookup_enc/dec), or m_status ENOENT
 *	MAP_REGISTER	u64 lu, u64 blocks, map file name (SHMQ_REGISTER_LEN
 *			then the name; shmq_register_enc/dec): a shared LU
 *			whose runs the coordinator keeps
 *	KV_PUT		u16 key length, key, value (shmq_kv_enc/dec)
 *	KV_GET		u16 key length, key; answer the value or ENOENT
 *	KV_DEL		u16 key length, key; ENOENT when absent
 *	PSESS_*		provisioned sessions: see psess.h
 *	SESSION_START/END a session's identity (struct shmq_session,
 *			shmq_session_enc/dec): it began (reinstating its
 *			twin) or ended
 *	SESSION_KICK	coordinator to worker, unasked: u64 conn id, u8
 *			SHMQ_KICK_* reason (SHMQ_KICK_LEN; shmq_kick_enc/dec);
 *			the worker closes that connection
 *	TARGET_RESET	as SESSION_END: every other session of the target
 *			is kicked (TARGET COLD RESET)
 *	PR_COMMIT	u32 epoch, u64 commit, mirror file name (SHMQ_PR_LEN
 *			then the name; shmq_pr_enc/dec): a reservation change
 *			made in the mirror, answered once LMDB holds it
 *			durably, or ESTALE when the mirror was rebuilt under it
 *	COORD_HELLO	coordinator to worker, unasked, empty: a coordinator
 *			(re)started, knowing no session; the worker registers
 *			its sessions again (SESSION_START)
 * A response echoes m_type and m_id; m_status is 0 or a positive errno
 * (EINVAL for an unknown type or a malformed payload, ENOSPC when the
 * store is full).  A request whose m_status is SHMQ_NOREPLY is executed
 * like any other but answered by nothing (what the worker does not wait
 * for: a session's start or end).
 */
#define SHMQ_NOREPLY		0xffffffffU
#define SHMQ_TYPES(X)		\
	X(PING)			\
	X(MAP_SET)		\
	X(MAP_CLEAR)		\
	X(MAP_SYNC)		\
	X(MAP_LOOKUP)		\
	X(MAP_REGISTER)		\
	X(KV_PUT)		\
	X(KV_GET)		\
	X(KV_DEL)		\
	X(SESSION_START)	\
	X(SESSION_END)		\
	X(SESSION_KICK)		\
	X(PSESS_LUNS)		\
	X(PSESS_CREATE)		\
	X(PSESS_DELETE)		\
	X(PSESS_TOUCH)		\
	X(PR_COMMIT)		\
	X(TARGET_RESET)		\
	X(COORD_HELLO)

enum shmq_type {
	SHMQ_NONE = 0,
#define SHMQ_ENUM(name)	SHMQ_##name,
	SHMQ_TYPES(SHMQ_ENUM)
#undef SHMQ_ENUM
	SHMQ_TYPE_MAX
};

#define SHMQ_MAP_LEN		20	/* MAP_* request payload */
#define SHMQ_LOOKUP_LEN		16	/* MAP_LOOKUP response payload */
#define SHMQ_REGISTER_LEN	16	/* MAP_REGISTER, before the name */
#define SHMQ_KICK_LEN		9	/* SESSION_KICK payload */
#define SHMQ_KICK_REINSTATE	0	/* SESSION_KICK reasons */
#define SHMQ_KICK_TARGET_RESET	1
#define SHMQ_PR_LEN		12	/* PR_COMMIT payload before the name */

struct shmq_msg {
	uint32_t	m_type;		/* enum shmq_type */
	uint32_t	m_status;	/* response: 0 or a positive errno */
	uint64_t	m_id;		/* chosen by the worker, echoed */
	uint32_t	m_len;		/* bytes used in m_data */
	uint32_t	m_gen;		/* slot generation, set by push */
	uint8_t		m_data[SHMQ_DATA_MAX];
};

/*
 * A session as the coordinator's registry knows it: the I_T nexus
 * (initiator name, ISID, target name), compared in full, and where it
 * is served.  ss_byaddr: the target authenticates nobody, so the source
 * address belongs to the identity too, and a login from elsewhere with
 * the same names is another session (it never reinstates this one).
 */
#define SHMQ_NAME_MAX		224	/* an iSCSI name and its NUL */

struct shmq_session {
	uint64_t	 ss_conn;	/* the worker's connection id */
	uint64_t	 ss_since;	/* its login, CLOCK_MONOTONIC ns: of two
					   twins, the later login stays */
	uint32_t	 ss_slot;
	uint8_t		 ss_byaddr;
	uint8_t		 ss_isid[6];
	uint8_t		 ss_addr[16];	/* IPv6, or IPv4 mapped */
	char		 ss_initiator[SHMQ_NAME_MAX];
	char		 ss_target[SHMQ_NAME_MAX];
};

struct shmq_stats {
	uint64_t	st_requests;	/* requests executed */
	uint64_t	st_commits;	/* LMDB write transactions committed */
	uint64_t	st_syncs;	/* explicit syncs for MAP_SYNC */
	uint64_t	st_commit_ns;	/* time spent committing */
};

/*
 * What a worker publishes about itself in its slot (once a second), for
 * /status and /metrics on any worker.  Cleared when the slot is released.
 */
struct shmq_wstats {
	uint64_t	ws_index;	/* worker number */
	uint64_t	ws_conns;	/* open iSCSI connections */
	uint64_t	ws_rbytes;	/* totals since the worker started */
	uint64_t	ws_wbytes;
	uint64_t	ws_cmds;
	uint64_t	ws_rbytes_ps;	/* over the last second */
	uint64_t	ws_wbytes_ps;
	uint64_t	ws_cmds_ps;
};

struct shmq_region;

/* common/shmq.c */
struct shmq_region	*shmq_region_create(int);
struct shmq_region	*shmq_region_attach(int);
int		 shmq_region_inherit(struct shmq_region *, int);
int		 shmq_region_fd(const struct shmq_region *);
uint32_t	 shmq_slot_gen(struct shmq_region *, int);
void		 shmq_region_destroy(struct shmq_region *);
int		 shmq_region_nslots(const struct shmq_region *);
void		 shmq_slot_claim(struct shmq_region *, int, pid_t);
void		 shmq_slot_release(struct shmq_region *, int);
int		 shmq_peer_alive(struct shmq_region *, int);
void		 shmq_coordinator_set(struct shmq_region *, pid_t);
int		 shmq_coordinator_alive(struct shmq_region *);
int		 shmq_request_push(struct shmq_region *, int,
		    const struct shmq_msg *);
int		 shmq_request_pop(struct shmq_region *, int, struct shmq_msg *);
int		 shmq_request_peek(struct shmq_region *, int, uint32_t,
		    struct shmq_msg *);
void		 shmq_request_release(struct shmq_region *, int, uint32_t);
int		 shmq_response_push(struct shmq_region *, int,
		    const struct shmq_msg *);
int		 shmq_response_pop(struct shmq_region *, int, struct shmq_msg *);
void		 shmq_doorbell_ring(struct shmq_region *);
uint32_t	 shmq_doorbell_read(struct shmq_region *);
int		 shmq_doorbell_wait(struct shmq_region *, uint32_t, int);
int		 shmq_worker_fd(struct shmq_region *, int);
void		 shmq_worker_notify(struct shmq_region *, int);
void		 shmq_worker_clear(struct shmq_region *, int);
void		 shmq_stats_add(struct shmq_region *, const struct shmq_stats *);
void		 shmq_stats_get(struct shmq_region *, struct shmq_stats *);
void		 shmq_wstats_set(struct shmq_region *, int,
		    const struct shmq_wstats *);
void		 shmq_wstats_get(struct shmq_region *, int, struct shmq_wstats *);
pid_t		 shmq_slot_pid(struct shmq_region *, int);
pid_t		 shmq_coordinator_pid(struct shmq_region *);
uint32_t	 shmq_request_depth(struct shmq_region *, int);
time_t		 shmq_region_started(const struct shmq_region *);
const char	*shmq_type_name(uint32_t);
void		 shmq_map_enc(struct shmq_msg *, uint32_t, uint64_t, uint64_t,
		    uint32_t);
int		 shmq_map_dec(const struct shmq_msg *, uint64_t *, uint64_t *,
		    uint32_t *);
void		 shmq_lookup_enc(struct shmq_msg *, uint64_t, uint64_t);
int		 shmq_lookup_dec(const struct shmq_msg *, uint64_t *,
		    uint64_t *);
int		 shmq_register_enc(struct shmq_msg *, uint64_t, uint64_t,
		    const char *);
int		 shmq_register_dec(const struct shmq_msg *, uint64_t *,
		    uint64_t *, char *, size_t);
int		 shmq_kv_enc(struct shmq_msg *, uint32_t, const void *, size_t,
		    const void *, size_t);
int		 shmq_kv_dec(const struct shmq_msg *, const uint8_t **,
		    size_t *, const uint8_t **, size_t *);
int		 shmq_pr_enc(struct shmq_msg *, uint32_t, uint64_t,
		    const char *);
int		 shmq_pr_dec(const struct shmq_msg *, uint32_t *, uint64_t *,
		    char *, size_t);
void		 shmq_kick_enc(struct shmq_msg *, uint64_t, int);
int		 shmq_kick_dec(const struct shmq_msg *, uint64_t *, int *);
int		 shmq_session_enc(struct shmq_msg *, uint32_t,
		    const struct shmq_session *);
int		 shmq_session_dec(const struct shmq_msg *,
		    struct shmq_session *);

#endif /* SCSIPUB_SHMQ_H */
