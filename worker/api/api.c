/*
 * The HTTP API of a worker, on the api-listen sockets it inherited from
 * the master (libevent's HTTP server accepts on them itself).
 *
 * Routes are a table: path, whether an id follows, and a handler per
 * method; a known path with another method is 405, anything else 404.
 * Session creation and deletion are answered once the coordinator has
 * answered; everything else is read from shared memory (the sessions
 * mirror, the workers' counters in the shmq slots) and answered at once.
 * Every error is a JSON object {"error": reason}.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "api.h"
#include "cluster.h"
#include "hex.h"
#include "iscsiproto.h"
#include "log.h"
#include "lu.h"
#include "netaddr.h"
#include "psess.h"
#include "shmq.h"
#include "store.h"
#include "worker.h"

#define API_BODY_HARD	(2 * API_BODY_MAX)	/* libevent cuts off beyond this */

struct api_req {
	struct evhttp_request	*ar_req;
	struct worker		*ar_w;
	const char		*ar_arg;	/* what follows a prefix route */
	struct api_auth		 ar_auth;
};

typedef void (*api_fn)(struct api_req *);

enum api_method { API_GET, API_POST, API_DELETE, API_NMETHODS };

struct api_route {
	const char	*rt_path;
	int		 rt_prefix;	/* an id follows rt_path */
	int		 rt_auth;	/* needs api_authorize() */
	api_fn		 rt_fn[API_NMETHODS];
};

/* A creation or deletion waiting for the coordinator. */
struct api_pending {
	TAILQ_ENTRY(api_pending) ap_entry;
	struct evhttp_request	*ap_req;	/* NULL: server gone */
	struct worker		*ap_w;
	struct psess_rec	 ap_rec;
};

static TAILQ_HEAD(, api_pending) api_pendings =
    TAILQ_HEAD_INITIALIZER(api_pendings);

/* ---- Checks without a server (unit-tested) ---- */

/*
 * A reason for the JSON error, quoting what the client sent: printable
 * ASCII only, so that a quote cut inside a UTF-8 character (or bytes
 * that are not UTF-8 at all) still makes a JSON string.
 */
