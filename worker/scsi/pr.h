/*
 * Persistent reservations (SPC-4 5.13) and RESERVE/RELEASE(6/10) of a
 * logical unit, enforced on every command from the state in
 * common/prstate.h that every worker serving the LU maps.
 */
#ifndef SCSIPUB_PR_H
#define SCSIPUB_PR_H

#include <stdint.h>

#include "prstate.h"
#include "scsi.h"

/* Persistent reservation types (SPC-4 table 177). */
#define PR_TYPE_WE	0x1	/* Write Exclusive */
#define PR_TYPE_EA	0x3	/* Exclusive Access */
#define PR_TYPE_WE_RO	0x5	/* Write Exclusive, Registrants Only */
#define PR_TYPE_EA_RO	0x6	/* Exclusive Access, Registrants Only */
#define PR_TYPE_WE_AR	0x7	/* Write Exclusive, All Registrants */
#define PR_TYPE_EA_AR	0x8	/* Exclusive Access, All Registrants */

/*
 * The longest PERSISTENT RESERVE OUT parameter list: the basic 24 bytes,
 * then with SPEC_I_PT a TransportID (iSCSI name, ",i,0x" and an ISID,
 * padded) for each nexus there is room for.
 */
#define PR_OUT_MAX_PARAM	(24 + 4 + PR_MAX_NEXUS * (4 + PR_NAME_MAX + 24))

/* What a nexus last saw of the state: scsi_lunex ln_prflags. */
#define PRF_REG		0x01	/* registered */
#define PRF_HOLDER	0x02	/* holds the persistent reservation */
#define PRF_R6MINE	0x04	/* holds RESERVE(6) */
#define PRF_R6OTHER	0x08	/* another nexus holds RESERVE(6) */

/* worker/pr.c */
void		 pr_sync(struct scsi_lunex *);
int		 pr_check(struct scsi_task *, const struct scsi_cmd *,
		    struct scsi_lunex *);
int		 pr_enabled(const struct scsi_lu *);
void		 pr_nexus_loss(struct scsi_lunex *);
void		 pr_nexus_moved(struct scsi_lunex *);
int		 pr_anon_load(struct scsi_lu *, const void *, size_t);
void		 pr_lun_reset(struct scsi_lu *);
scsi_handler_t	 pr_reserve6, pr_release6, pr_in_cmd, pr_out_cmd;
scsi_xferlen_t	 pr_xfer_out;

#endif /* SCSIPUB_PR_H */
