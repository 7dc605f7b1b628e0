/*
 * The HTTP API's request checks that need no server: the body of POST
 * /api/sessions, bearer tokens, tier choice.  Each returns 0 or the HTTP
 * status to answer with, and a reason for the JSON error.
 */
#ifndef SCSIPUB_API_H
#define SCSIPUB_API_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define API_BODY_MAX	(64 * 1024)	/* larger bodies: 413 */
#define API_ERR_MAX	160

struct api_create {
	char	 ac_images[CFG_MAX_TARGET_LUNS][CFG_NAME_MAX];
	int	 ac_nimages;
	char	 ac_tier[CFG_NAME_MAX];		/* "" when not given */
};

/* Who is asking: a token's tiers, or the anonymous tier. */
struct api_auth {
	int		 aa_token;	/* a valid token was presented */
	uint64_t	 aa_owner;	/* hash of the token, or the address */
	const char	*aa_tiers[CFG_MAX_TOKENS];
	int		 aa_ntiers;
};

struct worker;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct api_conns;

/* worker/api/api.c */
int	 api_start(struct worker *, const int *, int);
void	 api_stop(struct worker *);

/* worker/api/apiconn.c */
struct api_conns *apiconn_start(struct worker *, struct evhttp *,
	    struct evhttp_bound_socket **, int);
void	 apiconn_stop(struct api_conns *);
size_t	 apiconn_count(const struct api_conns *);
void	 apiconn_request(struct api_conns *, struct evhttp_request *);

/* worker/api/api.c: the checks */
int	 api_create_parse(const char *, size_t, struct api_create *, char *,
	    size_t);
int	 api_authorize(const struct config *, const char *, const char *,
	    struct api_auth *, char *, size_t);
int	 api_tier_choose(const struct config *, const struct api_auth *,
	    const char *, const struct cfg_tier **, char *, size_t);
uint64_t api_owner_hash(const char *, const char *);
char	*api_error_body(const char *);

#endif /* SCSIPUB_API_H */
