/*
 * The SCSI layer of a worker: one opcode table per device type, sense
 * data, unit attentions and the logical units behind a target.  The
 * transport (worker/iscsi.c) hands a decoded command here as a scsi_task
 * and gets back status, sense and Data-In.
 */
#ifndef SCSIPUB_SCSI_H
#define SCSIPUB_SCSI_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "sense.h"

#define SCSI_MAX_LUNS		256
#define SCSI_SENSE_MAX		252

/* Status codes (SAM-5). */
#define SCSI_GOOD		0x00
#define SCSI_CHECK_CONDITION	0x02
#define SCSI_CONDITION_MET	0x04
#define SCSI_BUSY		0x08
#define SCSI_RESERVATION_CONFLICT 0x18
#define SCSI_TASK_SET_FULL	0x28
#define SCSI_TASK_ABORTED	0x40

/* Task attributes as carried in the iSCSI SCSI Command PDU. */
#define SCSI_ATTR_UNTAGGED	0
#define SCSI_ATTR_SIMPLE	1
#define SCSI_ATTR_ORDERED	2
#define SCSI_ATTR_HEAD		3
#define SCSI_ATTR_ACA		4

enum scsi_dir {
	SCSI_DIR_NONE = 0,
	SCSI_DIR_READ,		/* Data-In: target to initiator */
	SCSI_DIR_WRITE,		/* Data-Out: initiator to target */
};

/* Unit attention conditions, one bit each, reported highest first. */
#define UA_POWER_ON		0x0001	/* ASC_POWER_ON_RESET */
#define UA_BUS_RESET		0x0002	/* ASC_BUS_DEVICE_RESET: LUN RESET etc */
#define UA_NEXUS_LOSS		0x0004	/* ASC_I_T_NEXUS_LOSS */
#define UA_MODE_CHANGED		0x0008	/* ASC_MODE_PARAMS_CHANGED */
#define UA_RESV_PREEMPTED	0x0010	/* ASC_RESERVATIONS_PREEMPTED */
#define UA_RESV_RELEASED	0x0020	/* ASC_RESERVATIONS_RELEASED */
#define UA_REG_PREEMPTED	0x0040	/* ASC_REGISTRATIONS_PREEMPTED */
#define UA_CAPACITY_CHANGED	0x0080	/* ASC_CAPACITY_CHANGED */
#define UA_LUNS_CHANGED		0x0100	/* ASC_LUNS_DATA_CHANGED */
#define UA_CMDS_CLEARED		0x0200	/* ASC_COMMANDS_CLEARED_BY_OTHER */
#define UA_MEDIUM_CHANGED	0x0400	/* ASC_MEDIUM_MAY_HAVE_CHANGED */

struct scsi_sanitize;

/*
 * Storage behind a logical unit.  Offsets and lengths are in bytes and
 * always block aligned.  Each returns 0 or a negative errno; -ENOSPC and
 * -EDQUOT become SPACE ALLOCATION FAILED, -EAGAIN (not serving for now)
 * NOT READY, BECOMING READY, anything else MEDIUM ERROR.
 */
