/*
 * scsipubd.conf: line-oriented "key value" configuration, parsed into a
 * fresh struct config that is validated as a whole and swapped in only
 * when every line is good (reload is all or nothing).
 */
#ifndef SCSIPUB_CONFIG_H
#define SCSIPUB_CONFIG_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_MAX_LISTEN		16
#define CFG_MAX_TIERS		16
#define CFG_MAX_TARGETS		64
#define CFG_MAX_TOKENS		64
#define CFG_MAX_TARGET_LUNS	256
#define CFG_NAME_MAX		64
#define CFG_PATH_MAX		1024
#define CFG_SECRET_MAX		256
#define CFG_MAX_WORKERS		64
#define CFG_MAX_SESSIONS	1024	/* tier "sessions": per token */
#define CFG_MAX_RATE		65535	/* api-rate: creations per minute */
#define CFG_PSESS_MAX		1024	/* provisioned sessions in all */
#define CFG_DEFAULT_SESSIONS	16
#define CFG_DEFAULT_RATE	10

#define CFG_DEFAULT_PATH	SYSCONFDIR "/scsipubd.conf"
#define CFG_DEFAULT_PREFIX	"iqn.2025-01.pub.scsipub"

enum listen_kind {
	LISTEN_ISCSI = 0,
	LISTEN_ISCSI_TLS,
	LISTEN_API,
};

struct cfg_listen {
	enum listen_kind	 cl_kind;
	char			 cl_text[80];	/* as written, for logs */
	struct sockaddr_storage	 cl_ss;
	socklen_t		 cl_sslen;
};

struct cfg_tier {
	char		 ct_name[CFG_NAME_MAX];
	uint64_t	 ct_quota;	/* bytes of writes */
	uint64_t	 ct_ttl;	/* seconds */
	int		 ct_persistent;
	int		 ct_pr;
	int		 ct_luns;
	int		 ct_sessions;	/* per token (per address: anonymous) */
};

struct cfg_target {
	char		 tg_name[CFG_NAME_MAX];
	char		 tg_images[CFG_MAX_TARGET_LUNS][CFG_NAME_MAX];
	int		 tg_nimages;
	char		 tg_chap_user[CFG_SECRET_MAX];
	char		 tg_chap_secret[CFG_SECRET_MAX];
	char		 tg_mchap_user[CFG_SECRET_MAX];	/* mutual CHAP */
	char		 tg_mchap_secret[CFG_SECRET_MAX];
	char		 tg_tier[CFG_NAME_MAX];
	int		 tg_readonly;	/* LUNs refuse writes */
};

/*
 * cluster: this node's place among scsipub nodes sharing a Ceph cluster
 * (README "Several machines"); cc_on 0: a single machine, as ever.
 */
enum cfg_redirect {
	CFG_REDIRECT_OFF = 0,	/* serve every login here */
	CFG_REDIRECT_SESSION,	/* to the node that already serves it */
	CFG_REDIRECT_LOAD,	/* ... and new ones to the least loaded */
};

#define CFG_NO_CEPH	"this scsipubd was built without Ceph (configure " \
			"found no librados-dev and librbd-dev)"

struct cfg_cluster {
	int		 cc_on;
	char		 cc_conf[CFG_PATH_MAX];		/* ceph.conf */
	char		 cc_keyring[CFG_PATH_MAX];	/* "": ceph.conf's */
	char		 cc_client[CFG_NAME_MAX];	/* cephx id, no "client." */
	char		 cc_pool[CFG_NAME_MAX];
	char		 cc_node[CFG_NAME_MAX];		/* this node's name */
	char		 cc_addr[80];			/* HOST:PORT initiators use */
	char		 cc_snap[CFG_NAME_MAX];		/* base images' snapshot */
	enum cfg_redirect cc_redirect;
};

struct cfg_token {
	char		 tk_token[CFG_SECRET_MAX];
	char		 tk_tier[CFG_NAME_MAX];
};

