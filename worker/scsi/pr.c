/*
 * Persistent reservations (SPC-4 5.13, 6.15, 6.16) and RESERVE/RELEASE
 * (SPC-2) of a logical unit, in one state every worker serving the LU
 * shares.
 *
 * The state is common/prstate.h's: a mirror every worker serving the
 * LU maps, changed under a lock into a spare copy that one flip makes
 * current, and durable in the coordinator's LMDB.  A nexus caches what
 * it saw (scsi_lunex ln_pr*) until ps_seq moves, so the check on every
 * command is two loads and a compare.  A PERSISTENT RESERVE OUT that
 * changed the state leaves its commit in the task (t_pr); the transport
 * answers it once the coordinator has that state in LMDB.
 *
 * Unit attentions for other nexuses (a preempted registrant, say) are
 * kept in the state with the nexus's name and ISID; whichever worker
 * serves that nexus takes them on its next command.  A RESERVE(6)
 * holder is kept with the pid of its worker: a holder whose worker died
 * lost its nexus, and its reservation with it.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bytes.h"
#include "hex.h"
#include "log.h"
#include "pr.h"

#define PR_PARAM_LEN	24	/* basic PR OUT parameter list */
#define PR_TID_ISCSI	0x05	/* PROTOCOL IDENTIFIER of iSCSI */
#define PR_TID_PORT	0x40	/* FORMAT CODE 01b: initiator port */
#define PR_FULL_MAX	(8 + PR_MAX_NEXUS * (24 + 4 + PR_NAME_MAX + 24))

/* An I_T nexus as the state names it. */
struct pr_id {
	const char	*id_name;
	uint8_t		 id_isid[6];
	int		 id_anyisid;	/* a TransportID without ISID */
	uint16_t	 id_relport;
};

/* One PERSISTENT RESERVE OUT being carried out on the spare state. */
struct pr_out {
	struct scsi_task *po_t;
	struct pr_state	*po_st;
	struct pr_id	 po_id;		/* the sender */
	int		 po_me;		/* its registration, -1 none */
	const uint8_t	*po_p;		/* parameter list */
	uint32_t	 po_plen;
	uint64_t	 po_key;	/* RESERVATION KEY */
	uint64_t	 po_sakey;	/* SERVICE ACTION RESERVATION KEY */
	int		 po_scope, po_type;
	int		 po_spec, po_alltg, po_aptpl, po_unreg;
	int		 po_changed;
};

typedef int	 pr_out_fn(struct pr_out *);

enum {
	PRO_REGISTER = 0, PRO_RESERVE, PRO_RELEASE, PRO_CLEAR, PRO_PREEMPT,
	PRO_PREEMPT_ABORT, PRO_REGISTER_IGNORE, PRO_REGISTER_MOVE,
};

/* ---------------------------------------------------------------- */
/* Types */

static int
pr_type_valid(int type)
{
	return type == PR_TYPE_WE || type == PR_TYPE_EA ||
	    (type >= PR_TYPE_WE_RO && type <= PR_TYPE_EA_AR);
}

static int
pr_type_ar(int type)
{
	return type == PR_TYPE_WE_AR || type == PR_TYPE_EA_AR;
}

static int
pr_type_ro(int type)
{
	return type == PR_TYPE_WE_RO || type == PR_TYPE_EA_RO;
}

static int
pr_type_we(int type)
{
	return type == PR_TYPE_WE || type == PR_TYPE_WE_RO ||
	    type == PR_TYPE_WE_AR;
}

/* ---------------------------------------------------------------- */
/* Nexuses and registrations in a state */

static void
pr_id_nexus(struct pr_id *id, const struct scsi_nexus *n)
{
	memset(id, 0, sizeof(*id));
	id->id_name = n->n_initiator;
	memcpy(id->id_isid, n->n_isid, sizeof(id->id_isid));
	id->id_relport = n->n_relport;
}

/*
 * Is slot pn the nexus id?  exact: the same kind of name (port or
 * device); otherwise a device-wide slot (no ISID) stands for every port
 * of its initiator.
 */
static int
pr_match(const struct pr_nexus *pn, const struct pr_id *id, int exact)
{
	int	 any = (pn->pn_flags & PN_ANYISID) != 0;

	if (pn->pn_name[0] == '\0' ||
	    strncasecmp(pn->pn_name, id->id_name, PR_NAME_MAX) != 0)
		return 0;
	if (!(pn->pn_flags & PN_ALLTGPT) && pn->pn_relport != id->id_relport)
		return 0;
	if (exact && any != (id->id_anyisid != 0))
		return 0;
	return any || memcmp(pn->pn_isid, id->id_isid, 6) == 0;
}

/* The slot of id itself, registered or owed a UA; -1 none. */
static int
pr_slot(const struct pr_state *st, const struct pr_id *id)
{
	int	 i;

	for (i = 0; i < PR_MAX_NEXUS; i++)
		if (pr_match(&st->ps_nexus[i], id, 1))
			return i;
	return -1;
}

/* The registration of nexus id (its own before its device's); -1 none. */
static int
pr_reg_slot(const struct pr_state *st, const struct pr_id *id)
{
	int	 i, loose = -1;

	for (i = 0; i < PR_MAX_NEXUS; i++) {
		if (!(st->ps_nexus[i].pn_flags & PN_REG))
			continue;
		if (pr_match(&st->ps_nexus[i], id, 1))
			return i;
		if (loose == -1 && !id->id_anyisid &&
		    pr_match(&st->ps_nexus[i], id, 0))
			loose = i;
	}
	return loose;
}

static int
pr_any_reg(const struct pr_state *st)
{
	int	 i;

	for (i = 0; i < PR_MAX_NEXUS; i++)
		if (st->ps_nexus[i].pn_flags & PN_REG)
			return 1;
	return 0;
}