struct lu_store_ops {
	int	(*so_read)(void *, void *, size_t, uint64_t);
	int	(*so_write)(void *, const void *, size_t, uint64_t);
	int	(*so_unmap)(void *, uint64_t, uint64_t);
	int	(*so_sync)(void *);
	/* Is the run starting at off mapped (written) or deallocated?  Sets
	 * *len to the length of the run of the same state (at most the
	 * input *len). */
	int	(*so_status)(void *, uint64_t, uint64_t *, int *);
	/* Hold (on) or let go of bytes [off, off + len) against every other
	 * process serving the store; NULL when one process is all there is.
	 * COMPARE AND WRITE holds its blocks. */
	int	(*so_excl)(void *, uint64_t, uint64_t, int);
	/*
	 * WRITE ATOMIC: bytes [off, off + len) all written or none, as every
	 * reader sees them and across the death of any process; NULL when
	 * the store cannot promise it.  so_atomic_limits: the unit offsets
	 * and lengths are multiples of, and the most one write may be.
	 */
	int	(*so_write_atomic)(void *, const void *, size_t, uint64_t);
	void	(*so_atomic_limits)(void *, uint32_t *, uint32_t *);
	/*
	 * SANITIZE (worker/scsi/sanitize.c): start one, which the store
	 * runs in the background (-EBUSY: one runs already); the LU's
	 * state as every process serving it sees it; leave a failed one.
	 * NULL: the store cannot sanitize.
	 */
	int	(*so_sanitize)(void *, const struct scsi_sanitize *);
	void	(*so_sanitize_state)(void *, struct scsi_sanitize *);
	void	(*so_sanitize_exit)(void *);
	/*
	 * A software write protect (SWP) that nexuses here hold on (1) or
	 * let go of (0), and whether a nexus in another process holds one:
	 * SANITIZE erases the LU for every nexus, so it honours them all.
	 */
	int	(*so_wp_hold)(void *, int);
	int	(*so_wp_elsewhere)(void *);
};

/* What SANITIZE asks of the store, and the state it reports. */
#define SCSI_SANITIZE_IDLE	0
#define SCSI_SANITIZE_RUNNING	1
#define SCSI_SANITIZE_FAILED	2

#define SCSI_SANITIZE_ERASE	1	/* every block reads zeros after */
#define SCSI_SANITIZE_OVERWRITE	2	/* every block reads sz_pattern after */

#define SCSI_PATTERN_MAX	512	/* the largest logical block */

struct scsi_sanitize {
	int			 sz_state;	/* SCSI_SANITIZE_IDLE... */
	int			 sz_method;	/* SCSI_SANITIZE_ERASE... */
	int			 sz_ause;	/* a failure may be left by EXIT */
	uint16_t		 sz_progress;	/* RUNNING: done, of 65536 */
	uint32_t		 sz_blksz;	/* OVERWRITE: a logical block... */
	const uint8_t		*sz_pattern;	/* ... of the pattern, repeated */
};

struct pr_lu;
struct scsi_nexus;
struct scsi_task;
struct scsi_lu;

/* Limits of one command, reported in VPD Block Limits and enforced. */
#define SCSI_MAX_XFER_BYTES	(16u << 20)	/* READ/WRITE/VERIFY, at most */
#define SCSI_MAX_CAW_BLOCKS	255		/* COMPARE AND WRITE */
#define SCSI_MAX_WS_BLOCKS	0xffffu		/* WRITE SAME, and at most SCSI_MAX_XFER_BYTES */
#define SCSI_MAX_UNMAP_BLOCKS	(1u << 20)	/* UNMAP, whole parameter list */
#define SCSI_MAX_UNMAP_DESC	1024		/* UNMAP block descriptors */
#define SCSI_OPT_GRAN_BYTES	4096		/* optimal transfer/unmap granularity */

/*
 * Parameter lists: the most a command may send, what its descriptors
 * can need; a longer PARAMETER LIST LENGTH is refused before any data
 * is buffered.  UNMAP and MODE SELECT(6) need no cap: their length
 * fields hold at most 64 KiB and 255 bytes.
 */
#define SCSI_XCOPY_MAX_LIST	1024	/* EXTENDED COPY descriptors, reported */
#define SCSI_XCOPY_MAX_PARAM	(16 + SCSI_XCOPY_MAX_LIST)	/* no inline data */
#define SCSI_MSEL_MAX_PARAM	4096	/* MODE SELECT(10): header and pages */

/*
 * One opcode (or service action) of a device type's command table.  A
 * handler runs with the CDB already checked against c_usage (a bit set
 * there is a bit the device server looks at; anything else is
 * INVALID FIELD IN CDB), so REPORT SUPPORTED OPERATION CODES and the
 * checks cannot drift apart.
 */
typedef void	 scsi_handler_t(struct scsi_task *, struct scsi_lu *);
typedef uint32_t scsi_xferlen_t(const uint8_t *, const struct scsi_lu *);

