/*
 * common/cluster.c: the page a node's coordinator tells its workers
 * through (what a reader sees, the lease), the redirect policy, and the
 * names given to things in RADOS.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "suites.h"

static char	 dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_cluster.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	test_rm_tree(dir);
}

/* Node i of the page: name, address, sessions, alive. */
static void
put_node(struct cluster_page *pg, int i, const char *name, uint32_t conns,
    int alive)
{
	snprintf(pg->cg_nodes[i].cn_name, CFG_NAME_MAX, "%s", name);
	snprintf(pg->cg_nodes[i].cn_addr, CLUSTER_ADDR_MAX, "10.0.0.%d:3260",
	    i + 1);
	pg->cg_nodes[i].cn_conns = conns;
	pg->cg_nodes[i].cn_alive = (uint32_t)alive;
	if ((uint32_t)i >= pg->cg_nnodes)
		pg->cg_nnodes = (uint32_t)i + 1;
}

static void
put_place(struct cluster_page *pg, const char *iqn, int node, int conns)
{
	struct cluster_place *p = &pg->cg_place[pg->cg_nplace++];

	p->cp_hash = cluster_target_hash(iqn);
	p->cp_node = (uint16_t)node;
	p->cp_conns = (uint16_t)conns;
}

START_TEST(cluster__page_not_ready)
{
	struct cluster_page	*w, *r;
	struct cluster_view	 v;

	errno = 0;
	ck_assert_ptr_null(cluster_page_open(dir, 0));	/* none yet */
	ck_assert_int_eq(errno, ENOENT);
	w = cluster_page_open(dir, 1);
	ck_assert_ptr_nonnull(w);
	r = cluster_page_open(dir, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(cluster_page_view(r, NULL, &v), -1);
	ck_assert_int_eq(cluster_page_serving(r), 0);
	ck_assert_int_eq(cluster_page_view(NULL, NULL, &v), -1);
	ck_assert_int_eq(cluster_page_serving(NULL), 0);
	cluster_page_close(r);
	cluster_page_close(w);
}
END_TEST

START_TEST(cluster__page_other_layout_refused)
{
	struct cluster_page	*w;

	w = cluster_page_open(dir, 1);
	ck_assert_ptr_nonnull(w);
	w->cg_layout = CLUSTER_LAYOUT + 1;
	errno = 0;
	ck_assert_ptr_null(cluster_page_open(dir, 0));
	ck_assert_int_eq(errno, EAGAIN);
	cluster_page_close(w);
}
END_TEST

START_TEST(cluster__page_view)
{
	struct cluster_page	*w, *r;
	static struct cluster_view v;

	w = cluster_page_open(dir, 1);
	r = cluster_page_open(dir, 0);
	ck_assert_ptr_nonnull(r);
	cluster_page_begin(w);
	put_node(w, 0, "a", 3, 1);
	put_node(w, 1, "b", 1, 1);
	put_node(w, 2, "c", 0, 0);	/* dead */
	w->cg_self = 1;
	put_place(w, "iqn.x:t1", 0, 2);
	put_place(w, "iqn.x:t1", 1, 1);
	put_place(w, "iqn.x:t2", 2, 5);
	put_place(w, "iqn.x:t3", 0, 1);
	put_place(w, "iqn.x:t3", 2, 9);
	w->cg_ready = 1;
	cluster_page_end(w);
	ck_assert_int_eq(cluster_page_view(r, "IQN.X:T1", &v), 0);
	ck_assert_int_eq(v.cv_nnodes, 3);
	ck_assert_int_eq(v.cv_self, 1);
	ck_assert_str_eq(v.cv_nodes[2].cn_name, "c");
	ck_assert_int_eq(v.cv_where, 0);	/* case folded */
	ck_assert_int_eq(v.cv_here, 1);
	ck_assert_int_eq(cluster_page_view(r, "iqn.x:t2", &v), 0);
	ck_assert_int_eq(v.cv_where, -1);	/* on a dead node only */
	ck_assert_int_eq(cluster_page_view(r, "iqn.x:t3", &v), 0);
	ck_assert_int_eq(v.cv_where, 0);	/* the live one */
	ck_assert_int_eq(cluster_page_view(r, "iqn.x:t4", &v), 0);
	ck_assert_int_eq(v.cv_where, -1);
	ck_assert_int_eq(v.cv_here, 0);
	cluster_page_close(r);
	cluster_page_close(w);
}
END_TEST

/* A writer half-way (odd sequence) is never read: the view gives up. */
START_TEST(cluster__page_torn_not_read)
{
	struct cluster_page	*w, *r;
	static struct cluster_view v;

	w = cluster_page_open(dir, 1);
	r = cluster_page_open(dir, 0);
	put_node(w, 0, "a", 0, 1);
	w->cg_ready = 1;
	cluster_page_begin(w);
	ck_assert_int_eq(cluster_page_view(r, NULL, &v), -1);
	cluster_page_end(w);
	ck_assert_int_eq(cluster_page_view(r, NULL, &v), 0);
	cluster_page_close(r);
	cluster_page_close(w);
}
END_TEST

/*
 * A writer that holds the page open for a while (the coordinator lost its
 * CPU in the middle): the reader waits for it and sees what it wrote,
 * rather than failing a login with a target error.
 */
START_TEST(cluster__page_slow_writer_waited_for)
{
	struct cluster_page	*w, *r;
	static struct cluster_view v;
	int			 fds[2], st;
	pid_t			 pid;
	char			 b;

	w = cluster_page_open(dir, 1);
	r = cluster_page_open(dir, 0);
	put_node(w, 0, "a", 0, 1);
	w->cg_ready = 1;
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		cluster_page_begin(w);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		usleep(30000);
		put_node(w, 1, "b", 0, 1);
		cluster_page_end(w);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(read(fds[0], &b, 1), 1);	/* it is writing */
	ck_assert_int_eq(cluster_page_view(r, NULL, &v), 0);
	ck_assert_int_eq(v.cv_nnodes, 2);
	ck_assert_str_eq(v.cv_nodes[1].cn_name, "b");
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(fds[0]);
	close(fds[1]);
	cluster_page_close(r);
	cluster_page_close(w);
}
END_TEST

START_TEST(cluster__lease)
{
	struct cluster_page	*w, *r;

	w = cluster_page_open(dir, 1);
	r = cluster_page_open(dir, 0);
	w->cg_lease = cluster_now_ns() + 5000000000ULL;
	ck_assert_int_eq(cluster_page_serving(r), 0);	/* not ready */
	w->cg_ready = 1;
	ck_assert_int_eq(cluster_page_serving(r), 1);
	w->cg_lease = cluster_now_ns() - 1;
	ck_assert_int_eq(cluster_page_serving(r), 0);	/* ran out */
	cluster_page_close(r);
	cluster_page_close(w);
}
END_TEST

/* A view: self 0 with conns[0], nodes 1..n-1 with conns[i], alive[i]. */
static void
view(struct cluster_view *v, int n, const uint32_t *conns, const int *alive,
    int where, uint32_t here)
{
	int	 i;

	memset(v, 0, sizeof(*v));
	v->cv_ready = 1;
	v->cv_nnodes = (uint32_t)n;
	for (i = 0; i < n; i++) {
		v->cv_nodes[i].cn_conns = conns[i];
		v->cv_nodes[i].cn_alive = (uint32_t)alive[i];
	}
	v->cv_where = where;
	v->cv_here = here;
}

START_TEST(cluster__redirect_pick)
{
	static struct cluster_view v;
	static const uint32_t conns[] = { 10, 7, 2, 5 };
	static const int alive[] = { 1, 1, 0, 1 };

	view(&v, 4, conns, alive, 1, 0);	/* served on 1 */
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_OFF, 4), -1);
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_SESSION, 4), 1);
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_LOAD, 4), 1);
	view(&v, 4, conns, alive, 1, 2);	/* served here too: here */
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_LOAD, 4), -1);
	view(&v, 4, conns, alive, -1, 0);	/* served nowhere */
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_SESSION, 1),
	    -1);
	/* the lightest live one (2 is dead), if 4 lighter than here */
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_LOAD, 4), 3);
	ck_assert_int_eq(cluster_redirect_pick(&v, CFG_REDIRECT_LOAD, 6), -1);
}
END_TEST