static int
api_err(char *err, size_t errlen, int status, const char *fmt, const char *s)
{
	char	*p;

	snprintf(err, errlen, fmt, s);
	for (p = err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return status;
}

static int
api_create_images(json_t *a, struct api_create *ac, char *err, size_t errlen)
{
	const char	*name;
	size_t		 i;

	if (!json_is_array(a))
		return api_err(err, errlen, 400, "%s",
		    "\"images\" must be an array of image names");
	if (json_array_size(a) == 0)
		return api_err(err, errlen, 400, "%s", "no images");
	if (json_array_size(a) > CFG_MAX_TARGET_LUNS)
		return api_err(err, errlen, 400, "%s",
		    "too many images (at most 256)");
	for (i = 0; i < json_array_size(a); i++) {
		if (!json_is_string(json_array_get(a, i)))
			return api_err(err, errlen, 400, "%s",
			    "\"images\" must be an array of image names");
		name = json_string_value(json_array_get(a, i));
		if (strlen(name) >= CFG_NAME_MAX ||
		    !config_image_name_ok(name))
			return api_err(err, errlen, 400, "unknown image \"%.64s\"",
			    name);
		snprintf(ac->ac_images[i], CFG_NAME_MAX, "%s", name);
	}
	ac->ac_nimages = (int)i;
	return 0;
}

/*
 * The body of POST /api/sessions: {"images": [names], "tier": name}, the
 * tier optional and nothing else.  0, 400 or 413.
 */
int
api_create_parse(const char *body, size_t len, struct api_create *ac,
    char *err, size_t errlen)
{
	json_error_t	 je;
	json_t		*j, *v;
	const char	*k;
	int		 rv = 0;

	memset(ac, 0, sizeof(*ac));
	if (len > API_BODY_MAX)
		return api_err(err, errlen, 413, "%s",
		    "request body over 64 KiB");
	if ((j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return api_err(err, errlen, 400, "malformed JSON: %.100s",
		    je.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return api_err(err, errlen, 400, "%s", "want a JSON object");
	}
	json_object_foreach(j, k, v) {
		if (strcmp(k, "images") == 0)
			rv = api_create_images(v, ac, err, errlen);
		else if (strcmp(k, "tier") == 0 && (!json_is_string(v) ||
		    strlen(json_string_value(v)) >= CFG_NAME_MAX))
			rv = api_err(err, errlen, 400, "%s",
			    "\"tier\" must be a tier name");
		else if (strcmp(k, "tier") == 0)
			snprintf(ac->ac_tier, sizeof(ac->ac_tier), "%s",
			    json_string_value(v));
		else
			rv = api_err(err, errlen, 400, "unknown field \"%.64s\"",
			    k);
		if (rv != 0)
			break;
	}
	if (rv == 0 && json_object_get(j, "images") == NULL)
		rv = api_err(err, errlen, 400, "%s", "\"images\" is missing");
	json_decref(j);
	return rv;
}

static void
api_sha256(const char *a, const char *b, uint8_t out[32])
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned	 n = 32;

	memset(out, 0, 32);
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, a, strlen(a) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, b, strlen(b)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		memset(out, 0, 32);
	EVP_MD_CTX_free(ctx);
}

/* Who owns what a caller creates: kind "token" or "addr", and its value. */
uint64_t
api_owner_hash(const char *kind, const char *value)
{
	uint8_t		 d[32];
	uint64_t	 h = 0;
	int		 i;

	api_sha256(kind, value, d);
	for (i = 0; i < 8; i++)
		h = h << 8 | d[i];
	return h == 0 ? 1 : h;
}

/*
 * An anonymous caller is its address: IPv4 whole, IPv6 by its first
 * ipv6-prefix bits (a /64 holds more addresses than anyone could count
 * one by one), so that its sessions and creations are counted as one.
 */
static uint64_t
api_anon_owner(const struct config *cfg, const char *peer)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	uint8_t			 key[NETADDR_KEY_LEN];
	char			 hex[2 * NETADDR_KEY_LEN + 1];

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	sin.sin_family = AF_INET;
	sin6.sin6_family = AF_INET6;
	if (inet_pton(AF_INET, peer, &sin.sin_addr) == 1)
		netaddr_key((struct sockaddr *)&sin, sizeof(sin), 128, key);
	else if (inet_pton(AF_INET6, peer, &sin6.sin6_addr) == 1)
		netaddr_key((struct sockaddr *)&sin6, sizeof(sin6),
		    (unsigned)cfg->c_v6_prefix, key);
	else
		return api_owner_hash("addr", peer);
	hex_encode(key, NETADDR_KEY_LEN, hex);
	return api_owner_hash("addr", hex);
}

/*
 * The Authorization header (NULL when absent) against the configured
 * tokens.  Tokens are compared as SHA-256 digests with CRYPTO_memcmp, all
 * of them every time: the time taken tells nothing about a token.
 * Without a header: the anonymous tier, owned by the peer's address.
 * 0, or 401 for a bad scheme or an unknown token.
 */
int
api_authorize(const struct config *cfg, const char *hdr, const char *peer,
    struct api_auth *aa, char *err, size_t errlen)
{
	uint8_t		 want[32], have[32];
	const char	*tok;
	int		 i;

	memset(aa, 0, sizeof(*aa));
	if (hdr == NULL) {
		aa->aa_owner = api_anon_owner(cfg, peer);
		aa->aa_tiers[aa->aa_ntiers++] = "anonymous";
		return 0;
	}
	if (strncasecmp(hdr, "Bearer ", 7) != 0)
		return api_err(err, errlen, 401, "%s",
		    "want Authorization: Bearer TOKEN");
	for (tok = hdr + 7; *tok == ' '; tok++)
		continue;
	api_sha256("token", tok, have);
	for (i = 0; i < cfg->c_ntokens; i++) {
		api_sha256("token", cfg->c_tokens[i].tk_token, want);
		if (CRYPTO_memcmp(want, have, sizeof(want)) == 0) {
			aa->aa_tiers[aa->aa_ntiers++] =
			    cfg->c_tokens[i].tk_tier;
			aa->aa_token = 1;
		}
	}
	OPENSSL_cleanse(have, sizeof(have));
	if (!aa->aa_token)
		return api_err(err, errlen, 401, "%s", "unknown token");
	aa->aa_owner = api_owner_hash("token", tok);
	return 0;
}

/* The tier a creation gets: the one asked for, if allowed.  0 or 403. */
int
api_tier_choose(const struct config *cfg, const struct api_auth *aa,
    const char *want, const struct cfg_tier **tier, char *err, size_t errlen)
{
	int	 i;

	if (want == NULL || want[0] == '\0')
		want = aa->aa_tiers[0];
	if ((*tier = config_tier(cfg, want)) == NULL)
		return api_err(err, errlen, 403, "unknown tier \"%.64s\"", want);
	for (i = 0; i < aa->aa_ntiers; i++)
		if (strcmp(aa->aa_tiers[i], want) == 0)
			return 0;
	return api_err(err, errlen, 403, aa->aa_token ?
	    "tier \"%.64s\" is not allowed for this token" :
	    "tier \"%.64s\" needs a token", want);
}

/* ---- Replies ---- */

static void
api_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (b != NULL && s != NULL) {
		evbuffer_add_printf(b, "%s\n", s);
		evhttp_send_reply(req, code, NULL, b);
	} else
		evhttp_send_error(req, 500, NULL);
	free(s);
	if (b != NULL)
		evbuffer_free(b);
	json_decref(j);
}

static json_t *
api_error_obj(const char *msg)
{
	return json_pack("{s:s}", "error", msg);
}

static void
api_error(struct evhttp_request *req, int code, const char *msg)
{
	api_json(req, code, api_error_obj(msg));
}

/*
 * The body of an error answer written without evhttp (apiconn.c): the
 * same JSON and newline as api_json(), to free(); NULL without memory.
 */
char *
api_error_body(const char *msg)
{
	json_t	*j = api_error_obj(msg);
	char	*s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	char	*body = NULL;

	if (s != NULL && asprintf(&body, "%s\n", s) == -1)
		body = NULL;
	free(s);
	json_decref(j);
	return body;
}

static void
api_text(struct evhttp_request *req, const char *type, struct evbuffer *b)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, 200, NULL, b);
	evbuffer_free(b);
}

static json_t *
api_time(uint64_t t)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;
	char		 buf[32];

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* ---- Images and sessions ---- */

static void
api_images(struct api_req *ar)
{
	json_t		*a = json_array();
	struct image	*im;
	char		 iqn[ISCSI_NAME_MAX];
	int		 i;

	for (i = 0; i < ar->ar_w->w_nimages; i++) {
		im = ar->ar_w->w_images[i];
		config_image_iqn(ar->ar_w->w_cfg, im->im_name, iqn,
		    sizeof(iqn));
		json_array_append_new(a, json_pack("{s:s, s:I, s:s}",
		    "name", im->im_name, "size", (json_int_t)im->im_size,
		    "iqn", iqn));
	}
	api_json(ar->ar_req, 200, json_pack("{s:o}", "images", a));
}

