/*
 * The coordinator's registry of live iSCSI sessions, keyed by I_T nexus:
 * initiator name, ISID and target name, compared in full, and the
 * source address where the target authenticates nobody.  A login whose
 * nexus is already live elsewhere reinstates it: the worker holding the
 * old connection is told to close it, on whichever worker it is; a
 * TARGET COLD RESET closes every session of its target the same way.
 * The registry (struct coord_sessions) lives in memory only: sessions
 * do not outlive their workers.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coordinator.h"
#include "hash.h"
#include "log.h"
#include "shmq.h"

/* FNV-1a of a name, case folded as iSCSI names compare. */
static uint64_t
sess_hash_name(uint64_t h, const char *name)
{
	uint8_t	 ch;

	for (; *name != '\0'; name++) {
		ch = (uint8_t)*name;
		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		h = fnv1a(h, &ch, 1);
	}
	return fnv1a(h, "", 1);
}

static uint64_t
sess_hash(struct coord_sessions *cs, const struct shmq_session *id)
{
	uint64_t	 h;

	if (cs->cs_seed == 0)
		cs->cs_seed = ((uint64_t)arc4random() << 32 | arc4random()) | 1;
	h = sess_hash_name(FNV1A_INIT ^ cs->cs_seed, id->ss_initiator);
	h = fnv1a(h, id->ss_isid, sizeof(id->ss_isid));
	h = sess_hash_name(h, id->ss_target);
	if (id->ss_byaddr)
		h = fnv1a(h, id->ss_addr, sizeof(id->ss_addr));
	return h;
}

/* The same I_T nexus: every part of the identity, compared in full. */
static int
sess_same(const struct shmq_session *a, const struct shmq_session *b)
{
	return a->ss_byaddr == b->ss_byaddr &&
	    memcmp(a->ss_isid, b->ss_isid, sizeof(a->ss_isid)) == 0 &&
	    strcasecmp(a->ss_initiator, b->ss_initiator) == 0 &&
	    strcasecmp(a->ss_target, b->ss_target) == 0 &&
	    (!a->ss_byaddr ||
	    memcmp(a->ss_addr, b->ss_addr, sizeof(a->ss_addr)) == 0);
}

/* The bucket of id: its entry's, or the free one it would take. */
static struct coord_sess **
sess_bucket(struct coord_sessions *cs, const struct shmq_session *id,
    uint64_t h)
{
	struct coord_sess **b;
	uint32_t	 i;

	for (i = 0; i <= cs->cs_mask; i++) {
		b = &cs->cs_tab[(h + i) & cs->cs_mask];
		if (*b == NULL ||
		    ((*b)->s_hash == h && sess_same(&(*b)->s_id, id)))
			return b;
	}
	return NULL;
}

/* Room for one more at half full at most: the table doubled.  0, -1. */
static int
sess_room(struct coord_sessions *cs)
{
	struct coord_sess **nt, **ot = cs->cs_tab;
	uint32_t	 osize = ot == NULL ? 0 : cs->cs_mask + 1, size, i, j;

	if (ot != NULL && (cs->cs_n + 1) * 2 <= osize)
		return 0;
	size = osize == 0 ? COORD_SESS_MIN : osize * 2;
	if (size == 0 || (nt = calloc(size, sizeof(*nt))) == NULL)
		return -1;
	for (i = 0; i < osize; i++) {
		if (ot[i] == NULL)
			continue;
		for (j = (uint32_t)ot[i]->s_hash & (size - 1); nt[j] != NULL;
		    j = (j + 1) & (size - 1))
			;
		nt[j] = ot[i];
	}
	free(ot);
	cs->cs_tab = nt;
	cs->cs_mask = size - 1;
	return 0;
}

