/*
 * A worker run in-process, for the unit tests and the fuzzing
 * harnesses: set up by worker_init() as worker_main() sets one up, from
 * a real configuration file, with no master and no coordinator process.
 * The test holds the master's end of the control socket, and answers
 * the worker's ring itself (tw_coord_step) as a coordinator whose LMDB
 * never fails, or as its hook says.  Connections are socketpairs handed
 * to the worker with conn_accept() (tw_connect).  A connection the
 * worker hands over comes to the test with its descriptors (tw_hfds),
 * as it would to the master.
 */
#ifndef SCSIPUB_TWORKER_H
#define SCSIPUB_TWORKER_H

#include <stddef.h>
#include <stdint.h>

#include "fdpass.h"
#include "iscsi.h"

struct shmq_msg;

struct tworker {
	char			 tw_dir[512];	/* images/, state/ below */
	int			 tw_ctl;	/* the master's end */
	struct config		*tw_cfg;
	struct worker		 tw_w;
	/* Sees every request before it is answered: 0 or an errno. */
	uint32_t		(*tw_hook)(const struct shmq_msg *, void *);
	void			*tw_arg;
	int			 tw_hold;	/* leave requests unanswered */
	uint32_t		 tw_nclosed;	/* PROC_CONN_CLOSED seen */
	uint32_t		 tw_closed;	/* the last one's id */
	/* The last PROC_HANDOFF_CONN: its id and descriptors, kept. */
	uint32_t		 tw_nhanded;	/* seen */
	uint32_t		 tw_handed;
	int			 tw_hfds[FDPASS_MAX];
	int			 tw_nhfds;	/* not taken by the test yet */
};

/* tests/worker/tworker.c */
int	 tw_dirs(struct tworker *, const char *);
int	 tw_config(struct tworker *, const char *);
int	 tw_start(struct tworker *, const int *, int);
int	 tw_coord_step(struct tworker *);
int	 tw_ctl_read(struct tworker *);
int	 tw_pump(struct tworker *, int (*)(void *), void *);
int	 tw_pass(struct tworker *, int);
int	 tw_connect(struct tworker *, uint32_t);

#endif /* SCSIPUB_TWORKER_H */
