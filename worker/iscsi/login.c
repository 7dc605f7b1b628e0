/*
 * iSCSI login phase, target side (RFC 7143 sections 6, 11.12, 11.13,
 * 12 and 13).
 *
 * login_pdu() takes one Login Request and builds its Login Response.
 * Request text split over several PDUs (C bit) is gathered in l_rx
 * and answered once complete; response text longer than one login
 * PDU (8192 bytes) waits in l_tx and goes out one piece per request.
 *
 * Keys are described once, in login_keys[]: type, default, range,
 * result function and where the result lands in struct iscsi_params.
 * A complete request text is handled in four passes over it: scan
 * (syntax, repeats, stage), identity (names, lookup), answers (table
 * order, so MaxBurstLength is settled before FirstBurstLength), and
 * the security exchange; then the transit decision and our own
 * declarations.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bytes.h"
#include "chap.h"
#include "login.h"

#define ISCSI_VERSION		0x00

#define LOGIN_F_TRANSIT		0x80
#define LOGIN_F_CONTINUE	0x40
#define LOGIN_STAGE_SEC		0
#define LOGIN_STAGE_OP		1
#define LOGIN_STAGE_FFP		3

#define LOGIN_PDU_TEXT		8192	/* login-phase data segment limit */
#define LOGIN_KEY_MAX		63	/* RFC 7143 6.1: key name length */
#define LOGIN_VALUE_MAX		8192	/* longest value we look at */
#define LOGIN_CMD_WINDOW	32
#define LOGIN_LEN_MAX		16777215	/* 2^24 - 1 */
#define LOGIN_LEN_MIN		512

/* l_stage */
enum { LOGIN_ST_NEW = 0, LOGIN_ST_ACTIVE, LOGIN_ST_DONE, LOGIN_ST_DEAD };

/* l_flags */
#define LF_NAMED	0x01	/* identity keys taken, target looked up */
#define LF_TRANSIT	0x02	/* answer with T=1 once l_tx is sent */
#define LF_TPGT_SENT	0x04
#define LF_MRDSL_SENT	0x08

enum login_key_id {
	K_INITIATOR_NAME, K_INITIATOR_ALIAS, K_TARGET_NAME, K_SESSION_TYPE,
	K_TARGET_ALIAS, K_TARGET_ADDRESS, K_TPGT,
	K_AUTH_METHOD, K_CHAP_A, K_CHAP_I, K_CHAP_C, K_CHAP_N, K_CHAP_R,
	K_HEADER_DIGEST, K_DATA_DIGEST, K_MAX_CONNECTIONS, K_INITIAL_R2T,
	K_IMMEDIATE_DATA, K_MRDSL, K_MAX_BURST, K_FIRST_BURST,
	K_TIME2WAIT, K_TIME2RETAIN, K_MAX_R2T, K_DATA_PDU_IN_ORDER,
	K_DATA_SEQ_IN_ORDER, K_ERL, K_IFMARKER, K_OFMARKER,
	K_IFMARKINT, K_OFMARKINT,
	K_COUNT
};
_Static_assert(K_COUNT <= 32, "l_negotiated is a 32-bit mask");

enum login_ktype {
	KT_NAME,	/* identity, declared by the initiator */
	KT_TGTONLY,	/* declared by targets only: Irrelevant from initiator */
	KT_AUTH,	/* security exchange, see login_auth() */
	KT_NUMBER,
	KT_BOOLEAN,
	KT_DIGEST,	/* list of CRC32C, None */
	KT_IRRELEVANT,	/* marker intervals: we never use markers */
};

enum login_combine { KC_NONE, KC_MIN, KC_MAX, KC_OR, KC_AND, KC_DECL };

#define KF_FIELD	0x01	/* k_off names a struct iscsi_params field */
#define KF_U32		0x02	/* ... of type uint32_t (else int) */
#define KF_SEC		0x04	/* security negotiation stage only */
#define KF_NODISC	0x08	/* Irrelevant in a discovery session */
#define KF_REDECL	0x10	/* may be declared again (libiscsi does) */
#define KF_BURSTCAP	0x20	/* our side is l_max_burst_cap */
#define KF_FIRSTCAP	0x40	/* our side also <= MaxBurstLength result */

struct login_key {
	const char		*k_name;
	enum login_ktype	 k_type;
	uint32_t		 k_default;
	uint32_t		 k_min;
	uint32_t		 k_max;
	enum login_combine	 k_combine;
	uint32_t		 k_ours;	/* our side of the result function */
	int			 k_flags;
	size_t			 k_off;
};

#define P(f)	offsetof(struct iscsi_params, f)
#define PU32	(KF_FIELD | KF_U32)
#define PINT	KF_FIELD