struct config {
	char		 c_path[CFG_PATH_MAX];
	struct cfg_listen c_listen[CFG_MAX_LISTEN];
	int		 c_nlisten;
	char		 c_tls_cert[CFG_PATH_MAX];
	char		 c_tls_key[CFG_PATH_MAX];
	char		 c_image_dir[CFG_PATH_MAX];
	int		 c_image_symlinks;	/* follow links out of image-dir */
	char		 c_state_dir[CFG_PATH_MAX];
	char		 c_user[CFG_NAME_MAX];	/* children run as; "": no */
	uid_t		 c_uid;			/* of c_user, looked up */
	gid_t		 c_gid;
	char		 c_iqn_prefix[CFG_NAME_MAX * 2];
	int		 c_workers;
	uint64_t	 c_nopin_interval;	/* seconds, 0 = off */
	uint64_t	 c_nopin_timeout;	/* seconds */
	uint64_t	 c_login_timeout;	/* seconds to reach full feature */
	uint32_t	 c_block_size;		/* COW granularity */
	uint64_t	 c_map_size;		/* LMDB map size */
	int		 c_verbose;
	char		 c_disc_user[CFG_SECRET_MAX];
	char		 c_disc_secret[CFG_SECRET_MAX];
	struct cfg_tier	 c_tiers[CFG_MAX_TIERS];
	int		 c_ntiers;
	struct cfg_target *c_targets[CFG_MAX_TARGETS];
	int		 c_ntargets;
	struct cfg_token c_tokens[CFG_MAX_TOKENS];
	int		 c_ntokens;
	int		 c_api_rate;	/* anonymous creations/minute/address */

	/* Limits (config.c cfg_limits: keys, bounds, defaults). */
	uint64_t	 c_max_conns;		/* iSCSI connections in all */
	uint64_t	 c_max_conns_addr;	/* per address (IPv6: prefix) */
	uint64_t	 c_v6_prefix;		/* bits that make an IPv6 "address" */
	uint64_t	 c_max_pending;		/* write data buffered per conn */
	uint64_t	 c_max_pending_worker;	/* the same per worker */
	uint64_t	 c_max_pending_addr;	/* one address's share of that */
	uint64_t	 c_dataout_timeout;	/* Data-Out owed, room awaited: s */
	uint64_t	 c_max_coord_queue;	/* messages a worker holds back
						   for the ring, then TASK
						   SET FULL */
	uint64_t	 c_max_long_cmds;	/* commands in steps per conn */
	uint64_t	 c_api_max_conns;	/* API connections per worker */
	uint64_t	 c_api_max_conns_addr;	/* ... per address, per worker */
	uint64_t	 c_api_max_header;	/* API request header bytes */
	uint64_t	 c_api_timeout;		/* API connection idle, seconds */
	uint64_t	 c_api_req_timeout;	/* a whole request, seconds */
	uint64_t	 c_api_max_anon;	/* anonymous sessions in all */
	uint64_t	 c_anon_retain;		/* a lost anonymous overlay kept */
	uint64_t	 c_max_map_extents;	/* map records per session (LMDB) */
	uint64_t	 c_cluster_timeout;	/* a silent node is dead, seconds */
	uint64_t	 c_cluster_balance;	/* redirect load: connections apart */
	uint64_t	 c_draining_gens;	/* old workers kept for their TLS */

	struct cfg_cluster c_cluster;
};

/* common/config.c */
struct config	*config_new(void);
void		 config_free(struct config *);
int		 config_load(struct config *, const char *, FILE *);
int		 config_parse_size(const char *, uint64_t *);
int		 config_parse_duration(const char *, uint64_t *);
int		 config_parse_addr(const char *, struct sockaddr_storage *,
		    socklen_t *);
const struct cfg_tier *config_tier(const struct config *, const char *);
const struct cfg_target *config_target(const struct config *, const char *);
int		 config_image_name_ok(const char *);
void		 config_image_iqn(const struct config *, const char *, char *,
		    size_t);

#endif /* SCSIPUB_CONFIG_H */
