/*
 * Configuration parser.  Every error is reported as "file:line: reason"
 * on the given stream and counted; a config with errors is never used.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "netaddr.h"

#define CFG_MAX_WORDS	16

struct cfg_parse {
	struct config	*p_cfg;
	const char	*p_file;
	int		 p_line;
	int		 p_errors;
	FILE		*p_err;
	uint64_t	 p_seen;	/* bitmask of single keys seen */
	uint64_t	 p_lseen;	/* of cfg_limits seen */
	uint32_t	 p_cseen;	/* of cfg_cluster_keys seen */
};

typedef void (*cfg_handler)(struct cfg_parse *, char **, int);

struct cfg_key {
	const char	*k_name;
	cfg_handler	 k_fn;
	int		 k_minargs;
	int		 k_maxargs;
	int		 k_repeat;
};

static void	cfg_listen(struct cfg_parse *, char **, int);
static void	cfg_path(struct cfg_parse *, char **, int);
static void	cfg_prefix(struct cfg_parse *, char **, int);
static void	cfg_workers(struct cfg_parse *, char **, int);
static void	cfg_durationkey(struct cfg_parse *, char **, int);
static void	cfg_blocksize(struct cfg_parse *, char **, int);
static void	cfg_mapsize(struct cfg_parse *, char **, int);
static void	cfg_loglevel(struct cfg_parse *, char **, int);
static void	cfg_discchap(struct cfg_parse *, char **, int);
static void	cfg_tierline(struct cfg_parse *, char **, int);
static void	cfg_targetline(struct cfg_parse *, char **, int);
static void	cfg_token(struct cfg_parse *, char **, int);
static void	cfg_apirate(struct cfg_parse *, char **, int);
static void	cfg_user(struct cfg_parse *, char **, int);
static void	cfg_clusterline(struct cfg_parse *, char **, int);
static void	cfg_flag(struct cfg_parse *, char **, int);

static const struct cfg_key cfg_keys[] = {
	{ "listen",		cfg_listen,	1, 1, 1 },
	{ "tls-listen",		cfg_listen,	1, 1, 1 },
	{ "api-listen",		cfg_listen,	1, 1, 1 },
	{ "tls-cert",		cfg_path,	1, 1, 0 },
	{ "tls-key",		cfg_path,	1, 1, 0 },
	{ "image-dir",		cfg_path,	1, 1, 0 },
	{ "image-follow-symlinks", cfg_flag,	1, 1, 0 },
	{ "state-dir",		cfg_path,	1, 1, 0 },
	{ "iqn-prefix",		cfg_prefix,	1, 1, 0 },
	{ "workers",		cfg_workers,	1, 1, 0 },
	{ "nopin-interval",	cfg_durationkey, 1, 1, 0 },
	{ "nopin-timeout",	cfg_durationkey, 1, 1, 0 },
	{ "login-timeout",	cfg_durationkey, 1, 1, 0 },
	{ "block-size",		cfg_blocksize,	1, 1, 0 },
	{ "map-size",		cfg_mapsize,	1, 1, 0 },
	{ "log-level",		cfg_loglevel,	1, 1, 0 },
	{ "discovery-chap",	cfg_discchap,	2, 2, 0 },
	{ "tier",		cfg_tierline,	1, CFG_MAX_WORDS - 1, 1 },
	{ "target",		cfg_targetline,	2, 11, 1 },
	{ "api-token",		cfg_token,	3, 3, 1 },
	{ "api-rate",		cfg_apirate,	1, 1, 0 },
	{ "user",		cfg_user,	1, 1, 0 },
	{ "cluster",		cfg_clusterline, 2, 2, 1 },
};

/*
 * Limits on what a client can make the daemon hold: one key each, a
 * number, a size (K/M/G/T) or a duration (s/m/h/d), with its bounds and
 * default.  The defaults are set from this table too.
 */
enum cfg_unit {
	CU_COUNT = 0,
	CU_SIZE,
	CU_DURATION,
};

struct cfg_limit {
	const char	*cl_name;
	size_t		 cl_off;	/* of a uint64_t in struct config */
	enum cfg_unit	 cl_unit;
	uint64_t	 cl_min;
	uint64_t	 cl_max;
	uint64_t	 cl_default;
};

#define LIM(name, field, unit, min, max, def)				\
	{ name, offsetof(struct config, field), unit, min, max, def }