static const struct login_key login_keys[K_COUNT] = {
	[K_INITIATOR_NAME] = { "InitiatorName", KT_NAME, 0, 0, 0, KC_DECL,
	    0, KF_REDECL, 0 },
	[K_INITIATOR_ALIAS] = { "InitiatorAlias", KT_NAME, 0, 0, 0, KC_DECL,
	    0, KF_REDECL, 0 },
	[K_TARGET_NAME] = { "TargetName", KT_NAME, 0, 0, 0, KC_DECL,
	    0, KF_REDECL, 0 },
	[K_SESSION_TYPE] = { "SessionType", KT_NAME, 0, 0, 0, KC_DECL,
	    0, KF_REDECL, 0 },
	[K_TARGET_ALIAS] = { "TargetAlias", KT_TGTONLY, 0, 0, 0, KC_NONE,
	    0, 0, 0 },
	[K_TARGET_ADDRESS] = { "TargetAddress", KT_TGTONLY, 0, 0, 0, KC_NONE,
	    0, 0, 0 },
	[K_TPGT] = { "TargetPortalGroupTag", KT_TGTONLY, 0, 0, 0, KC_NONE,
	    0, 0, 0 },
	[K_AUTH_METHOD] = { "AuthMethod", KT_AUTH, 0, 0, 0, KC_NONE,
	    0, KF_SEC, 0 },
	[K_CHAP_A] = { "CHAP_A", KT_AUTH, 0, 0, 0, KC_NONE, 0, KF_SEC, 0 },
	[K_CHAP_I] = { "CHAP_I", KT_AUTH, 0, 0, 0, KC_NONE, 0, KF_SEC, 0 },
	[K_CHAP_C] = { "CHAP_C", KT_AUTH, 0, 0, 0, KC_NONE, 0, KF_SEC, 0 },
	[K_CHAP_N] = { "CHAP_N", KT_AUTH, 0, 0, 0, KC_NONE, 0, KF_SEC, 0 },
	[K_CHAP_R] = { "CHAP_R", KT_AUTH, 0, 0, 0, KC_NONE, 0, KF_SEC, 0 },
	[K_HEADER_DIGEST] = { "HeaderDigest", KT_DIGEST, 0, 0, 1, KC_NONE,
	    0, PINT, P(ip_header_digest) },
	[K_DATA_DIGEST] = { "DataDigest", KT_DIGEST, 0, 0, 1, KC_NONE,
	    0, PINT, P(ip_data_digest) },
	[K_MAX_CONNECTIONS] = { "MaxConnections", KT_NUMBER, 1, 1, 65535,
	    KC_MIN, 1, KF_NODISC, 0 },
	[K_INITIAL_R2T] = { "InitialR2T", KT_BOOLEAN, 1, 0, 1, KC_OR,
	    0, PINT | KF_NODISC, P(ip_initial_r2t) },
	[K_IMMEDIATE_DATA] = { "ImmediateData", KT_BOOLEAN, 1, 0, 1, KC_AND,
	    1, PINT | KF_NODISC, P(ip_immediate_data) },
	[K_MRDSL] = { "MaxRecvDataSegmentLength", KT_NUMBER, 8192,
	    LOGIN_LEN_MIN, LOGIN_LEN_MAX, KC_DECL, 0, PU32 | KF_REDECL,
	    P(ip_mrdsl_ini) },
	[K_MAX_BURST] = { "MaxBurstLength", KT_NUMBER, 262144,
	    LOGIN_LEN_MIN, LOGIN_LEN_MAX, KC_MIN, LOGIN_LEN_MAX,
	    PU32 | KF_NODISC | KF_BURSTCAP, P(ip_max_burst) },
	[K_FIRST_BURST] = { "FirstBurstLength", KT_NUMBER, 65536,
	    LOGIN_LEN_MIN, LOGIN_LEN_MAX, KC_MIN, 262144,
	    PU32 | KF_NODISC | KF_FIRSTCAP, P(ip_first_burst) },
	[K_TIME2WAIT] = { "DefaultTime2Wait", KT_NUMBER, 2, 0, 3600, KC_MAX,
	    2, PU32, P(ip_time2wait) },
	[K_TIME2RETAIN] = { "DefaultTime2Retain", KT_NUMBER, 20, 0, 3600,
	    KC_MIN, 20, PU32, P(ip_time2retain) },
	[K_MAX_R2T] = { "MaxOutstandingR2T", KT_NUMBER, 1, 1, 65535, KC_MIN,
	    16, PU32 | KF_NODISC, P(ip_max_r2t) },
	[K_DATA_PDU_IN_ORDER] = { "DataPDUInOrder", KT_BOOLEAN, 1, 0, 1,
	    KC_OR, 1, PINT | KF_NODISC, P(ip_data_pdu_in_order) },
	[K_DATA_SEQ_IN_ORDER] = { "DataSequenceInOrder", KT_BOOLEAN, 1, 0, 1,
	    KC_OR, 1, PINT | KF_NODISC, P(ip_data_seq_in_order) },
	[K_ERL] = { "ErrorRecoveryLevel", KT_NUMBER, 0, 0, 2, KC_MIN,
	    0, PINT, P(ip_erl) },
	[K_IFMARKER] = { "IFMarker", KT_BOOLEAN, 0, 0, 1, KC_AND, 0, 0, 0 },
	[K_OFMARKER] = { "OFMarker", KT_BOOLEAN, 0, 0, 1, KC_AND, 0, 0, 0 },
	[K_IFMARKINT] = { "IFMarkInt", KT_IRRELEVANT, 0, 0, 0, KC_NONE,
	    0, 0, 0 },
	[K_OFMARKINT] = { "OFMarkInt", KT_IRRELEVANT, 0, 0, 0, KC_NONE,
	    0, 0, 0 },
};

/* One decoded Login Request BHS. */
struct login_req {
	uint8_t		 rq_opcode;
	int		 rq_transit;
	int		 rq_cont;
	int		 rq_csg;
	int		 rq_nsg;
	uint8_t		 rq_vmax;
	uint8_t		 rq_vmin;
	uint8_t		 rq_ahslen;
	const uint8_t	*rq_isid;
	uint16_t	 rq_tsih;
	uint32_t	 rq_itt;
	uint16_t	 rq_cid;
	uint32_t	 rq_cmdsn;
	uint32_t	 rq_expstatsn;
};

/* One complete request text being answered. */
struct login_txt {
	const struct login_req	*t_rq;
	const char		*t_val[K_COUNT];	/* value of each key */
	int			 t_unknown;		/* keys not in table */
};

/* One key=value pair inside the request text. */
struct login_kv {
	const char	*kv_key;
	size_t		 kv_klen;
	const char	*kv_val;
};

typedef int (*login_answer_fn)(struct login *, int, const char *);

static int	login_k_nothing(struct login *, int, const char *);
static int	login_k_irrelevant(struct login *, int, const char *);
static int	login_k_number(struct login *, int, const char *);
static int	login_k_boolean(struct login *, int, const char *);
static int	login_k_digest(struct login *, int, const char *);

static const login_answer_fn login_answers[] = {
	[KT_NAME] = login_k_nothing,
	[KT_TGTONLY] = login_k_irrelevant,
	[KT_AUTH] = login_k_nothing,
	[KT_NUMBER] = login_k_number,
	[KT_BOOLEAN] = login_k_boolean,
	[KT_DIGEST] = login_k_digest,
	[KT_IRRELEVANT] = login_k_irrelevant,
};