/* A field of a CDB: its byte offset and its size in bytes (0: none). */
struct scsi_field {
	uint8_t			 f_off;
	uint8_t			 f_len;
};

struct scsi_cmd {
	const char		*c_name;
	scsi_handler_t		*c_handler;
	scsi_xferlen_t		*c_xferlen;	/* bytes the CDB moves, 0: by alloc len */
	const struct scsi_cmd	*c_sa;		/* service-action sub-table or NULL */
	uint8_t			 c_nsa;
	uint8_t			 c_saval;	/* this entry's service action */
	uint8_t			 c_cdblen;
	uint8_t			 c_dir;		/* enum scsi_dir */
	uint16_t		 c_flags;	/* SCSI_CMD_* */
	uint16_t		 c_pr;		/* SCSI_PR_* conflict classes */
	uint32_t		 c_maxlen;	/* parameter list: most bytes, 0 none */
	struct scsi_field	 c_lba;		/* block commands: LOGICAL BLOCK */
	struct scsi_field	 c_nblk;	/* ADDRESS and TRANSFER LENGTH */
	uint8_t			 c_usage[16];	/* CDB usage data, byte 0 = opcode */
};

#define SCSI_CMD_ANYLUN		0x0001	/* runs for a LUN with no logical unit */
#define SCSI_CMD_NOUA		0x0002	/* never reports a unit attention */
#define SCSI_CMD_RESV_OK	0x0004	/* allowed while another nexus holds RESERVE */
#define SCSI_CMD_PR		0x0008	/* PERSISTENT RESERVE IN/OUT (worker/pr.c) */
#define SCSI_CMD_SYNC		0x0010	/* its changes durable before GOOD */
#define SCSI_CMD_FUA		0x0020	/* ... when FUA (byte 1, bit 3) is set */
#define SCSI_CMD_XLU		0x0040	/* may change other LUs than its own */
#define SCSI_CMD_LEN256		0x0080	/* TRANSFER LENGTH 0 is 256 blocks */
#define SCSI_CMD_ATOMIC		0x0100	/* only where the store writes atomically */
#define SCSI_CMD_SANOK		0x0200	/* runs while the LU is being sanitized */
#define SCSI_CMD_SANITIZE	0x0400	/* SANITIZE itself (worker/scsi/sanitize.c) */
#define SCSI_CMD_STEPS		0x0800	/* may run in steps (struct scsi_step) */

/*
 * Persistent-reservation classes (SPC-4 table 65, SBC-3 table 13): what
 * the command does to a nexus that neither holds the reservation nor is
 * a registrant of a registrants only or all registrants one.  None: it
 * is allowed under every type.
 */
#define SCSI_PR_WE		0x0001	/* conflicts under the Write Exclusive types */
#define SCSI_PR_EA		0x0002	/* conflicts under the Exclusive Access types */
#define SCSI_PR_CDB		0x0004	/* class depends on CDB fields (pr_class) */

/*
 * The task management functions (SAM-5 7) a logical unit here has.  The
 * transport maps its own function codes to these ids and runs each
 * (worker/iscsi/iscsi.c); REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS
 * reports each where spc_tmf() says, and nothing else.
 */
enum scsi_tmf {
	SCSI_TMF_ABORT_TASK = 0,
	SCSI_TMF_ABORT_TASK_SET,
	SCSI_TMF_CLEAR_ACA,
	SCSI_TMF_CLEAR_TASK_SET,
	SCSI_TMF_LUN_RESET,
	SCSI_TMF_TARGET_RESET,
	SCSI_TMF_COUNT
};

struct scsi_tmf_desc {
	const char		*tm_name;
	uint8_t			 tm_byte;	/* its bit in the REPORT SUPPORTED */
	uint8_t			 tm_bit;	/* TMFs parameter data */
};

/* Result of an EXTENDED COPY kept for RECEIVE COPY RESULTS. */
struct scsi_copyres {
	uint8_t			 cr_valid;
	uint8_t			 cr_listid;
	uint8_t			 cr_status;	/* copy manager status, 0 = done */
	uint16_t		 cr_segs;	/* segments processed */
	uint64_t		 cr_bytes;	/* bytes transferred */
};
#define SCSI_COPYRES_MAX	4

