/*
 * The coordinator's registry of live iSCSI sessions, keyed by I_T nexus
 * (initiator name and ISID, hashed by the worker).  A login whose nexus
 * is already live elsewhere reinstates it: the worker holding the old
 * connection is told to close it, on whichever worker it is.  The
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

struct sess {
	uint64_t	 s_key;		/* 0: free */
	uint64_t	 s_conn;
	int		 s_slot;
};

struct kick {
	int		 k_slot;
	uint64_t	 k_conn;
};

static struct sess	 sess_tab[SESS_MAX];
static struct kick	 kick_q[KICK_MAX];
static int		 kick_n;

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
    int *slot)
{
	if (req->m_len != SHMQ_SESSION_LEN)
		return -EINVAL;
	*key = be64dec(req->m_data);
	*conn = be64dec(req->m_data + 8);
	*slot = (int)be32dec(req->m_data + 16);
	return *key == 0 ? -EINVAL : 0;
}

int
coord_session_start(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct sess	*s;
	uint64_t	 key, conn;
	int		 slot;

	(void)st;
	(void)rsp;
	if (sess_args(req, &key, &conn, &slot) != 0)
		return -EINVAL;
	if ((s = sess_find(key, 1)) == NULL)
		return -ENOSPC;
	if (s->s_key == key && (s->s_slot != slot || s->s_conn != conn) &&
	    kick_n < KICK_MAX) {
		kick_q[kick_n].k_slot = s->s_slot;
		kick_q[kick_n++].k_conn = s->s_conn;
		log_debug("%s: reinstating nexus %016llx", __func__,
		    (unsigned long long)key);
	}
	s->s_key = key;
	s->s_conn = conn;
	s->s_slot = slot;
	return 0;
}

int
coord_session_end(struct store *st, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct sess	*s;
	uint64_t	 key, conn;
	int		 slot;

	(void)st;
	(void)rsp;
	if (sess_args(req, &key, &conn, &slot) != 0)
		return -EINVAL;
	if ((s = sess_find(key, 0)) != NULL && s->s_slot == slot &&
	    s->s_conn == conn)
		sess_remove(s);
	return 0;
}

/* Deliver the pending kicks; those that find no room wait. */
void
coord_session_kicks(struct shmq_region *region)
{
	struct shmq_msg	 m;
	int		 i, kept = 0;

	for (i = 0; i < kick_n; i++) {
		memset(&m, 0, sizeof(m));
		m.m_type = SHMQ_SESSION_KICK;
		m.m_len = 8;
		be64enc(m.m_data, kick_q[i].k_conn);
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