static const struct {
	uint16_t	 st_code;
	const char	*st_text;
} login_statuses[] = {
	{ LOGIN_STATUS_SUCCESS, "success" },
	{ LOGIN_STATUS_MOVED_TEMP, "target moved temporarily" },
	{ LOGIN_STATUS_INITIATOR_ERROR, "initiator error" },
	{ LOGIN_STATUS_AUTH_FAILED, "authentication failure" },
	{ LOGIN_STATUS_FORBIDDEN, "authorization failure" },
	{ LOGIN_STATUS_NOT_FOUND, "target not found" },
	{ LOGIN_STATUS_BAD_VERSION, "unsupported version" },
	{ LOGIN_STATUS_MISSING_PARAM, "missing parameter" },
	{ LOGIN_STATUS_NO_SESSION_TYPE, "session type not supported" },
	{ LOGIN_STATUS_NO_SESSION, "session does not exist" },
	{ LOGIN_STATUS_INVALID_REQUEST, "invalid request during login" },
	{ LOGIN_STATUS_TARGET_ERROR, "target error" },
	{ LOGIN_STATUS_NO_RESOURCES, "out of resources" },
};

/*
 * Small helpers: parameters, numbers, lists, response text.
 */

static void
login_param_store(struct iscsi_params *p, const struct login_key *k,
    uint32_t v)
{
	char	*f = (char *)p + k->k_off;

	if (!(k->k_flags & KF_FIELD))
		return;
	if (k->k_flags & KF_U32)
		memcpy(f, &v, sizeof(uint32_t));
	else {
		int	iv = (int)v;

		memcpy(f, &iv, sizeof(int));
	}
}

void
iscsi_params_default(struct iscsi_params *p)
{
	int	id;

	memset(p, 0, sizeof(*p));
	for (id = 0; id < K_COUNT; id++)
		login_param_store(p, &login_keys[id], login_keys[id].k_default);
	p->ip_mrdsl_tgt = login_keys[K_MRDSL].k_default;
}

const char *
login_status_str(uint16_t code)
{
	size_t	i;

	for (i = 0; i < sizeof(login_statuses) / sizeof(login_statuses[0]);
	    i++)
		if (login_statuses[i].st_code == code)
			return login_statuses[i].st_text;
	return "unknown status";
}

static uint32_t
login_clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* numerical-value: decimal or 0x-hex, no sign, no blanks. */
static int
login_parse_num(const char *s, uint64_t *out)
{
	uint64_t	 v = 0;
	unsigned int	 base = 10, d;
	size_t		 n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s != '\0'; s++, n++) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return -1;
		if (n >= 16)		/* 16 digits cannot overflow 64 bits */
			return -1;
		v = v * base + d;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

/* Is item one of the comma-separated values of list? */
static int
login_list_has(const char *list, const char *item)
{
	size_t		 ilen = strlen(item), n;
	const char	*end;

	for (;;) {
		end = strchr(list, ',');
		n = end != NULL ? (size_t)(end - list) : strlen(list);
		if (n == ilen && memcmp(list, item, n) == 0)
			return 1;
		if (end == NULL)
			return 0;
		list = end + 1;
	}
}

/* Append key=val and its NUL to the pending response text. */
static int
login_tx_addn(struct login *l, const char *key, size_t klen, const char *val)
{
	size_t	 vlen = strlen(val), need = klen + vlen + 2;
	char	*p;

	if (need > LOGIN_TEXT_MAX - l->l_txlen)
		return LOGIN_STATUS_NO_RESOURCES;
	if ((p = realloc(l->l_tx, l->l_txlen + need)) == NULL)
		return LOGIN_STATUS_NO_RESOURCES;
	memcpy(p + l->l_txlen, key, klen);
	p[l->l_txlen + klen] = '=';
	memcpy(p + l->l_txlen + klen + 1, val, vlen + 1);
	l->l_tx = p;
	l->l_txlen += need;
	return 0;
}

static int
login_tx_add(struct login *l, const char *key, const char *val)
{
	return login_tx_addn(l, key, strlen(key), val);
}

static int
login_tx_addnum(struct login *l, const char *key, uint32_t v)
{
	char	buf[16];

	snprintf(buf, sizeof(buf), "%u", v);
	return login_tx_add(l, key, buf);
}

static void
login_tx_clear(struct login *l)
{
	if (l->l_tx != NULL) {
		OPENSSL_cleanse(l->l_tx, l->l_txlen);
		free(l->l_tx);
	}
	l->l_tx = NULL;
	l->l_txlen = l->l_txoff = 0;
}

static void
login_rx_clear(struct login *l)
{
	if (l->l_rx != NULL) {
		OPENSSL_cleanse(l->l_rx, l->l_rxlen);
		free(l->l_rx);
	}
	l->l_rx = NULL;
	l->l_rxlen = 0;
}

/* Gather request text; always NUL terminated one past l_rxlen. */
static int
login_rx_add(struct login *l, const uint8_t *data, size_t dlen)
{
	char	*p;

	if (dlen == 0)
		return 0;
	if (data == NULL || dlen > LOGIN_TEXT_MAX - l->l_rxlen)
		return LOGIN_STATUS_NO_RESOURCES;
	if ((p = realloc(l->l_rx, l->l_rxlen + dlen + 1)) == NULL)
		return LOGIN_STATUS_NO_RESOURCES;
	memcpy(p + l->l_rxlen, data, dlen);
	l->l_rxlen += dlen;
	p[l->l_rxlen] = '\0';
	l->l_rx = p;
	return 0;
}

/* Wipe everything secret or in flight; keep the results. */
static void
login_cleanup(struct login *l)
{
	login_rx_clear(l);
	login_tx_clear(l);
	if (l->l_chap != NULL) {
		chap_wipe(l->l_chap);
		free(l->l_chap);
		l->l_chap = NULL;
	}
	if (l->l_tgt != NULL) {
		OPENSSL_cleanse(l->l_tgt, sizeof(*l->l_tgt));
		free(l->l_tgt);
		l->l_tgt = NULL;
	}
}

/*
 * The text: key=value pairs, each ended by a NUL.  Empty strings (NUL
 * padding) are skipped.  Returns 1 with *kv set, 0 at the end, -1 on
 * a pair that is not key=value or whose key is not a plain label.
 */
