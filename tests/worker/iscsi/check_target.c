/*
 * Tests for worker/iscsi/target.c: the targets a worker serves (a
 * public one per catalog image, :multi within its tier's LUN count, the
 * static targets of the configuration with their LUNs in order), what a
 * login learns about each, which targets SendTargets names to whom, and
 * the logical units behind a session: private overlays for the public
 * targets, shared ones for a static target, refused writes for a
 * read-only one.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "initiator.h"
#include "suites.h"

#define ALPHA		TI_PREFIX ":alpha"
#define SHARED		TI_PREFIX ":shared"
#define VAULT		TI_PREFIX ":vault"
#define VAULT_USER	"vault-user"
#define VAULT_SECRET	"vault-secret-0123456"

static const char conf[] =
    "tier anonymous quota 64M ttl 15m persistent no pr no luns 1\n"
    "target shared beta,alpha\n"
    "target vault alpha chap " VAULT_USER " " VAULT_SECRET
    " mutual vault-target vault-target-secret-0123\n"
    "target ro beta readonly\n";

static struct tworker	 tw;
static struct tini	 ti;

static void
setup(void)
{
	ti_worker(&tw, "target", conf);
	ti_open(&ti, &tw, 5);
}

/* The worker only: each test opens its connections. */
static void
setup_worker(void)
{
	ti_worker(&tw, "target", conf);
	ti.i_fd = -1;
}

/*
 * Image "missing" is in the catalog when the configuration is checked,
 * and gone when the worker starts.
 */
static void
setup_missing_image(void)
{
	static const uint8_t	 block[512];
	char			 p[1024];
	int			 fd;

	ti_worker_dirs(&tw, "target");
	snprintf(p, sizeof(p), "%s/images/missing.img", tw.tw_dir);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT, 0600), 0);
	ck_assert_int_eq(write(fd, block, sizeof(block)), sizeof(block));
	close(fd);
	ti_worker_config(&tw, "target holes alpha,missing,beta\n");
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(tw_start(&tw, NULL, 0), 0);
	ti_open(&ti, &tw, 5);
}

/*
 * image-dir holds links: out.img and abs.img leave it (to a file beside
 * it, by a relative and an absolute path), alias.img stays (to
 * alpha.img); fifo.img is a FIFO.  follow: image-follow-symlinks yes.
 */
static void
setup_links(int follow)
{
	static const uint8_t	 block[4096];
	char			 p[1024], q[1024];
	int			 fd;

	ti_worker_dirs(&tw, "target");
	snprintf(p, sizeof(p), "%s/secret", tw.tw_dir);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT, 0600), 0);
	ck_assert_int_eq(write(fd, block, sizeof(block)), sizeof(block));
	close(fd);
	snprintf(q, sizeof(q), "%s/images/abs.img", tw.tw_dir);
	ck_assert_int_eq(symlink(p, q), 0);
	snprintf(q, sizeof(q), "%s/images/out.img", tw.tw_dir);
	ck_assert_int_eq(symlink("../secret", q), 0);
	snprintf(q, sizeof(q), "%s/images/alias.img", tw.tw_dir);
	ck_assert_int_eq(symlink("alpha.img", q), 0);
	snprintf(q, sizeof(q), "%s/images/fifo.img", tw.tw_dir);
	ck_assert_int_eq(mkfifo(q, 0600), 0);
	ti_worker_config(&tw, follow ? "image-follow-symlinks yes\n" : NULL);
	ck_assert_int_eq(tw_start(&tw, NULL, 0), 0);
	ti_open(&ti, &tw, 5);
}

static void
setup_links_kept(void)
{
	setup_links(0);
}

static void
setup_links_followed(void)
{
	setup_links(1);
}

static void
setup_discovery_chap(void)
{
	ti_worker(&tw, "target", "target vault alpha chap " VAULT_USER " "
	    VAULT_SECRET "\ndiscovery-chap disc-user disc-secret-012345\n");
	ti_open(&ti, &tw, 5);
}

static void
teardown(void)
{
	ti_close(&ti);
	ti_worker_done(&tw);
}

