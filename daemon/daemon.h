/*
 * The master process: listeners, children, signals.
 */
#ifndef SCSIPUB_DAEMON_H
#define SCSIPUB_DAEMON_H

#include <sys/types.h>

#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "conns.h"
#include "proc.h"

#define UPGRADE_ENV		"SCSIPUB_UPGRADE"	/* the old master's state */
#define UPGRADE_CHECK_ENV	"SCSIPUB_UPGRADE_CHECK"	/* -n: can we take it? */

#define MASTER_BACKOFF_MIN_MS	100
#define MASTER_BACKOFF_MAX_MS	30000
#define MASTER_DRAIN_SECS	30
#define MASTER_STABLE_SECS	30	/* a child up this long resets backoff */
/*
 * Ring slots a configuration needs: one per worker for the running
 * generation, for each of the draining-generations old ones that keep
 * their TLS connections, and for the next reload's workers, so that a
 * reload finds them free while the oldest generation, asked to log its
 * connections out, is still ending.
 */
#define MASTER_SLOTS(cfg)	((cfg)->c_workers * \
				(int)((cfg)->c_draining_gens + 2))
#define MASTER_HANDOFF_WAIT_MS	5000	/* new workers not all ready: go on */
#define LISTEN_BACKOFF_MIN_MS	100	/* accepts paused after EMFILE */
#define LISTEN_BACKOFF_MAX_MS	2000

/* The kinds of child, an index of procs[] (daemon/master.c). */
enum child_kind {
	CHILD_COORDINATOR = 0,
	CHILD_WORKER,
	CHILD_KINDS
};

/* What the master does for a kind of child: the topology as data. */
#define PROC_F_CTL	0x1	/* a control socket: handed connections */
#define PROC_F_SLOT	0x2	/* a ring slot of its own */
#define PROC_F_API	0x4	/* keeps the api-listen sockets */

struct proc {
	const char	*p_name;	/* in logs */
	const char	*p_title;	/* setproctitle format; %d: ch_index */
	proc_main	 p_main;
	int		 p_flags;	/* PROC_F_* */
};

enum child_state {
	CHILD_IDLE = 0,		/* slot unused */
	CHILD_RUNNING,
	CHILD_DRAINING,		/* old worker handing over or finishing its
				   connections */
	CHILD_WAITING,		/* dead, respawn timer armed */
};

/* An old worker's hand-over (struct child ch_handoff). */
#define HANDOFF_NONE	0	/* draining by logouts, or not draining */
#define HANDOFF_PENDING	1	/* to be told once the new workers are ready */
#define HANDOFF_TOLD	2

struct child {
	enum child_kind	 ch_kind;
	enum child_state ch_state;
	pid_t		 ch_pid;
	int		 ch_index;	/* worker number */
	int		 ch_slot;	/* shm slot */
	int		 ch_ctl;	/* master end of the control socket */
	int		 ch_conns;	/* connections handed and not closed */
	int		 ch_ready;	/* said PROC_READY since its fork */
	int		 ch_handoff;	/* DRAINING: HANDOFF_* */
	uint32_t	 ch_gen;	/* the roll it was started in (m_gen) */
	int		 ch_deaths;	/* consecutive quick deaths, for backoff */
	int		 ch_backoff_ms;
	time_t		 ch_started;	/* for the backoff reset */
	struct event	*ch_ev;		/* control socket reads */
	struct event	*ch_timer;	/* respawn */
	struct master	*ch_master;
};

struct conns;
struct pack;

struct listener {
	int		 l_fd;
	enum listen_kind l_kind;
	char		 l_text[80];
	struct event	*l_ev;
	struct master	*l_master;
};

struct master {
	struct event_base	*m_base;
	struct config		*m_cfg;
	const char		*m_cfgpath;
	int			 m_debug;
	int			 m_verbose;
	struct listener		 m_listen[CFG_MAX_LISTEN];
	int			 m_nlisten;
	struct shmq_region	*m_region;
	int			 m_nslots;
	struct child		 m_coord;
	struct child		*m_workers;	/* m_nslots entries */
	uint32_t		 m_gen;		/* rolls of the workers so far */
	int			 m_stopping;	/* 1 graceful, 2 now */
	int			 m_exitcode;
	struct event		*m_drain_timer;
	struct conns		*m_conns;	/* handed to workers, counted */
	uint64_t		 m_refused;	/* over a limit, since last said */
	time_t			 m_refused_said;
	const char		*m_refused_why;
	int			 m_backoff_ms;	/* accept paused: EMFILE */
	int			 m_waitready;	/* accept paused: none ready */
	struct event		*m_resume;
	struct event		*m_handoff_timer;
	char			 m_pidfile[CFG_PATH_MAX + 16];
	char			 m_exe[CFG_PATH_MAX];	/* to execute on SIGUSR2 */
	char			**m_argv;	/* as started */
	void			*m_sslctx;	/* SSL_CTX workers inherit */
};

/* daemon/listen.c */
int	listen_open(struct master *, const struct config *, FILE *);
void	listen_close(struct master *);
void	listen_enable(struct master *);
void	listen_disable(struct master *);

/* daemon/master.c */
void	master_run(struct master *, int);
void	master_spawn_all(struct master *);
int	master_pick_worker(struct master *);
int	master_accepting(struct master *);
void	master_handoff(struct master *, int, enum listen_kind,
	    const struct sockaddr *, socklen_t);

/* daemon/upgrade.c */
int	upgrade_record(struct master *);
void	upgrade_exec(struct master *);
int	upgrade_can_take(const char *);
int	upgrade_restore(struct master *, int);

/* daemon/priv.c */
int	 priv_state_dir(const struct config *, FILE *);
int	 priv_probe(const struct config *, FILE *);
int	 priv_drop(const struct config *, const char **);

/* daemon/tls.c */
void	*tls_load(const struct config *, FILE *, int *);
void	 tls_free(void *);

#endif /* SCSIPUB_DAEMON_H */