/* A node of a cluster: every live node's address, this one's first. */
static json_t *
api_cluster_portals(struct worker *w)
{
	static struct cluster_view v;
	json_t		*a = json_array();
	uint32_t	 i;

	json_array_append_new(a, json_string(w->w_cfg->c_cluster.cc_addr));
	if (cluster_page_view(cluster_page(w->w_cfg->c_state_dir), NULL,
	    &v) != 0)
		return a;
	for (i = 0; i < v.cv_nnodes; i++)
		if (i != v.cv_self && v.cv_nodes[i].cn_alive)
			json_array_append_new(a,
			    json_string(v.cv_nodes[i].cn_addr));
	return a;
}

static json_t *
api_portals(struct worker *w, enum listen_kind kind)
{
	json_t	*a;
	int	 i;

	if (kind == LISTEN_ISCSI && w->w_cfg->c_cluster.cc_on)
		return api_cluster_portals(w);
	a = json_array();
	for (i = 0; i < w->w_cfg->c_nlisten; i++)
		if (w->w_cfg->c_listen[i].cl_kind == kind)
			json_array_append_new(a,
			    json_string(w->w_cfg->c_listen[i].cl_text));
	return a;
}

static json_t *
api_luns(struct worker *w, const struct psess_rec *r)
{
	struct image	*im;
	json_t		*a = json_array();
	int		 i;

	for (i = 0; i < r->ps_nluns; i++) {
		im = catalog_image(w, r->ps_images[i]);
		json_array_append_new(a, json_pack("{s:i, s:s, s:I}", "lun", i,
		    "image", r->ps_images[i], "size",
		    (json_int_t)(im != NULL ? im->im_size : 0)));
	}
	return a;
}

static json_t *
api_conns(const struct psess_ment *e)
{
	const struct psess_conn	*pc;
	json_t			*a = json_array();
	uint32_t		 i;

	for (i = 0; i < e->me_nconns; i++) {
		pc = &e->me_conns[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:i, s:o}",
		    "initiator", pc->pc_initiator, "peer", pc->pc_peer,
		    "worker_slot", (int)pc->pc_slot, "since",
		    api_time(pc->pc_since)));
	}
	return a;
}

static json_t *
api_session_json(struct worker *w, const struct psess_ment *e)
{
	const struct psess_rec	*r = &e->me_rec;
	char			 ids[PSESS_IDSTR], iqn[ISCSI_NAME_MAX];

	psess_id_fmt(r->ps_id, ids);
	snprintf(iqn, sizeof(iqn), "%s:%s", w->w_cfg->c_iqn_prefix, r->ps_iqn);
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:{s:s}, "
	    "s:o, s:o, s:I, s:I, s:o, s:o}",
	    "id", ids, "iqn", iqn, "tier", r->ps_tier,
	    "state", psess_state_name(psess_state(r, e->me_nconns)),
	    "persistent", (r->ps_flags & PSESS_F_PERSISTENT) != 0,
	    "created_at", api_time(r->ps_created),
	    "expires_at", api_time(psess_expires(r, e->me_nconns)),
	    "chap", "user", r->ps_user,
	    "portals", api_portals(w, LISTEN_ISCSI),
	    "tls_portals", api_portals(w, LISTEN_ISCSI_TLS),
	    "bytes_written", (json_int_t)psess_used_bytes(w, r->ps_id),
	    "quota", (json_int_t)r->ps_quota,
	    "luns", api_luns(w, r),
	    "connections", api_conns(e));
}

static struct psess_ment	 api_ent;	/* scratch: entries are big */

/* The caller's session named by the route's argument, or an answer. */
static int
api_session_find(struct api_req *ar)
{
	struct psess_mirror	*m;
	uint64_t		 id;

	if (psess_id_parse(ar->ar_arg, &id) != 0 ||
	    (m = psess_mirror(ar->ar_w)) == NULL ||
	    psess_mirror_find(m, id, NULL, &api_ent) == -1 ||
	    api_ent.me_rec.ps_owner != ar->ar_auth.aa_owner) {
		api_error(ar->ar_req, 404, "no such session");
		return -1;
	}
	return 0;
}

static void
api_session_get(struct api_req *ar)
{
	if (api_session_find(ar) == 0)
		api_json(ar->ar_req, 200, api_session_json(ar->ar_w, &api_ent));
}

static void
api_sessions_list(struct api_req *ar)
{
	struct psess_mirror	*m = psess_mirror(ar->ar_w);
	json_t			*a = json_array();
	uint64_t		 id;
	int			 i;

	for (i = 0; m != NULL && i < PSESS_MAX; i++) {
		if (!psess_mirror_peek(m, i, &id) ||
		    psess_mirror_read(m, i, &api_ent) != 1 ||
		    api_ent.me_rec.ps_owner != ar->ar_auth.aa_owner)
			continue;
		json_array_append_new(a, api_session_json(ar->ar_w, &api_ent));
	}
	api_json(ar->ar_req, 200, json_pack("{s:o}", "sessions", a));
}

static struct api_pending *
api_pending_new(struct api_req *ar)
{
	struct api_pending	*ap;

	if ((ap = calloc(1, sizeof(*ap))) == NULL)
		return NULL;
	ap->ap_req = ar->ar_req;
	ap->ap_w = ar->ar_w;
	TAILQ_INSERT_TAIL(&api_pendings, ap, ap_entry);
	return ap;
}

static void
api_pending_free(struct api_pending *ap)
{
	TAILQ_REMOVE(&api_pendings, ap, ap_entry);
	OPENSSL_cleanse(&ap->ap_rec, sizeof(ap->ap_rec));
	free(ap);
}