static const struct cfg_limit cfg_limits[] = {
	LIM("max-connections", c_max_conns, CU_COUNT, 1, 1 << 20, 4096),
	LIM("max-connections-per-address", c_max_conns_addr, CU_COUNT, 1,
	    1 << 20, 64),
	LIM("ipv6-prefix", c_v6_prefix, CU_COUNT, 16, 128, 64),
	LIM("max-pending-data", c_max_pending, CU_SIZE, 1 << 20, 256 << 20,
	    8 << 20),
	LIM("max-pending-data-worker", c_max_pending_worker, CU_SIZE, 1 << 20,
	    1ULL << 40, 256 << 20),
	LIM("max-pending-data-address", c_max_pending_addr, CU_SIZE, 1 << 20,
	    1ULL << 40, 64 << 20),
	LIM("dataout-timeout", c_dataout_timeout, CU_DURATION, 1, 3600, 15),
	LIM("max-coordinator-queue", c_max_coord_queue, CU_COUNT, 16,
	    1 << 24, 4096),
	LIM("max-long-commands", c_max_long_cmds, CU_COUNT, 1, 256, 4),
	LIM("api-max-connections", c_api_max_conns, CU_COUNT, 1, 1 << 16, 256),
	LIM("api-max-connections-per-address", c_api_max_conns_addr, CU_COUNT,
	    1, 1 << 16, 16),
	LIM("api-max-header", c_api_max_header, CU_SIZE, 1024, 1 << 20,
	    8192),
	LIM("api-timeout", c_api_timeout, CU_DURATION, 1, 3600, 30),
	LIM("api-request-timeout", c_api_req_timeout, CU_DURATION, 1, 3600,
	    10),
	LIM("api-max-anonymous", c_api_max_anon, CU_COUNT, 0,
	    CFG_PSESS_MAX, CFG_PSESS_MAX / 2),
	LIM("anonymous-retain", c_anon_retain, CU_DURATION, 0, 24 * 3600, 60),
	LIM("max-map-extents", c_max_map_extents, CU_COUNT, 0, 1ULL << 32,
	    4096),
	LIM("cluster-timeout", c_cluster_timeout, CU_DURATION, 4, 300, 5),
	LIM("cluster-balance", c_cluster_balance, CU_COUNT, 1, 1 << 20, 4),
	LIM("draining-generations", c_draining_gens, CU_COUNT, 1, 8, 2),
};

#define CFG_NLIMITS	(sizeof(cfg_limits) / sizeof(cfg_limits[0]))

static uint64_t *
cfg_limit_field(struct config *c, const struct cfg_limit *l)
{
	return (uint64_t *)(void *)((char *)c + l->cl_off);
}

