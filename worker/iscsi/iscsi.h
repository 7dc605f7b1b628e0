/*
 * The iSCSI transport of a worker (RFC 7143): connections, the PDU
 * receive state machine, full-feature phase, and the targets and logical
 * units a connection can reach.  It hands commands to the SCSI layer
 * (scsi.h) and what they changed to the store (store.h).
 */
#ifndef SCSIPUB_ISCSI_H
#define SCSIPUB_ISCSI_H

#include <sys/queue.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/bufferevent.h>

#include "config.h"
#include "iscsiproto.h"
#include "login.h"
#include "lu.h"
#include "scsi.h"
#include "store.h"
#include "worker.h"

#define ISCSI_OUR_MRDSL		(256 * 1024)	/* our MaxRecvDataSegmentLength */
#define ISCSI_MAX_BURST		(16 * 1024 * 1024)
#define ISCSI_MAX_XFER		(64 * 1024 * 1024)	/* per command */
#define ISCSI_CMD_WINDOW	64
#define ISCSI_MAX_TASKS		256
#define ISCSI_MAX_R2T		16	/* outstanding R2Ts per command */
#define ISCSI_MAX_ALLOC_LEN	(1024 * 1024)	/* Data-In by allocation length */

enum pdu_result {
	PDU_OK = 0,
	PDU_REJECT,		/* reject sent, connection goes on */
	CONN_CLOSE,		/* close this connection */
};

enum rx_state {
	RX_BHS = 0,	/* waiting for 48 bytes (plus header digest) */
	RX_REST,	/* waiting for AHS, data segment, digests */
};

enum conn_state {
	CONN_LOGIN = 0,
	CONN_FFP,
	CONN_LOGGED_OUT,
	CONN_CLOSING,
};

/* One logical unit instance: base image plus copy-on-write overlay. */

struct lu {
	struct scsi_lu		 lu_scsi;
	struct image		*lu_image;
	struct lu_cow		*lu_cow;
	int			 lu_refs;
	int			 lu_existed;	/* anonymous: its files were there */
};

enum target_kind {
	TARGET_PUBLIC = 0,	/* one image, private overlay per connection */
	TARGET_MULTI,		/* every image, private overlays */
	TARGET_STATIC,		/* config "target": shared overlays */
	TARGET_PSESS,		/* provisioned by the API: shared overlays */
};

struct target {
	TAILQ_ENTRY(target)	 tg_entry;
	enum target_kind	 tg_kind;
	char			 tg_iqn[ISCSI_NAME_MAX];
	const struct cfg_target	*tg_cfg;	/* TARGET_STATIC, _PSESS */
	struct image		*tg_images[SCSI_MAX_LUNS];
	int			 tg_nimages;
	struct lu		*tg_shared[SCSI_MAX_LUNS];	/* STATIC */
	const struct cfg_tier	*tg_tier;
	struct lu_quota		*tg_quota;	/* of the shared LUs, or NULL */
	struct lu_quota		 tg_squota;	/* STATIC: its tier's quota */
};

/*
 * A :multi session's LUN: which image it is, for as long as the
 * session lives, whatever the catalog does (target.c; carried across a
 * hand-over, handoff.c).
 */
struct lumap {
	char			 lm_image[IMAGE_NAME_MAX];	/* "": none */
	int			 lm_served;	/* by the worker it came from */
};

struct pack;
struct task;
struct worker;

struct conn {
	TAILQ_ENTRY(conn)	 c_entry;
	struct worker		*c_w;
	int			 c_fd;
	enum listen_kind	 c_kind;
	struct bufferevent	*c_bev;
	enum conn_state		 c_state;
	char			 c_peer[64];
	uint8_t			 c_addr[16];	/* peer, netaddr_key */
	uint64_t		 c_id;
	uint32_t		 c_mid;		/* the master's id of it */

	struct login		 c_login;
	struct iscsi_params	 c_p;
	enum login_session_type	 c_type;
	int			 c_registered;	/* SESSION_START sent */
	uint64_t		 c_login_ns;	/* when it logged in (monotonic) */
	uint32_t		 c_statsn;
	uint32_t		 c_expcmdsn;
	uint32_t		 c_next_ttt;

	/* Receive state machine. */
	int			 c_rxstate;
	uint8_t			 c_bhs[ISCSI_BHS_LEN];
	uint32_t		 c_ahslen;
	uint32_t		 c_dlen;	/* data segment length */
	uint32_t		 c_dpad;	/* with padding */
	uint8_t			*c_data;	/* this PDU's, from the pool */
	uint32_t		 c_dgot;	/* bytes of it received */