static void
api_created(struct worker *w, const struct shmq_msg *m, void *arg)
{
	struct api_pending	*ap = arg;
	const struct psess_rec	*r = &ap->ap_rec;
	char			 ids[PSESS_IDSTR], iqn[ISCSI_NAME_MAX];

	if (ap->ap_req == NULL)
		;
	else if (m->m_status == EDQUOT)
		api_error(ap->ap_req, 429, "too many sessions for this "
		    "token (or address) in this tier");
	else if (m->m_status == EBUSY)
		api_error(ap->ap_req, 429, "too many sessions created from "
		    "this address in the last minute");
	else if (m->m_status == ENOSPC)
		api_error(ap->ap_req, 503, "the session table is full");
	else if (m->m_status == EMLINK)
		api_error(ap->ap_req, 503, "anonymous sessions are at their "
		    "limit (api-max-anonymous); try later or use a token");
	else if (m->m_status == ENOENT)
		api_error(ap->ap_req, 503, "the coordinator restarted "
		    "meanwhile; try again");
	else if (m->m_status != 0)
		api_error(ap->ap_req, 500, strerror((int)m->m_status));
	else {
		psess_id_fmt(r->ps_id, ids);
		snprintf(iqn, sizeof(iqn), "%s:%s", w->w_cfg->c_iqn_prefix,
		    r->ps_iqn);
		api_json(ap->ap_req, 201, json_pack("{s:s, s:s, s:o, s:o, "
		    "s:{s:s, s:s}, s:o, s:s, s:b, s:o, s:o}",
		    "id", ids, "iqn", iqn,
		    "portals", api_portals(w, LISTEN_ISCSI),
		    "tls_portals", api_portals(w, LISTEN_ISCSI_TLS),
		    "chap", "user", r->ps_user, "secret", r->ps_secret,
		    "luns", api_luns(w, r), "tier", r->ps_tier,
		    "persistent", (r->ps_flags & PSESS_F_PERSISTENT) != 0,
		    "created_at", api_time(r->ps_created),
		    "expires_at", api_time(psess_expires(r, 0))));
	}
	api_pending_free(ap);
}

/* The request body: NULL with an answer sent when it cannot be had. */
static char *
api_body(struct api_req *ar, size_t *len)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(ar->ar_req);
	char		*body;

	*len = evbuffer_get_length(in);
	if (*len > API_BODY_MAX) {
		api_error(ar->ar_req, 413, "request body over 64 KiB");
		return NULL;
	}
	if ((body = malloc(*len + 1)) == NULL) {
		api_error(ar->ar_req, 503, "out of memory");
		return NULL;
	}
	evbuffer_copyout(in, body, *len);
	body[*len] = '\0';
	return body;
}

/* Validate a creation against the config and catalog: 0 or a status. */
static int
api_create_check(struct api_req *ar, const struct api_create *ac,
    const struct cfg_tier **tier, char *err, size_t errlen)
{
	int	 i, rv;

	rv = api_tier_choose(ar->ar_w->w_cfg, &ar->ar_auth, ac->ac_tier, tier,
	    err, errlen);
	if (rv != 0)
		return rv;
	if (ac->ac_nimages > (*tier)->ct_luns) {
		snprintf(err, errlen, "too many images: tier %s allows %d",
		    (*tier)->ct_name, (*tier)->ct_luns);
		return 400;
	}
	for (i = 0; i < ac->ac_nimages; i++)
		if (catalog_image(ar->ar_w, ac->ac_images[i]) == NULL)
			return api_err(err, errlen, 400,
			    "unknown image \"%.64s\"", ac->ac_images[i]);
	return 0;
}

static void
api_rec_fill(struct api_req *ar, const struct api_create *ac,
    const struct cfg_tier *tier, struct psess_rec *r)
{
	int	 i;

	r->ps_owner = ar->ar_auth.aa_owner;
	r->ps_created = (uint64_t)time(NULL);
	r->ps_ttl = tier->ct_ttl;
	r->ps_quota = tier->ct_quota;
	r->ps_flags = (tier->ct_persistent ? PSESS_F_PERSISTENT : 0) |
	    (tier->ct_pr ? PSESS_F_PR : 0) |
	    (ar->ar_auth.aa_token ? 0 : PSESS_F_ANON);
	snprintf(r->ps_tier, sizeof(r->ps_tier), "%s", tier->ct_name);
	r->ps_nluns = (uint16_t)ac->ac_nimages;
	for (i = 0; i < ac->ac_nimages; i++)
		memcpy(r->ps_images[i], ac->ac_images[i], CFG_NAME_MAX);
}

static void
api_sessions_create(struct api_req *ar)
{
	static struct api_create ac;
	const struct cfg_tier	*tier;
	struct psess_limits	 pl;
	struct api_pending	*ap;
	char			 err[API_ERR_MAX], *body;
	size_t			 len;
	int			 rv;

	if ((body = api_body(ar, &len)) == NULL)
		return;
	rv = api_create_parse(body, len, &ac, err, sizeof(err));
	free(body);
	if (rv == 0)
		rv = api_create_check(ar, &ac, &tier, err, sizeof(err));
	if (rv != 0) {
		api_error(ar->ar_req, rv, err);
		return;
	}
	if ((ap = api_pending_new(ar)) == NULL ||
	    psess_identity(&ap->ap_rec) != 0) {
		if (ap != NULL)
			api_pending_free(ap);
		api_error(ar->ar_req, 503, "cannot create a session now");
		return;
	}
	api_rec_fill(ar, &ac, tier, &ap->ap_rec);
	pl.pl_sessions = (uint16_t)tier->ct_sessions;
	pl.pl_rate = ar->ar_auth.aa_token ? 0 :
	    (uint16_t)ar->ar_w->w_cfg->c_api_rate;
	pl.pl_anon_max = (uint16_t)ar->ar_w->w_cfg->c_api_max_anon;
	if (psess_create(ar->ar_w, &ap->ap_rec, &pl, api_created, ap) != 0) {
		api_pending_free(ap);
		api_error(ar->ar_req, 503, "the coordinator is unreachable");
	}
}