/* The slot holding a reservation not all registrants; -1 none. */
static int
pr_holder(const struct pr_state *st)
{
	if (st->ps_type == 0 || pr_type_ar(st->ps_type) ||
	    st->ps_holder == 0 || st->ps_holder > PR_MAX_NEXUS)
		return -1;
	return st->ps_holder - 1;
}

/* Is registration s a persistent reservation holder (SPC-4 5.13.10)? */
static int
pr_holds(const struct pr_state *st, int s)
{
	if (st->ps_type == 0 || s < 0 || !(st->ps_nexus[s].pn_flags & PN_REG))
		return 0;
	return pr_type_ar(st->ps_type) || st->ps_holder == s + 1;
}

/* A slot for id: its own, a free one, or one only owed a UA. */
static int
pr_slot_new(struct pr_state *st, const struct pr_id *id)
{
	int	 i;

	if ((i = pr_slot(st, id)) != -1)
		return i;
	for (i = 0; i < PR_MAX_NEXUS; i++)
		if (st->ps_nexus[i].pn_name[0] == '\0')
			return i;
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		if (!(st->ps_nexus[i].pn_flags & PN_REG)) {
			memset(&st->ps_nexus[i], 0, sizeof(st->ps_nexus[i]));
			return i;
		}
	}
	return -1;
}

static void
pr_slot_reg(struct pr_state *st, int s, const struct pr_id *id,
    uint64_t key, int alltg)
{
	struct pr_nexus	*pn = &st->ps_nexus[s];

	snprintf(pn->pn_name, sizeof(pn->pn_name), "%s", id->id_name);
	memcpy(pn->pn_isid, id->id_isid, sizeof(pn->pn_isid));
	pn->pn_relport = id->id_relport;
	pn->pn_flags = PN_REG | (alltg ? PN_ALLTGPT : 0) |
	    (id->id_anyisid ? PN_ANYISID : 0);
	pn->pn_key = key;
}

/* Drop registration s; the slot stays while it is owed a UA. */
static void
pr_slot_unreg(struct pr_state *st, int s, uint32_t ua)
{
	struct pr_nexus	*pn;

	if (s < 0 || s >= PR_MAX_NEXUS)
		return;
	pn = &st->ps_nexus[s];
	pn->pn_flags &= ~(PN_REG | PN_ALLTGPT);
	pn->pn_key = 0;
	pn->pn_ua |= ua;
	if (pn->pn_ua == 0)
		memset(pn, 0, sizeof(*pn));
}

/* A unit attention for every registrant but one (-1: all). */
static void
pr_ua_registrants(struct pr_state *st, int except, uint32_t ua)
{
	int	 i;

	for (i = 0; i < PR_MAX_NEXUS; i++)
		if (i != except && (st->ps_nexus[i].pn_flags & PN_REG))
			st->ps_nexus[i].pn_ua |= ua;
}

static void
pr_release_resv(struct pr_state *st)
{
	st->ps_type = 0;
	st->ps_scope = 0;
	st->ps_holder = 0;
}

/*
 * Unregister s (SPC-4 5.13.11.3): a holder of a registrants only or
 * exclusive reservation releases it, registrants only telling the other
 * registrants; an all registrants reservation goes with its last one.
 */
static void
pr_unregister(struct pr_state *st, int s)
{
	int	 held = pr_holds(st, s), type = st->ps_type;

	pr_slot_unreg(st, s, 0);
	if (!held)
		return;
	if (pr_type_ar(type)) {
		if (!pr_any_reg(st))
			pr_release_resv(st);
		return;
	}
	pr_release_resv(st);
	if (pr_type_ro(type))
		pr_ua_registrants(st, -1, UA_RESV_RELEASED);
}

/* ---------------------------------------------------------------- */
/* RESERVE(6)/(10) holder */

static int
pr_r6_is(const struct pr_state *st, const struct pr_id *id)
{
	return st->ps_r6 && st->ps_r6relport == id->id_relport &&
	    memcmp(st->ps_r6isid, id->id_isid, 6) == 0 &&
	    strncasecmp(st->ps_r6name, id->id_name, PR_NAME_MAX) == 0;
}

/* Is the worker that serves the holder's nexus still there? */
static int
pr_r6_alive(const struct pr_state *st)
{
	if (st->ps_r6pid <= 0)
		return 0;
	return kill(st->ps_r6pid, 0) == 0 || errno == EPERM;
}

/*
 * Release the RESERVE held by id through this worker (NULL: whoever
 * holds it), when there is one: a nexus loss or a logical unit reset.
 */
static void
pr_r6_release(struct pr_lu *pl, const struct pr_id *id)
{
	const struct pr_state *cur;
	struct pr_state	*st;
	uint32_t	 seq;
	int		 held;

	do {
		cur = pr_current(pl, &seq);
		held = cur->ps_r6 && (id == NULL || pr_r6_is(cur, id));
	} while (!pr_stable(cur, seq));
	if (!held || (st = pr_begin(pl)) == NULL)
		return;
	if (st->ps_r6 && (id == NULL || (pr_r6_is(st, id) &&
	    st->ps_r6pid == getpid()))) {
		pr_state_r6_clear(st);
		pr_commit(pl);
	} else
		pr_abort(pl);
}

/* ---------------------------------------------------------------- */
/* Every command: the nexus's view, its unit attentions, conflicts */

/* What nexus id sees in st, and the unit attentions owed to it. */
static void
pr_view(const struct pr_state *st, const struct pr_id *id, uint8_t *flags,
    uint32_t *ua)
{
	int	 me = pr_reg_slot(st, id), i;

	*flags = 0;
	if (me != -1)
		*flags |= PRF_REG | (pr_holds(st, me) ? PRF_HOLDER : 0);
	if (st->ps_r6)
		*flags |= pr_r6_is(st, id) ? PRF_R6MINE : PRF_R6OTHER;
	*ua = 0;
	for (i = 0; i < PR_MAX_NEXUS; i++)
		if (st->ps_nexus[i].pn_ua != 0 &&
		    pr_match(&st->ps_nexus[i], id, 0))
			*ua |= st->ps_nexus[i].pn_ua;
}