static int
login_kv_next(const char *buf, size_t len, size_t *off, struct login_kv *kv)
{
	const char	*p, *eq;
	size_t		 n, i;

	while (*off < len && buf[*off] == '\0')
		(*off)++;
	if (*off >= len)
		return 0;
	p = buf + *off;
	n = strnlen(p, len - *off);
	*off += n + 1;
	if ((eq = memchr(p, '=', n)) == NULL || eq == p)
		return -1;
	kv->kv_key = p;
	kv->kv_klen = (size_t)(eq - p);
	kv->kv_val = eq + 1;
	if (kv->kv_klen > LOGIN_KEY_MAX || n - kv->kv_klen - 1 > LOGIN_VALUE_MAX)
		return -1;
	for (i = 0; i < kv->kv_klen; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return -1;
	return 1;
}

static int
login_key_find(const struct login_kv *kv)
{
	int	id;

	for (id = 0; id < K_COUNT; id++)
		if (strlen(login_keys[id].k_name) == kv->kv_klen &&
		    memcmp(login_keys[id].k_name, kv->kv_key, kv->kv_klen) == 0)
			return id;
	return -1;
}

/*
 * Pass 1: syntax, repeated keys, keys in the wrong stage.  RFC 7143
 * 6.2: a key negotiated twice is an initiator error; declarative keys
 * may be declared again (libiscsi resends its names in stage 1).
 */
static int
login_scan(struct login *l, struct login_txt *t)
{
	struct login_kv		 kv;
	const struct login_key	*k;
	size_t			 off = 0;
	uint32_t		 seen = 0;
	int			 rc, id;

	while ((rc = login_kv_next(l->l_rx, l->l_rxlen, &off, &kv)) == 1) {
		if ((id = login_key_find(&kv)) == -1) {
			t->t_unknown = 1;
			continue;
		}
		k = &login_keys[id];
		if (t->t_val[id] != NULL)
			return LOGIN_STATUS_INITIATOR_ERROR;
		if ((l->l_negotiated & (1u << id)) && !(k->k_flags & KF_REDECL))
			return LOGIN_STATUS_INITIATOR_ERROR;
		if ((k->k_flags & KF_SEC) && l->l_csg != LOGIN_STAGE_SEC)
			return LOGIN_STATUS_INITIATOR_ERROR;
		t->t_val[id] = kv.kv_val;
		seen |= 1u << id;
	}
	if (rc == -1)
		return LOGIN_STATUS_INITIATOR_ERROR;
	l->l_negotiated |= seen;
	return 0;
}

/*
 * Pass 2: identity.  The first request text names the initiator, the
 * session type and, for a Normal session, the target; the target is
 * looked up then.  A name declared again must not change.
 */
static int
login_name_copy(char *dst, const char *src)
{
	size_t	n = strnlen(src, ISCSI_NAME_MAX);

	if (n == 0 || n >= ISCSI_NAME_MAX)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static void
login_alias_copy(struct login *l, const char *alias)
{
	size_t	n = strnlen(alias, sizeof(l->l_initiator_alias) - 1);

	memcpy(l->l_initiator_alias, alias, n);	/* informational: truncate */
	l->l_initiator_alias[n] = '\0';
}

static int
login_session_type(const char *v, enum login_session_type *type)
{
	if (v == NULL || strcmp(v, "Normal") == 0)
		*type = LOGIN_SESSION_NORMAL;
	else if (strcmp(v, "Discovery") == 0)
		*type = LOGIN_SESSION_DISCOVERY;
	else
		return -1;
	return 0;
}

/*
 * What the transport says of the target (its CHAP secrets among it),
 * held only while the login lasts: login_cleanup wipes and frees it.
 */
static int
login_lookup(struct login *l)
{
	struct login_target	*tg;
	int			 normal = l->l_type == LOGIN_SESSION_NORMAL;

	if (l->l_tgt == NULL &&
	    (l->l_tgt = calloc(1, sizeof(*l->l_tgt))) == NULL)
		return LOGIN_STATUS_NO_RESOURCES;
	tg = l->l_tgt;
	memset(tg, 0, sizeof(*tg));
	if (l->l_lookup == NULL ||
	    l->l_lookup(l->l_lookup_arg, l->l_initiator,
	    normal ? l->l_target : NULL, tg) != 0)
		return LOGIN_STATUS_TARGET_ERROR;
	/* Whatever the callback did, the strings end inside their arrays. */
	tg->lt_chap_user[CHAP_SECRET_MAX - 1] = '\0';
	tg->lt_chap_secret[CHAP_SECRET_MAX - 1] = '\0';
	tg->lt_mchap_user[CHAP_SECRET_MAX - 1] = '\0';
	tg->lt_mchap_secret[CHAP_SECRET_MAX - 1] = '\0';
	tg->lt_redirect[LOGIN_ADDR_MAX - 1] = '\0';
	if (normal && !tg->lt_exists)
		return LOGIN_STATUS_NOT_FOUND;
	if (normal && tg->lt_redirect[0] != '\0')
		return LOGIN_STATUS_MOVED_TEMP;
	return 0;
}

/* The target as looked up; before the lookup, one with nothing set. */
static const struct login_target *
login_tgt(const struct login *l)
{
	static const struct login_target none;

	return l->l_tgt != NULL ? l->l_tgt : &none;
}

static int
login_identify(struct login *l, struct login_txt *t)
{
	const char	*tn = t->t_val[K_TARGET_NAME];

	if (t->t_val[K_INITIATOR_NAME] == NULL)
		return LOGIN_STATUS_MISSING_PARAM;
	if (login_name_copy(l->l_initiator, t->t_val[K_INITIATOR_NAME]) == -1)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (t->t_val[K_INITIATOR_ALIAS] != NULL)
		login_alias_copy(l, t->t_val[K_INITIATOR_ALIAS]);
	if (login_session_type(t->t_val[K_SESSION_TYPE], &l->l_type) == -1)
		return LOGIN_STATUS_NO_SESSION_TYPE;
	if (l->l_type == LOGIN_SESSION_NORMAL) {
		if (tn == NULL)
			return LOGIN_STATUS_MISSING_PARAM;
		if (login_name_copy(l->l_target, tn) == -1)
			return LOGIN_STATUS_INITIATOR_ERROR;
	}
	l->l_flags |= LF_NAMED;
	return login_lookup(l);
}

static int
login_identity_again(struct login *l, struct login_txt *t)
{
	const char		*in = t->t_val[K_INITIATOR_NAME];
	const char		*tn = t->t_val[K_TARGET_NAME];
	const char		*st = t->t_val[K_SESSION_TYPE];
	enum login_session_type	 type;

	if (in != NULL && strcmp(in, l->l_initiator) != 0)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (st != NULL && (login_session_type(st, &type) == -1 ||
	    type != l->l_type))
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (tn != NULL && l->l_type == LOGIN_SESSION_NORMAL &&
	    strcmp(tn, l->l_target) != 0)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (t->t_val[K_INITIATOR_ALIAS] != NULL)
		login_alias_copy(l, t->t_val[K_INITIATOR_ALIAS]);
	return 0;
}

/*
 * Pass 3: answer the operational keys, in table order, then every key
 * we do not know with NotUnderstood (X- and X# extensions included).
 */
static int
login_k_nothing(struct login *l, int id, const char *val)
{
	(void)l;
	(void)id;
	(void)val;
	return 0;
}

static int
login_k_irrelevant(struct login *l, int id, const char *val)
{
	(void)val;
	return login_tx_add(l, login_keys[id].k_name, "Irrelevant");
}

static uint32_t
login_ours(const struct login *l, int id)
{
	const struct login_key	*k = &login_keys[id];
	uint32_t		 v = k->k_ours;

	if (k->k_flags & KF_BURSTCAP)
		v = login_clamp(l->l_max_burst_cap, k->k_min, k->k_max);
	if ((k->k_flags & KF_FIRSTCAP) && v > l->l_params.ip_max_burst)
		v = l->l_params.ip_max_burst;
	return v;
}

static uint32_t
login_combine(enum login_combine c, uint32_t theirs, uint32_t ours)
{
	switch (c) {
	case KC_MIN:
		return theirs < ours ? theirs : ours;
	case KC_MAX:
		return theirs > ours ? theirs : ours;
	case KC_OR:
		return theirs || ours;
	case KC_AND:
		return theirs && ours;
	default:
		return theirs;
	}
}

static int
login_k_number(struct login *l, int id, const char *val)
{
	const struct login_key	*k = &login_keys[id];
	uint64_t		 v;
	uint32_t		 res;

	if (login_parse_num(val, &v) == -1 || v < k->k_min || v > k->k_max)
		return login_tx_add(l, k->k_name, "Reject");
	if (k->k_combine == KC_DECL) {
		login_param_store(&l->l_params, k, (uint32_t)v);
		return 0;
	}
	res = login_combine(k->k_combine, (uint32_t)v, login_ours(l, id));
	login_param_store(&l->l_params, k, res);
	return login_tx_addnum(l, k->k_name, res);
}

static int
login_k_boolean(struct login *l, int id, const char *val)
{
	const struct login_key	*k = &login_keys[id];
	uint32_t		 v, res;

	if (strcmp(val, "Yes") == 0)
		v = 1;
	else if (strcmp(val, "No") == 0)
		v = 0;
	else
		return login_tx_add(l, k->k_name, "Reject");
	res = login_combine(k->k_combine, v, k->k_ours);
	login_param_store(&l->l_params, k, res);
	return login_tx_add(l, k->k_name, res ? "Yes" : "No");
}

/* The first digest of the initiator's list that we implement. */
static int
login_k_digest(struct login *l, int id, const char *val)
{
	const struct login_key	*k = &login_keys[id];
	const char		*p = val, *end;
	size_t			 n;

	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 6 && memcmp(p, "CRC32C", 6) == 0) {
			login_param_store(&l->l_params, k, 1);
			return login_tx_add(l, k->k_name, "CRC32C");
		}
		if (n == 4 && memcmp(p, "None", 4) == 0) {
			login_param_store(&l->l_params, k, 0);
			return login_tx_add(l, k->k_name, "None");
		}
		if (end == NULL)
			return login_tx_add(l, k->k_name, "Reject");
		p = end + 1;
	}
}