static void
api_deleted(struct worker *w, const struct shmq_msg *m, void *arg)
{
	struct api_pending	*ap = arg;
	char			 ids[PSESS_IDSTR];

	(void)w;
	if (ap->ap_req != NULL && m->m_status != 0)
		api_error(ap->ap_req, 500, strerror((int)m->m_status));
	else if (ap->ap_req != NULL) {
		psess_id_fmt(ap->ap_rec.ps_id, ids);
		api_json(ap->ap_req, 200, json_pack("{s:s, s:s}", "id", ids,
		    "state", "deleted"));
	}
	api_pending_free(ap);
}

static void
api_session_delete(struct api_req *ar)
{
	struct api_pending	*ap;

	if (api_session_find(ar) != 0)
		return;
	if ((ap = api_pending_new(ar)) == NULL) {
		api_error(ar->ar_req, 503, "out of memory");
		return;
	}
	ap->ap_rec.ps_id = api_ent.me_rec.ps_id;
	if (psess_delete(ar->ar_w, ap->ap_rec.ps_id, api_deleted, ap) != 0) {
		api_pending_free(ap);
		api_error(ar->ar_req, 503, "the coordinator is unreachable");
	}
}

/* ---- Status and metrics ---- */

struct api_tierfig {
	const char	*tf_name;
	int		 tf_state[3];	/* by enum psess_state */
};

struct api_fig {
	time_t			 f_uptime;
	int			 f_nworkers;
	int			 f_slot[SHMQ_SLOTS_MAX];
	pid_t			 f_pid[SHMQ_SLOTS_MAX];
	struct shmq_wstats	 f_ws[SHMQ_SLOTS_MAX];
	struct shmq_wstats	 f_sum;
	uint64_t		 f_depth;
	pid_t			 f_coord;
	struct shmq_stats	 f_cst;
	struct api_tierfig	 f_tier[CFG_MAX_TIERS + 1];
	int			 f_ntiers;
	int			 f_sessions;
};

static void
api_fig_sessions(struct worker *w, struct api_fig *f)
{
	struct psess_mirror	*m = psess_mirror(w);
	uint64_t		 id;
	int			 i, t;

	for (t = 0; t < w->w_cfg->c_ntiers; t++)
		f->f_tier[t].tf_name = w->w_cfg->c_tiers[t].ct_name;
	f->f_tier[t].tf_name = "(other)";
	f->f_ntiers = t + 1;
	for (i = 0; m != NULL && i < PSESS_MAX; i++) {
		if (!psess_mirror_peek(m, i, &id) ||
		    psess_mirror_read(m, i, &api_ent) != 1)
			continue;
		for (t = 0; t < f->f_ntiers - 1; t++)
			if (strcmp(f->f_tier[t].tf_name,
			    api_ent.me_rec.ps_tier) == 0)
				break;
		f->f_tier[t].tf_state[psess_state(&api_ent.me_rec,
		    api_ent.me_nconns)]++;
		f->f_sessions++;
	}
}

static void
api_fig_workers(struct worker *w, struct api_fig *f)
{
	struct shmq_wstats	*ws, *sum = &f->f_sum;
	int			 i, n = shmq_region_nslots(w->w_region);

	stats_publish(w);
	for (i = 0; i < n; i++) {
		f->f_depth += shmq_request_depth(w->w_region, i);
		if ((f->f_pid[f->f_nworkers] = shmq_slot_pid(w->w_region, i)) ==
		    0)
			continue;
		ws = &f->f_ws[f->f_nworkers];
		shmq_wstats_get(w->w_region, i, ws);
		f->f_slot[f->f_nworkers++] = i;
		sum->ws_conns += ws->ws_conns;
		sum->ws_rbytes += ws->ws_rbytes;
		sum->ws_wbytes += ws->ws_wbytes;
		sum->ws_cmds += ws->ws_cmds;
		sum->ws_rbytes_ps += ws->ws_rbytes_ps;
		sum->ws_wbytes_ps += ws->ws_wbytes_ps;
		sum->ws_cmds_ps += ws->ws_cmds_ps;
	}
}

static void
api_fig(struct worker *w, struct api_fig *f)
{
	memset(f, 0, sizeof(*f));
	f->f_uptime = time(NULL) - shmq_region_started(w->w_region);
	api_fig_workers(w, f);
	f->f_coord = shmq_coordinator_pid(w->w_region);
	shmq_stats_get(w->w_region, &f->f_cst);
	api_fig_sessions(w, f);
}

static double
api_commit_ms(const struct api_fig *f)
{
	if (f->f_cst.st_commits == 0)
		return 0.0;
	return (double)f->f_cst.st_commit_ns / (double)f->f_cst.st_commits /
	    1e6;
}

