/*
 * What the master hands a child process at fork: the topology of
 * scsipub as data.  One entry function per process.
 */
#ifndef SCSIPUB_PROC_H
#define SCSIPUB_PROC_H

#include "config.h"

struct shmq_region;
struct worker;

/* Worker to master messages on the control socket (SOCK_SEQPACKET). */
enum proc_ctlmsg {
	PROC_CONN_CLOSED = 1,	/* one connection ended */
	PROC_READY,		/* worker initialised, may take connections */
};

struct proc_env {
	struct config		*pe_cfg;
	struct shmq_region	*pe_region;
	int			 pe_slot;	/* shm ring slot */
	int			 pe_index;	/* worker number, for titles */
	int			 pe_ctl;	/* control socket to the master */
	int			 pe_api[CFG_MAX_LISTEN];	/* api listeners */
	int			 pe_napi;
	int			 pe_debug;
	void			*pe_sslctx;	/* loaded SSL_CTX, or NULL */
};

/* worker/worker.c */
int	worker_init(struct worker *, struct proc_env *);
int	worker_main(struct proc_env *);

#endif /* SCSIPUB_PROC_H */