START_TEST(cluster__names)
{
	char	 b[CLUSTER_CLONE_MAX];

	ck_assert_int_eq(cluster_clone_name(b, sizeof(b), 't', "shared", 3),
	    0);
	ck_assert_str_eq(b, "scsipub.t.shared.3");
	ck_assert_int_eq(cluster_clone_name(b, sizeof(b), 's',
	    "0123456789abcdef", 255), 0);
	ck_assert_str_eq(b, "scsipub.s.0123456789abcdef.255");
	ck_assert_int_eq(cluster_clone_name(b, 12, 't', "shared", 3), -1);
	ck_assert_uint_eq(cluster_target_hash("iqn.A:B"),
	    cluster_target_hash("iqn.a:b"));
	ck_assert_uint_ne(cluster_target_hash("iqn.a:b"),
	    cluster_target_hash("iqn.a:c"));
}
END_TEST

Suite *
cluster_suite(void)
{
	Suite	*s = suite_create("cluster");
	TCase	*tc = tcase_create("page");
	TCase	*tv = tcase_create("values");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cluster__page_not_ready);
	tcase_add_test(tc, cluster__page_other_layout_refused);
	tcase_add_test(tc, cluster__page_view);
	tcase_add_test(tc, cluster__page_torn_not_read);
	tcase_add_test(tc, cluster__page_slow_writer_waited_for);
	tcase_add_test(tc, cluster__lease);
	tcase_add_test(tv, cluster__redirect_pick);
	tcase_add_test(tv, cluster__names);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tv);
	return s;
}
