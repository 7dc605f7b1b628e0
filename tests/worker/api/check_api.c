/*
 * Tests for the server-free parts of worker/api/api.c: the body of POST
 * /api/sessions, bearer tokens, and which tier a caller may use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "api.h"
#include "config.h"

static struct api_create	 ac;
static struct config		*cfg;
static char			 err[API_ERR_MAX];

static const struct {
	const char	*cv_body;
	int		 cv_status;
	const char	*cv_err;	/* substring of the reason */
} create_vectors[] = {
	{ "{\"images\": [\"disk\"]}",			0,   "" },
	{ "{\"images\": [\"a\", \"b\"], \"tier\": \"gold\"}", 0, "" },
	{ "{bad",					400, "malformed JSON" },
	{ "",						400, "malformed JSON" },
	{ "{\"images\": [\"a\"]} trailing",		400, "malformed JSON" },
	{ "{\"images\": [\"a\"], \"images\": [\"b\"]}",	400, "malformed JSON" },
	{ "[\"disk\"]",					400, "JSON object" },
	{ "{}",						400, "missing" },
	{ "{\"images\": \"disk\"}",			400, "array" },
	{ "{\"images\": [1]}",				400, "array" },
	{ "{\"images\": [null]}",			400, "array" },
	{ "{\"images\": []}",				400, "no images" },
	{ "{\"images\": [\"../etc/passwd\"]}",		400, "unknown image" },
	{ "{\"images\": [\"a\"], \"tier\": 5}",		400, "tier" },
	{ "{\"images\": [\"a\"], \"size\": 5}",		400, "unknown field" },
};

START_TEST(api__create_body_vectors)
{
	const char	*b = create_vectors[_i].cv_body;
	int		 rv;

	err[0] = '\0';
	rv = api_create_parse(b, strlen(b), &ac, err, sizeof(err));
	ck_assert_msg(rv == create_vectors[_i].cv_status,
	    "%s: status %d, want %d (%s)", b, rv, create_vectors[_i].cv_status,
	    err);
	ck_assert_msg(strstr(err, create_vectors[_i].cv_err) != NULL,
	    "%s: reason \"%s\" lacks \"%s\"", b, err, create_vectors[_i].cv_err);
}
END_TEST

START_TEST(api__create_body_fields)
{
	const char	*b = "{\"tier\": \"gold\", \"images\": [\"x\", \"y.img-2\"]}";

	ck_assert_int_eq(api_create_parse(b, strlen(b), &ac, err, sizeof(err)),
	    0);
	ck_assert_int_eq(ac.ac_nimages, 2);
	ck_assert_str_eq(ac.ac_images[0], "x");
	ck_assert_str_eq(ac.ac_images[1], "y.img-2");
	ck_assert_str_eq(ac.ac_tier, "gold");
}
END_TEST

START_TEST(api__create_body_limits)
{
	size_t	 len = API_BODY_MAX + 1, n, i;
	char	*b = malloc(len + 1);

	/* Over 64 KiB: 413 before any parsing. */
	memset(b, ' ', len);
	b[len] = '\0';
	ck_assert_int_eq(api_create_parse(b, len, &ac, err, sizeof(err)), 413);
	/* 256 images are fine, 257 are too many. */
	n = (size_t)snprintf(b, len, "{\"images\": [");
	for (i = 0; i < 257; i++)
		n += (size_t)snprintf(b + n, len - n, "%s\"i%zu\"", i ? "," : "",
		    i);
	snprintf(b + n, len - n, "]}");
	ck_assert_int_eq(api_create_parse(b, strlen(b), &ac, err, sizeof(err)),
	    400);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
	n = (size_t)snprintf(b, len, "{\"images\": [");
	for (i = 0; i < 256; i++)
		n += (size_t)snprintf(b + n, len - n, "%s\"i%zu\"", i ? "," : "",
		    i);
	snprintf(b + n, len - n, "]}");
	ck_assert_int_eq(api_create_parse(b, strlen(b), &ac, err, sizeof(err)),
	    0);
	ck_assert_int_eq(ac.ac_nimages, 256);
	free(b);
}
END_TEST

static void
cfg_setup(void)
{
	struct cfg_tier	*t;

	cfg = config_new();
	ck_assert_ptr_nonnull(cfg);
	t = &cfg->c_tiers[cfg->c_ntiers++];
	snprintf(t->ct_name, sizeof(t->ct_name), "gold");
	t = &cfg->c_tiers[cfg->c_ntiers++];
	snprintf(t->ct_name, sizeof(t->ct_name), "silver");
	snprintf(cfg->c_tokens[0].tk_token, CFG_SECRET_MAX, "token-gold-1");
	snprintf(cfg->c_tokens[0].tk_tier, CFG_NAME_MAX, "gold");
	snprintf(cfg->c_tokens[1].tk_token, CFG_SECRET_MAX, "token-both-2");
	snprintf(cfg->c_tokens[1].tk_tier, CFG_NAME_MAX, "silver");
	snprintf(cfg->c_tokens[2].tk_token, CFG_SECRET_MAX, "token-both-2");
	snprintf(cfg->c_tokens[2].tk_tier, CFG_NAME_MAX, "gold");
	cfg->c_ntokens = 3;
}