/* Take the unit attentions the state holds for id. */
static uint32_t
pr_take_ua(struct pr_lu *pl, const struct pr_id *id)
{
	struct pr_state	*st;
	struct pr_nexus	*pn;
	uint32_t	 ua = 0;
	int		 i;

	if ((st = pr_begin(pl)) == NULL)
		return 0;
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		pn = &st->ps_nexus[i];
		if (pn->pn_ua == 0 || !pr_match(pn, id, 0))
			continue;
		ua |= pn->pn_ua;
		pn->pn_ua = 0;
		if (!(pn->pn_flags & PN_REG))
			memset(pn, 0, sizeof(*pn));
	}
	if (ua != 0)
		pr_commit(pl);
	else
		pr_abort(pl);
	return ua;
}

/*
 * Bring the nexus's view of the LU's reservations up to date and take
 * the unit attentions other nexuses left for it.  Cheap when nothing
 * changed: one sequence number compared.
 */
void
pr_sync(struct scsi_lunex *ln)
{
	struct pr_lu	*pl = ln->ln_lu->lu_pr;
	const struct pr_state *st;
	struct pr_id	 id;
	uint32_t	 seq, ua;
	uint8_t		 flags, type;
	int		 taken = 0;

	if (pl == NULL)
		return;
	pr_current(pl, &seq);
	if (seq == ln->ln_prseq)
		return;
	pr_id_nexus(&id, ln->ln_nexus);
	for (;;) {
		do {
			st = pr_current(pl, &seq);
			pr_view(st, &id, &flags, &ua);
			type = st->ps_type;
		} while (!pr_stable(st, seq));
		if (ua == 0 || taken++)
			break;
		ln->ln_ua |= pr_take_ua(pl, &id);
	}
	ln->ln_prseq = seq;
	ln->ln_prtype = type;
	ln->ln_prflags = flags;
}

int
pr_enabled(const struct scsi_lu *lu)
{
	return (lu->lu_pr != NULL || lu->lu_pr_anon) && lu->lu_pr_enabled;
}

/*
 * The state a command that changes (or reports) reservations works on:
 * a private LU gets its anonymous one at the first such command, so
 * that an LU nobody reserves holds none.  NULL: none (or no memory).
 */
static struct pr_lu *
pr_state(struct scsi_lu *lu)
{
	if (lu->lu_pr == NULL && lu->lu_pr_anon)
		lu->lu_pr = pr_lu_anon();
	return lu->lu_pr;
}

static int
pr_conflict(struct scsi_task *t)
{
	t->t_status = SCSI_RESERVATION_CONFLICT;
	t->t_senselen = 0;
	t->t_dinlen = 0;
	return -1;
}

/* The SCSI_PR_* class of a command, some by their CDB (SBC-3 table 13). */
static int
pr_class(const struct scsi_cmd *c, const uint8_t *cdb)
{
	if (!(c->c_pr & SCSI_PR_CDB))
		return c->c_pr;
	switch (cdb[0]) {
	case 0x1b:	/* START STOP UNIT: starting, power condition 0 */
		return (cdb[4] & 0xf1) == 0x01 ? 0 : SCSI_PR_WE | SCSI_PR_EA;
	case 0x1e:	/* PREVENT ALLOW MEDIUM REMOVAL: allowing */
		return (cdb[4] & 0x03) == 0 ? 0 : SCSI_PR_WE | SCSI_PR_EA;
	default:
		return c->c_pr & ~SCSI_PR_CDB;
	}
}

/* A RESERVE held through a worker that died went with its nexus. */
static int
pr_r6_stale(struct scsi_lunex *ln)
{
	struct pr_lu	*pl = ln->ln_lu->lu_pr;
	struct pr_state	*st;

	if ((st = pr_begin(pl)) == NULL)
		return 0;
	if (!st->ps_r6 || pr_r6_alive(st)) {
		pr_abort(pl);
		return !st->ps_r6;
	}
	pr_state_r6_clear(st);
	pr_commit(pl);
	ln->ln_prseq = 0;
	pr_sync(ln);
	return 1;
}

/*
 * Does the command conflict with a reservation?  RESERVE(6) lets
 * through only what SPC-2 allows (SCSI_CMD_RESV_OK) and no PERSISTENT
 * RESERVE command at all; a persistent reservation lets through what
 * SPC-4 table 65 and SBC-3 table 13 allow: the holder anything, the
 * registrants of a registrants only or all registrants reservation
 * anything, others what the command's class allows for the type.
 */
int
pr_check(struct scsi_task *t, const struct scsi_cmd *c,
    struct scsi_lunex *ln)
{
	int	 cls;

	if (ln == NULL || ln->ln_lu->lu_pr == NULL)
		return 0;
	if ((ln->ln_prflags & PRF_R6OTHER) &&
	    (!(c->c_flags & SCSI_CMD_RESV_OK) || (c->c_flags & SCSI_CMD_PR)) &&
	    !pr_r6_stale(ln))
		return pr_conflict(t);
	if ((ln->ln_prflags & PRF_R6MINE) && (c->c_flags & SCSI_CMD_PR))
		return pr_conflict(t);
	if (!pr_enabled(ln->ln_lu) || ln->ln_prtype == 0 ||
	    (ln->ln_prflags & PRF_HOLDER))
		return 0;
	if ((ln->ln_prflags & PRF_REG) && (pr_type_ro(ln->ln_prtype) ||
	    pr_type_ar(ln->ln_prtype)))
		return 0;
	cls = pr_class(c, t->t_cdb);
	if (cls & (pr_type_we(ln->ln_prtype) ? SCSI_PR_WE : SCSI_PR_EA))
		return pr_conflict(t);
	return 0;
}