/* Remove with backward shift so probe chains stay unbroken. */
static void
sess_remove(struct coord_sessions *cs, struct coord_sess **b)
{
	struct coord_sess **tab = cs->cs_tab;
	uint32_t	 i = (uint32_t)(b - tab), j = i, h, m = cs->cs_mask;

	free(*b);
	tab[i] = NULL;
	cs->cs_n--;
	for (;;) {
		j = (j + 1) & m;
		if (tab[j] == NULL)
			return;
		h = (uint32_t)tab[j]->s_hash & m;
		if (((j - h) & m) >= ((j - i) & m)) {
			tab[i] = tab[j];
			tab[j] = NULL;
			i = j;
		}
	}
}

/* Every entry gone (the coordinator's end). */
void
coord_session_fini(struct coord *c)
{
	struct coord_sessions *cs = &c->c_sess;
	uint32_t	 i;

	for (i = 0; cs->cs_tab != NULL && i <= cs->cs_mask; i++)
		free(cs->cs_tab[i]);
	free(cs->cs_tab);
	cs->cs_tab = NULL;
	cs->cs_n = 0;
}

/* Close the connection id names, on its slot (generation gen). */
static void
sess_kick_id(struct coord_sessions *cs, const struct shmq_session *id,
    uint32_t gen, int why)
{
	struct coord_kick *k;

	if (cs->cs_nkick == COORD_KICK_MAX) {
		log_warnx("sessions: %d kicks pending, connection %llu kept",
		    COORD_KICK_MAX, (unsigned long long)id->ss_conn);
		return;
	}
	k = &cs->cs_kick[cs->cs_nkick++];
	k->k_slot = (int)id->ss_slot;
	k->k_why = why;
	k->k_gen = gen;
	k->k_conn = id->ss_conn;
}

static void
sess_kick(struct coord_sessions *cs, const struct coord_sess *s, int why)
{
	sess_kick_id(cs, &s->s_id, s->s_gen, why);
}

int
coord_session_start(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct coord_sessions *cs = &c->c_sess;
	struct shmq_session id;
	struct coord_sess **b, *s;
	uint64_t	 h;

	(void)rsp;
	if (shmq_session_dec(req, &id) != 0)
		return -EINVAL;
	h = sess_hash(cs, &id);
	if (sess_room(cs) == -1 || (b = sess_bucket(cs, &id, h)) == NULL)
		return -ENOSPC;
	if ((s = *b) == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -ENOSPC;
		*b = s;
		cs->cs_n++;
	} else if (id.ss_since != 0 && s->s_id.ss_since == id.ss_since) {
		/*
		 * The same login, handed live to another worker (its
		 * login time goes with it): the entry follows it, and
		 * the old worker, which no longer has it, is told
		 * nothing.  A hand-over is not a new session.
		 */
	} else if (s->s_id.ss_slot != id.ss_slot ||
	    s->s_id.ss_conn != id.ss_conn) {
		/*
		 * Twins: the later login stays, whichever of the two the
		 * rings brought first (a start is posted, not awaited).
		 */
		if (s->s_id.ss_since > id.ss_since) {
			sess_kick_id(cs, &id, req->m_gen,
			    SHMQ_KICK_REINSTATE);
			return 0;
		}
		sess_kick(cs, s, SHMQ_KICK_REINSTATE);
		log_debug("%s: reinstating %s to %s", __func__,
		    id.ss_initiator, id.ss_target);
	}
	s->s_id = id;
	s->s_hash = h;
	s->s_gen = req->m_gen;
	return 0;
}

int
coord_session_end(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct coord_sessions *cs = &c->c_sess;
	struct shmq_session id;
	struct coord_sess **b;

	(void)rsp;
	if (shmq_session_dec(req, &id) != 0)
		return -EINVAL;
	if (cs->cs_tab != NULL &&
	    (b = sess_bucket(cs, &id, sess_hash(cs, &id))) != NULL &&
	    *b != NULL && (*b)->s_id.ss_slot == id.ss_slot &&
	    (*b)->s_id.ss_conn == id.ss_conn)
		sess_remove(cs, b);
	coord_anon_ended(c, &id);
	return 0;
}

