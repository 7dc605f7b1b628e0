/*
 * Provisioned sessions: targets created through the HTTP API.
 *
 * The coordinator owns them.  It keeps each record in LMDB (so that
 * persistent sessions survive restarts) and publishes the whole table in
 * a mirror, the file state-dir/sessions.mirror: PSESS_MAX fixed-size
 * entries that only the coordinator writes and every worker maps
 * read-only, so that a login finds its target without a round trip.
 * Each entry is guarded by a sequence word: odd while the coordinator
 * rewrites it; a reader copies the entry and retries when the word
 * moved.
 *
 * Requests on the shmq rings (integers big-endian, strings NUL-padded):
 *	PSESS_LUNS	u64 id, u16 first LUN, u8 count, count image names
 *			each NUL-terminated: staged until the CREATE
 *	PSESS_CREATE	the record's fixed part (PSESS_CREATE_LEN): the LUNs
 *			must have been staged; ENOENT if not, EEXIST never
 *			(a repeated CREATE is a no-op), EDQUOT when the owner
 *			holds its tier's number of sessions, EBUSY when the
 *			owner's creation rate is exceeded, ENOSPC when the
 *			table is full
 *	PSESS_DELETE	u64 id: the session ends now (0 even when absent)
 *	PSESS_TOUCH	u64 id, u64 conn id, u32 slot, u8 start (1), end
 *			(0) or moved (2), peer[PSESS_PEER_MAX], for a move
 *			the u64 id the connection had on the worker that
 *			handed it over, initiator (rest): a connection
 *			logged in, went away, or came live from another
 *			worker (its entry renamed, never a new one: a
 *			hand-over is not a connection end); ENOENT when the
 *			session is gone, EUSERS when it has PSESS_CONNS_MAX
 */
#ifndef SCSIPUB_PSESS_H
#define SCSIPUB_PSESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define PSESS_MAX		CFG_PSESS_MAX	/* sessions in the mirror */
#define PSESS_CONNS_MAX		32	/* connections of one session */
#define PSESS_IQN_MAX		32	/* IQN suffix after "<prefix>:" */
#define PSESS_USER_MAX		24
#define PSESS_SECRET_MAX	40
#define PSESS_PEER_MAX		64
#define PSESS_INI_MAX		136
#define PSESS_IDSTR		17	/* 16 hex digits and NUL */
#define PSESS_MIRROR_FILE	"sessions.mirror"

#define PSESS_F_PERSISTENT	0x1
#define PSESS_F_PR		0x2
#define PSESS_F_LOGGED_IN	0x4	/* somebody logged in, once */
#define PSESS_F_ANON		0x8	/* made without a token */

#define PSESS_CREATE_LEN	220
#define PSESS_TOUCH_HDR		(8 + 8 + 4 + 1 + PSESS_PEER_MAX)
#define PSESS_TOUCH_MOVED	2	/* the kind byte of a move */
#define PSESS_REC_MAX		(64 + 8 * 6 + 4 + 2 + CFG_NAME_MAX + \
				PSESS_IQN_MAX + PSESS_USER_MAX + \
				PSESS_SECRET_MAX + \
				CFG_MAX_TARGET_LUNS * CFG_NAME_MAX)

enum psess_state {
	PSESS_WAITING = 0,	/* nobody logged in yet */
	PSESS_ACTIVE,		/* connections open */
	PSESS_SUSPENDED,	/* persistent, no connection now */
};

struct psess_rec {
	uint64_t	 ps_id;
	uint64_t	 ps_owner;	/* hash of the token or the address */
	uint64_t	 ps_created;	/* wall clock, seconds */
	uint64_t	 ps_idle;	/* last connection closed; 0 never */
	uint64_t	 ps_ttl;	/* seconds, 0 never expires */
	uint64_t	 ps_quota;	/* bytes, 0 unlimited */
	uint32_t	 ps_flags;	/* PSESS_F_* */
	uint16_t	 ps_nluns;
	char		 ps_tier[CFG_NAME_MAX];
	char		 ps_iqn[PSESS_IQN_MAX];
	char		 ps_user[PSESS_USER_MAX];
	char		 ps_secret[PSESS_SECRET_MAX];
	char		 ps_images[CFG_MAX_TARGET_LUNS][CFG_NAME_MAX];
};

/* What the creator's tier allows, sent along with a CREATE. */
struct psess_limits {
	uint16_t	 pl_sessions;	/* per owner, 0 unlimited */
	uint16_t	 pl_rate;	/* creations per minute, 0 unlimited */
	uint16_t	 pl_anon_max;	/* anonymous sessions in all (PSESS_F_ANON) */
};

struct psess_conn {
	uint64_t	 pc_conn;	/* the worker's id: pid << 32 | n */
	uint32_t	 pc_slot;
	uint32_t	 pc_pad;
	uint64_t	 pc_since;
	char		 pc_peer[PSESS_PEER_MAX];
	char		 pc_initiator[PSESS_INI_MAX];
};

struct psess_touch {
	uint64_t	 pt_id;
	int		 pt_start;
	uint64_t	 pt_from;	/* a start that is a move: the old id */
	struct psess_conn pt_conn;
};

/* One mirror entry. */
struct psess_ment {
	_Atomic uint32_t me_seq;	/* odd while being written */
	uint32_t	 me_used;
	uint32_t	 me_nconns;
	uint32_t	 me_pad;
	struct psess_conn me_conns[PSESS_CONNS_MAX];
	struct psess_rec me_rec;
};

struct psess_mirror;
struct shmq_msg;

/* common/psess.c */
void		 psess_id_fmt(uint64_t, char[PSESS_IDSTR]);
int		 psess_id_parse(const char *, uint64_t *);
enum psess_state psess_state(const struct psess_rec *, uint32_t);
const char	*psess_state_name(enum psess_state);
uint64_t	 psess_expires(const struct psess_rec *, uint32_t);
size_t		 psess_rec_encode(const struct psess_rec *, uint8_t *, size_t);
int		 psess_rec_decode(const uint8_t *, size_t, struct psess_rec *);
void		 psess_msg_create(struct shmq_msg *, const struct psess_rec *,
		    const struct psess_limits *);
int		 psess_msg_create_parse(const struct shmq_msg *,
		    struct psess_rec *, struct psess_limits *);
int		 psess_msg_luns(struct shmq_msg *, const struct psess_rec *,
		    int);
int		 psess_msg_luns_parse(const struct shmq_msg *, uint64_t *,
		    int *, int *, char[][CFG_NAME_MAX]);
void		 psess_msg_id(struct shmq_msg *, uint32_t, uint64_t);
int		 psess_msg_id_parse(const struct shmq_msg *, uint64_t *);
void		 psess_msg_touch(struct shmq_msg *, const struct psess_touch *);
int		 psess_msg_touch_parse(const struct shmq_msg *,
		    struct psess_touch *);
struct psess_mirror *psess_mirror_open(const char *, int);
void		 psess_mirror_publish(struct psess_mirror *);
void		 psess_mirror_close(struct psess_mirror *);
int		 psess_mirror_read(struct psess_mirror *, int,
		    struct psess_ment *);
int		 psess_mirror_peek(struct psess_mirror *, int, uint64_t *);
int		 psess_mirror_find(struct psess_mirror *, uint64_t,
		    const char *, struct psess_ment *);
struct psess_ment *psess_mirror_entry(struct psess_mirror *, int);
void		 psess_mirror_begin(struct psess_ment *);
void		 psess_mirror_end(struct psess_ment *);

#endif /* SCSIPUB_PSESS_H */