/* I_T nexus loss: a RESERVE this nexus held is released. */
void
pr_nexus_loss(struct scsi_lunex *ln)
{
	struct pr_id	 id;

	if (ln->ln_lu->lu_pr == NULL)
		return;
	pr_id_nexus(&id, ln->ln_nexus);
	pr_r6_release(ln->ln_lu->lu_pr, &id);
}

/*
 * The nexus came live from another worker (handed over, not lost): a
 * RESERVE it holds is held through this process from now on, so that
 * the other's exit does not look like the holder's death.
 */
void
pr_nexus_moved(struct scsi_lunex *ln)
{
	struct pr_lu	*pl = ln->ln_lu->lu_pr;
	struct pr_state	*st;
	struct pr_id	 id;

	if (pl == NULL)
		return;
	pr_id_nexus(&id, ln->ln_nexus);
	if ((st = pr_begin(pl)) == NULL)
		return;
	if (pr_r6_is(st, &id) && st->ps_r6pid != getpid()) {
		st->ps_r6pid = getpid();
		pr_commit(pl);
	} else
		pr_abort(pl);
}

/*
 * A private LU's reservation state as another worker had it (len bytes
 * of a struct pr_state): made this LU's.  0, or -1 (a state of another
 * size, or no memory).
 */
int
pr_anon_load(struct scsi_lu *lu, const void *st, size_t len)
{
	struct pr_state	 copy;

	if (!lu->lu_pr_anon || len != sizeof(copy) ||
	    (lu->lu_pr == NULL && (lu->lu_pr = pr_lu_anon()) == NULL))
		return -1;
	memcpy(&copy, st, sizeof(copy));
	return pr_lu_replace(lu->lu_pr, &copy);
}

/* Logical unit reset: RESERVE is released, reservations are not. */
void
pr_lun_reset(struct scsi_lu *lu)
{
	if (lu->lu_pr != NULL)
		pr_r6_release(lu->lu_pr, NULL);
}

/* ---------------------------------------------------------------- */
/* RESERVE(6)/(10), RELEASE(6)/(10) */

