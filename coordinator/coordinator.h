/*
 * The coordinator: the only process that opens the LMDB environment.
 * It drains the workers' request rings, executes a whole batch of
 * requests in one write transaction, commits, then answers them all.
 */
#ifndef SCSIPUB_COORDINATOR_H
#define SCSIPUB_COORDINATOR_H

#include <stddef.h>
#include <stdint.h>

#include "shmq.h"

#define COORD_SCHEMA		1	/* layout of the named databases */
#define COORD_EXIT_CONFIG	78	/* EX_CONFIG: do not respawn */

#define STORE_MAPSIZE_DEFAULT	((size_t)1 << 30)
#define STORE_KEY_MAX		255	/* KV keys */

struct store;
struct shmq_msg;
struct shmq_region;

/* coordinator/coordinator.c */
int	 coordinator_main(const char *, size_t, struct shmq_region *, int);

/* coordinator/store.c */
int	 store_open(struct store **, const char *, size_t);
void	 store_close(struct store *);
int	 store_errno(int);
int	 store_begin(struct store *, int);
int	 store_commit(struct store *);
void	 store_abort(struct store *);
int	 store_failed(const struct store *);
int	 store_sync(struct store *);
int	 store_schema_get(struct store *, uint32_t *);
int	 store_schema_put(struct store *, uint32_t);
int	 store_map_set(struct store *, uint64_t, uint64_t, uint64_t);
int	 store_map_clear(struct store *, uint64_t, uint64_t, uint64_t);
int	 store_map_lookup(struct store *, uint64_t, uint64_t, uint64_t *,
	    uint64_t *);
int	 store_kv_put(struct store *, const void *, size_t, const void *,
	    size_t);
int	 store_kv_get(struct store *, const void *, size_t, void *, size_t,
	    size_t *);
int	 store_kv_del(struct store *, const void *, size_t);
int	 store_map_foreach(struct store *, uint64_t,
	    int (*)(void *, uint64_t, uint64_t), void *);
int	 store_kv_foreach(struct store *, const void *, size_t,
	    int (*)(void *, const uint8_t *, size_t, const uint8_t *, size_t),
	    void *);
int	 store_psess_put(struct store *, uint64_t, const void *, size_t);
int	 store_psess_get(struct store *, uint64_t, void *, size_t, size_t *);
int	 store_psess_del(struct store *, uint64_t);
int	 store_psess_foreach(struct store *, int (*)(uint64_t, const void *,
	    size_t, void *), void *);

/* coordinator/session.c */
int	 coord_session_start(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_session_end(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_target_reset(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
void	 coord_session_kicks(struct shmq_region *);
void	 coord_session_forget_slot(int);

/* coordinator/psess.c */
int	 coord_psess_init(struct store *, const char *, struct shmq_region *);
void	 coord_psess_fini(void);
void	 coord_psess_periodic(struct store *);
void	 coord_psess_work(void);
int	 coord_psess_luns(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_psess_create(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_psess_delete(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_psess_touch(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);

/* coordinator/mirror.c */
int	 coord_mirror_init(struct store *, const char *);
void	 coord_mirror_fini(void);
int	 coord_map_register(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_mirror_commit(struct store *, uint64_t, uint64_t, uint64_t);
int	 coord_mirror_forget(struct store *, const char *);
int	 coord_mirror_name_ok(const char *, size_t);

/* coordinator/prmirror.c */
int	 coord_prmirror_init(struct store *, const char *);
void	 coord_prmirror_fini(void);
int	 coord_pr_commit(struct store *, const struct shmq_msg *,
	    struct shmq_msg *);
int	 coord_prmirror_forget(struct store *, const char *);

#endif /* SCSIPUB_COORDINATOR_H */
