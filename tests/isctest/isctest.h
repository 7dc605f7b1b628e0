/*
 * isctest, our own iSCSI initiator for what libiscsi cannot send (see
 * main.c): its options, PDUs, connections and SCSI commands, and its
 * files by concern: util.c (output, memory, hex), pdu.c (transport and
 * PDUs), login.c (login, CHAP, logout), scsi.c (commands), and the
 * scenarios by theme in sc_*.c, listed in main.c's table.  The wire
 * constants are common/iscsiproto.h's.
 */
#ifndef SCSIPUB_ISCTEST_H
#define SCSIPUB_ISCTEST_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "crc32c.h"
#include "iscsiproto.h"

#define OUR_MRDSL	(256 * 1024)	/* our MaxRecvDataSegmentLength */
#define OUR_MAX_BURST	(256 * 1024)
#define OUR_FIRST_BURST	(64 * 1024)
#define REPLY_MS	5000	/* how long any expected answer may take */
#define CLOSE_MS	2000	/* how long a hostile PDU may take to kill */
#define DEFAULT_INITIATOR "iqn.2025-01.pub.scsipub:isctest"
#define DEFAULT_INITIATOR_B DEFAULT_INITIATOR "-b"

#define OP_VENDOR_1C	0x1c		/* an opcode nobody defined */
#define OP_NONE		0xff		/* "no opcode is forbidden" */

/* Login Request/Response byte 1 (RFC 7143 11.12.2). */
#define LF_T		0x80
#define LF_C		0x40
#define LF_CSG(s)	((s) << 2)
#define LF_NSG(s)	(s)

/* SCSI Response byte 1 (RFC 7143 11.4.5). */
#define RSP_O		0x04
#define RSP_U		0x02

/* SCSI. */
#define SCSI_TUR	0x00
#define SCSI_READCAP10	0x25
#define SCSI_READ10	0x28
#define SCSI_WRITE10	0x2a
#define SCSI_PRIN	0x5e
#define SCSI_PROUT	0x5f
#define SENSE_UA	0x06
#define ST_GOOD		0x00
#define ST_CHECK	0x02
#define ST_CONFLICT	0x18
#define ST_BUSY		0x08
#define DO_LBA		2048	/* where the Data-Out scenarios write */
#define DO_BYTES	8192

/* Persistent reservations: the two initiators of pr-fence and pr-check. */
#define PR_KEY_A	0xa1a1a1a1a1a1a1a1ULL
#define PR_KEY_B	0xb2b2b2b2b2b2b2b2ULL
#define PR_RESERVE	0x01
#define PR_CLEAR	0x03
#define PR_PREEMPT	0x04
#define PR_REG_IGNORE	0x06
#define PR_WE		0x1		/* Write Exclusive */

/* pdu_send flags. */
#define TX_BAD_HD	0x01
#define TX_BAD_DD	0x02

struct options {
	const char	*o_host;
	const char	*o_port;
	const char	*o_host_b;	/* -P: initiator B's portal */
	const char	*o_port_b;
	const char	*o_target;
	const char	*o_initiator;
	const char	*o_initiator_b;	/* -I: the second initiator (pr-*) */
	const char	*o_user;	/* -u/-s: we authenticate to it */
	const char	*o_secret;
	const char	*o_tuser;	/* -U/-S: the target to us (mutual) */
	const char	*o_tsecret;
	int		 o_digests;
	int		 o_verbose;	/* -v: trace every PDU */
	int		 o_lun;
	int		 o_wait;
	int		 o_count;
	int		 o_many;	/* -N: commands of unmap-* */
	int		 o_timeout;
	const char	*o_bind;	/* -b: the stranger's source address */
	const char	*o_bind_all;	/* -B: every connection's */
};

struct pdu {
	uint8_t		 p_bhs[ISCSI_BHS_LEN];
	uint8_t		 p_ahs[255 * 4];
	size_t		 p_ahslen;
	uint8_t		*p_data;	/* NUL-terminated past the padding */
	size_t		 p_dlen;
};