struct scsi_lu {
	uint64_t		 lu_blocks;	/* capacity in blocks */
	uint32_t		 lu_blksz;	/* logical block size, 512 */
	uint32_t		 lu_max_xfer;	/* bytes one READ/WRITE may move */
	int			 lu_readonly;	/* image marked read-only */
	char			 lu_name[64];	/* image name: product id */
	uint64_t		 lu_id;		/* identity: NAA designator, serial */
	const struct lu_store_ops *lu_ops;
	void			*lu_store;

	/*
	 * LOGICAL UNIT RESET counter shared by every worker serving the LU
	 * (NULL for a private LU): a reset on any worker gives every nexus
	 * of the LU its unit attention.
	 */
	volatile uint32_t	*lu_reset_gen;

	/*
	 * Persistent reservations and RESERVE(6): the state every worker
	 * serving the LU shares (worker/pr.c); NULL: none supported.
	 * lu_pr_enabled 0 (a tier with "pr no") turns PERSISTENT RESERVE
	 * IN/OUT into INVALID COMMAND OPERATION CODE.
	 */
	struct pr_lu		*lu_pr;
	int			 lu_pr_enabled;
	int			 lu_pr_anon;	/* private: lu_pr made when first
						   needed, closed with the LU */

	LIST_HEAD(, scsi_lunex)	 lu_nexuses;	/* for unit attentions */
	int			 lu_nswp;	/* of them, with SWP set */
};

/*
 * The mode page values a nexus sees and changes.  They are each nexus's
 * own (SPC-4 lets mode pages be kept per I_T nexus): one initiator's
 * MODE SELECT never changes another's LU, on this worker or any other.
 */
struct scsi_mode {
	uint8_t			 md_wce;	/* caching page, default 1 */
	uint8_t			 md_dsense;	/* control page D_SENSE */
	uint8_t			 md_swp;	/* control page software write protect */
	uint8_t			 md_tst;	/* control page */
};

/* One (nexus, LU) pair: attaches a nexus to an LU for unit attentions. */
struct scsi_lunex {
	LIST_ENTRY(scsi_lunex)	 ln_entry;
	struct scsi_nexus	*ln_nexus;
	struct scsi_lu		*ln_lu;
	uint32_t		 ln_ua;		/* pending UA_* bits */
	uint32_t		 ln_reset_seen;	/* *lu_reset_gen last seen */
	uint32_t		 ln_prseq;	/* reservation state seen, 0 never */
	uint8_t			 ln_prtype;	/* its reservation type */
	uint8_t			 ln_prflags;	/* PRF_*: this nexus in it */
	struct scsi_mode	 ln_mode;
};

/*
 * An I_T nexus: initiator name + ISID against target name + portal group.
 * The LUN table is the target's: lun -> LU, NULL where none; it has room
 * for the target's LUNs only (n_cap, scsi_nexus_new), so that a session
 * of one LU holds one entry, not SCSI_MAX_LUNS.
 */
struct scsi_nexus {
	char			 n_initiator[224];	/* iSCSI name */
	uint8_t			 n_isid[6];
	char			 n_target[224];
	uint16_t		 n_tpgt;
	uint16_t		 n_relport;		/* relative target port id */
	struct scsi_lu		**n_lu;			/* [n_cap] */
	struct scsi_lunex	*n_lunex;		/* [n_cap] */
	int			 n_cap;
	int			 n_nlun;		/* luns in use: 0..n_nlun-1 */
	struct scsi_copyres	 n_copyres[SCSI_COPYRES_MAX];	/* EXTENDED COPY results */
	int			 n_copynext;
	int			 n_moving;	/* going to another worker: its
						   detach is no nexus loss */
};

