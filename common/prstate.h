/*
 * The persistent reservation state of one shared logical unit, as the
 * workers and the coordinator share it.
 *
 * The coordinator owns the state: it is durable only in LMDB.  The file
 * PATH.pr next to the LU's overlay is its mirror, mapped MAP_SHARED by
 * every worker serving the LU and by the coordinator, so that a worker
 * enforces reservations on every command from memory.  A change is made
 * under an exclusive OFD lock on the file into the spare of two copies,
 * then made current by flipping one word: every worker sees it at once
 * and no process dying halfway leaves a torn state.  A change that must
 * be durable (a PERSISTENT RESERVE OUT) counts ps_commit up; its status
 * goes out once the coordinator has committed that state to LMDB.  When
 * the coordinator starts it compares the mirror with LMDB and puts LMDB's
 * state back in a mirror that is lost, torn or behind (ps_epoch then
 * moves, so a commit asked for against the old mirror fails).
 *
 * A private LU keeps the same state in anonymous memory.
 */
#ifndef SCSIPUB_PRSTATE_H
#define SCSIPUB_PRSTATE_H

#include <stddef.h>
#include <stdint.h>

#define PR_MAX_NEXUS	112	/* registrants and nexuses owed a UA */
#define PR_NAME_MAX	224	/* iSCSI name and its NUL */
#define PR_FNAME_MAX	200	/* mirror file name, without ".pr" */

/*
 * One I_T nexus the state knows of: a registrant, or a nexus owed unit
 * attentions (a preempted registrant, say) until it next sends a
 * command.  The nexus is initiator name, ISID and relative target port.
 * The layout is the file's and LMDB's: fixed width, never reordered.
 */
struct pr_nexus {
	uint64_t	 pn_key;	/* reservation key, when PN_REG */
	uint32_t	 pn_ua;		/* UA_* bits owed to this nexus */
	uint16_t	 pn_flags;	/* PN_* */
	uint16_t	 pn_relport;
	uint8_t		 pn_isid[6];
	uint8_t		 pn_pad[2];
	char		 pn_name[PR_NAME_MAX];	/* "": slot free */
};

#define PN_REG		0x0001	/* registered */
#define PN_ALLTGPT	0x0002	/* registered with ALL_TG_PT */
#define PN_ANYISID	0x0004	/* registered by a TransportID without ISID */

/* The whole state of one LU; the file holds two copies of it. */
struct pr_state {
	uint32_t	 ps_seq;	/* even; odd while written */
	uint32_t	 ps_crc;	/* CRC32C of what follows */
	uint32_t	 ps_generation;	/* PRgeneration */
	uint32_t	 ps_epoch;	/* moves when the mirror is rebuilt */
	uint64_t	 ps_commit;	/* durable changes made, ever */
	uint8_t		 ps_type;	/* PR_TYPE_*, 0: not reserved */
	uint8_t		 ps_scope;	/* always 0, LU_SCOPE */
	uint8_t		 ps_aptpl;	/* last APTPL bit: PTPL_A */
	uint8_t		 ps_r6;		/* RESERVE(6)/(10) held */
	uint16_t	 ps_holder;	/* slot + 1 holding a non-AR one */
	uint16_t	 ps_r6relport;
	int32_t		 ps_r6pid;	/* worker serving the RESERVE holder */
	uint8_t		 ps_r6isid[6];
	uint8_t		 ps_pad[2];
	char		 ps_r6name[PR_NAME_MAX];
	struct pr_nexus	 ps_nexus[PR_MAX_NEXUS];
};

struct pr_hdr;

/* One LU's state: its mirror file mapped, or anonymous memory. */
struct pr_lu {
	int		 pl_fd;		/* PATH.pr; -1: anonymous, no PTPL */
	uint8_t		*pl_base;
	struct pr_hdr	*pl_hdr;
	struct pr_state	*pl_st[2];
	struct pr_state	*pl_w;		/* the spare being changed, locked */
	char		 pl_name[PR_FNAME_MAX + 1];	/* file, no ".pr" */
};

/* common/prstate.c */
struct pr_lu	*pr_lu_open(const char *);
struct pr_lu	*pr_lu_anon(void);
void		 pr_lu_close(struct pr_lu *);
int		 pr_lu_ptpl(const struct pr_lu *);
const struct pr_state *pr_current(const struct pr_lu *, uint32_t *);
int		 pr_stable(const struct pr_state *, uint32_t);
void		 pr_lu_snapshot(struct pr_lu *, struct pr_state *);
struct pr_state	*pr_begin(struct pr_lu *);
void		 pr_abort(struct pr_lu *);
void		 pr_commit(struct pr_lu *);
int		 pr_lu_replace(struct pr_lu *, const struct pr_state *);
void		 pr_state_r6_clear(struct pr_state *);
uint32_t	 pr_state_crc(const struct pr_state *);
int		 pr_state_same(const struct pr_state *,
		    const struct pr_state *);

#endif /* SCSIPUB_PRSTATE_H */