static int
login_not_understood(struct login *l)
{
	struct login_kv	kv;
	size_t		off = 0;
	int		status;

	while (login_kv_next(l->l_rx, l->l_rxlen, &off, &kv) == 1) {
		if (login_key_find(&kv) != -1)
			continue;
		status = login_tx_addn(l, kv.kv_key, kv.kv_klen,
		    "NotUnderstood");
		if (status != 0)
			return status;
	}
	return 0;
}

static int
login_answer(struct login *l, struct login_txt *t)
{
	const struct login_key	*k;
	int			 id, status;

	for (id = 0; id < K_COUNT; id++) {
		if (t->t_val[id] == NULL)
			continue;
		k = &login_keys[id];
		if (l->l_type == LOGIN_SESSION_DISCOVERY &&
		    (k->k_flags & KF_NODISC))
			status = login_k_irrelevant(l, id, t->t_val[id]);
		else
			status = login_answers[k->k_type](l, id, t->t_val[id]);
		if (status != 0)
			return status;
	}
	return t->t_unknown ? login_not_understood(l) : 0;
}

/*
 * Pass 4: security negotiation.  Without CHAP the only acceptable
 * AuthMethod is None.  With CHAP: AuthMethod=CHAP, then CHAP_A,
 * then CHAP_N/CHAP_R (and CHAP_I/CHAP_C for mutual CHAP); each request
 * must move the exchange on, or the login fails.
 */
static int
login_auth_none(struct login *l, struct login_txt *t)
{
	int	id;

	for (id = K_CHAP_A; id <= K_CHAP_R; id++)
		if (t->t_val[id] != NULL)
			return LOGIN_STATUS_AUTH_FAILED;
	if (t->t_val[K_AUTH_METHOD] == NULL)
		return 0;
	if (!login_list_has(t->t_val[K_AUTH_METHOD], "None"))
		return LOGIN_STATUS_AUTH_FAILED;
	return login_tx_add(l, "AuthMethod", "None");
}

