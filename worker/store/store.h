/*
 * The store of a worker: the catalog of base images, the copy-on-write
 * overlays behind logical units (lu.h), provisioned sessions as the
 * coordinator keeps them, and what a command's changes send to the
 * coordinator to become durable.  The transport and the API call it;
 * it knows nothing of iSCSI or HTTP.
 */
#ifndef SCSIPUB_STORE_H
#define SCSIPUB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

struct image;
struct lu_cow;
struct lu_quota;
struct lu_store_ops;
struct psess_limits;
struct psess_mirror;
struct psess_rec;
struct scsi_task;

/* worker/store/catalog.c */
int	 catalog_load(struct worker *);
struct image *catalog_image(struct worker *, const char *);

/* worker/store/commit.c */
int	 commit_send(struct worker *, struct lu_cow *const *, int,
	    const struct scsi_task *, ipc_cb, void *, int *);
void	 commit_cancel(struct worker *, void *);
int	 commit_room(struct worker *, struct lu_cow *const *, int);
uint64_t commit_map_register(struct worker *, struct lu_cow *, const char *);

/* worker/store/rbd.c: a node sharing a Ceph cluster */
extern const struct lu_store_ops lu_rbd_ops;
int	 rbd_store_start(struct worker *);
int	 rbd_catalog_load(struct worker *);
struct lu_cow *rbd_lu_shared(struct worker *, struct image *, const char *,
	    const char *, struct lu_quota *);
void	 rbd_lu_free(struct lu_cow *);

/* worker/store/sanitize.c */
int	 sanitize_init(struct worker *);
int	 sanitize_wait(struct lu_cow *, ipc_cb, void *);
void	 sanitize_cancel(void *);

/* worker/store/sessions.c */
struct psess_mirror *psess_mirror(struct worker *);
void	 psess_path(struct worker *, uint64_t, const char *, char *, size_t);
uint64_t psess_used_bytes(struct worker *, uint64_t);
int	 psess_identity(struct psess_rec *);
int	 psess_create(struct worker *, const struct psess_rec *,
	    const struct psess_limits *, ipc_cb, void *);
int	 psess_delete(struct worker *, uint64_t, ipc_cb, void *);

#endif /* SCSIPUB_STORE_H */
