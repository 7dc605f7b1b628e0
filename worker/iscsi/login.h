/*
 * iSCSI login phase (RFC 7143 section 6 and 13): security negotiation
 * (None, CHAP with MD5), operational negotiation, and the login PDU
 * exchange.  Pure protocol: no sockets.  The transport feeds each
 * received Login Request and sends back the response built here.
 */
#ifndef SCSIPUB_LOGIN_H
#define SCSIPUB_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "iscsiproto.h"

#define LOGIN_TEXT_MAX		(64 * 1024)	/* accumulated key text limit */
#define CHAP_SECRET_MAX		256
#define LOGIN_ADDR_MAX		96	/* a TargetAddress value */

/* Negotiated operational parameters of one connection/session. */
struct iscsi_params {
	uint32_t	ip_mrdsl_ini;	/* initiator's MaxRecvDataSegmentLength */
	uint32_t	ip_mrdsl_tgt;	/* ours (declared) */
	uint32_t	ip_max_burst;
	uint32_t	ip_first_burst;
	uint32_t	ip_max_r2t;	/* MaxOutstandingR2T */
	uint32_t	ip_time2wait;
	uint32_t	ip_time2retain;
	int		ip_immediate_data;
	int		ip_initial_r2t;
	int		ip_header_digest;	/* 1: CRC32C */
	int		ip_data_digest;
	int		ip_erl;
	int		ip_data_pdu_in_order;
	int		ip_data_seq_in_order;
};

enum login_session_type {
	LOGIN_SESSION_NORMAL = 0,
	LOGIN_SESSION_DISCOVERY,
};

/* What the transport's lookup tells the login layer about a target. */
struct login_target {
	int		lt_exists;
	int		lt_tpgt;		/* TargetPortalGroupTag to report */
	int		lt_chap;		/* CHAP required */
	char		lt_chap_user[CHAP_SECRET_MAX];
	char		lt_chap_secret[CHAP_SECRET_MAX];
	/* Target's own identity for mutual CHAP; empty: mutual refused. */
	char		lt_mchap_user[CHAP_SECRET_MAX];
	char		lt_mchap_secret[CHAP_SECRET_MAX];
	/* Not served here: "Target moved temporarily" to this
	 * TargetAddress (HOST:PORT,TPGT); "": served here. */
	char		lt_redirect[LOGIN_ADDR_MAX];
};

/*
 * Lookup callback: (arg, initiator name, target name).  The target name
 * is NULL for a discovery session (then the answer describes discovery
 * authentication).  Returns 0, or -1 for a target error.
 */
typedef int (*login_lookup_fn)(void *, const char *, const char *,
    struct login_target *);

enum login_result {
	LOGIN_CONTINUE = 0,	/* send the response, expect more login PDUs */
	LOGIN_DONE,		/* send the response; full feature phase now */
	LOGIN_FAIL,		/* send the response (error status), then close */
	LOGIN_CLOSE,		/* protocol error: close without response */
};

struct login_chap;

struct login {
	/* Configuration, set by the caller before the first PDU. */
	login_lookup_fn	 l_lookup;
	void		*l_lookup_arg;
	uint32_t	 l_our_mrdsl;	/* MaxRecvDataSegmentLength we declare */
	uint32_t	 l_max_burst_cap;	/* largest burst we accept */
	uint16_t	 l_tsih_next;	/* TSIH to assign (caller picks) */

	/* Results, valid once LOGIN_DONE was returned. */
	enum login_session_type l_type;
	char		 l_initiator[ISCSI_NAME_MAX];
	char		 l_initiator_alias[ISCSI_NAME_MAX];
	char		 l_target[ISCSI_NAME_MAX];
	uint8_t		 l_isid[6];
	uint16_t	 l_tsih;
	uint16_t	 l_cid;
	uint32_t	 l_statsn;	/* next StatSN to use after login */
	uint32_t	 l_expcmdsn;	/* next expected CmdSN */
	struct iscsi_params l_params;
	uint16_t	 l_status;	/* status of the last response sent */

	/* Private state of worker/login.c. */
	int		 l_csg;
	int		 l_stage;
	int		 l_auth_done;
	int		 l_flags;
	uint32_t	 l_itt;
	char		*l_rx;		/* accumulated request text (C bit) */
	size_t		 l_rxlen;
	char		*l_tx;		/* pending response text */
	size_t		 l_txlen;
	size_t		 l_txoff;
	struct login_target *l_tgt;	/* during the login only */
	struct login_chap *l_chap;
	uint32_t	 l_negotiated;	/* bitmask of keys already seen */
	int		 l_nsg;		/* stage to enter once l_tx is sent */
};

/* worker/login.c */
void	 login_init(struct login *);
void	 login_free(struct login *);
enum login_result login_pdu(struct login *, const uint8_t *, const uint8_t *,
	    size_t, uint8_t *, uint8_t **, size_t *);
void	 iscsi_params_default(struct iscsi_params *);
const char *login_status_str(uint16_t);

#endif /* SCSIPUB_LOGIN_H */
