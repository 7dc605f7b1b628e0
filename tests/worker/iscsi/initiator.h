/*
 * The initiator's end of a connection to an in-process worker
 * (tests/worker/tworker.h), for the unit tests of worker/iscsi: PDUs
 * sent with the digests in force, the target's PDUs read (and their
 * digests checked) while the worker's loop runs, a login in one PDU,
 * and SCSI commands carried through R2T and Data-In.  Failures are
 * Check assertions.
 */
#ifndef SCSIPUB_TEST_INITIATOR_H
#define SCSIPUB_TEST_INITIATOR_H

#include <stddef.h>
#include <stdint.h>

#include "iscsiproto.h"
#include "tworker.h"

#define TI_REPLY_MS	3000	/* how long an expected answer may take */
#define TI_INITIATOR	"iqn.2025-01.test:initiator"

#define TI_PREFIX	"iqn.2025-01.pub.test"
#define TI_ALPHA_SIZE	(1024 * 1024)	/* images/alpha.img */
#define TI_BETA_SIZE	(256 * 1024)	/* images/beta.img */

#define TI_NONE		0	/* ti_scsi: no data, */
#define TI_READ		1	/* Data-In, */
#define TI_WRITE	2	/* or Data-Out */

struct tpdu {
	uint8_t		 p_bhs[ISCSI_BHS_LEN];
	uint8_t		*p_data;	/* NUL past the end */
	uint32_t	 p_dlen;
};

struct tini {
	struct tworker	*i_tw;
	int		 i_fd;		/* -1 once closed */
	uint32_t	 i_mid;		/* the master's id of it */
	uint8_t		*i_rx;		/* read, not parsed yet */
	size_t		 i_rxlen;
	size_t		 i_rxcap;
	int		 i_eof;
	int		 i_hd;		/* digests in force */
	int		 i_dd;
	uint8_t		 i_isid[6];
	uint32_t	 i_itt;		/* next Initiator Task Tag */
	uint32_t	 i_cmdsn;	/* next CmdSN */
	uint32_t	 i_expstatsn;
	uint32_t	 i_expcmdsn;	/* the target's, from its last PDU */
	uint32_t	 i_maxcmdsn;
	/* Negotiated. */
	uint32_t	 i_mrdsl;	/* the target's */
	uint32_t	 i_first_burst;
	uint32_t	 i_max_burst;
	int		 i_immediate;
	int		 i_initial_r2t;
};

/* What a SCSI command returned (ti_scsi). */
struct tres {
	uint8_t		 r_status;
	uint8_t		 r_flags;	/* byte 1 of the response: O, U */
	uint32_t	 r_residual;
	uint8_t		 r_key;		/* sense key, with CHECK CONDITION */
	uint16_t	 r_asc;		/* ASC << 8 | ASCQ */
	uint32_t	 r_din;		/* Data-In bytes received */
};

/* tests/worker/iscsi/initiator.c */
void		 ti_worker_dirs(struct tworker *, const char *);
void		 ti_worker_config(struct tworker *, const char *);
void		 ti_worker(struct tworker *, const char *, const char *);
void		 ti_worker_done(struct tworker *);
uint8_t		 ti_image_byte(const char *, uint64_t);
void		 ti_open(struct tini *, struct tworker *, uint32_t);
void		 ti_close(struct tini *);
void		 ti_bhs(uint8_t *, uint8_t, uint8_t);
void		 ti_write(struct tini *, const void *, size_t);
size_t		 ti_pdu(const struct tini *, uint8_t *, const void *,
		    uint32_t, uint8_t *);
void		 ti_send(struct tini *, uint8_t *, const void *, uint32_t);
int		 ti_recv(struct tini *, struct tpdu *, int);
void		 ti_expect_any(struct tini *, struct tpdu *);
void		 ti_expect(struct tini *, struct tpdu *, uint8_t);
int		 ti_silent(struct tini *);
int		 ti_closed(struct tini *, int);
void		 ti_pdu_free(struct tpdu *);
const char	*ti_key(const struct tpdu *, const char *);
uint16_t	 ti_login(struct tini *, const char *, const char *);
void		 ti_login_ok(struct tini *, const char *, const char *);
uint32_t	 ti_cmd(struct tini *, uint8_t, uint64_t, const uint8_t *,
		    uint32_t, const void *, uint32_t);
int		 ti_tmf(struct tini *, int, uint64_t, uint32_t);
void		 ti_dataout(struct tini *, uint32_t, uint32_t, uint32_t,
		    uint32_t, const void *, uint32_t, int);
void		 ti_sequence(struct tini *, uint32_t, uint32_t, const uint8_t *,
		    uint32_t, uint32_t);
void		 ti_response(struct tini *, uint32_t, struct tres *);
void		 ti_scsi(struct tini *, uint64_t, const uint8_t *, void *,
		    uint32_t, int, struct tres *);
void		 ti_rw10(uint8_t *, uint8_t, uint32_t, uint16_t);
void		 ti_identity(struct tini *, int, char *, size_t);

#endif /* SCSIPUB_TEST_INITIATOR_H */
