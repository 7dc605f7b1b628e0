/*
 * isctest scenarios on UNMAP of a shared LU: what one initiator's
 * deallocations make the daemon hold (a worker's map log and ring, the
 * coordinator's LMDB records), sent as a stranger would send them.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isctest.h"

#define SCSI_UNMAP	0x42
#define SK_DATA_PROTECT	0x07
#define ASC_SPACE_ALLOC	0x2707
#define UNMAP_DESC	1024		/* SCSI_MAX_UNMAP_DESC */
#define UNMAP_BLOCKS	(1u << 20)	/* SCSI_MAX_UNMAP_BLOCKS */
#define COW_BYTES	4096		/* block-size's default */

/* An UNMAP parameter list of n descriptors (LBA, blocks) into io. */
static void
unmap_io(struct scsi_io *io, uint8_t *pl, const uint64_t *lba,
    const uint32_t *len, size_t n)
{
	size_t	 i, plen = 8 + 16 * n;

	memset(io, 0, sizeof(*io));
	memset(pl, 0, plen);
	be16enc(pl, (uint16_t)(plen - 2));
	be16enc(pl + 2, (uint16_t)(16 * n));
	for (i = 0; i < n; i++) {
		be64enc(pl + 8 + 16 * i, lba[i]);
		be32enc(pl + 16 + 16 * i, len[i]);
	}
	io->io_cdb[0] = SCSI_UNMAP;
	be16enc(io->io_cdb + 7, (uint16_t)plen);
	io->io_out = pl;
	io->io_outlen = plen;
	io->io_edtl = (uint32_t)plen;
}

/* GOOD (1), or SPACE ALLOCATION FAILED (0); anything else fails. */
static int
unmap_answer(const struct scsi_res *res)
{
	if (res->sr_reject >= 0 || res->sr_response != 0)
		fail("UNMAP -> %s", res_str(res));
	if (res->sr_status == ST_GOOD)
		return 1;
	if (res->sr_status == ST_CHECK && sense_key(res) == SK_DATA_PROTECT &&
	    sense_asc(res) == ASC_SPACE_ALLOC)
		return 0;
	fail("UNMAP -> %s", res_str(res));
}

/*
 * -N UNMAPs, each of UNMAP_DESC descriptors: every other COW block, on
 * through the LU (a record each in LMDB, free of quota).  Each is GOOD
 * or SPACE ALLOCATION FAILED (the session's max-map-extents).
 */
void
sc_unmap_stripes(void)
{
	struct login_opts	 lo = login_defaults();
	struct conn		 c;
	struct scsi_io		 io;
	struct scsi_res		 res;
	uint64_t		 lba[UNMAP_DESC], next = 0, per;
	uint32_t		 len[UNMAP_DESC];
	uint8_t			*pl = xmalloc(8 + 16 * UNMAP_DESC);
	int			 i, j, good = 0, full = 0;

	login_ok(&c, &lo);
	do_readcap(&c);
	per = COW_BYTES / c.c_blksz;
	for (i = 0; i < opt.o_many; i++) {
		for (j = 0; j < UNMAP_DESC; j++, next += 2 * per) {
			if (next + per > c.c_blocks)
				next = 0;
			lba[j] = next;
			len[j] = (uint32_t)per;
		}
		unmap_io(&io, pl, lba, len, UNMAP_DESC);
		cmd_finish(&c, cmd_send(&c, &io), &io, &res);
		if (unmap_answer(&res))
			good++;
		else
			full++;
	}
	step("%d UNMAPs GOOD, %d SPACE ALLOCATION FAILED", good, full);
	printf("unmap-stripes: good %d full %d\n", good, full);
	free(pl);
	logout(&c);
}

/*
 * -N UNMAPs of the whole LU (from UNMAP_BLOCKS at most each), all sent
 * before the first answer is read: what a worker holds for them.
 */
void
sc_unmap_whole(void)
{
	struct login_opts	 lo = login_defaults();
	struct conn		 c;
	struct scsi_io		 io;
	struct scsi_res		 res;
	struct pdu		 p;
	uint64_t		 lba = 0;
	uint32_t		 len, *itt;
	uint8_t			 pl[8 + 16];
	int64_t			 t0;
	int			 i, good = 0;

	login_ok(&c, &lo);
	do_readcap(&c);
	len = c.c_blocks < UNMAP_BLOCKS ? (uint32_t)c.c_blocks : UNMAP_BLOCKS;
	unmap_io(&io, pl, &lba, &len, 1);
	itt = xmalloc(sizeof(*itt) * (size_t)opt.o_many);
	t0 = now_ms();
	for (i = 0; i < opt.o_many; i++)
		itt[i] = cmd_send(&c, &io);
	for (i = 0; i < opt.o_many; i++) {	/* in any order */
		reply_wait(&c, &p, "answer to an UNMAP");
		if (pdu_op(&p) != OP_SCSI_RSP)
			fail("unexpected %s", pdu_describe(&p));
		memset(&res, 0, sizeof(res));
		res.sr_reject = -1;
		cmd_response(&p, &res);
		pdu_free(&p);
		good += unmap_answer(&res);
	}
	step("%d UNMAPs of %u blocks: %d GOOD, last answer after %lld ms",
	    opt.o_many, len, good, (long long)(now_ms() - t0));
	free(itt);
	logout(&c);
}