/* A command, again if a unit attention (a new session's) came first. */
static void
run(struct tini *c, int lun, const uint8_t *cdb, void *buf, uint32_t len,
    int dir, struct tres *res)
{
	ti_scsi(c, (uint64_t)lun, cdb, buf, len, dir, res);
	if (res->r_status == 0x02 && res->r_key == 0x06)
		ti_scsi(c, (uint64_t)lun, cdb, buf, len, dir, res);
}

static struct target *
find(const char *iqn)
{
	struct target	*t = target_find(&tw.tw_w, iqn);

	ck_assert_msg(t != NULL, "no target %s", iqn);
	return t;
}

static const char *
image(const struct target *t, int lun)
{
	return t->tg_images[lun] != NULL ? t->tg_images[lun]->im_name : NULL;
}

START_TEST(target__public_target_per_image)
{
	struct target	*t = find(ALPHA);

	ck_assert_int_eq(t->tg_kind, TARGET_PUBLIC);
	ck_assert_int_eq(t->tg_nimages, 1);
	ck_assert_str_eq(image(t, 0), "alpha");
	ck_assert_str_eq(image(find(TI_PREFIX ":beta"), 0), "beta");
	ck_assert_ptr_eq(target_find(&tw.tw_w, "IQN.2025-01.PUB.TEST:Alpha"),
	    t);
	ck_assert_ptr_null(target_find(&tw.tw_w, TI_PREFIX ":gamma"));
}
END_TEST

/* :multi holds the catalog in name order, no more than the tier allows. */
START_TEST(target__multi_within_tier_luns)
{
	struct target	*t = find(TI_PREFIX ":multi");

	ck_assert_int_eq(t->tg_kind, TARGET_MULTI);
	ck_assert_int_eq(t->tg_nimages, 1);
	ck_assert_str_eq(image(t, 0), "alpha");
}
END_TEST

START_TEST(target__static_luns_in_config_order)
{
	struct target	*t = find(SHARED);

	ck_assert_int_eq(t->tg_kind, TARGET_STATIC);
	ck_assert_int_eq(t->tg_nimages, 2);
	ck_assert_str_eq(image(t, 0), "beta");
	ck_assert_str_eq(image(t, 1), "alpha");
}
END_TEST