static int
login_chap_method(struct login *l, struct login_txt *t)
{
	if (l->l_chap->lc_step != CHAP_STEP_NONE)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (!login_list_has(t->t_val[K_AUTH_METHOD], "CHAP") ||
	    login_tgt(l)->lt_chap_user[0] == '\0' ||
	    login_tgt(l)->lt_chap_secret[0] == '\0')
		return LOGIN_STATUS_AUTH_FAILED;
	l->l_chap->lc_step = CHAP_STEP_WAIT_A;
	return login_tx_add(l, "AuthMethod", "CHAP");
}

static int
login_chap_alg(struct login *l, struct login_txt *t)
{
	struct login_chap	*c = l->l_chap;
	char			 hex[CHAP_HEX_SIZE(CHAP_CHALLENGE_LEN)];
	int			 status;

	if (c->lc_step != CHAP_STEP_WAIT_A)
		return LOGIN_STATUS_AUTH_FAILED;
	if (chap_alg_offered(t->t_val[K_CHAP_A]) != CHAP_ALG_MD5) {
		c->lc_step = CHAP_STEP_REJECTED;
		return login_tx_add(l, "CHAP_A", "Reject");
	}
	if (chap_challenge_new(c) == -1 ||
	    chap_encode_hex(c->lc_challenge, sizeof(c->lc_challenge), hex,
	    sizeof(hex)) == -1)
		return LOGIN_STATUS_TARGET_ERROR;
	c->lc_step = CHAP_STEP_WAIT_R;
	if ((status = login_tx_addnum(l, "CHAP_A", CHAP_ALG_MD5)) != 0 ||
	    (status = login_tx_addnum(l, "CHAP_I", c->lc_id)) != 0)
		return status;
	return login_tx_add(l, "CHAP_C", hex);
}

/* Mutual CHAP: prove the target knows its own secret. */
static int
login_chap_mutual(struct login *l, struct login_txt *t)
{
	const struct login_target	*tg = login_tgt(l);
	char				 hex[CHAP_HEX_SIZE(CHAP_MD5_LEN)];
	int				 status;

	if (t->t_val[K_CHAP_I] == NULL || t->t_val[K_CHAP_C] == NULL ||
	    tg->lt_mchap_user[0] == '\0' || tg->lt_mchap_secret[0] == '\0')
		return LOGIN_STATUS_AUTH_FAILED;
	/* RFC 7143 9.2.1: one secret must never serve both directions. */
	if (strcmp(tg->lt_mchap_secret, tg->lt_chap_secret) == 0)
		return LOGIN_STATUS_AUTH_FAILED;
	if (chap_mutual(l->l_chap, tg->lt_mchap_secret, t->t_val[K_CHAP_I],
	    t->t_val[K_CHAP_C], hex, sizeof(hex)) == -1)
		return LOGIN_STATUS_AUTH_FAILED;
	if ((status = login_tx_add(l, "CHAP_N", tg->lt_mchap_user)) != 0)
		return status;
	return login_tx_add(l, "CHAP_R", hex);
}

static int
login_chap_response(struct login *l, struct login_txt *t)
{
	const struct login_target	*tg = login_tgt(l);
	int				 status;

	if (l->l_chap->lc_step != CHAP_STEP_WAIT_R ||
	    t->t_val[K_CHAP_N] == NULL || t->t_val[K_CHAP_R] == NULL)
		return LOGIN_STATUS_AUTH_FAILED;
	if (chap_verify(l->l_chap, tg->lt_chap_user, tg->lt_chap_secret,
	    t->t_val[K_CHAP_N], t->t_val[K_CHAP_R]) == -1)
		return LOGIN_STATUS_AUTH_FAILED;
	if ((t->t_val[K_CHAP_I] != NULL || t->t_val[K_CHAP_C] != NULL) &&
	    (status = login_chap_mutual(l, t)) != 0)
		return status;
	chap_wipe(l->l_chap);
	l->l_chap->lc_step = CHAP_STEP_DONE;
	l->l_auth_done = 1;
	return 0;
}

static int
login_auth_chap(struct login *l, struct login_txt *t)
{
	enum chap_step	entry;
	int		status = 0;

	if (l->l_chap == NULL &&
	    (l->l_chap = calloc(1, sizeof(*l->l_chap))) == NULL)
		return LOGIN_STATUS_NO_RESOURCES;
	entry = l->l_chap->lc_step;
	if (entry == CHAP_STEP_REJECTED)
		return LOGIN_STATUS_AUTH_FAILED;
	if (t->t_val[K_AUTH_METHOD] != NULL)
		status = login_chap_method(l, t);
	if (status == 0 && t->t_val[K_CHAP_A] != NULL)
		status = login_chap_alg(l, t);
	if (status == 0 && (t->t_val[K_CHAP_N] != NULL ||
	    t->t_val[K_CHAP_R] != NULL || t->t_val[K_CHAP_I] != NULL ||
	    t->t_val[K_CHAP_C] != NULL))
		status = login_chap_response(l, t);
	if (status != 0)
		return status;
	/* A request that does not advance the exchange ends it. */
	if ((entry == CHAP_STEP_WAIT_A || entry == CHAP_STEP_WAIT_R) &&
	    l->l_chap->lc_step == entry)
		return LOGIN_STATUS_AUTH_FAILED;
	if (entry == CHAP_STEP_NONE && l->l_chap->lc_step == CHAP_STEP_NONE &&
	    t->t_rq->rq_transit)
		return LOGIN_STATUS_AUTH_FAILED;
	return 0;
}

static int
login_auth(struct login *l, struct login_txt *t)
{
	if (l->l_csg != LOGIN_STAGE_SEC || l->l_auth_done)
		return 0;
	if (!login_tgt(l)->lt_chap)
		return login_auth_none(l, t);
	return login_auth_chap(l, t);
}

/*
 * Transit and declarations.  We follow the initiator's T bit unless
 * authentication is still under way.  TargetPortalGroupTag goes in the
 * first response of a Normal session, our MaxRecvDataSegmentLength in
 * the first operational-stage or final response.
 */
static void
login_transit(struct login *l, const struct login_req *rq)
{
	l->l_flags &= ~LF_TRANSIT;
	if (!rq->rq_transit)
		return;
	if (l->l_csg == LOGIN_STAGE_SEC) {
		if (login_tgt(l)->lt_chap && !l->l_auth_done)
			return;
		l->l_auth_done = 1;
	}
	l->l_flags |= LF_TRANSIT;
	l->l_nsg = rq->rq_nsg;
}

