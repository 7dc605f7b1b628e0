/*
 * The coordinator's registry of live iSCSI sessions, keyed by I_T nexus
 * (initiator name and ISID, hashed by the worker).  A login whose nexus
 * is already live elsewhere reinstates it: the worker holding the old
 * connection is told to close it, on whichever worker it is; a TARGET
 * COLD RESET closes every session of its target the same way.  The
 * registry lives in memory only: sessions do not outlive their workers.
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "coordinator.h"
#include "log.h"
#include "shmq.h"

#define SESS_MAX	8192		/* power of two */
#define KICK_MAX	256
#define RESET_MAX	64

struct sess {
	uint64_t	 s_key;		/* 0: free */
	uint64_t	 s_conn;
	uint64_t	 s_target;	/* hash of the target's name */
	int		 s_slot;
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
	uint64_t	 r_target;
	uint64_t	 r_conn;	/* the asking session: spared */
	int		 r_slot;
};

static struct sess	 sess_tab[SESS_MAX];
static struct kick	 kick_q[KICK_MAX];
static int		 kick_n;
static struct reset	 reset_q[RESET_MAX];
static int		 reset_n;

static struct sess *
sess_find(uint64_t key, int insert)
{
	uint32_t	 i, h = (uint32_t)(key ^ (key >> 32));

	for (i = 0; i < SESS_MAX; i++) {
		struct sess *s = &sess_tab[(h + i) & (SESS_MAX - 1)];

		if (s->s_key == key)
			return s;
		if (s->s_key == 0)
			return insert ? s : NULL;
	}
	return NULL;
}

/* Remove with backward shift so probe chains stay unbroken. */
static void
sess_remove(struct sess *s)
{
	uint32_t	 i = (uint32_t)(s - sess_tab), j = i, h;

	sess_tab[i].s_key = 0;
	for (;;) {
		j = (j + 1) & (SESS_MAX - 1);
		if (sess_tab[j].s_key == 0)
			return;
		h = (uint32_t)(sess_tab[j].s_key ^ (sess_tab[j].s_key >> 32)) &
		    (SESS_MAX - 1);
		if (((j - h) & (SESS_MAX - 1)) >= ((j - i) & (SESS_MAX - 1))) {
			sess_tab[i] = sess_tab[j];
			sess_tab[j].s_key = 0;
			i = j;
		}
	}
}

static int
sess_args(const struct shmq_msg *req, uint64_t *key, uint64_t *conn,
    int *slot, uint64_t *target)
{
	if (req->m_len != SHMQ_SESSION_LEN)
		return -EINVAL;
	*key = be64dec(req->m_data);
	*conn = be64dec(req->m_data + 8);
	*slot = (int)be32dec(req->m_data + 16);
	*target = be64dec(req->m_data + 20);
	return *key == 0 ? -EINVAL : 0;
}

static void
sess_kick(const struct sess *s, int why)
{
	if (kick_n == KICK_MAX) {
		log_warnx("sessions: %d kicks pending, connection %llu kept",
		    KICK_MAX, (unsigned long long)s->s_conn);
		return;
	}
	kick_q[kick_n].k_slot = s->s_slot;
	kick_q[kick_n].k_why = why;
	kick_q[kick_n].k_gen = s->s_gen;
	kick_q[kick_n++].k_conn = s->s_conn;
}

int
coord_session_start(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct sess	*s;
	uint64_t	 key, conn, target;
	int		 slot;

	(void)st;
	(void)rsp;
	if (sess_args(req, &key, &conn, &slot, &target) != 0)
		return -EINVAL;
	if ((s = sess_find(key, 1)) == NULL)
		return -ENOSPC;
	if (s->s_key == key && (s->s_slot != slot || s->s_conn != conn)) {
		sess_kick(s, SHMQ_KICK_REINSTATE);
		log_debug("%s: reinstating nexus %016llx", __func__,
		    (unsigned long long)key);
	}
	s->s_key = key;
	s->s_conn = conn;
	s->s_slot = slot;
	s->s_target = target;
	s->s_gen = req->m_gen;
	return 0;
}

int
coord_session_end(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct sess	*s;
	uint64_t	 key, conn, target;
	int		 slot;

	(void)st;
	(void)rsp;
	if (sess_args(req, &key, &conn, &slot, &target) != 0)
		return -EINVAL;
	if ((s = sess_find(key, 0)) != NULL && s->s_slot == slot &&
	    s->s_conn == conn)
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
		if (s->s_key == 0 || s->s_target != r->r_target ||
		    (s->s_slot == r->r_slot && s->s_conn == r->r_conn))
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
	struct reset	 r;
	uint64_t	 key;

	(void)st;
	(void)rsp;
	if (sess_args(req, &key, &r.r_conn, &r.r_slot, &r.r_target) != 0)
		return -EINVAL;
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
		m.m_type = SHMQ_SESSION_KICK;
		m.m_gen = kick_q[i].k_gen;
		m.m_len = 9;
		be64enc(m.m_data, kick_q[i].k_conn);
		m.m_data[8] = (uint8_t)kick_q[i].k_why;
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
		while (sess_tab[i].s_key != 0 && sess_tab[i].s_slot == slot)
			sess_remove(&sess_tab[i]);
}
