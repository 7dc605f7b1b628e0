/*
 * The coordinator's registry of live iSCSI sessions, keyed by I_T nexus:
 * initiator name, ISID and target name, compared in full, and the
 * source address where the target authenticates nobody.  A login whose
 * nexus is already live elsewhere reinstates it: the worker holding the
 * old connection is told to close it, on whichever worker it is; a
 * TARGET COLD RESET closes every session of its target the same way.
 * The registry lives in memory only: sessions do not outlive their
 * workers.
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

#define SESS_MAX	8192		/* power of two */
#define KICK_MAX	256
#define RESET_MAX	64

struct sess {
	struct shmq_session s_id;	/* s_id.ss_initiator[0] == 0: free */
	uint64_t	 s_hash;
	uint32_t	 s_gen;		/* the slot's generation at login */
};

struct kick {
	int		 k_slot;
	int		 k_why;		/* SHMQ_KICK_* */
	uint32_t	 k_gen;		/* dropped if the slot moved on */
	uint64_t	 k_conn;
};

/* A TARGET COLD RESET, carried out once its round has run. */
struct reset {
	char		 r_target[SHMQ_NAME_MAX];
	uint64_t	 r_conn;	/* the asking session: spared */
	int		 r_slot;
};

static struct sess	 sess_tab[SESS_MAX];
static uint64_t		 sess_seed;	/* so that nobody picks the buckets */
static struct kick	 kick_q[KICK_MAX];
static int		 kick_n;
static struct reset	 reset_q[RESET_MAX];
static int		 reset_n;

static int
sess_free(const struct sess *s)
{
	return s->s_id.ss_initiator[0] == '\0';
}

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
sess_hash(const struct shmq_session *id)
{
	uint64_t	 h;

	if (sess_seed == 0)
		sess_seed = ((uint64_t)arc4random() << 32 | arc4random()) | 1;
	h = sess_hash_name(FNV1A_INIT ^ sess_seed, id->ss_initiator);
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

static struct sess *
sess_find(const struct shmq_session *id, uint64_t h, int insert)
{
	uint32_t	 i;

	for (i = 0; i < SESS_MAX; i++) {
		struct sess *s = &sess_tab[(h + i) & (SESS_MAX - 1)];

		if (sess_free(s))
			return insert ? s : NULL;
		if (s->s_hash == h && sess_same(&s->s_id, id))
			return s;
	}
	return NULL;
}

/* Remove with backward shift so probe chains stay unbroken. */
static void
sess_remove(struct sess *s)
{
	uint32_t	 i = (uint32_t)(s - sess_tab), j = i, h;

	sess_tab[i].s_id.ss_initiator[0] = '\0';
	for (;;) {
		j = (j + 1) & (SESS_MAX - 1);
		if (sess_free(&sess_tab[j]))
			return;
		h = (uint32_t)sess_tab[j].s_hash & (SESS_MAX - 1);
		if (((j - h) & (SESS_MAX - 1)) >= ((j - i) & (SESS_MAX - 1))) {
			sess_tab[i] = sess_tab[j];
			sess_tab[j].s_id.ss_initiator[0] = '\0';
			i = j;
		}
	}
}

static void
sess_kick(const struct sess *s, int why)
{
	if (kick_n == KICK_MAX) {
		log_warnx("sessions: %d kicks pending, connection %llu kept",
		    KICK_MAX, (unsigned long long)s->s_id.ss_conn);
		return;
	}
	kick_q[kick_n].k_slot = (int)s->s_id.ss_slot;
	kick_q[kick_n].k_why = why;
	kick_q[kick_n].k_gen = s->s_gen;
	kick_q[kick_n++].k_conn = s->s_id.ss_conn;
}

int
coord_session_start(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct shmq_session id;
	struct sess	*s;
	uint64_t	 h;

	(void)st;
	(void)rsp;
	if (shmq_session_dec(req, &id) != 0)
		return -EINVAL;
	h = sess_hash(&id);
	if ((s = sess_find(&id, h, 1)) == NULL)
		return -ENOSPC;
	if (!sess_free(s) && (s->s_id.ss_slot != id.ss_slot ||
	    s->s_id.ss_conn != id.ss_conn)) {
		sess_kick(s, SHMQ_KICK_REINSTATE);
		log_debug("%s: reinstating %s to %s", __func__,
		    id.ss_initiator, id.ss_target);
	}
	s->s_id = id;
	s->s_hash = h;
	s->s_gen = req->m_gen;
	return 0;
}

int
coord_session_end(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct shmq_session id;
	struct sess	*s;

	(void)st;
	(void)rsp;
	if (shmq_session_dec(req, &id) != 0)
		return -EINVAL;
	if ((s = sess_find(&id, sess_hash(&id), 0)) != NULL &&
	    s->s_id.ss_slot == id.ss_slot && s->s_id.ss_conn == id.ss_conn)
		sess_remove(s);
	return 0;
}

/* Every session of the reset's target but the one that asked is kicked. */
static void
sess_reset(const struct reset *r)
{
	const struct sess *s;
	int		 i, n = 0;

	for (i = 0; i < SESS_MAX; i++) {
		s = &sess_tab[i];
		if (sess_free(s) ||
		    strcasecmp(s->s_id.ss_target, r->r_target) != 0 ||
		    ((int)s->s_id.ss_slot == r->r_slot &&
		    s->s_id.ss_conn == r->r_conn))
			continue;
		sess_kick(s, SHMQ_KICK_TARGET_RESET);
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
coord_target_reset(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct shmq_session id;
	struct reset	 r;

	(void)st;
	(void)rsp;
	if (shmq_session_dec(req, &id) != 0)
		return -EINVAL;
	memcpy(r.r_target, id.ss_target, sizeof(r.r_target));
	r.r_conn = id.ss_conn;
	r.r_slot = (int)id.ss_slot;
	if (reset_n == RESET_MAX)
		sess_reset(&r);		/* no room to wait: now */
	else
		reset_q[reset_n++] = r;
	return 0;
}

/* Deliver the pending kicks; those that find no room wait. */
void
coord_session_kicks(struct shmq_region *region)
{
	struct shmq_msg	 m;
	int		 i, kept = 0;

	for (i = 0; i < reset_n; i++)
		sess_reset(&reset_q[i]);
	reset_n = 0;
	for (i = 0; i < kick_n; i++) {
		memset(&m, 0, sizeof(m));
		shmq_kick_enc(&m, kick_q[i].k_conn, kick_q[i].k_why);
		m.m_gen = kick_q[i].k_gen;
		if (shmq_response_push(region, kick_q[i].k_slot, &m) == 0)
			shmq_worker_notify(region, kick_q[i].k_slot);
		else
			kick_q[kept++] = kick_q[i];
	}
	kick_n = kept;
}

/* A worker slot went away: its sessions with it. */
void
coord_session_forget_slot(int slot)
{
	int	 i;

	for (i = 0; i < SESS_MAX; i++)
		while (!sess_free(&sess_tab[i]) &&
		    (int)sess_tab[i].s_id.ss_slot == slot)
			sess_remove(&sess_tab[i]);
}