static uint32_t
login_our_mrdsl(const struct login *l)
{
	return login_clamp(l->l_our_mrdsl, LOGIN_LEN_MIN, LOGIN_LEN_MAX);
}

static int
login_declare(struct login *l, struct login_txt *t)
{
	int	status, final;

	if (l->l_type == LOGIN_SESSION_NORMAL && !(l->l_flags & LF_TPGT_SENT)) {
		l->l_flags |= LF_TPGT_SENT;
		status = login_tx_addnum(l, "TargetPortalGroupTag",
		    (uint16_t)login_tgt(l)->lt_tpgt);
		if (status != 0)
			return status;
	}
	final = (l->l_flags & LF_TRANSIT) && l->l_nsg == LOGIN_STAGE_FFP;
	if (!(l->l_flags & LF_MRDSL_SENT) && (l->l_csg == LOGIN_STAGE_OP ||
	    final || t->t_val[K_MRDSL] != NULL)) {
		l->l_flags |= LF_MRDSL_SENT;
		l->l_params.ip_mrdsl_tgt = login_our_mrdsl(l);
		return login_tx_addnum(l, "MaxRecvDataSegmentLength",
		    l->l_params.ip_mrdsl_tgt);
	}
	return 0;
}

/* One complete request text: all passes, leaving the answer in l_tx. */
static int
login_text(struct login *l, const struct login_req *rq)
{
	struct login_txt	t;
	int			status;

	memset(&t, 0, sizeof(t));
	t.t_rq = rq;
	if ((status = login_scan(l, &t)) != 0)
		return status;
	if (l->l_flags & LF_NAMED)
		status = login_identity_again(l, &t);
	else
		status = login_identify(l, &t);
	if (status != 0)
		return status;
	if (l->l_csg != LOGIN_STAGE_SEC && login_tgt(l)->lt_chap &&
	    !l->l_auth_done)
		return LOGIN_STATUS_AUTH_FAILED;
	if ((status = login_answer(l, &t)) != 0 ||
	    (status = login_auth(l, &t)) != 0)
		return status;
	login_transit(l, rq);
	return login_declare(l, &t);
}

/*
 * The BHS: decode, check, answer.
 */
static void
login_req_decode(const uint8_t *h, struct login_req *rq)
{
	rq->rq_opcode = h[0] & ISCSI_OP_MASK;
	rq->rq_transit = (h[1] & LOGIN_F_TRANSIT) != 0;
	rq->rq_cont = (h[1] & LOGIN_F_CONTINUE) != 0;
	rq->rq_csg = (h[1] >> 2) & 3;
	rq->rq_nsg = h[1] & 3;
	rq->rq_vmax = h[2];
	rq->rq_vmin = h[3];
	rq->rq_ahslen = h[4];
	rq->rq_isid = h + 8;
	rq->rq_tsih = be16dec(h + 14);
	rq->rq_itt = be32dec(h + 16);
	rq->rq_cid = be16dec(h + 20);
	rq->rq_cmdsn = be32dec(h + 24);
	rq->rq_expstatsn = be32dec(h + 28);
}

static int
login_check_stage(const struct login *l, const struct login_req *rq)
{
	if (rq->rq_transit && rq->rq_cont)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (rq->rq_csg != LOGIN_STAGE_SEC && rq->rq_csg != LOGIN_STAGE_OP)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (rq->rq_transit && (rq->rq_nsg == 2 || rq->rq_nsg <= rq->rq_csg))
		return LOGIN_STATUS_INITIATOR_ERROR;
	if (l->l_stage == LOGIN_ST_ACTIVE && rq->rq_csg != l->l_csg)
		return LOGIN_STATUS_INITIATOR_ERROR;
	return 0;
}

static int
login_check_ids(struct login *l, const struct login_req *rq)
{
	if (l->l_stage == LOGIN_ST_ACTIVE) {
		if (memcmp(l->l_isid, rq->rq_isid, sizeof(l->l_isid)) != 0 ||
		    l->l_cid != rq->rq_cid || rq->rq_tsih != 0)
			return LOGIN_STATUS_INITIATOR_ERROR;
		return 0;
	}
	/* Leading login only: no reinstatement, no added connections. */
	if (rq->rq_tsih != 0)
		return LOGIN_STATUS_NO_SESSION;
	memcpy(l->l_isid, rq->rq_isid, sizeof(l->l_isid));
	l->l_cid = rq->rq_cid;
	l->l_csg = rq->rq_csg;
	if (rq->rq_expstatsn != 0)
		l->l_statsn = rq->rq_expstatsn;
	l->l_stage = LOGIN_ST_ACTIVE;
	return 0;
}

static int
login_check(struct login *l, const struct login_req *rq)
{
	int	status;

	l->l_itt = rq->rq_itt;
	l->l_expcmdsn = rq->rq_cmdsn;	/* login is immediate: no advance */
	if (rq->rq_opcode != OP_LOGIN_REQ)
		return LOGIN_STATUS_INVALID_REQUEST;
	/* We speak version 0 only; Version-max is always >= 0. */
	if (rq->rq_vmin > ISCSI_VERSION)
		return LOGIN_STATUS_BAD_VERSION;
	if (rq->rq_ahslen != 0)
		return LOGIN_STATUS_INITIATOR_ERROR;
	if ((status = login_check_stage(l, rq)) != 0)
		return status;
	return login_check_ids(l, rq);
}

static void
login_rsp_hdr(struct login *l, const struct login_req *rq, uint8_t flags,
    uint16_t status, size_t dlen, uint8_t *rsp)
{
	memset(rsp, 0, ISCSI_BHS_LEN);
	rsp[0] = OP_LOGIN_RSP;
	rsp[1] = flags;
	rsp[2] = ISCSI_VERSION;		/* Version-max */
	rsp[3] = ISCSI_VERSION;		/* Version-active */
	be24enc(rsp + 5, (uint32_t)dlen);
	memcpy(rsp + 8, rq->rq_isid, 6);
	be16enc(rsp + 14, l->l_stage == LOGIN_ST_DONE ? l->l_tsih :
	    rq->rq_tsih);
	be32enc(rsp + 16, rq->rq_itt);
	be32enc(rsp + 24, l->l_statsn++);
	be32enc(rsp + 28, l->l_expcmdsn);
	be32enc(rsp + 32, l->l_expcmdsn + LOGIN_CMD_WINDOW - 1);
	be16enc(rsp + 36, status);
	l->l_status = status;
}