/*
 * A command that runs in steps (SCSI_CMD_STEPS in its table entry: VERIFY,
 * WRITE SAME, UNMAP, EXTENDED COPY), so that no command holds a worker's loop
 * for longer than SCSI_STEP_BYTES of the medium take to move.  Its
 * handler checks the command, keeps in a scsi_step what it needs of the
 * CDB and Data-Out (neither is looked at again) and runs the first step
 * (scsi_step_start).  While t_step is set on return the command goes
 * on: the transport calls scsi_task_step() on later passes of its loop
 * until it returns 0, and the status and sense are then set as if the
 * handler had done it all; or scsi_task_abort() to end it (task
 * management, its connection gone).  Such a command has no Data-In;
 * its t_cdb stays valid until it ends (the transport keeps a copy).
 *
 * sp_run does one step: its I/O (at most SCSI_STEP_BYTES, into a buffer
 * of the step's own) and what follows from it.  A store that completes
 * I/O later would split sp_run at the I/O and resume the task from its
 * completion; the state is already all in the step.
 */
#define SCSI_STEP_BYTES		(1u << 20)

struct scsi_step;
typedef int	 scsi_step_fn(struct scsi_task *, struct scsi_step *);

struct scsi_step {
	scsi_step_fn		*sp_run;	/* one step: 1 more to do, 0 over */
	struct scsi_lu		*sp_lu;		/* the LU the command addressed */
	const struct scsi_cmd	*sp_cmd;	/* its table entry */
};

struct scsi_task {
	/* Filled by the transport. */
	const uint8_t		*t_cdb;
	size_t			 t_cdblen;
	uint64_t		 t_lun;		/* decoded LUN number */
	int			 t_attr;	/* SCSI_ATTR_* */
	struct scsi_nexus	*t_nexus;
	uint32_t		 t_edtl;	/* expected data transfer length */
	const uint8_t		*t_dout;	/* Data-Out received */
	uint32_t		 t_doutlen;
	uint8_t			*t_din;		/* Data-In buffer, t_dincap bytes */
	uint32_t		 t_dincap;

	/* Filled by the SCSI layer. */
	uint32_t		 t_dinlen;	/* bytes the command would return; may exceed t_dincap */
	uint8_t			 t_status;
	uint8_t			 t_sense[SCSI_SENSE_MAX];
	uint32_t		 t_senselen;
	const struct scsi_cmd	*t_cmd;		/* set by scsi_cmd_decode; zero it first */
	uint16_t		 t_cmdflags;	/* its SCSI_CMD_* once run */
	uint8_t			 t_wait;	/* status when the LU's SANITIZE ends */
	/* A reservation change to commit before the status: pr_out. */
	struct pr_lu		*t_pr;		/* NULL: none */
	uint32_t		 t_prepoch;
	uint64_t		 t_prcommit;
	/* A command that goes on in steps; NULL: over once run. */
	struct scsi_step	*t_step;
};

/* Sense options for scsi_sense_ext(). */
#define SCSI_SENSE_INFO		0x01	/* INFORMATION field valid */
#define SCSI_SENSE_SKS		0x02	/* sense-key specific bytes valid */
#define SCSI_SENSE_ILI		0x04	/* incorrect length indicator */
#define SCSI_SKS_CD		0x400000 /* field pointer is into the CDB */
#define SCSI_SKS_BPV		0x080000 /* bit pointer valid */

/* worker/scsi/scsi.c */
void	 scsi_lu_init(struct scsi_lu *, uint64_t, uint32_t, const char *,
	    uint64_t, const struct lu_store_ops *, void *);
struct scsi_nexus *scsi_nexus_new(int);
void	 scsi_nexus_free(struct scsi_nexus *);
void	 scsi_nexus_attach(struct scsi_nexus *, int, struct scsi_lu *);
void	 scsi_nexus_detach(struct scsi_nexus *);
void	 scsi_nexus_detach_lun(struct scsi_nexus *, int);
void	 scsi_ua_set(struct scsi_lu *, struct scsi_nexus *, uint32_t);
void	 scsi_ua_set_nexus(struct scsi_nexus *, uint32_t);
int	 scsi_cmd_decode(struct scsi_task *, enum scsi_dir *, uint32_t *);
void	 scsi_cmd_exec(struct scsi_task *);
void	 scsi_sense(struct scsi_task *, int, uint16_t);
void	 scsi_sense_info(struct scsi_task *, int, uint16_t, uint64_t);
void	 scsi_lun_reset(struct scsi_lu *, struct scsi_nexus *);
uint64_t scsi_lun_decode(const uint8_t *);
void	 scsi_lun_encode(uint8_t *, uint64_t);
void	 scsi_sense_ext(struct scsi_task *, int, uint16_t, uint64_t, int,
	    uint32_t);