/* An image missing from the catalog leaves its LUN out, not renumbered. */
START_TEST(target__missing_image_leaves_lun_out)
{
	struct target	*t = find(TI_PREFIX ":holes");
	uint8_t		 cdb[16] = { 0xa0 }, buf[64];
	struct tres	 res;

	ck_assert_int_eq(t->tg_nimages, 3);
	ck_assert_ptr_null(image(t, 1));
	ck_assert_str_eq(image(t, 2), "beta");
	ti_login_ok(&ti, TI_PREFIX ":holes", NULL);
	be32enc(cdb + 6, sizeof(buf));
	run(&ti, 0, cdb, buf, sizeof(buf), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_uint_eq(be32dec(buf), 16);		/* two LUNs */
	ck_assert_uint_eq(be16dec(buf + 8), 0);
	ck_assert_uint_eq(be16dec(buf + 16), 2);
}
END_TEST

/*
 * A symbolic link out of image-dir is no image, nor is a FIFO; a link
 * within it is (the same disk under another name).
 */
START_TEST(target__links_out_of_image_dir_refused)
{
	struct target	*t = find(TI_PREFIX ":alias");

	ck_assert_ptr_null(target_find(&tw.tw_w, TI_PREFIX ":out"));
	ck_assert_ptr_null(target_find(&tw.tw_w, TI_PREFIX ":abs"));
	ck_assert_ptr_null(target_find(&tw.tw_w, TI_PREFIX ":fifo"));
	ck_assert_uint_eq(t->tg_images[0]->im_size, TI_ALPHA_SIZE);
	ck_assert_int_eq(tw.tw_w.w_nimages, 3);
}
END_TEST

/* image-follow-symlinks yes: links go where they point. */
START_TEST(target__links_followed_when_allowed)
{
	ck_assert_uint_eq(find(TI_PREFIX ":out")->tg_images[0]->im_size,
	    4096);
	ck_assert_ptr_nonnull(find(TI_PREFIX ":abs"));
	ck_assert_ptr_null(target_find(&tw.tw_w, TI_PREFIX ":fifo"));
	ck_assert_int_eq(tw.tw_w.w_nimages, 5);
}
END_TEST

/* What a login learns: exists, and whether (and how) CHAP is required. */
START_TEST(target__lookup_tells_chap)
{
	struct login_target	 lt;
	struct conn		*c = TAILQ_FIRST(&tw.tw_w.w_conns);

	ck_assert_int_eq(target_lookup(c, TI_INITIATOR, VAULT, &lt), 0);
	ck_assert(lt.lt_exists && lt.lt_chap);
	ck_assert_str_eq(lt.lt_chap_user, VAULT_USER);
	ck_assert_str_eq(lt.lt_chap_secret, VAULT_SECRET);
	ck_assert_str_eq(lt.lt_mchap_user, "vault-target");
	ck_assert_int_eq(lt.lt_tpgt, 1);
	ck_assert_int_eq(target_lookup(c, TI_INITIATOR, SHARED, &lt), 0);
	ck_assert(lt.lt_exists && !lt.lt_chap);
	ck_assert_int_eq(target_lookup(c, TI_INITIATOR, TI_PREFIX ":no",
	    &lt), 0);
	ck_assert(!lt.lt_exists);
	ck_assert_int_eq(target_lookup(c, TI_INITIATOR, NULL, &lt), 0);
	ck_assert(lt.lt_exists && !lt.lt_chap);
}
END_TEST

START_TEST(target__lookup_discovery_chap)
{
	struct login_target	 lt;
	struct conn		*c = TAILQ_FIRST(&tw.tw_w.w_conns);

	ck_assert_int_eq(target_lookup(c, TI_INITIATOR, NULL, &lt), 0);
	ck_assert(lt.lt_exists && lt.lt_chap);
	ck_assert_str_eq(lt.lt_chap_user, "disc-user");
	ck_assert_str_eq(lt.lt_chap_secret, "disc-secret-012345");
}
END_TEST

/*
 * SendTargets as a session of type kind, logged in to target (or
 * none), asking for arg: is name in the answer?  Every name comes with
 * the portal.
 */
static int
names(int kind, const char *target, const char *arg, const char *name)
{
	struct conn	 c;
	char		*text = NULL, kv[256];
	size_t		 len, off;
	int		 found = 0;

	memset(&c, 0, sizeof(c));
	c.c_type = kind;
	if (target != NULL) {
		c.c_target = find(target);
		snprintf(c.c_login.l_target, sizeof(c.c_login.l_target), "%s",
		    target);
	}
	len = target_sendtargets(&tw.tw_w, &c, arg, &text);
	snprintf(kv, sizeof(kv), "TargetName=%s", name);
	for (off = 0; off < len; off += strlen(text + off) + 1) {
		if (strcmp(text + off, kv) != 0)
			continue;
		found = 1;
		off += strlen(text + off) + 1;
		ck_assert_uint_lt(off, len);
		ck_assert_str_eq(text + off, "TargetAddress=127.0.0.1:3260,1");
	}
	free(text);
	return found;
}

#define DISC	LOGIN_SESSION_DISCOVERY
#define NORMAL	LOGIN_SESSION_NORMAL

/* A CHAP target is named only to a session logged in to it. */
START_TEST(target__sendtargets_hides_chap_target)
{
	ck_assert(names(DISC, NULL, "All", ALPHA));
	ck_assert(names(DISC, NULL, "All", SHARED));
	ck_assert(names(DISC, NULL, "All", TI_PREFIX ":multi"));
	ck_assert(!names(DISC, NULL, "All", VAULT));
	ck_assert(!names(DISC, NULL, VAULT, VAULT));
	ck_assert(names(DISC, NULL, SHARED, SHARED));
	ck_assert(!names(DISC, NULL, SHARED, ALPHA));
	ck_assert(names(NORMAL, VAULT, "All", VAULT));
	ck_assert(names(NORMAL, VAULT, "", VAULT));
}
END_TEST

/* A normal session's SendTargets=All names its own target only. */
START_TEST(target__sendtargets_all_in_normal_session)
{
	ck_assert(names(NORMAL, SHARED, "All", SHARED));
	ck_assert(!names(NORMAL, SHARED, "All", ALPHA));
}
END_TEST

/* Behind discovery CHAP, discovery sessions may be told of CHAP ones. */
START_TEST(target__sendtargets_discovery_chap_shows_all)
{
	ck_assert(names(DISC, NULL, "All", VAULT));
	ck_assert(names(DISC, NULL, "All", ALPHA));
}
END_TEST

/* Over the wire: a discovery session's answer. */
START_TEST(target__sendtargets_over_text)
{
	static const char st[] = "SendTargets=All";
	uint8_t		 bhs[ISCSI_BHS_LEN];
	struct tpdu	 p;

	ti_login_ok(&ti, NULL, NULL);
	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_TEXT_REQ, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, 0x31);
	be32enc(bhs + 20, ISCSI_TTT_NONE);
	be32enc(bhs + 24, ti.i_cmdsn);
	ti_send(&ti, bhs, st, sizeof(st));
	ti_expect(&ti, &p, OP_TEXT_RSP);
	ck_assert_ptr_nonnull(memmem(p.p_data, p.p_dlen,
	    "TargetName=" ALPHA, sizeof("TargetName=" ALPHA)));
	ck_assert_ptr_null(memmem(p.p_data, p.p_dlen, VAULT, strlen(VAULT)));
	ti_pdu_free(&p);
}
END_TEST