static json_t *
api_status_json(struct worker *w, const struct api_fig *f)
{
	json_t		*workers = json_array(), *tiers = json_object();
	int		 i, s[3] = { 0, 0, 0 };

	for (i = 0; i < f->f_nworkers; i++)
		json_array_append_new(workers, json_pack("{s:I, s:i, s:i, "
		    "s:I, s:I, s:I, s:I}", "worker",
		    (json_int_t)f->f_ws[i].ws_index, "slot", f->f_slot[i],
		    "pid", (int)f->f_pid[i], "connections",
		    (json_int_t)f->f_ws[i].ws_conns,
		    "read_bytes_per_second", (json_int_t)f->f_ws[i].ws_rbytes_ps,
		    "write_bytes_per_second",
		    (json_int_t)f->f_ws[i].ws_wbytes_ps,
		    "commands_per_second", (json_int_t)f->f_ws[i].ws_cmds_ps));
	for (i = 0; i < f->f_ntiers; i++) {
		const struct api_tierfig *t = &f->f_tier[i];

		if (i == f->f_ntiers - 1 && t->tf_state[0] + t->tf_state[1] +
		    t->tf_state[2] == 0)
			continue;
		json_object_set_new(tiers, t->tf_name, json_pack("{s:i, s:i, "
		    "s:i}", "waiting", t->tf_state[PSESS_WAITING], "active",
		    t->tf_state[PSESS_ACTIVE], "suspended",
		    t->tf_state[PSESS_SUSPENDED]));
		s[0] += t->tf_state[0];
		s[1] += t->tf_state[1];
		s[2] += t->tf_state[2];
	}
	return json_pack("{s:s, s:I, s:o, s:o, s:I, s:{s:i, s:i, s:i, s:i, "
	    "s:o}, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:{s:i, s:I, s:I, "
	    "s:I, s:I, s:f}, s:i}",
	    "version", PACKAGE_VERSION,
	    "uptime", (json_int_t)f->f_uptime,
	    "started_at", api_time((uint64_t)shmq_region_started(w->w_region)),
	    "workers", workers,
	    "connections", (json_int_t)f->f_sum.ws_conns,
	    "sessions", "total", f->f_sessions, "waiting", s[PSESS_WAITING],
	    "active", s[PSESS_ACTIVE], "suspended", s[PSESS_SUSPENDED],
	    "tiers", tiers,
	    "throughput", "read_bytes_per_second",
	    (json_int_t)f->f_sum.ws_rbytes_ps, "write_bytes_per_second",
	    (json_int_t)f->f_sum.ws_wbytes_ps, "commands_per_second",
	    (json_int_t)f->f_sum.ws_cmds_ps,
	    "totals", "read_bytes", (json_int_t)f->f_sum.ws_rbytes,
	    "written_bytes", (json_int_t)f->f_sum.ws_wbytes, "commands",
	    (json_int_t)f->f_sum.ws_cmds,
	    "coordinator", "pid", (int)f->f_coord, "queue_depth",
	    (json_int_t)f->f_depth, "requests",
	    (json_int_t)f->f_cst.st_requests, "commits",
	    (json_int_t)f->f_cst.st_commits, "syncs",
	    (json_int_t)f->f_cst.st_syncs, "commit_latency_ms",
	    api_commit_ms(f),
	    "images", w->w_nimages);
}

/* One "name: value" row per member of object o, recursively flattened. */
static void
api_html_rows(struct evbuffer *b, const char *pfx, json_t *o)
{
	const char	*k;
	json_t		*v;
	char		 name[128], *s;

	json_object_foreach(o, k, v) {
		snprintf(name, sizeof(name), "%s%s%s", pfx, pfx[0] ? " " : "",
		    k);
		if (json_is_object(v)) {
			api_html_rows(b, name, v);
			continue;
		}
		if (json_is_array(v))
			continue;
		s = json_dumps(v, JSON_ENCODE_ANY);
		evbuffer_add_printf(b, "<tr><th>%s</th><td>%s</td></tr>\n",
		    name, s != NULL ? s : "");
		free(s);
	}
}

static void
api_status_html(struct evhttp_request *req, json_t *j)
{
	struct evbuffer	*b = evbuffer_new();
	json_t		*wk;
	size_t		 i;

	if (b == NULL) {
		json_decref(j);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html><head><meta "
	    "charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">"
	    "<title>scsipub status</title></head><body>\n<h1>scsipub %s</h1>\n"
	    "<table>\n", json_string_value(json_object_get(j, "version")));
	api_html_rows(b, "", j);
	evbuffer_add_printf(b, "</table>\n<h2>Workers</h2>\n<table>\n<tr><th>"
	    "worker</th><th>pid</th><th>connections</th><th>read B/s</th>"
	    "<th>write B/s</th><th>commands/s</th></tr>\n");
	json_array_foreach(json_object_get(j, "workers"), i, wk)
		evbuffer_add_printf(b, "<tr><td>%lld</td><td>%lld</td><td>%lld"
		    "</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n",
		    json_integer_value(json_object_get(wk, "worker")),
		    json_integer_value(json_object_get(wk, "pid")),
		    json_integer_value(json_object_get(wk, "connections")),
		    json_integer_value(json_object_get(wk,
		    "read_bytes_per_second")),
		    json_integer_value(json_object_get(wk,
		    "write_bytes_per_second")),
		    json_integer_value(json_object_get(wk,
		    "commands_per_second")));
	evbuffer_add_printf(b, "</table>\n</body></html>\n");
	json_decref(j);
	api_text(req, "text/html; charset=utf-8", b);
}

static void
api_status(struct api_req *ar)
{
	static struct api_fig	 f;
	const char		*accept;
	json_t			*j;

	api_fig(ar->ar_w, &f);
	j = api_status_json(ar->ar_w, &f);
	accept = evhttp_find_header(evhttp_request_get_input_headers(
	    ar->ar_req), "Accept");
	if (accept != NULL && strstr(accept, "text/html") != NULL && j != NULL)
		api_status_html(ar->ar_req, j);
	else
		api_json(ar->ar_req, 200, j);
}