	/* SCSI. */
	struct target		*c_target;
	struct scsi_nexus	*c_nexus;
	struct lu		**c_lus;	/* this connection's, [c_nlus] */
	int			 c_nlus;
	struct lumap		*c_lumap;	/* :multi: [c_nlumap] */
	int			 c_nlumap;
	TAILQ_HEAD(, task)	 c_tasks;	/* waiting for Data-Out */
	TAILQ_HEAD(, defer)	 c_defers;	/* answers waiting for the coordinator */
	int			 c_nsteps;	/* of them, running in steps */
	int			 c_ntasks;
	uint64_t		 c_taskbytes;	/* buffers of c_tasks: max-pending-data */
	struct pendaddr		*c_pendaddr;	/* its address's share, or NULL */
	TAILQ_ENTRY(conn)	 c_taskentry;	/* w_taskconns, while c_ntasks > 0 */
	uint64_t		 c_dataout_ns;	/* last Data-Out (or start owing) */
	struct lu_quota		 c_quota_acct;	/* anonymous overlays */
	char			*c_anon;	/* their files: PATH-LUN.*, PATH.quota */
	int			 c_anon_fresh;	/* no directory for them yet */
	int			 c_logged_out;	/* the initiator ended the session */
	int			 c_handedover;	/* came live from another worker */
	uint64_t		 c_prev_id;	/* its c_id there, or 0 */
	int			 c_moving;	/* going to another worker */
	int			 c_nomove;	/* its hand-over failed: stays */
	uint64_t		 c_moving_since;	/* CLOCK_MONOTONIC ns */
	uint64_t		 c_rbytes;
	uint64_t		 c_wbytes;
	uint64_t		 c_ncmds;	/* SCSI commands executed */

	/* Keepalive. */
	struct event		*c_nopin;
	struct event		*c_flushev;	/* plain TCP: write at the end of the pass */
	int			 c_flush_held;	/* the last flush waited for input */
	uint32_t		 c_nopin_ttt;	/* outstanding, 0 none */
	struct timeval		 c_nopin_sent;
	struct timeval		 c_last_rx;	/* last PDU from the initiator */
	int			 c_draining;
};

/* worker/iscsi/conn.c */
struct conn *conn_new(struct worker *, int, enum listen_kind, uint32_t);
void	 conn_accept(struct worker *, int, enum listen_kind, uint32_t);
void	 conn_close(struct conn *, const char *);
void	 conn_release(struct conn *, int);
void	 conn_readcb(struct bufferevent *, void *);
uint8_t	*conn_data_get(uint32_t);
void	 conn_data_put(struct conn *);
void	 conn_notify_closed(struct worker *, uint32_t);
void	 conn_send(struct conn *, uint8_t *, const void *, uint32_t);
void	 conn_send_buf(struct conn *, uint8_t *, const void *, uint32_t,
	    void *);
void	 conn_drain_all(struct worker *);
void	 conn_nopin_arm(struct conn *);
void	 conn_kick(struct worker *, uint64_t, const char *);
void	 conn_register(struct conn *, uint32_t);
void	 conn_unasked(struct worker *, const struct shmq_msg *, void *);

/* worker/iscsi/iscsi.c */
int	 iscsi_start(struct worker *);
enum pdu_result iscsi_pdu(struct conn *);
void	 iscsi_reject(struct conn *, int, const uint8_t *);
uint32_t iscsi_next_ttt(struct conn *);
uint32_t iscsi_seg(const struct conn *);
void	 iscsi_seq(struct conn *, uint8_t *, int);
void	 iscsi_task_init(struct conn *, struct scsi_task *, const uint8_t *,
	    uint64_t, uint32_t);
void	 iscsi_scsi_rsp(struct conn *, uint32_t, struct scsi_task *, uint32_t);
void	 iscsi_exec(struct conn *, uint32_t, const uint8_t *, uint64_t, int,
	    uint32_t, const uint8_t *, uint32_t, uint32_t, int);
void	 iscsi_async_logout(struct conn *, int);
void	 iscsi_conn_free_tasks(struct conn *);
uint32_t iscsi_maxcmdsn(struct conn *);
uint64_t iscsi_now_ns(void);
int	 iscsi_tmf_id(int);
int	 iscsi_tmf_handled(int);

/* worker/iscsi/handoff.c */
void	 handoff_start(struct worker *);
void	 handoff_mark(struct conn *);
void	 handoff_defer_done(struct conn *);
void	 handoff_adopt(struct worker *, int, int, int, uint32_t);

/* worker/iscsi/dataout.c */
int	 dataout_start(struct worker *);
enum pdu_result dataout_cmd(struct conn *, const uint8_t *, uint32_t,
	    uint32_t);
enum pdu_result dataout_pdu(struct conn *);
void	 dataout_run(struct conn *, struct task *);
int	 dataout_abort_task(struct conn *, uint32_t);
void	 dataout_abort_lun(struct conn *, uint64_t);
void	 dataout_conn_end(struct conn *);
int	 dataout_must_wait(struct conn *, int);
void	 dataout_save(struct conn *, struct pack *, uint16_t);
int	 dataout_restore(struct conn *, struct pack *);

/* worker/iscsi/target.c */
int	 target_load(struct worker *);
struct target *target_find(struct worker *, const char *);
int	 target_attach(struct conn *);
void	 target_detach(struct conn *, int);
int	 target_lookup(void *, const char *, const char *,
	    struct login_target *);
size_t	 target_sendtargets(struct worker *, struct conn *, const char *, char **);
void	 target_release_shared(struct target *);

/* worker/iscsi/ptarget.c */
int	 ptarget_start(struct worker *);
struct target *ptarget_find(struct worker *, const char *);
int	 ptarget_prepare(struct conn *);
void	 ptarget_attach(struct conn *);
void	 ptarget_detach(struct conn *, int);

/* worker/iscsi/redirect.c */
int	 redirect_portal(struct worker *, int, char *, size_t);
int	 redirect_login(struct conn *, const struct target *, char *, size_t);

/* worker/iscsi/stats.c */
int	 stats_start(struct worker *, int);
void	 stats_conn_gone(const struct conn *);
void	 stats_publish(struct worker *);

#endif /* SCSIPUB_ISCSI_H */