/* Every session of the reset's target but the one that asked is kicked. */
static void
sess_reset(struct coord_sessions *cs, const struct coord_reset *r)
{
	const struct coord_sess *s;
	uint32_t	 i;
	int		 n = 0;

	for (i = 0; cs->cs_tab != NULL && i <= cs->cs_mask; i++) {
		s = cs->cs_tab[i];
		if (s == NULL ||
		    strcasecmp(s->s_id.ss_target, r->r_target) != 0 ||
		    ((int)s->s_id.ss_slot == r->r_slot &&
		    s->s_id.ss_conn == r->r_conn))
			continue;
		sess_kick(cs, s, SHMQ_KICK_TARGET_RESET);
		n++;
	}
	log_info("target cold reset: closing %d other session(s)", n);
}

/*
 * TARGET COLD RESET: every other session of the target is closed, once
 * the round has run, so that a login another worker reported in the
 * same round is among them.
 */
int
coord_target_reset(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct coord_sessions *cs = &c->c_sess;
	struct shmq_session id;
	struct coord_reset r;

	(void)rsp;
	if (shmq_session_dec(req, &id) != 0)
		return -EINVAL;
	memcpy(r.r_target, id.ss_target, sizeof(r.r_target));
	r.r_conn = id.ss_conn;
	r.r_slot = (int)id.ss_slot;
	if (cs->cs_nreset == COORD_RESET_MAX)
		sess_reset(cs, &r);		/* no room to wait: now */
	else
		cs->cs_reset[cs->cs_nreset++] = r;
	return 0;
}

/* Deliver the COORD_HELLOs owed; those that find no room wait. */
static void
sess_hellos(struct coord *c)
{
	struct coord_sessions *cs = &c->c_sess;
	struct shmq_msg	 m;
	int		 i;

	for (i = 0; i < c->c_nslots && i < SHMQ_SLOTS_MAX; i++) {
		if (!(cs->cs_hello[i / 64] & (1ULL << (i % 64))))
			continue;
		memset(&m, 0, sizeof(m));
		m.m_type = SHMQ_COORD_HELLO;
		m.m_gen = shmq_slot_gen(c->c_region, i);
		if (shmq_response_push(c->c_region, i, &m) != 0)
			continue;
		shmq_worker_notify(c->c_region, i);
		cs->cs_hello[i / 64] &= ~(1ULL << (i % 64));
	}
}

/* Deliver the pending kicks and hellos; those that find no room wait. */
void
coord_session_kicks(struct coord *c)
{
	struct coord_sessions *cs = &c->c_sess;
	struct coord_kick *k;
	struct shmq_msg	 m;
	int		 i, kept = 0;

	sess_hellos(c);

	for (i = 0; i < cs->cs_nreset; i++)
		sess_reset(cs, &cs->cs_reset[i]);
	cs->cs_nreset = 0;
	for (i = 0; i < cs->cs_nkick; i++) {
		k = &cs->cs_kick[i];
		memset(&m, 0, sizeof(m));
		shmq_kick_enc(&m, k->k_conn, k->k_why);
		m.m_gen = k->k_gen;
		if (shmq_response_push(c->c_region, k->k_slot, &m) == 0)
			shmq_worker_notify(c->c_region, k->k_slot);
		else
			cs->cs_kick[kept++] = *k;
	}
	cs->cs_nkick = kept;
}

/*
 * A coordinator that (re)starts knows no session: every worker is asked
 * to register its own again (SHMQ_COORD_HELLO), so that a reinstating
 * login or a TARGET COLD RESET still reaches the sessions that were
 * there before it.  A response ring still full of a predecessor's
 * answers gets it once the worker makes room (coord_session_kicks).
 */
void
coord_session_hello(struct coord *c)
{
	struct coord_sessions *cs = &c->c_sess;
	int		 i;

	for (i = 0; i < c->c_nslots && i < SHMQ_SLOTS_MAX; i++)
		if (shmq_slot_pid(c->c_region, i) != 0)
			cs->cs_hello[i / 64] |= 1ULL << (i % 64);
	sess_hellos(c);
}
