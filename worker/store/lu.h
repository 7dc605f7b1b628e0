/*
 * Copy-on-write logical units: a read-only base image plus an overlay
 * file at the same offsets and a map of which blocks the overlay holds.
 */
#ifndef SCSIPUB_LU_H
#define SCSIPUB_LU_H

#include <sys/types.h>

#include <stdint.h>

#include "scsi.h"

#define IMAGE_NAME_MAX	64	/* an image's name, with its NUL */

struct image {
	char		 im_name[IMAGE_NAME_MAX];
	char		 im_path[1400];	/* image-dir (1024) + name */
	int		 im_fd;		/* O_RDONLY, never written */
	uint64_t	 im_size;
	int		 im_refs;
	int		 im_gone;	/* removed from the catalog */
	/* Not a file (cluster: an RBD snapshot, worker/store/rbd.c):
	 * read through im_read, im_fd -1. */
	int		(*im_read)(struct image *, void *, size_t, uint64_t);
	void		*im_rbd;
};

/*
 * Quota account shared by the LUs of one session.  A provisioned
 * session's count lives in shared memory (q_shared), so that its
 * connections on every worker draw from one account.
 */
struct lu_quota {
	uint64_t	 q_limit;	/* bytes; 0 = unlimited */
	uint64_t	 q_used;
	uint64_t	*q_shared;	/* used instead of q_used when set */
	char		*q_page;	/* anonymous: its file (lu_quota_hold) */
	int		 q_fd;		/* ... open, locked */
};

#define LU_QUOTA_PAGE	4096	/* a shared counter's file: lu_quota_page */

/*
 * A change of a shared map, for the coordinator's copy in LMDB: a run of
 * blocks that now all hold le_bits.  The coordinator commits each plane
 * (M, Z) as the map file holds it (coordinator/mirror.c), so a run says
 * which blocks to look at and what the quota did, never how they got
 * there: a whole UNMAP is one run whatever the blocks held before.
 */
struct cow_logent {
	uint64_t	 le_first;
	uint32_t	 le_count;
	uint32_t	 le_credit;	/* blocks of the run credited (were M) */
	uint8_t		 le_bits;	/* COWMAP_M, COWMAP_M | COWMAP_Z */
	uint8_t		 le_zchg;	/* some block's Z bit changed */
};

/*
 * What an LU keeps beside its map for WRITE ATOMIC and SANITIZE: a
 * shared LU in its map file's header page (at COWMAP_STORE), where every
 * process serving it sees it and the death of none loses it; a private
 * LU in memory.  The layout is the file's: fixed width, never reordered.
 */
#define LU_PATTERN_MAX	SCSI_PATTERN_MAX	/* OVERWRITE: a block of it */

struct lu_hdr {
	/*
	 * WRITE ATOMIC (lu.c): the slot past the LU's end in the overlay
	 * holds the new data of bytes [h_aoff, h_aoff + h_alen) while
	 * h_aword is odd; it moves by one at each change.
	 */
	uint64_t	 h_aword;
	uint64_t	 h_aoff;
	uint64_t	 h_alen;
	/* SANITIZE (lu.c, sanitize.c) */
	uint32_t	 h_sstate;	/* SCSI_SANITIZE_IDLE, _RUNNING, _FAILED */
	uint8_t		 h_smethod;	/* SCSI_SANITIZE_ERASE, _OVERWRITE */
	uint8_t		 h_sause;	/* a failure may be left by EXIT */
	uint16_t	 h_spatlen;	/* OVERWRITE: one logical block */
	uint64_t	 h_snext;	/* bytes of the LU done */
	uint8_t		 h_spattern[LU_PATTERN_MAX];
};

/* The bytes of the header page locked (OFD) across processes. */
#define LU_LOCK_ATOMIC	0	/* the atomic slot: staging, applying */
#define LU_LOCK_SANITIZE 1	/* held by the process running SANITIZE */
#define LU_LOCK_SWP	2	/* read-locked by processes whose nexuses set SWP */

#define LU_ATOMIC_MAX	(256u << 10)	/* bytes one WRITE ATOMIC may move */

struct lu_job;

struct lu_cow {
	struct image	*cw_image;
	char		*cw_path;	/* anonymous: PATH.ovl and PATH.map */
	int		 cw_ovl;	/* overlay file, -1 until written */
	int		 cw_mapfd;	/* map file */
	uint8_t		*cw_map;	/* 2 bits per block: mapped, zeroed;
					   anonymous: NULL until written */
	size_t		 cw_maplen;
	uint32_t	 cw_bs;		/* COW granularity */
	uint32_t	 cw_shift;
	uint64_t	 cw_nblocks;
	struct lu_quota	*cw_quota;
	struct pr_lu	*cw_pr;		/* reservations: PATH.pr; private: NULL */
	int		 cw_logging;	/* shared: log map changes */
	uint64_t	 cw_luid;	/* the coordinator's id of this map */
	int		 cw_logfail;
	struct cow_logent *cw_log;
	size_t		 cw_nlog;
	size_t		 cw_logcap;
	struct lu_hdr	*cw_hdr;	/* the map file's, or calloc'd */
	struct lu_job	*cw_job;	/* SANITIZE this process runs */
	int		 cw_swp;	/* nexuses here with SWP set */
};

extern const struct lu_store_ops lu_cow_ops;

/* worker/lu.c */
struct lu_cow	*lu_cow_anon(struct image *, const char *, uint32_t,
		    struct lu_quota *, int *);
void		 lu_cow_discard(struct lu_cow *);
void		 lu_anon_discard(const char *);
int		 lu_anon_exists(const char *);
int		 lu_quota_hold(struct lu_quota *);
int		 lu_quota_claim(struct lu_quota *);
void		 lu_quota_release(struct lu_quota *, int);
struct lu_cow	*lu_cow_shared(struct image *, const char *, uint32_t,
		    struct lu_quota *);
void		 lu_cow_free(struct lu_cow *);
void		 lu_cow_log_enable(struct lu_cow *, uint64_t);
ssize_t		 lu_cow_log_take(struct lu_cow *, struct cow_logent **);
uint64_t	 lu_cow_mapped_bytes(const struct lu_cow *);
uint64_t	 lu_cow_file_mapped_bytes(const char *, uint64_t, uint32_t);
uint64_t	*lu_quota_page(const char *, void (*)(uint64_t *, void *),
		    void *);
volatile uint32_t *lu_cow_reset_gen(struct lu_cow *);
struct pr_lu	*lu_cow_pr(struct lu_cow *);
int		 lu_cow_sanitize_step(struct lu_cow *, uint64_t);
void		 lu_cow_sanitize_end(struct lu_cow *, int);
/* the map's log and the quota, for the store's other backends (rbd.c) */
void		 cow_log(struct lu_cow *, uint64_t, uint64_t, int, uint64_t,
		    int);
int		 cow_quota_take(struct lu_cow *, uint64_t);
void		 cow_quota_credit(struct lu_cow *, uint64_t);

/* worker/store/sanitize.c */
int		 sanitize_start(struct lu_cow *);
void		 sanitize_gone(struct lu_cow *);

#endif /* SCSIPUB_LU_H */
