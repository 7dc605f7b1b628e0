/*
 * common/config.c: every key, defaults, and file:line errors.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "suites.h"

static char	 dir[64];
static char	 path[128];

static void
setup(void)
{
	char	 img[160];
	FILE	*f;

	snprintf(dir, sizeof(dir), "/tmp/check_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/scsipubd.conf", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	f = fopen(img, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

static void
teardown(void)
{
	char	 cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write text (with %s replaced by the temp dir) and load it. */
static int
load(struct config **cp, const char *text, char *errs, size_t errlen)
{
	FILE	*f = fopen(path, "w"), *e;
	int	 n;

	ck_assert_ptr_nonnull(f);
	fprintf(f, text, dir, dir);
	fclose(f);
	*cp = config_new();
	e = fmemopen(errs, errlen, "w");
	n = config_load(*cp, path, e);
	fclose(e);
	return n;
}

START_TEST(config__full_file_parses)
{
	struct config	*c;
	char		 errs[1024] = "";

	ck_assert_int_eq(load(&c,
	    "# comment\n"
	    "listen 127.0.0.1:3260\n"
	    "listen [::1]:3260   # v6\n"
	    "api-listen 127.0.0.1:8080\n"
	    "image-dir %s\n"
	    "state-dir %s\n"
	    "iqn-prefix iqn.2025-01.pub.test\n"
	    "workers 3\n"
	    "tier gold quota 1G ttl 2h persistent yes pr yes luns 8\n"
	    "target shared disk,disk chap alice s3cretpassword tier gold\n"
	    "api-token abcdefgh12345678 tier gold\n"
	    "nopin-interval 5s\n", errs, sizeof(errs)), 0);
	ck_assert_int_eq(c->c_nlisten, 3);
	ck_assert_int_eq(c->c_listen[1].cl_ss.ss_family, AF_INET6);
	ck_assert_int_eq(c->c_listen[2].cl_kind, LISTEN_API);
	ck_assert_int_eq(c->c_workers, 3);
	ck_assert_str_eq(c->c_iqn_prefix, "iqn.2025-01.pub.test");
	ck_assert_ptr_nonnull(config_tier(c, "gold"));
	ck_assert_uint_eq(config_tier(c, "gold")->ct_quota, 1ULL << 30);
	ck_assert_uint_eq(config_tier(c, "gold")->ct_ttl, 7200);
	ck_assert_int_eq(config_tier(c, "gold")->ct_persistent, 1);
	ck_assert_int_eq(c->c_ntargets, 1);
	ck_assert_int_eq(c->c_targets[0]->tg_nimages, 2);
	ck_assert_str_eq(c->c_targets[0]->tg_chap_user, "alice");
	ck_assert_uint_eq(c->c_nopin_interval, 5);
	config_free(c);
}
END_TEST

START_TEST(config__defaults)
{
	struct config	*c;
	char		 errs[1024] = "";
	const struct cfg_tier *t;

	ck_assert_int_eq(load(&c, "image-dir %s\n", errs, sizeof(errs)), 0);
	ck_assert_int_eq(c->c_nlisten, 1);
	ck_assert_str_eq(c->c_listen[0].cl_text, "127.0.0.1:3260");
	ck_assert_int_eq(c->c_workers, 2);
	ck_assert_uint_eq(c->c_block_size, 4096);
	t = config_tier(c, "anonymous");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->ct_quota, 64ULL << 20);
	ck_assert_uint_eq(t->ct_ttl, 900);
	ck_assert_int_eq(t->ct_persistent, 0);
	ck_assert_int_eq(t->ct_luns, 256);
	ck_assert_uint_eq(c->c_login_timeout, 15);
	config_free(c);
}
END_TEST