static void
api_metric(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
api_metrics_workers(struct evbuffer *b, const struct api_fig *f)
{
	int	 i;

	api_metric(b, "scsipub_worker_connections", "gauge",
	    "Open iSCSI connections per worker.");
	for (i = 0; i < f->f_nworkers; i++)
		evbuffer_add_printf(b, "scsipub_worker_connections{worker=\"%llu"
		    "\",pid=\"%d\"} %llu\n",
		    (unsigned long long)f->f_ws[i].ws_index, (int)f->f_pid[i],
		    (unsigned long long)f->f_ws[i].ws_conns);
	api_metric(b, "scsipub_workers", "gauge", "Worker processes.");
	evbuffer_add_printf(b, "scsipub_workers %d\n", f->f_nworkers);
	api_metric(b, "scsipub_connections", "gauge", "Open iSCSI "
	    "connections.");
	evbuffer_add_printf(b, "scsipub_connections %llu\n",
	    (unsigned long long)f->f_sum.ws_conns);
}

static void
api_metrics_io(struct evbuffer *b, const struct api_fig *f)
{
	static const struct {
		const char	*name, *type, *help;
		size_t		 off;
	} io[] = {
		{ "scsipub_read_bytes_total", "counter", "Bytes read by "
		    "initiators.", offsetof(struct shmq_wstats, ws_rbytes) },
		{ "scsipub_written_bytes_total", "counter", "Bytes written by "
		    "initiators.", offsetof(struct shmq_wstats, ws_wbytes) },
		{ "scsipub_commands_total", "counter", "SCSI commands "
		    "executed.", offsetof(struct shmq_wstats, ws_cmds) },
		{ "scsipub_read_bytes_per_second", "gauge", "Bytes read over "
		    "the last second.", offsetof(struct shmq_wstats,
		    ws_rbytes_ps) },
		{ "scsipub_written_bytes_per_second", "gauge", "Bytes written "
		    "over the last second.", offsetof(struct shmq_wstats,
		    ws_wbytes_ps) },
		{ "scsipub_commands_per_second", "gauge", "SCSI commands over "
		    "the last second.", offsetof(struct shmq_wstats,
		    ws_cmds_ps) },
	};
	uint64_t	 v;
	size_t		 i;

	for (i = 0; i < sizeof(io) / sizeof(io[0]); i++) {
		memcpy(&v, (const uint8_t *)&f->f_sum + io[i].off, sizeof(v));
		api_metric(b, io[i].name, io[i].type, io[i].help);
		evbuffer_add_printf(b, "%s %llu\n", io[i].name,
		    (unsigned long long)v);
	}
}

static void
api_metrics_sessions(struct evbuffer *b, const struct api_fig *f)
{
	int	 i, s;

	api_metric(b, "scsipub_sessions", "gauge", "Provisioned sessions by "
	    "tier and state.");
	for (i = 0; i < f->f_ntiers; i++) {
		if (i == f->f_ntiers - 1 && f->f_tier[i].tf_state[0] +
		    f->f_tier[i].tf_state[1] + f->f_tier[i].tf_state[2] == 0)
			break;	/* sessions of tiers no longer configured */
		for (s = PSESS_WAITING; s <= PSESS_SUSPENDED; s++)
			evbuffer_add_printf(b, "scsipub_sessions{tier=\"%s\","
			    "state=\"%s\"} %d\n", f->f_tier[i].tf_name,
			    psess_state_name((enum psess_state)s),
			    f->f_tier[i].tf_state[s]);
	}
}

static void
api_metrics_coord(struct evbuffer *b, const struct api_fig *f)
{
	api_metric(b, "scsipub_coordinator_queue_depth", "gauge",
	    "Requests queued to the coordinator.");
	evbuffer_add_printf(b, "scsipub_coordinator_queue_depth %llu\n",
	    (unsigned long long)f->f_depth);
	api_metric(b, "scsipub_coordinator_requests_total", "counter",
	    "Requests the coordinator executed.");
	evbuffer_add_printf(b, "scsipub_coordinator_requests_total %llu\n",
	    (unsigned long long)f->f_cst.st_requests);
	api_metric(b, "scsipub_coordinator_commits_total", "counter",
	    "LMDB write transactions committed.");
	evbuffer_add_printf(b, "scsipub_coordinator_commits_total %llu\n",
	    (unsigned long long)f->f_cst.st_commits);
	api_metric(b, "scsipub_coordinator_commit_seconds_total", "counter",
	    "Time spent committing.");
	evbuffer_add_printf(b, "scsipub_coordinator_commit_seconds_total "
	    "%.9f\n", (double)f->f_cst.st_commit_ns / 1e9);
	api_metric(b, "scsipub_coordinator_syncs_total", "counter",
	    "Explicit syncs of the store.");
	evbuffer_add_printf(b, "scsipub_coordinator_syncs_total %llu\n",
	    (unsigned long long)f->f_cst.st_syncs);
}

static void
api_metrics(struct api_req *ar)
{
	static struct api_fig	 f;
	struct evbuffer		*b;

	if ((b = evbuffer_new()) == NULL) {
		api_error(ar->ar_req, 503, "out of memory");
		return;
	}
	api_fig(ar->ar_w, &f);
	api_metric(b, "scsipub_info", "gauge", "Version of scsipubd.");
	evbuffer_add_printf(b, "scsipub_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	api_metric(b, "scsipub_uptime_seconds", "gauge", "Seconds since "
	    "the daemon started.");
	evbuffer_add_printf(b, "scsipub_uptime_seconds %lld\n",
	    (long long)f.f_uptime);
	api_metric(b, "scsipub_images", "gauge", "Catalog images.");
	evbuffer_add_printf(b, "scsipub_images %d\n", ar->ar_w->w_nimages);
	api_metrics_workers(b, &f);
	api_metrics_io(b, &f);
	api_metrics_sessions(b, &f);
	api_metrics_coord(b, &f);
	api_text(ar->ar_req, "text/plain; version=0.0.4; charset=utf-8", b);
}

/* ---- Dispatch ---- */

static const struct api_route api_routes[] = {
	{ "/status",		0, 0, { api_status, NULL, NULL } },
	{ "/api/status",	0, 0, { api_status, NULL, NULL } },
	{ "/metrics",		0, 0, { api_metrics, NULL, NULL } },
	{ "/api/images",	0, 0, { api_images, NULL, NULL } },
	{ "/api/sessions",	0, 1, { api_sessions_list,
				    api_sessions_create, NULL } },
	{ "/api/sessions/",	1, 1, { api_session_get, NULL,
				    api_session_delete } },
	{ NULL,			0, 0, { NULL, NULL, NULL } },
};

static const struct api_route *
api_route(const char *path, const char **arg)
{
	const struct api_route	*rt;
	size_t			 n;

	for (rt = api_routes; rt->rt_path != NULL; rt++) {
		n = strlen(rt->rt_path);
		if (!rt->rt_prefix && strcmp(path, rt->rt_path) == 0) {
			*arg = "";
			return rt;
		}
		if (rt->rt_prefix && strncmp(path, rt->rt_path, n) == 0 &&
		    path[n] != '\0' && strchr(path + n, '/') == NULL) {
			*arg = path + n;
			return rt;
		}
	}
	return NULL;
}

static int
api_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return API_GET;
	case EVHTTP_REQ_POST:
		return API_POST;
	case EVHTTP_REQ_DELETE:
		return API_DELETE;
	default:
		return -1;
	}
}