static void
pr_fail(struct scsi_task *t)
{
	scsi_sense(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

static void
pr_no_opcode(struct scsi_task *t)
{
	scsi_sense_ext(t, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0,
	    SCSI_SENSE_SKS, SCSI_SKS_CD);
}

/*
 * While anything is registered (SPC-4 5.13.3, CRH=1): RESERVE and
 * RELEASE do nothing, with GOOD, for the persistent reservation holder
 * and for any registrant of a registrants only or all registrants
 * reservation, and conflict for everyone else.  Returns 1 when it
 * answered the command.
 */
static int
pr_crh(struct scsi_task *t, const struct pr_state *st, const struct pr_id *id)
{
	int	 me;

	if (!pr_any_reg(st))
		return 0;
	me = pr_reg_slot(st, id);
	if (me != -1 && (pr_holds(st, me) || pr_type_ro(st->ps_type) ||
	    pr_type_ar(st->ps_type)))
		return 1;
	pr_conflict(t);
	return 1;
}

void
pr_reserve6(struct scsi_task *t, struct scsi_lu *lu)
{
	struct pr_lu	*pl = pr_state(lu);
	struct pr_state	*st;
	struct pr_id	 id;

	if (pl == NULL) {
		pr_no_opcode(t);
		return;
	}
	if ((st = pr_begin(pl)) == NULL) {
		pr_fail(t);
		return;
	}
	pr_id_nexus(&id, t->t_nexus);
	if (pr_crh(t, st, &id) || (st->ps_r6 && !pr_r6_is(st, &id) &&
	    pr_r6_alive(st) && pr_conflict(t))) {
		pr_abort(pl);
		return;
	}
	pr_state_r6_clear(st);
	st->ps_r6 = 1;
	st->ps_r6relport = id.id_relport;
	st->ps_r6pid = getpid();
	memcpy(st->ps_r6isid, id.id_isid, sizeof(st->ps_r6isid));
	snprintf(st->ps_r6name, sizeof(st->ps_r6name), "%s", id.id_name);
	pr_commit(pl);
}

/* RELEASE from a nexus that does not hold the reservation: GOOD. */
void
pr_release6(struct scsi_task *t, struct scsi_lu *lu)
{
	struct pr_lu	*pl = pr_state(lu);
	struct pr_state	*st;
	struct pr_id	 id;

	if (pl == NULL) {
		pr_no_opcode(t);
		return;
	}
	if ((st = pr_begin(pl)) == NULL) {
		pr_fail(t);
		return;
	}
	pr_id_nexus(&id, t->t_nexus);
	if (pr_crh(t, st, &id) || !pr_r6_is(st, &id)) {
		pr_abort(pl);
		return;
	}
	pr_state_r6_clear(st);
	pr_commit(pl);
}

/* ---------------------------------------------------------------- */
/* TransportIDs (SPC-4 7.6.4.6, iSCSI) */

/* "NAME,i,0xISID" or, device-wide, "NAME"; NUL-padded to 4n, >= 20. */
static uint32_t
pr_tid_encode(const struct pr_nexus *pn, uint8_t *b)
{
	const uint8_t	*i = pn->pn_isid;
	size_t		 n;

	if (pn->pn_flags & PN_ANYISID)
		n = (size_t)snprintf((char *)b + 4, PR_NAME_MAX + 24, "%.*s",
		    PR_NAME_MAX - 1, pn->pn_name);
	else
		n = (size_t)snprintf((char *)b + 4, PR_NAME_MAX + 24,
		    "%.*s,i,0x%02x%02x%02x%02x%02x%02x", PR_NAME_MAX - 1,
		    pn->pn_name, i[0], i[1], i[2], i[3], i[4], i[5]);
	n = (n + 1 + 3) & ~(size_t)3;
	if (n < 20)
		n = 20;
	memset(b + 4 + strlen((char *)b + 4), 0,
	    n - strlen((char *)b + 4));
	b[0] = (pn->pn_flags & PN_ANYISID ? 0 : PR_TID_PORT) | PR_TID_ISCSI;
	b[1] = 0;
	be16enc(b + 2, (uint16_t)n);
	return (uint32_t)(4 + n);
}

static int
pr_hex_isid(const char *s, uint8_t *isid)
{
	int	 i, hi, lo;

	for (i = 0; i < 6; i++) {
		if ((hi = hex_digit((unsigned char)s[2 * i])) == -1 ||
		    (lo = hex_digit((unsigned char)s[2 * i + 1])) == -1)
			return -1;
		isid[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[12] == '\0' ? 0 : -1;
}

/*
 * Parse the TransportID at b (len bytes left) into id, its name into
 * name[PR_NAME_MAX]; *used: its length.  Only iSCSI names, formats 00b
 * and 01b.
 */
static int
pr_tid_parse(const uint8_t *b, uint32_t len, struct pr_id *id, char *name,
    uint32_t *used)
{
	const char	*s = (const char *)b + 4, *sep;
	uint32_t	 addl;
	size_t		 n;
	int		 fmt;

	if (len < 4 || (b[0] & 0x0f) != PR_TID_ISCSI)
		return -1;
	fmt = b[0] >> 6;
	addl = be16dec(b + 2);
	if ((fmt != 0 && fmt != 1) || addl == 0 || addl > len - 4)
		return -1;
	if ((n = strnlen(s, addl)) == 0 || n == addl)
		return -1;
	memset(id, 0, sizeof(*id));
	if (fmt == 0) {
		if (n >= PR_NAME_MAX)
			return -1;
		memcpy(name, s, n + 1);
		id->id_anyisid = 1;
	} else {
		if ((sep = strcasestr(s, ",i,0x")) == NULL || sep == s ||
		    sep - s >= PR_NAME_MAX || pr_hex_isid(sep + 5,
		    id->id_isid) == -1)
			return -1;
		memcpy(name, s, (size_t)(sep - s));
		name[sep - s] = '\0';
	}
	id->id_name = name;
	*used = 4 + addl;
	return 0;
}

static int
pr_same_port(const struct pr_id *a, const struct pr_id *b)
{
	return strcasecmp(a->id_name, b->id_name) == 0 &&
	    (a->id_anyisid || b->id_anyisid ||
	    memcmp(a->id_isid, b->id_isid, 6) == 0);
}

/* ---------------------------------------------------------------- */
/* PERSISTENT RESERVE IN */

typedef uint32_t pr_in_fn(const struct pr_state *, const struct pr_lu *,
    uint8_t *);

static uint32_t
pr_in_keys(const struct pr_state *st, const struct pr_lu *pl, uint8_t *b)
{
	uint32_t	 n = 8;
	int		 i;

	(void)pl;
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		if (!(st->ps_nexus[i].pn_flags & PN_REG))
			continue;
		be64enc(b + n, st->ps_nexus[i].pn_key);
		n += 8;
	}
	be32enc(b, st->ps_generation);
	be32enc(b + 4, n - 8);
	return n;
}

/* An all registrants reservation has key 0 (SPC-4 5.13.10). */
static uint32_t
pr_in_resv(const struct pr_state *st, const struct pr_lu *pl, uint8_t *b)
{
	int	 h;

	(void)pl;
	memset(b, 0, 24);
	be32enc(b, st->ps_generation);
	if (st->ps_type == 0)
		return 8;
	be32enc(b + 4, 16);
	if ((h = pr_holder(st)) != -1)
		be64enc(b + 8, st->ps_nexus[h].pn_key);
	b[21] = (uint8_t)(st->ps_scope << 4 | st->ps_type);
	return 24;
}

/*
 * CRH, SIP_C, ATP_C; PTPL_C for a shared LU (its state is on disk) with
 * PTPL_A the last APTPL; ALLOW COMMANDS 001b (TEST UNIT READY passes
 * every reservation); all six types.
 */
static uint32_t
pr_in_capabilities(const struct pr_state *st, const struct pr_lu *pl,
    uint8_t *b)
{
	int	 ptpl = pr_lu_ptpl(pl);

	memset(b, 0, 8);
	be16enc(b, 8);
	b[2] = 0x10 | 0x08 | 0x04 | (ptpl ? 0x01 : 0);
	b[3] = 0x80 | 0x10 | (ptpl && st->ps_aptpl ? 0x01 : 0);
	b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
	b[5] = 0x01;
	return 8;
}

/* A full status descriptor per registration (SPC-4 6.15.5). */
static uint32_t
pr_in_full_status(const struct pr_state *st, const struct pr_lu *pl,
    uint8_t *b)
{
	const struct pr_nexus *pn;
	uint32_t	 n = 8, tl;
	uint8_t		*d;
	int		 i;

	(void)pl;
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		pn = &st->ps_nexus[i];
		if (!(pn->pn_flags & PN_REG))
			continue;
		d = b + n;
		memset(d, 0, 24);
		be64enc(d, pn->pn_key);
		if (pn->pn_flags & PN_ALLTGPT)
			d[12] |= 0x02;
		else
			be16enc(d + 18, pn->pn_relport);
		if (pr_holds(st, i)) {
			d[12] |= 0x01;
			d[13] = (uint8_t)(st->ps_scope << 4 | st->ps_type);
		}
		tl = pr_tid_encode(pn, d + 24);
		be32enc(d + 20, tl);
		n += 24 + tl;
	}
	be32enc(b, st->ps_generation);
	be32enc(b + 4, n - 8);
	return n;
}

/* Build the answer from a consistent view; cut to ALLOCATION LENGTH. */
static void
pr_in(struct scsi_task *t, struct scsi_lu *lu, pr_in_fn *fn)
{
	const struct pr_state *st;
	uint8_t		*b;
	uint32_t	 seq, n;

	if (pr_state(lu) == NULL || (b = malloc(PR_FULL_MAX)) == NULL) {
		scsi_sense(t, SK_ABORTED_COMMAND, ASC_INSUFFICIENT_RESOURCES);
		return;
	}
	do {
		st = pr_current(lu->lu_pr, &seq);
		n = fn(st, lu->lu_pr, b);
	} while (!pr_stable(st, seq));
	scsi_din(t, b, n, be16dec(t->t_cdb + 7));
	free(b);
}

/*
 * The service action of PERSISTENT RESERVE IN or OUT as an index into a
 * table of n (the CDB table matched it already); -1 after sense.
 */
static int
pr_sa(struct scsi_task *t, size_t n)
{
	unsigned sa = t->t_cdb[1] & 0x1f;

	if (sa >= n) {
		scsi_sense_cdb(t, 1, 4);
		return -1;
	}
	return (int)sa;
}

/* PERSISTENT RESERVE IN: the CDB table's service actions. */
static pr_in_fn *const pr_in_sa[] = {
	[0x00] = pr_in_keys,		/* READ KEYS */
	[0x01] = pr_in_resv,		/* READ RESERVATION */
	[0x02] = pr_in_capabilities,	/* REPORT CAPABILITIES */
	[0x03] = pr_in_full_status,	/* READ FULL STATUS */
};

void
pr_in_cmd(struct scsi_task *t, struct scsi_lu *lu)
{
	int	 sa;

	if ((sa = pr_sa(t, sizeof(pr_in_sa) / sizeof(pr_in_sa[0]))) != -1)
		pr_in(t, lu, pr_in_sa[sa]);
}

/* ---------------------------------------------------------------- */
/* PERSISTENT RESERVE OUT */

uint32_t
pr_xfer_out(const uint8_t *cdb, const struct scsi_lu *lu)
{
	(void)lu;
	return be32dec(cdb + 5);
}

static int
pr_sense_plen(struct scsi_task *t)
{
	scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
	return -1;
}

static int
pr_sense_param(struct scsi_task *t, unsigned byte, int bit)
{
	scsi_sense_param(t, byte, bit);
	return -1;
}

static int
pr_sense_cdb_field(struct scsi_task *t, unsigned byte, int bit)
{
	scsi_sense_cdb(t, byte, bit);
	return -1;
}

static int
pr_sense_full(struct scsi_task *t)
{
	/* INSUFFICIENT REGISTRATION RESOURCES */
	scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INSUFFICIENT_REG_RESOURCES);
	return -1;
}

/* The parameter list (SPC-4 6.16.3, 6.16.4) and its length. */
static int
pr_out_params(struct pr_out *po, const struct pr_lu *pl)
{
	struct scsi_task *t = po->po_t;
	const uint8_t	*cdb = t->t_cdb, *p = t->t_dout;
	uint32_t	 plen = be32dec(cdb + 5);
	int		 sa = cdb[1] & 0x1f, ab = 20;

	if (plen < PR_PARAM_LEN || p == NULL || t->t_doutlen < plen)
		return pr_sense_plen(t);
	po->po_p = p;
	po->po_plen = plen;
	po->po_scope = cdb[2] >> 4;
	po->po_type = cdb[2] & 0x0f;
	po->po_key = be64dec(p);
	po->po_sakey = be64dec(p + 8);
	if (sa == PRO_REGISTER_MOVE) {
		ab = 17;
		po->po_aptpl = p[17] & 0x01;
		po->po_unreg = (p[17] & 0x02) != 0;
	} else {
		po->po_spec = (p[20] & 0x08) != 0;
		po->po_alltg = (p[20] & 0x04) != 0;
		po->po_aptpl = p[20] & 0x01;
		if (po->po_spec && sa != PRO_REGISTER)
			return pr_sense_param(t, 20, 3);
		if (!po->po_spec && plen != PR_PARAM_LEN)
			return pr_sense_plen(t);
	}
	if (po->po_aptpl && !pr_lu_ptpl(pl) && (sa == PRO_REGISTER ||
	    sa == PRO_REGISTER_IGNORE || sa == PRO_REGISTER_MOVE))
		return pr_sense_param(t, (unsigned)ab, 0);
	return 0;
}

static int
pr_changed(struct pr_out *po, int generation)
{
	if (generation)
		po->po_st->ps_generation++;
	po->po_changed = 1;
	return 0;
}

/* The sender must be registered, with RESERVATION KEY its key. */
static int
pr_keyed(struct pr_out *po)
{
	if (po->po_me == -1 ||
	    po->po_st->ps_nexus[po->po_me].pn_key != po->po_key)
		return pr_conflict(po->po_t);
	return 0;
}

static int
pr_scope_type(struct pr_out *po)
{
	if (po->po_scope != 0)
		return pr_sense_cdb_field(po->po_t, 2, 7);
	if (!pr_type_valid(po->po_type))
		return pr_sense_cdb_field(po->po_t, 2, 3);
	return 0;
}

/* SPEC_I_PT: register every I_T nexus of the TransportID list too. */
static int
pr_spec_i_pt(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	struct pr_id	 id;
	char		 name[PR_NAME_MAX];
	uint32_t	 tlen, off, used;
	int		 s;

	if (po->po_plen < PR_PARAM_LEN + 4)
		return pr_sense_plen(po->po_t);
	tlen = be32dec(po->po_p + PR_PARAM_LEN);
	if (tlen > po->po_plen - PR_PARAM_LEN - 4)
		return pr_sense_plen(po->po_t);
	for (off = PR_PARAM_LEN + 4; off < PR_PARAM_LEN + 4 + tlen;
	    off += used) {
		if (pr_tid_parse(po->po_p + off, PR_PARAM_LEN + 4 + tlen - off,
		    &id, name, &used) == -1)
			return pr_sense_param(po->po_t, off, -1);
		id.id_relport = po->po_id.id_relport;
		if (!id.id_anyisid && pr_same_port(&id, &po->po_id))
			continue;	/* the sender: registered below */
		if ((s = pr_slot(st, &id)) != -1 &&
		    (st->ps_nexus[s].pn_flags & PN_REG))
			return pr_conflict(po->po_t);
		if ((s = pr_slot_new(st, &id)) == -1)
			return pr_sense_full(po->po_t);
		pr_slot_reg(st, s, &id, po->po_sakey, po->po_alltg);
	}
	return 0;
}

/* REGISTER and REGISTER AND IGNORE EXISTING KEY (SPC-4 5.13.7). */
static int
pr_sa_register(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	int		 ignore, s;

	ignore = (po->po_t->t_cdb[1] & 0x1f) == PRO_REGISTER_IGNORE;

	if (po->po_me == -1) {
		if (!ignore && po->po_key != 0)
			return pr_conflict(po->po_t);
		if (po->po_sakey == 0)
			return 0;
		if (po->po_spec && pr_spec_i_pt(po) == -1)
			return -1;
		if ((s = pr_slot_new(st, &po->po_id)) == -1)
			return pr_sense_full(po->po_t);
		pr_slot_reg(st, s, &po->po_id, po->po_sakey, po->po_alltg);
	} else {
		if (!ignore && pr_keyed(po) == -1)
			return -1;
		if (po->po_spec)
			return pr_sense_param(po->po_t, 20, 3);
		if (po->po_sakey == 0)
			pr_unregister(st, po->po_me);
		else
			st->ps_nexus[po->po_me].pn_key = po->po_sakey;
	}
	st->ps_aptpl = (uint8_t)po->po_aptpl;
	return pr_changed(po, 1);
}

/* RESERVE (5.13.9): the holder asking again for the same is GOOD. */
static int
pr_sa_reserve(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;

	if (pr_scope_type(po) == -1 || pr_keyed(po) == -1)
		return -1;
	if (st->ps_type != 0) {
		if (!pr_holds(st, po->po_me) || st->ps_type != po->po_type ||
		    st->ps_scope != po->po_scope)
			return pr_conflict(po->po_t);
		return 0;
	}
	st->ps_type = (uint8_t)po->po_type;
	st->ps_scope = (uint8_t)po->po_scope;
	st->ps_holder = pr_type_ar(po->po_type) ? 0 : (uint16_t)(po->po_me + 1);
	return pr_changed(po, 0);
}

/* RELEASE (5.13.11.2): from a non-holder, or of nothing, is GOOD. */
static int
pr_sa_release(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	int		 type = st->ps_type;

	if (pr_keyed(po) == -1)
		return -1;
	if (type == 0 || !pr_holds(st, po->po_me))
		return 0;
	if (po->po_type != type || po->po_scope != st->ps_scope) {
		/* INVALID RELEASE OF PERSISTENT RESERVATION */
		scsi_sense(po->po_t, SK_ILLEGAL_REQUEST, ASC_INVALID_RELEASE_OF_PR);
		return -1;
	}
	pr_release_resv(st);
	if (pr_type_ro(type) || pr_type_ar(type))
		pr_ua_registrants(st, po->po_me, UA_RESV_RELEASED);
	return pr_changed(po, 0);
}

/* CLEAR (5.13.11.6): everything, RESERVATIONS PREEMPTED to the others. */
static int
pr_sa_clear(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	int		 i;

	if (pr_keyed(po) == -1)
		return -1;
	pr_release_resv(st);
	for (i = 0; i < PR_MAX_NEXUS; i++)
		if (st->ps_nexus[i].pn_flags & PN_REG)
			pr_slot_unreg(st, i, i == po->po_me ? 0 :
			    UA_RESV_PREEMPTED);
	return pr_changed(po, 1);
}

/*
 * PREEMPT of registrations only (5.13.11.4.4): no reservation, or the
 * key is not the holder's, or an all registrants one with a key.
 */
static int
pr_preempt_regs(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	int		 ar = pr_type_ar(st->ps_type), i, hit = 0;

	for (i = 0; i < PR_MAX_NEXUS; i++) {
		if (!(st->ps_nexus[i].pn_flags & PN_REG) ||
		    st->ps_nexus[i].pn_key != po->po_sakey ||
		    (ar && i == po->po_me))
			continue;
		hit = 1;
		pr_slot_unreg(st, i, i == po->po_me ? 0 : UA_REG_PREEMPTED);
	}
	if (!hit)
		return pr_conflict(po->po_t);
	return pr_changed(po, 1);
}

/*
 * PREEMPT (5.13.11.4.3): the holder's key (any key of an all
 * registrants reservation, given as 0) loses its registrations and the
 * reservation, which the sender takes with the new type.
 */
static int
pr_sa_preempt(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	int		 ar = pr_type_ar(st->ps_type), i, h;
	uint8_t		 otype = st->ps_type, oscope = st->ps_scope;

	if (pr_keyed(po) == -1 || pr_scope_type(po) == -1)
		return -1;
	if (!ar && po->po_sakey == 0)
		return pr_sense_param(po->po_t, 8, -1);
	if (otype == 0 || (ar && po->po_sakey != 0) || (!ar &&
	    (h = pr_holder(st)) != -1 && st->ps_nexus[h].pn_key !=
	    po->po_sakey))
		return pr_preempt_regs(po);
	pr_release_resv(st);
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		if (i == po->po_me || !(st->ps_nexus[i].pn_flags & PN_REG))
			continue;
		if (ar || st->ps_nexus[i].pn_key == po->po_sakey)
			pr_slot_unreg(st, i, UA_REG_PREEMPTED);
	}
	st->ps_type = (uint8_t)po->po_type;
	st->ps_scope = (uint8_t)po->po_scope;
	st->ps_holder = pr_type_ar(po->po_type) ? 0 : (uint16_t)(po->po_me + 1);
	if (otype != po->po_type || oscope != po->po_scope)
		pr_ua_registrants(st, po->po_me, UA_RESV_RELEASED);
	return pr_changed(po, 1);
}