START_TEST(config__login_timeout)
{
	struct config	*c;
	char		 errs[1024] = "", want[256];

	ck_assert_int_eq(load(&c, "image-dir %s\nlogin-timeout 2m\n", errs,
	    sizeof(errs)), 0);
	ck_assert_uint_eq(c->c_login_timeout, 120);
	config_free(c);
	ck_assert_int_eq(load(&c, "image-dir %s\nlogin-timeout 0\n", errs,
	    sizeof(errs)), 1);
	snprintf(want, sizeof(want), "%s:2: login-timeout: must be at least 1s",
	    path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	config_free(c);
	errs[0] = '\0';
	ck_assert_int_eq(load(&c, "image-dir %s\nlogin-timeout soon\n", errs,
	    sizeof(errs)), 1);
	snprintf(want, sizeof(want), "%s:2: login-timeout: bad duration", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	config_free(c);
}
END_TEST

/* image-follow-symlinks: yes or no, no by default. */
START_TEST(config__image_follow_symlinks)
{
	struct config	*c;
	char		 errs[1024] = "", want[256];

	ck_assert_int_eq(load(&c, "image-dir %s\n", errs, sizeof(errs)), 0);
	ck_assert_int_eq(c->c_image_symlinks, 0);
	config_free(c);
	ck_assert_int_eq(load(&c, "image-dir %s\nimage-follow-symlinks yes\n",
	    errs, sizeof(errs)), 0);
	ck_assert_int_eq(c->c_image_symlinks, 1);
	config_free(c);
	ck_assert_int_eq(load(&c, "image-dir %s\nimage-follow-symlinks 1\n",
	    errs, sizeof(errs)), 1);
	snprintf(want, sizeof(want), "%s:2: image-follow-symlinks: want yes "
	    "or no", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	config_free(c);
}
END_TEST

START_TEST(config__api_limits)
{
	struct config	*c;
	char		 errs[1024] = "", want[256];

	ck_assert_int_eq(load(&c, "image-dir %s\n", errs, sizeof(errs)), 0);
	ck_assert_int_eq(config_tier(c, "anonymous")->ct_sessions, 16);
	ck_assert_int_eq(c->c_api_rate, 10);
	config_free(c);
	ck_assert_int_eq(load(&c,
	    "image-dir %s\n"
	    "tier gold quota 1G ttl 2h persistent yes pr no luns 4 sessions 2\n"
	    "tier silver quota 1G ttl 2h persistent no pr no luns 4\n"
	    "api-token abcdefgh12345678 tier gold\n"
	    "api-token abcdefgh12345678 tier silver\n"
	    "api-rate 0\n", errs, sizeof(errs)), 0);
	ck_assert_int_eq(config_tier(c, "gold")->ct_sessions, 2);
	ck_assert_int_eq(config_tier(c, "silver")->ct_sessions, 16);
	ck_assert_int_eq(c->c_ntokens, 2);
	ck_assert_int_eq(c->c_api_rate, 0);
	config_free(c);
	ck_assert_int_eq(load(&c,
	    "image-dir %s\n"
	    "tier gold quota 1G ttl 2h persistent yes pr no luns 4 sessions -1\n"
	    "api-rate lots\n"
	    "api-token short tier anonymous\n"
	    "api-token abcdefgh12345678 tier platinum\n", errs, sizeof(errs)),
	    4);
	snprintf(want, sizeof(want), "%s:2: tier: bad sessions", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	snprintf(want, sizeof(want), "%s:3: api-rate", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	ck_assert_ptr_nonnull(strstr(errs, "token too short"));
	ck_assert_ptr_nonnull(strstr(errs, "unknown tier \"platinum\""));
	config_free(c);
}
END_TEST

START_TEST(config__errors_have_file_and_line)
{
	struct config	*c;
	char		 errs[2048] = "", want[256];

	ck_assert_int_eq(load(&c,
	    "image-dir %s\n"
	    "workers 0\n"
	    "bogus-key 1\n"
	    "listen 127.0.0.1\n"
	    "tier x quota lots ttl 1h persistent no pr no luns 1\n",
	    errs, sizeof(errs)), 4);
	snprintf(want, sizeof(want), "%s:2: workers", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	snprintf(want, sizeof(want), "%s:3: unknown keyword", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	snprintf(want, sizeof(want), "%s:4: listen: bad address", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	snprintf(want, sizeof(want), "%s:5: tier: bad quota", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	config_free(c);
}
END_TEST

START_TEST(config__missing_image_dir_is_error)
{
	struct config	*c;
	char		 errs[1024] = "";

	ck_assert_int_eq(load(&c, "image-dir %s/nope\n", errs, sizeof(errs)),
	    1);
	ck_assert_ptr_nonnull(strstr(errs, "image-dir"));
	config_free(c);
}
END_TEST

START_TEST(config__target_with_unknown_image_or_tier)
{
	struct config	*c;
	char		 errs[1024] = "";

	ck_assert_int_eq(load(&c, "image-dir %s\n"
	    "target a nosuch tier gold\n", errs, sizeof(errs)), 2);
	ck_assert_ptr_nonnull(strstr(errs, "unknown tier"));
	ck_assert_ptr_nonnull(strstr(errs, "nosuch.img"));
	config_free(c);
}
END_TEST

START_TEST(config__single_key_twice_is_error)
{
	struct config	*c;
	char		 errs[1024] = "";

	ck_assert_int_eq(load(&c, "image-dir %s\nimage-dir %s\n", errs,
	    sizeof(errs)), 1);
	ck_assert_ptr_nonnull(strstr(errs, "given twice"));
	config_free(c);
}
END_TEST

START_TEST(config__tls_needs_cert)
{
	struct config	*c;
	char		 errs[1024] = "";

	ck_assert_int_eq(load(&c, "image-dir %s\ntls-listen 127.0.0.1:3261\n",
	    errs, sizeof(errs)), 1);
	ck_assert_ptr_nonnull(strstr(errs, "tls-cert"));
	config_free(c);
}
END_TEST

START_TEST(config__user)
{
	struct config	*c;
	char		 errs[1024] = "", want[256];

	ck_assert_int_eq(load(&c, "image-dir %s\n", errs, sizeof(errs)), 0);
	ck_assert_str_eq(c->c_user, "");
	config_free(c);
	ck_assert_int_eq(load(&c, "image-dir %s\nuser nobody\n", errs,
	    sizeof(errs)), 0);
	ck_assert_str_eq(c->c_user, "nobody");
	ck_assert_uint_eq(c->c_uid, 65534);
	ck_assert_uint_eq(c->c_gid, 65534);
	config_free(c);
	ck_assert_int_eq(load(&c, "image-dir %s\nuser no-such-user-x\n", errs,
	    sizeof(errs)), 1);
	snprintf(want, sizeof(want), "%s:2: user: no such user "
	    "\"no-such-user-x\"", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	config_free(c);
	errs[0] = '\0';
	ck_assert_int_eq(load(&c, "image-dir %s\nuser root\n", errs,
	    sizeof(errs)), 1);
	ck_assert_ptr_nonnull(strstr(errs, "is root"));
	ck_assert_str_eq(c->c_user, "");
	config_free(c);
	ck_assert_int_eq(load(&c, "image-dir %s\nuser nobody\nuser nobody\n",
	    errs, sizeof(errs)), 1);
	config_free(c);
}
END_TEST

static const struct {
	const char	*in;
	int		 ok;
	uint64_t	 v;
} sizes[] = {
	{ "0", 1, 0 }, { "512", 1, 512 }, { "4K", 1, 4096 },
	{ "64M", 1, 64ULL << 20 }, { "1G", 1, 1ULL << 30 },
	{ "2T", 1, 2ULL << 40 }, { "1MB", 1, 1ULL << 20 }, { "x", 0, 0 },
	{ "", 0, 0 }, { "-1", 0, 0 }, { "5Q", 0, 0 },
	{ "99999999999999999999", 0, 0 }, { "16777216T", 0, 0 },
};

START_TEST(config__sizes)
{
	uint64_t	 v = 0;
	int		 r = config_parse_size(sizes[_i].in, &v);

	ck_assert_int_eq(r == 0, sizes[_i].ok);
	if (sizes[_i].ok)
		ck_assert_uint_eq(v, sizes[_i].v);
}
END_TEST

static const struct {
	const char	*in;
	int		 ok;
	uint64_t	 v;
} durations[] = {
	{ "30", 1, 30 }, { "30s", 1, 30 }, { "15m", 1, 900 },
	{ "2h", 1, 7200 }, { "1d", 1, 86400 }, { "1w", 0, 0 },
	{ "m", 0, 0 }, { "5ss", 0, 0 },
};

START_TEST(config__durations)
{
	uint64_t	 v = 0;
	int		 r = config_parse_duration(durations[_i].in, &v);

	ck_assert_int_eq(r == 0, durations[_i].ok);
	if (durations[_i].ok)
		ck_assert_uint_eq(v, durations[_i].v);
}
END_TEST

START_TEST(config__addresses)
{
	struct sockaddr_storage ss;
	socklen_t	 len;

	ck_assert_int_eq(config_parse_addr("127.0.0.1:3260", &ss, &len), 0);
	ck_assert_int_eq(config_parse_addr("[::1]:3260", &ss, &len), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(config_parse_addr("127.0.0.1:0", &ss, &len), -1);
	ck_assert_int_eq(config_parse_addr("127.0.0.1:65536", &ss, &len), -1);
	ck_assert_int_eq(config_parse_addr("localhost:3260", &ss, &len), -1);
	ck_assert_int_eq(config_parse_addr("[::1:3260", &ss, &len), -1);
	ck_assert_int_eq(config_parse_addr("3260", &ss, &len), -1);
}
END_TEST

#ifdef HAVE_CEPH
#define NO_CEPH	0	/* errors a cluster section adds in this build */
#else
#define NO_CEPH	1
#endif

START_TEST(config__cluster)
{
	struct config	*c;
	char		 errs[1024] = "";

	ck_assert_int_eq(load(&c, "image-dir %s\n"
	    "target t nosuch\n"		/* an RBD image: checked at start */
	    "cluster ceph-conf %s/scsipubd.conf\n"
	    "cluster pool scsipub\n"
	    "cluster node a-1\n"
	    "cluster address node1.example:3260\n"
	    "cluster redirect load\n"
	    "cluster-timeout 10s\n", errs, sizeof(errs)), NO_CEPH);
	ck_assert_int_eq(c->c_cluster.cc_on, 1);
	ck_assert_str_eq(c->c_cluster.cc_pool, "scsipub");
	ck_assert_str_eq(c->c_cluster.cc_node, "a-1");
	ck_assert_str_eq(c->c_cluster.cc_addr, "node1.example:3260");
	ck_assert_str_eq(c->c_cluster.cc_client, "admin");
	ck_assert_str_eq(c->c_cluster.cc_snap, "scsipub");
	ck_assert_str_eq(c->c_cluster.cc_keyring, "");
	ck_assert_int_eq(c->c_cluster.cc_redirect, CFG_REDIRECT_LOAD);
	ck_assert_uint_eq(c->c_cluster_timeout, 10);
	ck_assert_uint_eq(c->c_cluster_balance, 4);
	config_free(c);
	/* no cluster section: one machine, the defaults untouched */
	ck_assert_int_eq(load(&c, "image-dir %s\n", errs, sizeof(errs)), 0);
	ck_assert_int_eq(c->c_cluster.cc_on, 0);
	ck_assert_int_eq(c->c_cluster.cc_redirect, CFG_REDIRECT_SESSION);
	ck_assert_uint_eq(c->c_cluster_timeout, 5);
	config_free(c);
}
END_TEST

START_TEST(config__cluster_errors)
{
	struct config	*c;
	char		 errs[2048] = "", want[256];

	/* what a section needs */
	ck_assert_int_eq(load(&c, "image-dir %s\n"
	    "cluster ceph-conf %s/none.conf\n", errs, sizeof(errs)),
	    4 + NO_CEPH);
	ck_assert_ptr_nonnull(strstr(errs, "cluster: no pool"));
	ck_assert_ptr_nonnull(strstr(errs, "cluster: no node name"));
	ck_assert_ptr_nonnull(strstr(errs, "cluster: no address"));
	ck_assert_ptr_nonnull(strstr(errs, "none.conf: No such file"));
	config_free(c);
	/* what its lines may not be */
	errs[0] = '\0';
	ck_assert_int_eq(load(&c, "image-dir %s\n"
	    "cluster ceph-conf %s/scsipubd.conf\n"
	    "cluster pool p\ncluster node n\ncluster address 10.0.0.1:3260\n"
	    "cluster pool q\n"
	    "cluster colour blue\n"
	    "cluster redirect sometimes\n"
	    "cluster node a/b\n"
	    "cluster address 10.0.0.1\n"
	    "cluster snapshot\n"
	    "cluster-timeout 1s\n", errs, sizeof(errs)), 7 + NO_CEPH);
	snprintf(want, sizeof(want), "%s:6: cluster pool: given twice", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	snprintf(want, sizeof(want), "%s:7: cluster: unknown key \"colour\"",
	    path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	ck_assert_ptr_nonnull(strstr(errs, "redirect: want off, session or "
	    "load"));
	ck_assert_ptr_nonnull(strstr(errs, "cluster node: given twice"));
	ck_assert_ptr_nonnull(strstr(errs, "cluster address: given twice"));
	snprintf(want, sizeof(want), "%s:11: cluster: wrong number", path);
	ck_assert_ptr_nonnull(strstr(errs, want));
	ck_assert_ptr_nonnull(strstr(errs, "cluster-timeout: want a duration"));
	config_free(c);
	/* a bad value on a line of its own */
	errs[0] = '\0';
	ck_assert_int_eq(load(&c, "image-dir %s\n"
	    "cluster ceph-conf %s/scsipubd.conf\n"
	    "cluster pool p\ncluster node a/b\n"
	    "cluster address 10.0.0.1\n", errs, sizeof(errs)), 4 + NO_CEPH);
	ck_assert_ptr_nonnull(strstr(errs, "cluster node: bad name \"a/b\""));
	ck_assert_ptr_nonnull(strstr(errs, "cluster address: want HOST:PORT"));
	config_free(c);
	/* a wildcard is no address an initiator can be sent to */
	errs[0] = '\0';
	ck_assert_int_gt(load(&c, "image-dir %s\n"
	    "cluster ceph-conf %s/scsipubd.conf\n"
	    "cluster pool p\ncluster node n\n"
	    "cluster address 0.0.0.0:3260\n", errs, sizeof(errs)), 0);
	ck_assert_ptr_nonnull(strstr(errs, "cluster address 0.0.0.0:3260: a "
	    "wildcard"));
	config_free(c);
	errs[0] = '\0';
	ck_assert_int_gt(load(&c, "image-dir %s\n"
	    "cluster ceph-conf %s/scsipubd.conf\n"
	    "cluster pool p\ncluster node n\n"
	    "cluster address [::]:3260\n", errs, sizeof(errs)), 0);
	ck_assert_ptr_nonnull(strstr(errs, "cluster address [::]:3260: a "
	    "wildcard"));
	config_free(c);
}
END_TEST

Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("file");
	TCase	*tv = tcase_create("values");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, config__full_file_parses);
	tcase_add_test(tc, config__defaults);
	tcase_add_test(tc, config__login_timeout);
	tcase_add_test(tc, config__image_follow_symlinks);
	tcase_add_test(tc, config__api_limits);
	tcase_add_test(tc, config__errors_have_file_and_line);
	tcase_add_test(tc, config__missing_image_dir_is_error);
	tcase_add_test(tc, config__target_with_unknown_image_or_tier);
	tcase_add_test(tc, config__single_key_twice_is_error);
	tcase_add_test(tc, config__tls_needs_cert);
	tcase_add_test(tc, config__user);
	tcase_add_test(tc, config__cluster);
	tcase_add_test(tc, config__cluster_errors);
	tcase_add_loop_test(tv, config__sizes, 0,
	    sizeof(sizes) / sizeof(sizes[0]));
	tcase_add_loop_test(tv, config__durations, 0,
	    sizeof(durations) / sizeof(durations[0]));
	tcase_add_test(tv, config__addresses);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tv);
	return s;
}