static enum login_result
login_fail(struct login *l, const struct login_req *rq, uint16_t status,
    uint8_t *rsp)
{
	l->l_stage = LOGIN_ST_DEAD;
	login_cleanup(l);
	login_rsp_hdr(l, rq, (uint8_t)(l->l_csg << 2), status, 0, rsp);
	return LOGIN_FAIL;
}

/*
 * Another portal serves the target (RFC 7143 11.13.5): "Target moved
 * temporarily" with its TargetAddress, then the connection closes.
 */
static enum login_result
login_redirect(struct login *l, const struct login_req *rq, uint8_t *rsp,
    uint8_t **rdata, size_t *rdlen)
{
	char	*kv;
	int	 n;

	if (l->l_tgt == NULL || (n = asprintf(&kv, "TargetAddress=%s",
	    l->l_tgt->lt_redirect)) == -1)
		return login_fail(l, rq, LOGIN_STATUS_NO_RESOURCES, rsp);
	l->l_stage = LOGIN_ST_DEAD;
	login_cleanup(l);
	login_rsp_hdr(l, rq, (uint8_t)(l->l_csg << 2), LOGIN_STATUS_MOVED_TEMP,
	    (size_t)n + 1, rsp);
	*rdata = (uint8_t *)kv;
	*rdlen = (size_t)n + 1;
	return LOGIN_FAIL;
}

/* Enter the next stage; the full feature phase ends the login. */
static enum login_result
login_advance(struct login *l)
{
	struct iscsi_params	*p = &l->l_params;

	l->l_flags &= ~LF_TRANSIT;
	l->l_csg = l->l_nsg;
	if (l->l_csg != LOGIN_STAGE_FFP)
		return LOGIN_CONTINUE;
	l->l_tsih = l->l_tsih_next;
	p->ip_mrdsl_tgt = login_our_mrdsl(l);
	if (p->ip_first_burst > p->ip_max_burst)
		p->ip_first_burst = p->ip_max_burst;
	l->l_stage = LOGIN_ST_DONE;
	login_cleanup(l);
	return LOGIN_DONE;
}

/* Send the next piece of l_tx (possibly nothing) with its flags. */
static enum login_result
login_respond(struct login *l, const struct login_req *rq, uint8_t *rsp,
    uint8_t **rdata, size_t *rdlen)
{
	enum login_result	 res = LOGIN_CONTINUE;
	size_t			 n = l->l_txlen - l->l_txoff;
	uint8_t			 flags = (uint8_t)(l->l_csg << 2);

	if (n > LOGIN_PDU_TEXT)
		n = LOGIN_PDU_TEXT;
	if (n > 0) {
		if ((*rdata = malloc(n)) == NULL)
			return login_fail(l, rq, LOGIN_STATUS_NO_RESOURCES, rsp);
		memcpy(*rdata, l->l_tx + l->l_txoff, n);
		*rdlen = n;
		l->l_txoff += n;
	}
	if (l->l_txoff < l->l_txlen)
		flags |= LOGIN_F_CONTINUE;
	else {
		login_tx_clear(l);
		if (l->l_flags & LF_TRANSIT) {
			flags |= LOGIN_F_TRANSIT | (uint8_t)l->l_nsg;
			res = login_advance(l);
		}
	}
	login_rsp_hdr(l, rq, flags, LOGIN_STATUS_SUCCESS, n, rsp);
	return res;
}

/* The initiator fetches the rest of a long answer with empty requests. */
static enum login_result
login_more(struct login *l, const struct login_req *rq, size_t dlen,
    uint8_t *rsp, uint8_t **rdata, size_t *rdlen)
{
	if (dlen != 0 || rq->rq_cont)
		return login_fail(l, rq, LOGIN_STATUS_INITIATOR_ERROR, rsp);
	if (!rq->rq_transit)
		l->l_flags &= ~LF_TRANSIT;
	return login_respond(l, rq, rsp, rdata, rdlen);
}

enum login_result
login_pdu(struct login *l, const uint8_t *hdr, const uint8_t *data,
    size_t dlen, uint8_t *rsp, uint8_t **rdata, size_t *rdlen)
{
	struct login_req	rq;
	int			status;

	*rdata = NULL;
	*rdlen = 0;
	if (l->l_stage == LOGIN_ST_DONE || l->l_stage == LOGIN_ST_DEAD)
		return LOGIN_CLOSE;
	login_req_decode(hdr, &rq);
	if ((status = login_check(l, &rq)) != 0)
		return login_fail(l, &rq, (uint16_t)status, rsp);
	if (l->l_txoff < l->l_txlen)
		return login_more(l, &rq, dlen, rsp, rdata, rdlen);
	if ((status = login_rx_add(l, data, dlen)) != 0)
		return login_fail(l, &rq, (uint16_t)status, rsp);
	if (rq.rq_cont)		/* more text to come: empty answer, C=0 */
		return login_respond(l, &rq, rsp, rdata, rdlen);
	status = login_text(l, &rq);
	login_rx_clear(l);
	if (status == LOGIN_STATUS_MOVED_TEMP)
		return login_redirect(l, &rq, rsp, rdata, rdlen);
	if (status != 0)
		return login_fail(l, &rq, (uint16_t)status, rsp);
	return login_respond(l, &rq, rsp, rdata, rdlen);
}

void
login_init(struct login *l)
{
	memset(l, 0, sizeof(*l));
	l->l_our_mrdsl = 262144;
	l->l_max_burst_cap = LOGIN_LEN_MAX;
	l->l_tsih_next = 1;
	l->l_stage = LOGIN_ST_NEW;
	l->l_csg = LOGIN_STAGE_SEC;
	iscsi_params_default(&l->l_params);
}

void
login_free(struct login *l)
{
	login_cleanup(l);
}
