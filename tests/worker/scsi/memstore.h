/*
 * An in-memory lu_store_ops for the worker's SCSI tests, and a small
 * harness that runs one CDB through scsi_cmd_decode/scsi_cmd_exec (and
 * then its steps, as the transport would, unless the test holds them).
 */
#ifndef SCSIPUB_TESTS_MEMSTORE_H
#define SCSIPUB_TESTS_MEMSTORE_H

#include <stdint.h>

#include "scsi.h"

struct memstore {
	uint8_t		*ms_data;
	uint8_t		*ms_map;	/* one bit a block: written */
	uint64_t	 ms_blocks;
	uint32_t	 ms_blksz;
	int		 ms_fail_read;	/* negative errno for the next read */
	int		 ms_fail_write;	/* ... write */
	int		 ms_syncs;
	int		 ms_unmaps;
	int		 ms_atomic_writes;
	uint32_t	 ms_atomic_unit;	/* bytes; max 0: no atomic write */
	uint32_t	 ms_atomic_max;
	int		 ms_san_state;		/* SCSI_SANITIZE_* */
	int		 ms_san_method;
	int		 ms_san_ause;
	uint8_t		 ms_san_pattern[SCSI_PATTERN_MAX];
	int		 ms_sanitizes;		/* started */
	int		 ms_wp_holds;		/* SWP held by nexuses here */
	int		 ms_wp_elsewhere;	/* ... and by another process */
	uint64_t	 ms_io_bytes;	/* read, written, unmapped: in all */
	uint64_t	 ms_io_max;	/* ... by one call at most */
};

extern const struct lu_store_ops memstore_ops;

struct memstore	*memstore_new(uint64_t, uint32_t);
void		 memstore_free(struct memstore *);
int		 memstore_mapped(const struct memstore *, uint64_t);
void		 memstore_sanitize_end(struct memstore *, int);

/* One LU over a memstore at LUN 0 of a nexus; tasks run against it. */
struct mtest {
	struct memstore		*mt_ms;
	struct scsi_lu		 mt_lu;
	struct scsi_nexus	*mt_nx;
	struct scsi_task	 mt_t;
	uint8_t			*mt_din;
	uint32_t		 mt_dincap;
	uint32_t		 mt_edtl;	/* 0: Data-Out length or dincap */
	int			 mt_decode;	/* what scsi_cmd_decode returned */
	enum scsi_dir		 mt_dir;
	uint32_t		 mt_len;
	int			 mt_hold;	/* leave a command's steps to the test */
	int			 mt_steps;	/* steps run after the handler */
};

#define MT_DINCAP	(2u << 20)

void	 mtest_init(struct mtest *, uint64_t, uint32_t);
void	 mtest_fini(struct mtest *);
struct scsi_nexus *mtest_nexus(const char *, uint16_t);
int	 mtest_run(struct mtest *, struct scsi_nexus *, uint64_t,
	    const uint8_t *, const void *, uint32_t);
int	 mtest_cmd(struct mtest *, const uint8_t *, const void *, uint32_t);
void	 mtest_clear_ua(struct mtest *, struct scsi_nexus *, uint64_t);
int	 mtest_key(const struct mtest *);
int	 mtest_asc(const struct mtest *);	/* asc << 8 | ascq */
int	 mtest_info(const struct mtest *, uint64_t *);
int	 mtest_sks(const struct mtest *, uint32_t *);

#endif /* SCSIPUB_TESTS_MEMSTORE_H */