struct conn {
	int		 c_fd;
	uint8_t		 c_isid[6];
	uint16_t	 c_tsih;
	uint32_t	 c_itt;		/* next Initiator Task Tag */
	uint32_t	 c_login_itt;
	uint32_t	 c_cmdsn;	/* next CmdSN to send */
	uint32_t	 c_expstatsn;
	uint32_t	 c_expcmdsn;	/* target's window, from its PDUs */
	uint32_t	 c_maxcmdsn;
	int		 c_hd;		/* digests in force */
	int		 c_dd;
	int		 c_neg_hd;	/* negotiated, in force after login */
	int		 c_neg_dd;
	uint32_t	 c_mrdsl;	/* target's MaxRecvDataSegmentLength */
	uint32_t	 c_first_burst;
	uint32_t	 c_max_burst;
	int		 c_immediate;
	int		 c_initial_r2t;
	int		 c_nopin_answer;	/* answer target NOP-Ins */
	unsigned	 c_nopins;	/* target NOP-Ins seen */
	unsigned	 c_asyncs;	/* Async Messages seen */
	unsigned	 c_hd_ok;	/* digests verified */
	unsigned	 c_dd_ok;
	uint64_t	 c_blocks;	/* from READ CAPACITY(10) */
	uint32_t	 c_blksz;
};

enum rx {
	RX_OK = 0,
	RX_TIMEOUT,
	RX_CLOSED,	/* EOF or ECONNRESET */
};

enum chap_mode {
	CHAP_OFF = 0,
	CHAP_GOOD,
	CHAP_BAD_SECRET,
	CHAP_REFLECT,	/* mutual, with the target's own challenge */
	CHAP_SHORT_R,	/* CHAP_R of 15 bytes */
	CHAP_BAD_HEX,	/* CHAP_R=0xZZ... */
	CHAP_MUTUAL,
};

struct login_opts {
	const char	*lo_target;	/* NULL: discovery session */
	int		 lo_digests;
	enum chap_mode	 lo_chap;
	uint16_t	 lo_tsih;
	const uint8_t	*lo_isid;	/* NULL: a random one */
	const char	*lo_initiator;	/* NULL: -i */
	int		 lo_solicit;	/* ImmediateData=No, InitialR2T=Yes */
};

/* Login text, "key=value\0" pairs. */
struct kv {
	char		 k_buf[8192];
	size_t		 k_len;
};

struct scsi_io {
	uint8_t		 io_cdb[16];
	const uint8_t	*io_out;
	size_t		 io_outlen;
	uint8_t		*io_in;
	size_t		 io_inlen;
	uint32_t	 io_edtl;
	int		 io_immed;	/* immediate delivery (I bit) */
	int		 io_txflags;	/* TX_BAD_* for the command PDU */
	const uint8_t	*io_ahs;
	size_t		 io_ahslen;
	int		 io_attr;	/* task attribute; 0: SIMPLE */
};

struct scsi_res {
	uint8_t		 sr_response;
	uint8_t		 sr_status;
	uint8_t		 sr_flags;	/* o u O U of the SCSI Response */
	uint32_t	 sr_residual;
	size_t		 sr_inlen;	/* Data-In bytes received */
	uint8_t		 sr_sense[64];
	size_t		 sr_senselen;
	int		 sr_reject;	/* Reject reason, or -1 */
};

/* tests/isctest/main.c */
extern struct options	 opt;
extern const char	*scenario;	/* the one running, for messages */