static void
api_not_allowed(struct evhttp_request *req, const struct api_route *rt)
{
	static const char *const names[] = { "GET, HEAD", "POST", "DELETE" };
	char		 allow[64] = "";
	int		 i;

	for (i = 0; i < API_NMETHODS; i++)
		if (rt->rt_fn[i] != NULL)
			snprintf(allow + strlen(allow), sizeof(allow) -
			    strlen(allow), "%s%s", allow[0] ? ", " : "",
			    names[i]);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    allow);
	api_error(req, 405, "method not allowed");
}

static void
api_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char			*addr = NULL;
	ev_uint16_t		 port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(buf, len, "%s", addr != NULL ? addr : "?");
}

static void
api_dispatch(struct evhttp_request *req, void *arg)
{
	const struct api_route	*rt;
	struct api_req		 ar;
	const char		*path;
	char			 err[API_ERR_MAX], peer[64];
	int			 m;

	memset(&ar, 0, sizeof(ar));
	ar.ar_req = req;
	ar.ar_w = arg;
	apiconn_request(ar.ar_w->w_apiconns, req);
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || path[0] == '\0')
		path = "/";
	if ((rt = api_route(path, &ar.ar_arg)) == NULL) {
		api_error(req, 404, "no such resource");
		return;
	}
	if ((m = api_method(req)) == -1 || rt->rt_fn[m] == NULL) {
		api_not_allowed(req, rt);
		return;
	}
	api_peer(req, peer, sizeof(peer));
	if (rt->rt_auth && (m = api_authorize(ar.ar_w->w_cfg,
	    evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization"), peer, &ar.ar_auth, err, sizeof(err))) != 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer");
		api_error(req, m, err);
		return;
	}
	rt->rt_fn[api_method(req)](&ar);
}

/*
 * Serve the API on the inherited listening sockets, within the limits:
 * header bytes, body bytes, idle time; connections in all and per
 * address, and the time to send a request (worker/api/apiconn.c).
 */
int
api_start(struct worker *w, const int *fds, int n)
{
	struct evhttp_bound_socket *bound[CFG_MAX_LISTEN];
	struct evhttp	*h;
	int		 i;

	if (n == 0)
		return 0;
	if ((h = evhttp_new(w->w_base)) == NULL)
		return -1;
	evhttp_set_max_headers_size(h, (ev_ssize_t)w->w_cfg->c_api_max_header);
	evhttp_set_max_body_size(h, API_BODY_HARD);
	evhttp_set_timeout(h, (int)w->w_cfg->c_api_timeout);
	evhttp_set_gencb(h, api_dispatch, w);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	for (i = 0; i < n; i++)
		if ((bound[i] = evhttp_accept_socket_with_handle(h, fds[i])) ==
		    NULL) {
			log_warnx("%s: cannot serve the API", __func__);
			evhttp_free(h);
			return -1;
		}
	if ((w->w_apiconns = apiconn_start(w, h, bound, n)) == NULL) {
		evhttp_free(h);
		return -1;
	}
	w->w_api = h;
	return 0;
}

void
api_stop(struct worker *w)
{
	struct api_pending	*ap;

	if (w->w_api != NULL) {
		/* Requests waiting for the coordinator die with the server. */
		TAILQ_FOREACH(ap, &api_pendings, ap_entry)
			ap->ap_req = NULL;
		apiconn_stop(w->w_apiconns);
		w->w_apiconns = NULL;
		evhttp_free(w->w_api);
		w->w_api = NULL;
	}
}