/*
 * Listen lines beside ti_worker's 127.0.0.1:3260: wildcards of both
 * families (one on 3260 too), and a specific address.  Nothing binds
 * them: the unit's worker is handed its connections.
 */
static void
setup_wildcards(void)
{
	char	 text[sizeof(conf) + 128];

	snprintf(text, sizeof(text), "%slisten 0.0.0.0:3262\n"
	    "listen [::]:3263\nlisten 127.0.0.2:3264\nlisten 0.0.0.0:3260\n",
	    conf);
	ti_worker(&tw, "target", text);
	ti_open(&ti, &tw, 5);
}

/*
 * A connected TCP socket whose local end is the loopback of family af,
 * the worker's end: its peer's descriptor in *peer.  -1 if that
 * loopback is not there.
 */
static int
tcp_pair(int af, int *peer)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	int			 l, fd;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = af;
	if (af == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if ((l = socket(af, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(l, (struct sockaddr *)&ss, sl) == -1) {
		close(l);
		return -1;
	}
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&ss, &sl), 0);
	ck_assert_int_ge(*peer = socket(af, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(*peer, (struct sockaddr *)&ss, sl), 0);
	ck_assert_int_ge(fd = accept(l, NULL, NULL), 0);
	close(l);
	return fd;
}

/* The TargetAddress values SendTargets=All gives target over fd. */
static void
portals(int fd, const char *target, char *out, size_t outlen)
{
	struct conn	 c;
	char		*text = NULL, kv[256];
	size_t		 len, off;
	int		 in = 0;

	memset(&c, 0, sizeof(c));
	c.c_type = LOGIN_SESSION_DISCOVERY;
	c.c_fd = fd;
	out[0] = '\0';
	len = target_sendtargets(&tw.tw_w, &c, "All", &text);
	snprintf(kv, sizeof(kv), "TargetName=%s", target);
	for (off = 0; off < len; off += strlen(text + off) + 1) {
		if (strncmp(text + off, "TargetName=", 11) == 0)
			in = strcmp(text + off, kv) == 0;
		else if (in && strncmp(text + off, "TargetAddress=", 14) == 0) {
			strlcat(out, text + off + 14, outlen);
			strlcat(out, " ", outlen);
		}
	}
	free(text);
}

/*
 * A wildcard listen is named by the address the connection came in on,
 * of its family, with its own port; a specific one as written; no
 * portal twice.
 */
START_TEST(target__sendtargets_wildcard_is_local_address)
{
	char	 got[512];
	int	 fd, peer;

	ck_assert_int_ge(fd = tcp_pair(AF_INET, &peer), 0);
	portals(fd, ALPHA, got, sizeof(got));
	ck_assert_str_eq(got, "127.0.0.1:3260,1 127.0.0.1:3262,1 "
	    "127.0.0.2:3264,1 ");
	portals(fd, SHARED, got, sizeof(got));
	ck_assert_str_eq(got, "127.0.0.1:3260,1 127.0.0.1:3262,1 "
	    "127.0.0.2:3264,1 ");
	close(fd);
	close(peer);
	if ((fd = tcp_pair(AF_INET6, &peer)) == -1)
		return;		/* no IPv6 loopback here */
	portals(fd, ALPHA, got, sizeof(got));
	ck_assert_str_eq(got, "127.0.0.1:3260,1 [::1]:3263,1 "
	    "127.0.0.2:3264,1 ");
	close(fd);
	close(peer);
}
END_TEST

/* One block written at LBA 0 of LUN lun through c. */
static void
write_block(struct tini *c, int lun, uint8_t fill)
{
	uint8_t		 cdb[16], buf[512];
	struct tres	 res;

	memset(buf, fill, sizeof(buf));
	ti_rw10(cdb, 0x2a, 0, 1);
	run(c, lun, cdb, buf, sizeof(buf), TI_WRITE, &res);
	ck_assert_uint_eq(res.r_status, 0);
}

/* The first byte of LUN lun's block 0, read through c. */
static uint8_t
first_byte(struct tini *c, int lun)
{
	uint8_t		 cdb[16], buf[512];
	struct tres	 res;

	ti_rw10(cdb, 0x28, 0, 1);
	run(c, lun, cdb, buf, sizeof(buf), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	return buf[0];
}

/* A static target's sessions share its LUs, past their connections. */
START_TEST(target__static_lus_shared)
{
	struct tini	 b, c;

	ti_open(&b, &tw, 6);
	ti_login_ok(&ti, SHARED, NULL);
	ti_login_ok(&b, SHARED, NULL);
	write_block(&ti, 1, 0xc1);
	ck_assert_uint_eq(first_byte(&b, 1), 0xc1);
	ck_assert_uint_eq(first_byte(&b, 0), ti_image_byte("beta", 0));
	ti_close(&ti);
	ti_close(&b);
	ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
	ti_open(&c, &tw, 8);
	ti_login_ok(&c, SHARED, NULL);
	ck_assert_uint_eq(first_byte(&c, 1), 0xc1);
	ti_close(&c);
}
END_TEST

/* A public target's sessions each write their own overlay. */
START_TEST(target__public_lus_private)
{
	struct tini	 b;

	ti_open(&b, &tw, 6);
	ti_login_ok(&ti, ALPHA, NULL);
	ti_login_ok(&b, ALPHA, NULL);
	write_block(&ti, 0, 0xc2);
	ck_assert_uint_eq(first_byte(&ti, 0), 0xc2);
	ck_assert_uint_eq(first_byte(&b, 0), ti_image_byte("alpha", 0));
	ti_close(&b);
}
END_TEST

/*
 * An LU's identity (NAA designator, unit serial number) follows its
 * data: two sessions of one initiator to a public target or to :multi
 * (two overlays each) are two identities, and a session that comes
 * back for the overlay it left (anonymous-retain) finds its identity
 * with it.
 */
START_TEST(target__private_overlays_distinct_identity)
{
	static const char *const iqns[] = { ALPHA, TI_PREFIX ":multi" };
	struct tini	 b;
	char		 ia[64], ib[64], again[64];
	size_t		 i;

	for (i = 0; i < sizeof(iqns) / sizeof(iqns[0]); i++) {
		ti_open(&ti, &tw, 5);
		ti_open(&b, &tw, 6);
		ti_login_ok(&ti, iqns[i], NULL);
		ti_login_ok(&b, iqns[i], NULL);
		ti_identity(&ti, 0, ia, sizeof(ia));
		ti_identity(&b, 0, ib, sizeof(ib));
		ck_assert_msg(strncmp(ia, ib, 16) != 0, "%s: one NAA for two "
		    "overlays: %s", iqns[i], ia);
		ck_assert_str_ne(strchr(ia, '/'), strchr(ib, '/'));
		write_block(&b, 0, 0xc4);
		ti_close(&b);		/* dropped: its overlay is kept */
		ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
		ti_open(&b, &tw, 6);
		ti_login_ok(&b, iqns[i], NULL);
		ck_assert_uint_eq(first_byte(&b, 0), 0xc4);
		ti_identity(&b, 0, again, sizeof(again));
		ck_assert_str_eq(again, ib);
		ti_close(&b);
		ti_close(&ti);
		ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
	}
}
END_TEST

/* A static target's LU has one identity through every connection. */
START_TEST(target__static_lu_one_identity)
{
	struct tini	 b;
	char		 ia[64], ib[64], other[64];

	ti_open(&b, &tw, 6);
	ti_login_ok(&ti, SHARED, NULL);
	ti_login_ok(&b, SHARED, NULL);
	ti_identity(&ti, 1, ia, sizeof(ia));
	ti_identity(&b, 1, ib, sizeof(ib));
	ck_assert_str_eq(ia, ib);
	ti_identity(&b, 0, other, sizeof(other));
	ck_assert_str_ne(other, ia);
	ti_close(&b);
	ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
	ti_open(&b, &tw, 7);
	ti_login_ok(&b, SHARED, NULL);
	ti_identity(&b, 1, ib, sizeof(ib));
	ck_assert_str_eq(ia, ib);
	ti_close(&b);
}
END_TEST

START_TEST(target__readonly_target_refuses_writes)
{
	uint8_t		 cdb[16], buf[512];
	struct tres	 res;

	memset(buf, 0xc3, sizeof(buf));
	ti_login_ok(&ti, TI_PREFIX ":ro", NULL);
	ti_rw10(cdb, 0x2a, 0, 1);
	run(&ti, 0, cdb, buf, sizeof(buf), TI_WRITE, &res);
	ck_assert_uint_eq(res.r_status, 0x02);
	ck_assert_uint_eq(res.r_key, 0x07);		/* DATA PROTECT */
	ck_assert_uint_eq(res.r_asc, 0x2700);		/* WRITE PROTECTED */
	ck_assert_uint_eq(first_byte(&ti, 0), ti_image_byte("beta", 0));
}
END_TEST

Suite *
target_suite(void)
{
	Suite	*s = suite_create("target");
	TCase	*tc;

	tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, target__public_target_per_image);
	tcase_add_test(tc, target__multi_within_tier_luns);
	tcase_add_test(tc, target__static_luns_in_config_order);
	tcase_add_test(tc, target__lookup_tells_chap);
	suite_add_tcase(s, tc);

	tc = tcase_create("missing");
	tcase_add_checked_fixture(tc, setup_missing_image, teardown);
	tcase_add_test(tc, target__missing_image_leaves_lun_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("sendtargets");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, target__sendtargets_hides_chap_target);
	tcase_add_test(tc, target__sendtargets_all_in_normal_session);
	tcase_add_test(tc, target__sendtargets_over_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("identity");
	tcase_add_checked_fixture(tc, setup_worker, teardown);
	tcase_add_test(tc, target__private_overlays_distinct_identity);
	suite_add_tcase(s, tc);

	tc = tcase_create("portals");
	tcase_add_checked_fixture(tc, setup_wildcards, teardown);
	tcase_add_test(tc, target__sendtargets_wildcard_is_local_address);
	suite_add_tcase(s, tc);

	tc = tcase_create("discovery-chap");
	tcase_add_checked_fixture(tc, setup_discovery_chap, teardown);
	tcase_add_test(tc, target__lookup_discovery_chap);
	tcase_add_test(tc, target__sendtargets_discovery_chap_shows_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("links");
	tcase_add_checked_fixture(tc, setup_links_kept, teardown);
	tcase_add_test(tc, target__links_out_of_image_dir_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("links-followed");
	tcase_add_checked_fixture(tc, setup_links_followed, teardown);
	tcase_add_test(tc, target__links_followed_when_allowed);
	suite_add_tcase(s, tc);

	tc = tcase_create("lus");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, target__static_lus_shared);
	tcase_add_test(tc, target__public_lus_private);
	tcase_add_test(tc, target__static_lu_one_identity);
	tcase_add_test(tc, target__readonly_target_refuses_writes);
	suite_add_tcase(s, tc);
	return s;
}