/* tests/isctest/util.c */
void	 step(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fail(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	*xmalloc(size_t);
void	 random_bytes(void *, size_t);
int64_t	 now_ms(void);
void	 hex_enc(const uint8_t *, size_t, char *);
int	 hex_dec(const char *, uint8_t *, size_t, size_t *);

/* tests/isctest/pdu.c */
extern const char	*conn_bind;	/* source address of the next connect */
uint8_t	 pdu_op(const struct pdu *);
const char *pdu_describe(const struct pdu *);
void	 pdu_free(struct pdu *);
int	 write_all(int, const void *, size_t);
void	 conn_open(struct conn *);
void	 conn_close(struct conn *);
void	 bhs_init(uint8_t *, uint8_t, uint8_t);
int	 pdu_send(struct conn *, uint8_t *, const uint8_t *, size_t,
	    const void *, size_t, int);
void	 pdu_send_lying(struct conn *, uint8_t *, uint32_t, const uint8_t *,
	    size_t);
enum rx	 pdu_recv(struct conn *, struct pdu *, int64_t);
enum rx	 pdu_wait(struct conn *, struct pdu *, int64_t);
void	 reply_wait(struct conn *, struct pdu *, const char *);
void	 expect_close(struct conn *, int, uint8_t);
void	 quiet_for(struct conn *, int, const char *);
void	 nop_ping(struct conn *);

/* tests/isctest/login.c */
extern const uint8_t	 pr_isid_a[6];	/* initiator A's ISID */
extern const uint8_t	 pr_isid_b[6];
const char *kv_get(const struct pdu *, const char *);
void	 login_bhs(struct conn *, uint8_t *, uint8_t);
struct login_opts login_defaults(void);
void	 login_ok(struct conn *, const struct login_opts *);
void	 login_fails(const struct login_opts *, uint16_t, uint16_t);
void	 logout(struct conn *);
void	 need_chap(void);
void	 need_digests(const struct conn *, int, int);
void	 pr_login(struct conn *, const char *, const uint8_t *);

/* tests/isctest/scsi.c */
void	 lun_enc(uint8_t *);
size_t	 cmd_immediate_len(const struct conn *, const struct scsi_io *);
uint32_t cmd_send(struct conn *, const struct scsi_io *);
void	 cmd_r2t(struct conn *, const struct pdu *, const struct scsi_io *);
void	 cmd_response(const struct pdu *, struct scsi_res *);
void	 cmd_finish(struct conn *, uint32_t, const struct scsi_io *,
	    struct scsi_res *);
int	 sense_key(const struct scsi_res *);
int	 sense_asc(const struct scsi_res *);
const char *res_str(const struct scsi_res *);
void	 scsi_good(struct conn *, const struct scsi_io *, struct scsi_res *,
	    const char *);
uint8_t	 scsi_status(struct conn *, const struct scsi_io *,
	    struct scsi_res *);
void	 status_is(const char *, uint8_t, uint8_t);
void	 do_tur(struct conn *);
void	 do_readcap(struct conn *);
void	 io_rw10(struct scsi_io *, uint8_t, uint32_t, uint16_t, uint32_t);
void	 do_read(struct conn *, uint32_t, uint16_t, uint8_t *);
void	 do_write(struct conn *, uint32_t, uint16_t, const uint8_t *);
uint8_t	 rw_status(struct conn *, uint8_t);
void	 check_serves(void);
uint32_t raw_write16(struct conn *, uint64_t, uint32_t, uint8_t,
	    const uint8_t *, size_t);
void	 data_out(struct conn *, uint32_t, uint32_t, uint32_t, uint32_t,
	    const uint8_t *, uint32_t, int);
void	 r2t_wait(struct conn *, uint32_t, struct pdu *);

/* tests/isctest/sc_steps.c */
void	 sc_long_verify(void);

/* tests/isctest/sc_restart.c */
void	 sc_live(void);
void	 sc_drop_write(void);
void	 sc_churn(void);
void	 sc_adopt_check(void);
void	 sc_lost_check(void);
void	 sc_multi_reload(void);

/* tests/isctest/sc_framing.c */
void	 sc_login(void);
void	 sc_digests(void);
void	 sc_bad_data_digest(void);
void	 sc_bad_header_digest(void);
void	 sc_oversize_dsl(void);
void	 sc_garbage(void);
void	 sc_truncated(void);
void	 sc_ffp_before_login(void);
void	 sc_unknown_opcode(void);
void	 sc_ahs(void);
void	 sc_cmdsn_window(void);
void	 sc_text_loop(void);

/* tests/isctest/sc_login.c */
void	 sc_chap_ok(void);
void	 sc_chap_bad_secret(void);
void	 sc_chap_reflect(void);
void	 sc_chap_bad_length(void);
void	 sc_chap_bad_hex(void);
void	 sc_chap_mutual(void);
void	 sc_tsih_nonzero(void);
void	 sc_sendtargets_hidden(void);

/* tests/isctest/sc_sessions.c */
void	 sc_nopin(void);
void	 sc_nopin_answer(void);
void	 sc_reinstate(void);

/* tests/isctest/sc_dataout.c */
void	 sc_write_residual(void);
void	 sc_unknown_task_data(void);
void	 sc_ordered(void);
void	 sc_dataout_overlap(void);
void	 sc_dataout_overlap_r2t(void);
void	 sc_dataout_bad_ttt(void);
void	 sc_unsol_short(void);

/* tests/isctest/sc_reservations.c */
void	 sc_pr_fence(void);
void	 sc_pr_check(void);
void	 sc_pr_clear(void);
void	 sc_cold_reset(void);
void	 sc_caw_count(void);
void	 sc_caw_value(void);
void	 sc_xcopy_pr(void);
void	 sc_xcopy_huge(void);

/* tests/isctest/sc_tenants.c */
void	 sc_stranger_reinstate(void);
void	 sc_hold(void);
void	 sc_pending_wait(void);
void	 sc_stalled_writes(void);
void	 sc_quota_race(void);
void	 sc_mode_isolation(void);

/* tests/isctest/sc_unmap.c */
void	 sc_unmap_stripes(void);
void	 sc_unmap_whole(void);

#endif /* SCSIPUB_ISCTEST_H */