/*
 * REGISTER AND MOVE (5.13.8): the holder of a reservation that is not
 * all registrants registers the nexus of the TransportID with the
 * service action key and hands it the reservation.
 */
static int
pr_sa_register_move(struct pr_out *po)
{
	struct pr_state	*st = po->po_st;
	struct pr_id	 dst;
	char		 name[PR_NAME_MAX];
	uint32_t	 tlen, used;
	int		 d;

	if (pr_keyed(po) == -1)
		return -1;
	tlen = be32dec(po->po_p + 20);
	if (tlen > po->po_plen - PR_PARAM_LEN)
		return pr_sense_plen(po->po_t);
	if (po->po_sakey == 0)
		return pr_sense_param(po->po_t, 8, -1);
	if (st->ps_type == 0 || pr_type_ar(st->ps_type) ||
	    !pr_holds(st, po->po_me))
		return pr_conflict(po->po_t);
	if (be16dec(po->po_p + 18) != po->po_id.id_relport)
		return pr_sense_param(po->po_t, 18, -1);
	if (pr_tid_parse(po->po_p + PR_PARAM_LEN, tlen, &dst, name,
	    &used) == -1 || pr_same_port(&dst, &po->po_id))
		return pr_sense_param(po->po_t, PR_PARAM_LEN, -1);
	dst.id_relport = po->po_id.id_relport;
	if ((d = pr_slot(st, &dst)) == -1 ||
	    !(st->ps_nexus[d].pn_flags & PN_REG)) {
		if ((d = pr_slot_new(st, &dst)) == -1)
			return pr_sense_full(po->po_t);
		pr_slot_reg(st, d, &dst, po->po_sakey, 0);
	} else
		st->ps_nexus[d].pn_key = po->po_sakey;
	st->ps_holder = (uint16_t)(d + 1);
	if (po->po_unreg)
		pr_slot_unreg(st, po->po_me, 0);
	st->ps_aptpl = (uint8_t)po->po_aptpl;
	return pr_changed(po, 1);
}

