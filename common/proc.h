/*
 * What the master hands a child process at fork, and what a child and
 * the master say to each other: one entry function per process, all of
 * one type (daemon/master.c lists them in its procs[] table).
 */
#ifndef SCSIPUB_PROC_H
#define SCSIPUB_PROC_H

#include <stdint.h>
#include <sysexits.h>

#include "config.h"

struct shmq_region;

/*
 * Exit statuses: 0, EXIT_FAILURE (respawned, with backoff), or EX_CONFIG
 * (78, from sysexits.h, the one name for it): a configuration or setup
 * error that a restart cannot fix.  The master respawns no child that
 * exits EX_CONFIG: it stops the others and exits EX_CONFIG itself.
 */
/*
 * Worker to master on the control socket (SOCK_SEQPACKET), one struct
 * proc_ctlmsg a datagram, in the host's byte order (both ends are on
 * one machine, of one build).
 */
enum proc_ctltype {
	PROC_CONN_CLOSED = 1,	/* pc_arg: the id of a connection that ended */
	PROC_READY,		/* initialised: may be handed connections */
};

struct proc_ctlmsg {
	uint32_t	 pc_type;	/* enum proc_ctltype */
	uint32_t	 pc_arg;
};

struct proc_env {
	struct config		*pe_cfg;
	struct shmq_region	*pe_region;
	int			 pe_slot;	/* shm ring slot, or -1 */
	int			 pe_index;	/* worker number, for titles */
	int			 pe_ctl;	/* control socket, or -1 */
	int			 pe_api[CFG_MAX_LISTEN];	/* api listeners */
	int			 pe_napi;
	int			 pe_debug;
	void			*pe_sslctx;	/* loaded SSL_CTX, or NULL */
};

/* A process's entry function: its exit status. */
typedef int (*proc_main)(struct proc_env *);

#endif /* SCSIPUB_PROC_H */
