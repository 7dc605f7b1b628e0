/*
 * A worker process: its event loop, its connections and targets (kept
 * here, used by the layers: worker/iscsi, worker/store, worker/api), the
 * ring to the coordinator.  Every layer may include this; it includes
 * no layer's header.  How the layers fit: HACKING.md.
 */
#ifndef SCSIPUB_WORKER_H
#define SCSIPUB_WORKER_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"

struct api_conns;
struct conn;
struct defer;
struct image;
struct ipc;
struct lu_cow;
struct pendaddr;
struct proc_env;
struct shmq_msg;
struct shmq_region;
struct target;
struct task;

TAILQ_HEAD(connlist, conn);
TAILQ_HEAD(targetlist, target);
TAILQ_HEAD(tasklist, task);

struct worker {
	struct event_base	*w_base;
	struct config		*w_cfg;
	int			 w_ctl;		/* control socket from the master */
	struct event		*w_ctlev;
	int			 w_draining;
	int			 w_drain_armed;	/* logouts asked, timeout armed */
	int			 w_handoff;	/* handing connections over */
	struct event		*w_handoffev;
	unsigned		 w_handedover;
	int			 w_nofd;	/* out of descriptors, said so */
	struct shmq_region	*w_region;
	int			 w_slot;
	struct ipc		*w_ipc;

	/* worker/iscsi: connections and targets */
	struct connlist		 w_conns;
	int			 w_nconns;
	struct targetlist	 w_targets;
	uint64_t		 w_nextid;
	uint16_t		 w_tsih;
	void			*w_sslctx;
	uint64_t		 w_nopin_interval;
	uint64_t		 w_nopin_timeout;
	uint64_t		 w_pendbytes;	/* max-pending-data-worker */
	struct tasklist		 w_waitq;	/* writes waiting for room */
	struct event		*w_grantev;	/* room came back */
	struct connlist		 w_taskconns;	/* with tasks, by c_dataout_ns */
	struct event		*w_stallev;	/* dataout-timeout: the oldest */
	LIST_HEAD(, pendaddr)	 w_pendaddrs;	/* max-pending-data-address */
	TAILQ_HEAD(, defer)	 w_steps;	/* commands running in steps */
	struct event		*w_stepev;	/* their next steps */

	/* worker/store: the catalog */
	struct image		**w_images;	/* by name */
	int			 w_nimages;
	char			 w_ovldir[CFG_PATH_MAX + 16];	/* private overlays */

	/* worker/api */
	void			*w_api;
	struct api_conns	*w_apiconns;
};

/* worker/worker.c */
int	 worker_init(struct worker *, struct proc_env *);
int	 worker_main(struct proc_env *);
void	 worker_drain(struct worker *);
void	 worker_tell(struct worker *, uint32_t, uint32_t);

/* worker/iscsi/stats.c: what the API reports */
void	 stats_publish(struct worker *);

/* worker/ipc.c */
typedef void (*ipc_cb)(struct worker *, const struct shmq_msg *, void *);
int	 ipc_start(struct worker *, ipc_cb);
int	 ipc_request(struct worker *, struct shmq_msg *, ipc_cb, void *);
int	 ipc_post(struct worker *, struct shmq_msg *);
void	 ipc_cancel(struct worker *, void *);
size_t	 ipc_backlog(const struct worker *);

#endif /* SCSIPUB_WORKER_H */
