/*
 * A worker's counters, published once a second in its shmq slot so that
 * /status and /metrics, on whichever worker serves them, see every
 * worker: connections, bytes and commands (totals and over the last
 * second).  The tick also gives an idle worker's pooled buffers back.
 */
#include <sys/types.h>

#include <string.h>

#include <event2/event.h>

#include "bufpool.h"
#include "iscsi.h"
#include "log.h"
#include "shmq.h"

static struct {
	uint64_t		 st_rbytes;	/* of closed connections */
	uint64_t		 st_wbytes;
	uint64_t		 st_cmds;
	struct shmq_wstats	 st_last;	/* published a second ago */
	struct event		*st_timer;
	int			 st_index;
} stats;

void
stats_conn_gone(const struct conn *c)
{
	stats.st_rbytes += c->c_rbytes;
	stats.st_wbytes += c->c_wbytes;
	stats.st_cmds += c->c_ncmds;
}

static void
stats_collect(struct worker *w, struct shmq_wstats *ws)
{
	struct conn	*c;

	memset(ws, 0, sizeof(*ws));
	ws->ws_index = (uint64_t)stats.st_index;
	ws->ws_conns = (uint64_t)w->w_nconns;
	ws->ws_rbytes = stats.st_rbytes;
	ws->ws_wbytes = stats.st_wbytes;
	ws->ws_cmds = stats.st_cmds;
	TAILQ_FOREACH(c, &w->w_conns, c_entry) {
		ws->ws_rbytes += c->c_rbytes;
		ws->ws_wbytes += c->c_wbytes;
		ws->ws_cmds += c->c_ncmds;
	}
}

/* Totals now, rates as of the last tick. */
void
stats_publish(struct worker *w)
{
	struct shmq_wstats	 ws;

	stats_collect(w, &ws);
	ws.ws_rbytes_ps = stats.st_last.ws_rbytes_ps;
	ws.ws_wbytes_ps = stats.st_last.ws_wbytes_ps;
	ws.ws_cmds_ps = stats.st_last.ws_cmds_ps;
	shmq_wstats_set(w->w_region, w->w_slot, &ws);
}

static void
stats_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct worker		*w = arg;
	struct shmq_wstats	 ws, *last = &stats.st_last;

	(void)fd;
	(void)ev;
	stats_collect(w, &ws);
	ws.ws_rbytes_ps = ws.ws_rbytes - last->ws_rbytes;
	ws.ws_wbytes_ps = ws.ws_wbytes - last->ws_wbytes;
	ws.ws_cmds_ps = ws.ws_cmds - last->ws_cmds;
	*last = ws;
	shmq_wstats_set(w->w_region, w->w_slot, &ws);
	if (w->w_nconns == 0)
		buf_trim();	/* an idle worker keeps no buffers */
}

int
stats_start(struct worker *w, int index)
{
	struct timeval	 tv = { 1, 0 };

	stats.st_index = index;
	stats.st_timer = event_new(w->w_base, -1, EV_PERSIST, stats_tick, w);
	if (stats.st_timer == NULL || event_add(stats.st_timer, &tv) == -1)
		return -1;
	stats_publish(w);
	return 0;
}