static void
cfg_teardown(void)
{
	config_free(cfg);
}

START_TEST(api__no_token_is_anonymous_by_address)
{
	struct api_auth	 a, b;

	ck_assert_int_eq(api_authorize(cfg, NULL, "192.0.2.1", &a, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(a.aa_token, 0);
	ck_assert_int_eq(a.aa_ntiers, 1);
	ck_assert_str_eq(a.aa_tiers[0], "anonymous");
	ck_assert_int_eq(api_authorize(cfg, NULL, "192.0.2.2", &b, err,
	    sizeof(err)), 0);
	ck_assert_uint_ne(a.aa_owner, b.aa_owner);
}
END_TEST

/* IPv6: one owner per ipv6-prefix (64 by default), not per address. */
START_TEST(api__anonymous_ipv6_by_prefix)
{
	struct api_auth	 a, b, c;

	ck_assert_int_eq(api_authorize(cfg, NULL, "2001:db8:5:6:1::1", &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(api_authorize(cfg, NULL, "2001:db8:5:6:ffff::7", &b,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(api_authorize(cfg, NULL, "2001:db8:5:7::1", &c,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(a.aa_owner, b.aa_owner);
	ck_assert_uint_ne(a.aa_owner, c.aa_owner);
	cfg->c_v6_prefix = 128;
	ck_assert_int_eq(api_authorize(cfg, NULL, "2001:db8:5:6:ffff::7", &b,
	    err, sizeof(err)), 0);
	ck_assert_uint_ne(a.aa_owner, b.aa_owner);
}
END_TEST

START_TEST(api__tokens_compared_and_owned)
{
	struct api_auth	 a, b;

	ck_assert_int_eq(api_authorize(cfg, "Bearer token-gold-1", "x", &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(a.aa_token, 1);
	ck_assert_int_eq(a.aa_ntiers, 1);
	ck_assert_str_eq(a.aa_tiers[0], "gold");
	/* The owner is the token, wherever it comes from. */
	ck_assert_int_eq(api_authorize(cfg, "bearer token-gold-1", "y", &b,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(a.aa_owner, b.aa_owner);
	ck_assert_uint_ne(a.aa_owner, api_owner_hash("addr", "x"));
	/* A token on two lines may use both tiers. */
	ck_assert_int_eq(api_authorize(cfg, "Bearer token-both-2", "x", &b,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(b.aa_ntiers, 2);
	ck_assert_uint_ne(a.aa_owner, b.aa_owner);
}
END_TEST

START_TEST(api__bad_tokens_are_401)
{
	struct api_auth	 a;

	ck_assert_int_eq(api_authorize(cfg, "Bearer token-gold-", "x", &a, err,
	    sizeof(err)), 401);
	ck_assert_int_eq(api_authorize(cfg, "Bearer token-gold-12", "x", &a,
	    err, sizeof(err)), 401);
	ck_assert_int_eq(api_authorize(cfg, "Bearer ", "x", &a, err,
	    sizeof(err)), 401);
	ck_assert_int_eq(api_authorize(cfg, "Basic dXNlcjpwYXNz", "x", &a, err,
	    sizeof(err)), 401);
	ck_assert_int_eq(api_authorize(cfg, "token-gold-1", "x", &a, err,
	    sizeof(err)), 401);
}
END_TEST

START_TEST(api__tier_choice)
{
	const struct cfg_tier	*t;
	struct api_auth		 anon, gold;

	ck_assert_int_eq(api_authorize(cfg, NULL, "x", &anon, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(api_authorize(cfg, "Bearer token-gold-1", "x", &gold,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(api_tier_choose(cfg, &anon, "", &t, err, sizeof(err)),
	    0);
	ck_assert_str_eq(t->ct_name, "anonymous");
	ck_assert_int_eq(api_tier_choose(cfg, &anon, "gold", &t, err,
	    sizeof(err)), 403);
	ck_assert_int_eq(api_tier_choose(cfg, &gold, NULL, &t, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(t->ct_name, "gold");
	ck_assert_int_eq(api_tier_choose(cfg, &gold, "silver", &t, err,
	    sizeof(err)), 403);
	ck_assert_ptr_nonnull(strstr(err, "not allowed"));
	ck_assert_int_eq(api_tier_choose(cfg, &gold, "platinum", &t, err,
	    sizeof(err)), 403);
	ck_assert_ptr_nonnull(strstr(err, "unknown tier"));
}
END_TEST

Suite *
api_suite(void)
{
	Suite	*s = suite_create("api");
	TCase	*tc;

	tc = tcase_create("body");
	tcase_add_loop_test(tc, api__create_body_vectors, 0,
	    sizeof(create_vectors) / sizeof(create_vectors[0]));
	tcase_add_test(tc, api__create_body_fields);
	tcase_add_test(tc, api__create_body_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("auth");
	tcase_add_checked_fixture(tc, cfg_setup, cfg_teardown);
	tcase_add_test(tc, api__no_token_is_anonymous_by_address);
	tcase_add_test(tc, api__anonymous_ipv6_by_prefix);
	tcase_add_test(tc, api__tokens_compared_and_owned);
	tcase_add_test(tc, api__bad_tokens_are_401);
	tcase_add_test(tc, api__tier_choice);
	suite_add_tcase(s, tc);
	return s;
}
