/*
 * Persistent reservations (SPC-4 5.13) and RESERVE/RELEASE(6/10) of a
 * logical unit.  The state of a shared LU lives in PATH.pr next to its
 * overlay, mapped MAP_SHARED by every worker serving the LU: workers
 * enforce it on every command from the mapping, and a change is made
 * under an exclusive OFD lock on the file into the spare of two copies,
 * msync'ed, and then made current by flipping one word, so it is
 * durable before GOOD, seen by every worker at once, and never torn by
 * the death of a process.  A private LU keeps the same state in
 * anonymous memory.
 */
#ifndef SCSIPUB_PR_H
#define SCSIPUB_PR_H

#include <stdint.h>

#include "scsi.h"

#define PR_MAX_NEXUS	112	/* registrants and nexuses owed a UA */
#define PR_NAME_MAX	224	/* iSCSI name and its NUL */

/* Persistent reservation types (SPC-4 table 177). */
#define PR_TYPE_WE	0x1	/* Write Exclusive */
#define PR_TYPE_EA	0x3	/* Exclusive Access */
#define PR_TYPE_WE_RO	0x5	/* Write Exclusive, Registrants Only */
#define PR_TYPE_EA_RO	0x6	/* Exclusive Access, Registrants Only */
#define PR_TYPE_WE_AR	0x7	/* Write Exclusive, All Registrants */
#define PR_TYPE_EA_AR	0x8	/* Exclusive Access, All Registrants */

/*
 * One I_T nexus the state knows of: a registrant, or a nexus owed unit
 * attentions (a preempted registrant, say) until it next sends a
 * command.  The nexus is initiator name, ISID and relative target port.
 * The layout is the file's: fixed width, never reordered.
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
	uint32_t	 ps_generation;	/* PRgeneration */
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

/* What a nexus last saw of the state: scsi_lunex ln_prflags. */
#define PRF_REG		0x01	/* registered */
#define PRF_HOLDER	0x02	/* holds the persistent reservation */
#define PRF_R6MINE	0x04	/* holds RESERVE(6) */
#define PRF_R6OTHER	0x08	/* another nexus holds RESERVE(6) */

struct pr_lu;

/* worker/pr.c */
struct pr_lu	*pr_lu_open(const char *);
struct pr_lu	*pr_lu_anon(void);
void		 pr_lu_close(struct pr_lu *);
int		 pr_lu_ptpl(const struct pr_lu *);
void		 pr_lu_snapshot(struct pr_lu *, struct pr_state *);
void		 pr_sync(struct scsi_lunex *);
int		 pr_check(struct scsi_task *, const struct scsi_cmd *,
		    struct scsi_lunex *);
int		 pr_enabled(const struct scsi_lu *);
void		 pr_nexus_loss(struct scsi_lunex *);
void		 pr_lun_reset(struct scsi_lu *);
scsi_handler_t	 pr_reserve6, pr_release6,
		 pr_in_read_keys, pr_in_read_resv, pr_in_caps, pr_in_full,
		 pr_out_register, pr_out_reserve, pr_out_release, pr_out_clear,
		 pr_out_preempt, pr_out_preempt_abort, pr_out_register_ignore,
		 pr_out_register_move;
scsi_xferlen_t	 pr_xfer_out;

#endif /* SCSIPUB_PR_H */