/*
 * Check the parameter list, then change the spare state under the
 * lock and make it current.  A change of a shared LU's state leaves its
 * commit number in the task: the status waits for the coordinator to
 * have it in LMDB.
 */
static void
pr_out(struct scsi_task *t, struct scsi_lu *lu, pr_out_fn *fn)
{
	struct pr_lu	*pl = pr_state(lu);
	struct pr_out	 po;

	if (pl == NULL) {
		scsi_sense(t, SK_ABORTED_COMMAND, ASC_INSUFFICIENT_RESOURCES);
		return;
	}
	memset(&po, 0, sizeof(po));
	po.po_t = t;
	if (pr_out_params(&po, pl) == -1)
		return;
	if ((po.po_st = pr_begin(pl)) == NULL) {
		pr_fail(t);
		return;
	}
	pr_id_nexus(&po.po_id, t->t_nexus);
	if (po.po_st->ps_r6) {
		/* RESERVE(6) taken since the check, on another worker */
		if (pr_r6_alive(po.po_st) && !pr_r6_is(po.po_st, &po.po_id)) {
			pr_abort(pl);
			pr_conflict(t);
			return;
		}
		pr_state_r6_clear(po.po_st);
		po.po_changed = 1;
	}
	po.po_me = pr_reg_slot(po.po_st, &po.po_id);
	if (fn(&po) == -1 || !po.po_changed) {
		pr_abort(pl);
		return;
	}
	po.po_st->ps_commit++;
	if (pr_lu_ptpl(pl)) {
		t->t_pr = pl;
		t->t_prepoch = po.po_st->ps_epoch;
		t->t_prcommit = po.po_st->ps_commit;
	}
	pr_commit(pl);
}

/*
 * PERSISTENT RESERVE OUT: the CDB table's service actions.  PREEMPT AND
 * ABORT is PREEMPT: the preempted nexuses' commands still waiting for
 * Data-Out are decoded again when it arrives, and meet their
 * REGISTRATIONS PREEMPTED and then the conflict.
 */
static pr_out_fn *const pr_out_sa[] = {
	[PRO_REGISTER] = pr_sa_register,
	[PRO_RESERVE] = pr_sa_reserve,
	[PRO_RELEASE] = pr_sa_release,
	[PRO_CLEAR] = pr_sa_clear,
	[PRO_PREEMPT] = pr_sa_preempt,
	[PRO_PREEMPT_ABORT] = pr_sa_preempt,
	[PRO_REGISTER_IGNORE] = pr_sa_register,
	[PRO_REGISTER_MOVE] = pr_sa_register_move,
};

void
pr_out_cmd(struct scsi_task *t, struct scsi_lu *lu)
{
	int	 sa;

	if ((sa = pr_sa(t, sizeof(pr_out_sa) / sizeof(pr_out_sa[0]))) != -1)
		pr_out(t, lu, pr_out_sa[sa]);
}