static void
cfg_error(struct cfg_parse *, const char *, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
cfg_error(struct cfg_parse *p, const char *fmt, ...)
{
	va_list	 ap;

	p->p_errors++;
	if (p->p_err == NULL)
		return;
	if (p->p_line > 0)
		fprintf(p->p_err, "%s:%d: ", p->p_file, p->p_line);
	else
		fprintf(p->p_err, "%s: ", p->p_file);
	va_start(ap, fmt);
	vfprintf(p->p_err, fmt, ap);
	va_end(ap);
	fputc('\n', p->p_err);
}

static int
cfg_copy(struct cfg_parse *p, char *dst, size_t len, const char *src,
    const char *what)
{
	if (strlen(src) >= len) {
		cfg_error(p, "%s too long (at most %zu characters)", what,
		    len - 1);
		return -1;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int
cfg_parse_u64(const char *s, uint64_t *out, const char **end)
{
	char			*ep;
	unsigned long long	 v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &ep, 10);
	if (errno != 0)
		return -1;
	*out = v;
	*end = ep;
	return 0;
}

static int
cfg_scale(uint64_t v, uint64_t mul, uint64_t *out)
{
	if (mul != 0 && v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *out)
{
	const char	*ep;
	uint64_t	 v, mul = 1;

	if (cfg_parse_u64(s, &v, &ep) == -1)
		return -1;
	switch (toupper((unsigned char)*ep)) {
	case '\0': break;
	case 'K': mul = 1ULL << 10; break;
	case 'M': mul = 1ULL << 20; break;
	case 'G': mul = 1ULL << 30; break;
	case 'T': mul = 1ULL << 40; break;
	default: return -1;
	}
	if (*ep != '\0' && ep[1] != '\0' &&
	    !(toupper((unsigned char)ep[1]) == 'B' && ep[2] == '\0') &&
	    !(ep[1] == 'i' && ep[2] == 'B' && ep[3] == '\0'))
		return -1;
	return cfg_scale(v, mul, out);
}

int
config_parse_duration(const char *s, uint64_t *out)
{
	const char	*ep;
	uint64_t	 v, mul = 1;

	if (cfg_parse_u64(s, &v, &ep) == -1)
		return -1;
	switch (*ep) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: return -1;
	}
	if (*ep != '\0' && ep[1] != '\0')
		return -1;
	return cfg_scale(v, mul, out);
}

static int
cfg_port(const char *s, in_port_t *port)
{
	const char	*ep;
	uint64_t	 v;

	if (cfg_parse_u64(s, &v, &ep) == -1 || *ep != '\0' || v == 0 ||
	    v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

int
config_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char			 host[64];
	const char		*colon, *port;
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	size_t			 hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (colon == NULL || (hl = colon - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		port = colon + 2;
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		return cfg_port(port, &sin6->sin6_port);
	}
	colon = strrchr(s, ':');
	if (colon == NULL || (hl = colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	sin->sin_family = AF_INET;
	*len = sizeof(*sin);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	return cfg_port(colon + 1, &sin->sin_port);
}

static void
cfg_listen(struct cfg_parse *p, char **w, int n)
{
	struct config		*c = p->p_cfg;
	struct cfg_listen	*l;

	(void)n;
	if (c->c_nlisten >= CFG_MAX_LISTEN) {
		cfg_error(p, "too many listeners (at most %d)", CFG_MAX_LISTEN);
		return;
	}
	l = &c->c_listen[c->c_nlisten];
	if (config_parse_addr(w[1], &l->cl_ss, &l->cl_sslen) == -1) {
		cfg_error(p, "%s: bad address \"%s\" (want ADDR:PORT or "
		    "[ADDR6]:PORT)", w[0], w[1]);
		return;
	}
	if (strcmp(w[0], "listen") == 0)
		l->cl_kind = LISTEN_ISCSI;
	else if (strcmp(w[0], "tls-listen") == 0)
		l->cl_kind = LISTEN_ISCSI_TLS;
	else
		l->cl_kind = LISTEN_API;
	snprintf(l->cl_text, sizeof(l->cl_text), "%s", w[1]);
	c->c_nlisten++;
}

static void
cfg_path(struct cfg_parse *p, char **w, int n)
{
	struct config	*c = p->p_cfg;
	char		*dst = NULL;

	(void)n;
	if (strcmp(w[0], "tls-cert") == 0)
		dst = c->c_tls_cert;
	else if (strcmp(w[0], "tls-key") == 0)
		dst = c->c_tls_key;
	else if (strcmp(w[0], "image-dir") == 0)
		dst = c->c_image_dir;
	else
		dst = c->c_state_dir;
	cfg_copy(p, dst, CFG_PATH_MAX, w[1], w[0]);
}

static int
cfg_iqn_ok(const char *s)
{
	if (strncmp(s, "iqn.", 4) != 0 && strncmp(s, "eui.", 4) != 0 &&
	    strncmp(s, "naa.", 4) != 0)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(".-:", *s) == NULL)
			return 0;
	return 1;
}

static void
cfg_prefix(struct cfg_parse *p, char **w, int n)
{
	(void)n;
	if (!cfg_iqn_ok(w[1]) || strlen(w[1]) > 160) {
		cfg_error(p, "iqn-prefix: \"%s\" is not an iSCSI name", w[1]);
		return;
	}
	cfg_copy(p, p->p_cfg->c_iqn_prefix, sizeof(p->p_cfg->c_iqn_prefix),
	    w[1], w[0]);
}

static void
cfg_workers(struct cfg_parse *p, char **w, int n)
{
	const char	*ep;
	uint64_t	 v;

	(void)n;
	if (cfg_parse_u64(w[1], &v, &ep) == -1 || *ep != '\0' || v < 1 ||
	    v > CFG_MAX_WORKERS) {
		cfg_error(p, "workers: want a number from 1 to %d",
		    CFG_MAX_WORKERS);
		return;
	}
	p->p_cfg->c_workers = (int)v;
}

static void
cfg_apirate(struct cfg_parse *p, char **w, int n)
{
	const char	*ep;
	uint64_t	 v;

	(void)n;
	if (cfg_parse_u64(w[1], &v, &ep) == -1 || *ep != '\0' ||
	    v > CFG_MAX_RATE) {
		cfg_error(p, "api-rate: want a number from 0 to %d",
		    CFG_MAX_RATE);
		return;
	}
	p->p_cfg->c_api_rate = (int)v;
}

/* The account the coordinator and workers run as, looked up now. */
static void
cfg_user(struct cfg_parse *p, char **w, int n)
{
	struct config	*c = p->p_cfg;
	struct passwd	*pw;

	(void)n;
	errno = 0;
	if ((pw = getpwnam(w[1])) == NULL) {
		cfg_error(p, "user: no such user \"%s\"", w[1]);
		return;
	}
	if (pw->pw_uid == 0) {
		cfg_error(p, "user: \"%s\" is root; leave user out to keep "
		    "root", w[1]);
		return;
	}
	if (cfg_copy(p, c->c_user, sizeof(c->c_user), w[1], w[0]) == -1)
		return;
	c->c_uid = pw->pw_uid;
	c->c_gid = pw->pw_gid;
}

static void
cfg_durationkey(struct cfg_parse *p, char **w, int n)
{
	uint64_t	 v;

	(void)n;
	if (config_parse_duration(w[1], &v) == -1) {
		cfg_error(p, "%s: bad duration \"%s\" (want N[s|m|h|d])",
		    w[0], w[1]);
		return;
	}
	if (strcmp(w[0], "nopin-interval") == 0)
		p->p_cfg->c_nopin_interval = v;
	else if (v == 0)
		cfg_error(p, "%s: must be at least 1s", w[0]);
	else if (strcmp(w[0], "login-timeout") == 0)
		p->p_cfg->c_login_timeout = v;
	else
		p->p_cfg->c_nopin_timeout = v;
}

static void
cfg_blocksize(struct cfg_parse *p, char **w, int n)
{
	uint64_t	 v;

	(void)n;
	if (config_parse_size(w[1], &v) == -1 || v < 512 || v > (1 << 20) ||
	    (v & (v - 1)) != 0) {
		cfg_error(p, "block-size: want a power of two from 512 to 1M");
		return;
	}
	p->p_cfg->c_block_size = (uint32_t)v;
}

static void
cfg_mapsize(struct cfg_parse *p, char **w, int n)
{
	uint64_t	 v;

	(void)n;
	if (config_parse_size(w[1], &v) == -1 || v < (1 << 20)) {
		cfg_error(p, "map-size: want a size of at least 1M");
		return;
	}
	p->p_cfg->c_map_size = v;
}

static void
cfg_loglevel(struct cfg_parse *p, char **w, int n)
{
	(void)n;
	if (strcmp(w[1], "info") == 0)
		p->p_cfg->c_verbose = 0;
	else if (strcmp(w[1], "debug") == 0)
		p->p_cfg->c_verbose = 1;
	else
		cfg_error(p, "log-level: want info or debug");
}

static void
cfg_discchap(struct cfg_parse *p, char **w, int n)
{
	struct config	*c = p->p_cfg;

	(void)n;
	if (cfg_copy(p, c->c_disc_user, CFG_SECRET_MAX, w[1], "user") == 0)
		cfg_copy(p, c->c_disc_secret, CFG_SECRET_MAX, w[2], "secret");
}

static int
cfg_yesno(const char *s)
{
	if (strcmp(s, "yes") == 0)
		return 1;
	if (strcmp(s, "no") == 0)
		return 0;
	return -1;
}

/* A yes|no key. */
static void
cfg_flag(struct cfg_parse *p, char **w, int n)
{
	int	 v;

	(void)n;
	if ((v = cfg_yesno(w[1])) == -1) {
		cfg_error(p, "%s: want yes or no", w[0]);
		return;
	}
	p->p_cfg->c_image_symlinks = v;	/* image-follow-symlinks */
}

static int
cfg_tier_attr(struct cfg_parse *p, struct cfg_tier *t, const char *k,
    const char *v)
{
	uint64_t	 u;
	const char	*ep;

	if (strcmp(k, "quota") == 0 && config_parse_size(v, &u) == 0)
		t->ct_quota = u;
	else if (strcmp(k, "ttl") == 0 && config_parse_duration(v, &u) == 0)
		t->ct_ttl = u;
	else if (strcmp(k, "persistent") == 0 && cfg_yesno(v) != -1)
		t->ct_persistent = cfg_yesno(v);
	else if (strcmp(k, "pr") == 0 && cfg_yesno(v) != -1)
		t->ct_pr = cfg_yesno(v);
	else if (strcmp(k, "luns") == 0 && cfg_parse_u64(v, &u, &ep) == 0 &&
	    *ep == '\0' && u >= 1 && u <= CFG_MAX_TARGET_LUNS)
		t->ct_luns = (int)u;
	else if (strcmp(k, "sessions") == 0 && cfg_parse_u64(v, &u, &ep) ==
	    0 && *ep == '\0' && u <= CFG_MAX_SESSIONS)
		t->ct_sessions = (int)u;
	else {
		cfg_error(p, "tier: bad %s \"%s\"", k, v);
		return -1;
	}
	return 0;
}

static struct cfg_tier *
cfg_tier_slot(struct config *c, const char *name)
{
	int	 i;

	for (i = 0; i < c->c_ntiers; i++)
		if (strcmp(c->c_tiers[i].ct_name, name) == 0)
			return &c->c_tiers[i];
	if (c->c_ntiers >= CFG_MAX_TIERS)
		return NULL;
	return &c->c_tiers[c->c_ntiers++];
}

static void
cfg_tierline(struct cfg_parse *p, char **w, int n)
{
	struct cfg_tier	 t, *slot;
	int		 i;

	if (!config_image_name_ok(w[1]) || strlen(w[1]) >= CFG_NAME_MAX) {
		cfg_error(p, "tier: bad name \"%s\"", w[1]);
		return;
	}
	if ((n - 2) % 2 != 0) {
		cfg_error(p, "tier: attributes come in pairs (quota SIZE "
		    "ttl DURATION persistent yes|no pr yes|no luns N "
		    "sessions N)");
		return;
	}
	slot = (struct cfg_tier *)config_tier(p->p_cfg, w[1]);
	if (slot != NULL)
		t = *slot;
	else {
		memset(&t, 0, sizeof(t));
		t.ct_quota = 64ULL << 20;
		t.ct_ttl = 900;
		t.ct_luns = CFG_MAX_TARGET_LUNS;
		t.ct_sessions = CFG_DEFAULT_SESSIONS;
	}
	snprintf(t.ct_name, sizeof(t.ct_name), "%s", w[1]);
	for (i = 2; i + 1 < n; i += 2)
		if (cfg_tier_attr(p, &t, w[i], w[i + 1]) == -1)
			return;
	if ((slot = cfg_tier_slot(p->p_cfg, w[1])) == NULL) {
		cfg_error(p, "tier: too many tiers (at most %d)",
		    CFG_MAX_TIERS);
		return;
	}
	*slot = t;
}

static int
cfg_target_images(struct cfg_parse *p, struct cfg_target *t, char *list)
{
	char	*img, *save = NULL;

	for (img = strtok_r(list, ",", &save); img != NULL;
	    img = strtok_r(NULL, ",", &save)) {
		if (!config_image_name_ok(img) || strlen(img) >= CFG_NAME_MAX) {
			cfg_error(p, "target: bad image name \"%s\"", img);
			return -1;
		}
		if (t->tg_nimages >= CFG_MAX_TARGET_LUNS) {
			cfg_error(p, "target: at most %d images",
			    CFG_MAX_TARGET_LUNS);
			return -1;
		}
		snprintf(t->tg_images[t->tg_nimages++], CFG_NAME_MAX, "%s",
		    img);
	}
	if (t->tg_nimages == 0) {
		cfg_error(p, "target: no images");
		return -1;
	}
	return 0;
}

static int
cfg_target_opts(struct cfg_parse *p, struct cfg_target *t, char **w, int n)
{
	int	 i = 3;

	while (i < n) {
		if (strcmp(w[i], "chap") == 0 && i + 2 < n) {
			if (cfg_copy(p, t->tg_chap_user, CFG_SECRET_MAX,
			    w[i + 1], "chap user") == -1 ||
			    cfg_copy(p, t->tg_chap_secret, CFG_SECRET_MAX,
			    w[i + 2], "chap secret") == -1)
				return -1;
			i += 3;
		} else if (strcmp(w[i], "mutual") == 0 && i + 2 < n) {
			if (cfg_copy(p, t->tg_mchap_user, CFG_SECRET_MAX,
			    w[i + 1], "mutual user") == -1 ||
			    cfg_copy(p, t->tg_mchap_secret, CFG_SECRET_MAX,
			    w[i + 2], "mutual secret") == -1)
				return -1;
			i += 3;
		} else if (strcmp(w[i], "readonly") == 0) {
			t->tg_readonly = 1;
			i++;
		} else if (strcmp(w[i], "tier") == 0 && i + 1 < n) {
			if (cfg_copy(p, t->tg_tier, CFG_NAME_MAX, w[i + 1],
			    "tier") == -1)
				return -1;
			i += 2;
		} else {
			cfg_error(p, "target: unexpected \"%s\" (want chap "
			    "USER SECRET, mutual USER SECRET, tier TIER or "
			    "readonly)", w[i]);
			return -1;
		}
	}
	return 0;
}

static void
cfg_targetline(struct cfg_parse *p, char **w, int n)
{
	struct config		*c = p->p_cfg;
	struct cfg_target	*t;

	if (!config_image_name_ok(w[1]) || strlen(w[1]) >= CFG_NAME_MAX) {
		cfg_error(p, "target: bad name \"%s\"", w[1]);
		return;
	}
	if (config_target(c, w[1]) != NULL || strcmp(w[1], "multi") == 0) {
		cfg_error(p, "target: \"%s\" declared twice or reserved",
		    w[1]);
		return;
	}
	if (c->c_ntargets >= CFG_MAX_TARGETS) {
		cfg_error(p, "target: too many targets (at most %d)",
		    CFG_MAX_TARGETS);
		return;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		cfg_error(p, "out of memory");
		return;
	}
	snprintf(t->tg_name, sizeof(t->tg_name), "%s", w[1]);
	if (cfg_target_images(p, t, w[2]) == -1 ||
	    cfg_target_opts(p, t, w, n) == -1) {
		free(t);
		return;
	}
	c->c_targets[c->c_ntargets++] = t;
}

static void
cfg_token(struct cfg_parse *p, char **w, int n)
{
	struct config	*c = p->p_cfg;
	struct cfg_token *tk;

	(void)n;
	if (strcmp(w[2], "tier") != 0) {
		cfg_error(p, "api-token: want api-token TOKEN tier NAME");
		return;
	}
	if (c->c_ntokens >= CFG_MAX_TOKENS) {
		cfg_error(p, "api-token: too many tokens");
		return;
	}
	if (strlen(w[1]) < 8) {
		cfg_error(p, "api-token: token too short (at least 8)");
		return;
	}
	tk = &c->c_tokens[c->c_ntokens];
	if (cfg_copy(p, tk->tk_token, CFG_SECRET_MAX, w[1], "token") == 0 &&
	    cfg_copy(p, tk->tk_tier, CFG_NAME_MAX, w[3], "tier") == 0)
		c->c_ntokens++;
}

/*
 * "cluster KEY VALUE": one line per key, each at most once; what they
 * need of each other is checked with the whole file (cfg_check_cluster).
 */
enum cfg_ckind { CK_PATH, CK_NAME, CK_ADDR, CK_REDIRECT };

static const struct cfg_ckey {
	const char	*ck_name;
	size_t		 ck_off;	/* of a char array in struct cfg_cluster */
	size_t		 ck_len;
	enum cfg_ckind	 ck_kind;
} cfg_cluster_keys[] = {
#define CK(name, field, kind)						\
	{ name, offsetof(struct cfg_cluster, field),			\
	    sizeof(((struct cfg_cluster *)0)->field), kind }
	CK("ceph-conf",	cc_conf,	CK_PATH),
	CK("keyring",	cc_keyring,	CK_PATH),
	CK("client",	cc_client,	CK_NAME),
	CK("pool",	cc_pool,	CK_NAME),
	CK("node",	cc_node,	CK_NAME),
	CK("address",	cc_addr,	CK_ADDR),
	CK("snapshot",	cc_snap,	CK_NAME),
	CK("redirect",	cc_redirect,	CK_REDIRECT),
#undef CK
};

/* HOST:PORT or [ADDR6]:PORT, HOST a name or an IPv4 address. */
static int
cfg_hostport_ok(const char *s)
{
	const char	*colon, *ep;
	uint64_t	 port;

	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL || colon == s + 1)
			return 0;
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL || colon == s)
			return 0;
		for (ep = s; ep < colon; ep++)
			if (!isalnum((unsigned char)*ep) && *ep != '.' &&
			    *ep != '-')
				return 0;
	}
	return cfg_parse_u64(colon + 1, &port, &ep) == 0 && *ep == '\0' &&
	    port >= 1 && port <= 65535;
}

static int
cfg_cluster_value(struct cfg_parse *p, const struct cfg_ckey *k,
    const char *v)
{
	struct cfg_cluster *cc = &p->p_cfg->c_cluster;
	static const char *const redirects[] = { "off", "session", "load" };
	struct sockaddr_storage ss;
	socklen_t	 sl;
	size_t		 i;

	switch (k->ck_kind) {
	case CK_REDIRECT:
		for (i = 0; i < 3; i++)
			if (strcmp(v, redirects[i]) == 0) {
				cc->cc_redirect = (enum cfg_redirect)i;
				return 0;
			}
		cfg_error(p, "cluster redirect: want off, session or load");
		return -1;
	case CK_NAME:
		if (!config_image_name_ok(v)) {
			cfg_error(p, "cluster %s: bad name \"%s\" (letters, "
			    "digits, '.', '_', '-')", k->ck_name, v);
			return -1;
		}
		break;
	case CK_ADDR:
		if (!cfg_hostport_ok(v)) {
			cfg_error(p, "cluster address: want HOST:PORT or "
			    "[ADDR6]:PORT, not \"%s\"", v);
			return -1;
		}
		if (config_parse_addr(v, &ss, &sl) == 0 &&
		    netaddr_wildcard((struct sockaddr *)&ss)) {
			cfg_error(p, "cluster address %s: a wildcard, which "
			    "no initiator can connect to (give this node's "
			    "address)", v);
			return -1;
		}
		break;
	case CK_PATH:
		break;
	}
	return cfg_copy(p, (char *)cc + k->ck_off, k->ck_len, v, k->ck_name);
}

static void
cfg_clusterline(struct cfg_parse *p, char **w, int n)
{
	size_t	 i, nk = sizeof(cfg_cluster_keys) / sizeof(cfg_cluster_keys[0]);

	(void)n;
	for (i = 0; i < nk; i++)
		if (strcmp(cfg_cluster_keys[i].ck_name, w[1]) == 0)
			break;
	if (i == nk) {
		cfg_error(p, "cluster: unknown key \"%s\" (want ceph-conf, "
		    "keyring, client, pool, node, address, snapshot or "
		    "redirect)", w[1]);
		return;
	}
	if (p->p_cseen & (1U << i)) {
		cfg_error(p, "cluster %s: given twice", w[1]);
		return;
	}
	p->p_cseen |= 1U << i;
	p->p_cfg->c_cluster.cc_on = 1;
	cfg_cluster_value(p, &cfg_cluster_keys[i], w[2]);
}

static int
cfg_split(char *line, char **w)
{
	int	 n = 0;
	char	*s = line;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			break;
		if (n == CFG_MAX_WORDS)
			return -1;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#')
			s++;
		if (*s == '#') {
			*s = '\0';
			break;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
	return n;
}

/* A line setting one of cfg_limits: 1 when w[0] names one. */
static int
cfg_limit_line(struct cfg_parse *p, char **w, int n)
{
	static const char *const want[] = { "a number", "a size (N[K|M|G|T])",
	    "a duration (N[s|m|h|d])" };
	const struct cfg_limit *l;
	const char	*ep;
	uint64_t	 v;
	size_t		 i;
	int		 r;

	for (i = 0; i < CFG_NLIMITS; i++)
		if (strcmp(cfg_limits[i].cl_name, w[0]) == 0)
			break;
	if (i == CFG_NLIMITS)
		return 0;
	l = &cfg_limits[i];
	if (n != 2) {
		cfg_error(p, "%s: wrong number of arguments", w[0]);
		return 1;
	}
	if (p->p_lseen & (1ULL << i)) {
		cfg_error(p, "%s: given twice", w[0]);
		return 1;
	}
	p->p_lseen |= 1ULL << i;
	if (l->cl_unit == CU_SIZE)
		r = config_parse_size(w[1], &v);
	else if (l->cl_unit == CU_DURATION)
		r = config_parse_duration(w[1], &v);
	else
		r = cfg_parse_u64(w[1], &v, &ep) == -1 || *ep != '\0' ? -1 : 0;
	if (r == -1 || v < l->cl_min || v > l->cl_max) {
		cfg_error(p, "%s: want %s from %llu to %llu", w[0],
		    want[l->cl_unit], (unsigned long long)l->cl_min,
		    (unsigned long long)l->cl_max);
		return 1;
	}
	*cfg_limit_field(p->p_cfg, l) = v;
	return 1;
}

static void
cfg_line(struct cfg_parse *p, char *line)
{
	char		*w[CFG_MAX_WORDS];
	int		 n;
	size_t		 i;
	const struct cfg_key *k;

	line[strcspn(line, "\r\n")] = '\0';
	if ((n = cfg_split(line, w)) == 0)
		return;
	if (n < 0) {
		cfg_error(p, "too many words on one line");
		return;
	}
	for (i = 0; i < sizeof(cfg_keys) / sizeof(cfg_keys[0]); i++) {
		k = &cfg_keys[i];
		if (strcmp(k->k_name, w[0]) != 0)
			continue;
		if (n - 1 < k->k_minargs || n - 1 > k->k_maxargs) {
			cfg_error(p, "%s: wrong number of arguments", w[0]);
			return;
		}
		if (!k->k_repeat && (p->p_seen & (1ULL << i))) {
			cfg_error(p, "%s: given twice", w[0]);
			return;
		}
		p->p_seen |= 1ULL << i;
		k->k_fn(p, w, n);
		return;
	}
	if (!cfg_limit_line(p, w, n))
		cfg_error(p, "unknown keyword \"%s\"", w[0]);
}

static void
cfg_defaults(struct config *c)
{
	struct cfg_tier	*t = &c->c_tiers[0];
	size_t		 i;

	snprintf(c->c_iqn_prefix, sizeof(c->c_iqn_prefix), "%s",
	    CFG_DEFAULT_PREFIX);
	snprintf(c->c_image_dir, sizeof(c->c_image_dir), "%s",
	    LOCALSTATEDIR "/lib/scsipub/images");
	snprintf(c->c_state_dir, sizeof(c->c_state_dir), "%s",
	    LOCALSTATEDIR "/lib/scsipub");
	c->c_workers = 2;
	c->c_nopin_interval = 30;
	c->c_nopin_timeout = 15;
	c->c_login_timeout = 15;
	c->c_block_size = 4096;
	c->c_map_size = 1ULL << 30;
	snprintf(t->ct_name, sizeof(t->ct_name), "anonymous");
	t->ct_quota = 64ULL << 20;
	t->ct_ttl = 15 * 60;
	t->ct_luns = CFG_MAX_TARGET_LUNS;
	t->ct_sessions = CFG_DEFAULT_SESSIONS;
	c->c_ntiers = 1;
	c->c_api_rate = CFG_DEFAULT_RATE;
	snprintf(c->c_cluster.cc_conf, sizeof(c->c_cluster.cc_conf),
	    "/etc/ceph/ceph.conf");
	snprintf(c->c_cluster.cc_client, sizeof(c->c_cluster.cc_client),
	    "admin");
	snprintf(c->c_cluster.cc_snap, sizeof(c->c_cluster.cc_snap),
	    "scsipub");
	c->c_cluster.cc_redirect = CFG_REDIRECT_SESSION;
	for (i = 0; i < CFG_NLIMITS; i++)
		*cfg_limit_field(c, &cfg_limits[i]) = cfg_limits[i].cl_default;
}

struct config *
config_new(void)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	cfg_defaults(c);
	return c;
}

void
config_free(struct config *c)
{
	int	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->c_ntargets; i++)
		free(c->c_targets[i]);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static void
cfg_check_target(struct cfg_parse *p, const struct cfg_target *t)
{
	char		 path[CFG_PATH_MAX + CFG_NAME_MAX + 8];
	const struct cfg_tier *tier = NULL;
	int		 i;

	if (t->tg_tier[0] != '\0' &&
	    (tier = config_tier(p->p_cfg, t->tg_tier)) == NULL)
		cfg_error(p, "target %s: unknown tier \"%s\"", t->tg_name,
		    t->tg_tier);
	if (t->tg_mchap_user[0] != '\0' && t->tg_chap_user[0] == '\0')
		cfg_error(p, "target %s: mutual needs chap USER SECRET too",
		    t->tg_name);
	if (t->tg_chap_secret[0] != '\0' && strlen(t->tg_chap_secret) < 12)
		cfg_error(p, "target %s: CHAP secret shorter than 12 characters "
		    "(RFC 7143 wants at least 96 bits)", t->tg_name);
	if (tier != NULL && t->tg_nimages > tier->ct_luns)
		cfg_error(p, "target %s: %d images but tier %s allows %d",
		    t->tg_name, t->tg_nimages, tier->ct_name, tier->ct_luns);
	if (p->p_cfg->c_cluster.cc_on)
		return;		/* its images are RBD images: checked at start */
	snprintf(path, sizeof(path), "%s/%s.img", p->p_cfg->c_image_dir,
	    t->tg_name);
	if (access(path, F_OK) == 0)
		cfg_error(p, "target %s: the name of a catalog image (its "
		    "public target has that name)", t->tg_name);
	for (i = 0; i < t->tg_nimages; i++) {
		snprintf(path, sizeof(path), "%s/%s.img", p->p_cfg->c_image_dir,
		    t->tg_images[i]);
		if (access(path, R_OK) == -1)
			cfg_error(p, "target %s: image %s: %s", t->tg_name,
			    path, strerror(errno));
	}
}

/* What a cluster section must name, and what it may not. */
static void
cfg_check_cluster(struct cfg_parse *p)
{
	struct cfg_cluster *cc = &p->p_cfg->c_cluster;

	if (!cc->cc_on)
		return;
#ifndef HAVE_CEPH
	cfg_error(p, "cluster: %s", CFG_NO_CEPH);
#endif
	if (cc->cc_pool[0] == '\0')
		cfg_error(p, "cluster: no pool (cluster pool NAME)");
	if (cc->cc_node[0] == '\0')
		cfg_error(p, "cluster: no node name (cluster node NAME)");
	if (cc->cc_addr[0] == '\0')
		cfg_error(p, "cluster: no address (cluster address HOST:PORT, "
		    "where initiators reach this node)");
	if (access(cc->cc_conf, R_OK) == -1)
		cfg_error(p, "cluster ceph-conf %s: %s", cc->cc_conf,
		    strerror(errno));
	if (cc->cc_keyring[0] != '\0' && access(cc->cc_keyring, R_OK) == -1)
		cfg_error(p, "cluster keyring %s: %s", cc->cc_keyring,
		    strerror(errno));
}

static void
cfg_check(struct cfg_parse *p)
{
	struct config	*c = p->p_cfg;
	struct stat	 st;
	int		 i, tls = 0;

	p->p_line = 0;
	if (c->c_nlisten == 0) {
		config_parse_addr("127.0.0.1:3260", &c->c_listen[0].cl_ss,
		    &c->c_listen[0].cl_sslen);
		snprintf(c->c_listen[0].cl_text, sizeof(c->c_listen[0].cl_text),
		    "127.0.0.1:3260");
		c->c_nlisten = 1;
	}
	for (i = 0; i < c->c_nlisten; i++)
		tls |= c->c_listen[i].cl_kind == LISTEN_ISCSI_TLS;
	if (tls && (c->c_tls_cert[0] == '\0' || c->c_tls_key[0] == '\0'))
		cfg_error(p, "tls-listen needs tls-cert and tls-key");
	if (stat(c->c_image_dir, &st) == -1 || !S_ISDIR(st.st_mode))
		cfg_error(p, "image-dir %s: %s", c->c_image_dir,
		    errno ? strerror(errno) : "not a directory");
	for (i = 0; i < c->c_ntokens; i++)
		if (config_tier(c, c->c_tokens[i].tk_tier) == NULL)
			cfg_error(p, "api-token: unknown tier \"%s\"",
			    c->c_tokens[i].tk_tier);
	for (i = 0; i < c->c_ntargets; i++)
		cfg_check_target(p, c->c_targets[i]);
	if (c->c_max_pending_worker < c->c_max_pending)
		cfg_error(p, "max-pending-data-worker is less than "
		    "max-pending-data");
	cfg_check_cluster(p);
}

int
config_load(struct config *c, const char *path, FILE *err)
{
	struct cfg_parse p;
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0;

	memset(&p, 0, sizeof(p));
	p.p_cfg = c;
	p.p_file = path;
	p.p_err = err;
	snprintf(c->c_path, sizeof(c->c_path), "%s", path);
	if ((f = fopen(path, "r")) == NULL) {
		cfg_error(&p, "%s", strerror(errno));
		return p.p_errors;
	}
	while (getline(&line, &cap, f) != -1) {
		p.p_line++;
		cfg_line(&p, line);
	}
	free(line);
	fclose(f);
	errno = 0;
	cfg_check(&p);
	return p.p_errors;
}

const struct cfg_tier *
config_tier(const struct config *c, const char *name)
{
	int	 i;

	for (i = 0; i < c->c_ntiers; i++)
		if (strcmp(c->c_tiers[i].ct_name, name) == 0)
			return &c->c_tiers[i];
	return NULL;
}

const struct cfg_target *
config_target(const struct config *c, const char *name)
{
	int	 i;

	for (i = 0; i < c->c_ntargets; i++)
		if (strcmp(c->c_targets[i]->tg_name, name) == 0)
			return c->c_targets[i];
	return NULL;
}

/*
 * The IQN under which a catalog image (or a static target) is served:
 * <iqn-prefix>:NAME, lower case, '_' (not allowed in iSCSI names) as '-'.
 */
void
config_image_iqn(const struct config *c, const char *name, char *dst,
    size_t len)
{
	size_t	 i, n;

	n = (size_t)snprintf(dst, len, "%s:", c->c_iqn_prefix);
	for (i = 0; name[i] != '\0' && n + 1 < len; i++, n++)
		dst[n] = name[i] == '_' ? '-' :
		    (char)tolower((unsigned char)name[i]);
	dst[n < len ? n : len - 1] = '\0';
}

int
config_image_name_ok(const char *s)
{
	if (*s == '\0' || *s == '.')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._-", *s) == NULL)
			return 0;
	return 1;
}