void	 scsi_sense_cdb(struct scsi_task *, unsigned, int);
void	 scsi_sense_param(struct scsi_task *, unsigned, int);
size_t	 scsi_sense_build(uint8_t *, int, int, uint16_t, uint64_t, int,
	    uint32_t);
void	 scsi_din(struct scsi_task *, const void *, uint32_t, uint32_t);
uint32_t scsi_ua_pop(struct scsi_lunex *, uint16_t *);
struct scsi_lunex *scsi_task_lunex(struct scsi_task *);
int	 scsi_task_durable(const struct scsi_task *);
int	 scsi_task_xlu(const struct scsi_task *);
int	 scsi_cdb_commits(const uint8_t *);
int	 scsi_task_long(const struct scsi_task *);
void	 scsi_step_start(struct scsi_task *, struct scsi_step *,
	    struct scsi_lu *, scsi_step_fn *);
int	 scsi_task_step(struct scsi_task *);
void	 scsi_task_abort(struct scsi_task *);
struct scsi_mode *scsi_task_mode(struct scsi_task *);
int	 scsi_lunex_wp(const struct scsi_lunex *);
void	 scsi_lunex_swp(struct scsi_lunex *, int);
void	 scsi_task_failed(struct scsi_task *, int);
int	 scsi_wp(struct scsi_task *, const struct scsi_lu *);
const struct scsi_cmd *scsi_cmd_table(void);
const struct scsi_cmd *scsi_cmd_find(const uint8_t *, int *);

/* worker/scsi/spc.c */
scsi_handler_t	 spc_test_unit_ready, spc_request_sense, spc_inquiry,
		 spc_report_luns, spc_mode_sense, spc_mode_select,
		 spc_report_opcodes,
		 spc_report_tmf, spc_prevent_allow, spc_start_stop,
		 spc_xcopy, spc_copy_results;
scsi_xferlen_t	 spc_xfer_mode_select, spc_xfer_xcopy;
void	 spc_lu_naa(const struct scsi_lu *, uint8_t *);
const struct scsi_tmf_desc *spc_tmf(enum scsi_tmf);

/* worker/scsi/sbc.c */
scsi_handler_t	 sbc_read, sbc_write, sbc_write_atomic, sbc_write_verify,
		 sbc_verify,
		 sbc_orwrite, sbc_prefetch, sbc_caw, sbc_write_same,
		 sbc_unmap, sbc_get_lba_status, sbc_sync_cache,
		 sbc_read_defect, sbc_read_capacity10, sbc_read_capacity16;
scsi_xferlen_t	 sbc_xfer_rw, sbc_xfer_verify, sbc_xfer_caw, sbc_xfer_ws,
		 sbc_xfer_unmap;
int	 sbc_rw_decode(const uint8_t *, uint64_t *, uint32_t *);

/* worker/scsi/sanitize.c */
scsi_handler_t	 sbc_sanitize;
scsi_xferlen_t	 sbc_xfer_sanitize;
int	 sbc_sanitize_gate(struct scsi_task *, const struct scsi_cmd *,
	    struct scsi_lu *);
size_t	 sbc_sanitize_sense(struct scsi_lu *, uint8_t *, int);
int	 sbc_sanitize_offered(const struct scsi_lu *);
uint32_t sbc_max_ws(const struct scsi_lu *);
void	 sbc_atomic_limits(const struct scsi_lu *, uint32_t *, uint32_t *);

#endif /* SCSIPUB_SCSI_H */
