/*
 * worker/scsi/pr.c: PERSISTENT RESERVE IN/OUT, every service action, the
 * conflicts of all six types, unit attentions, PRgeneration, parameter
 * list checks, RESERVE(6) beside them, and the state shared through
 * PATH.pr by several handles (workers) and across reopen (restart).
 */
#include <sys/queue.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "memstore.h"
#include "pr.h"
#include "suites.h"

#define BLOCKS	2048
#define BS	512

#define KA	0xa1a1a1a1a1a1a1a1ULL
#define KB	0xb2b2b2b2b2b2b2b2ULL
#define KC	0xc3c3c3c3c3c3c3c3ULL

/* PERSISTENT RESERVE OUT service actions. */
#define REGISTER	0
#define RESERVE		1
#define RELEASE		2
#define CLEAR		3
#define PREEMPT		4
#define PREEMPT_ABORT	5
#define REG_IGNORE	6
#define REG_MOVE	7

/* Parameter list byte 20. */
#define SPEC_I_PT	0x08
#define ALL_TG_PT	0x04
#define APTPL		0x01

#define TUR_OK(nx)	ck_assert_int_eq(run(nx, tur, NULL, 0), SCSI_GOOD)

static struct mtest	 m;
static struct scsi_nexus *a, *b, *c;
static struct scsi_nexus *o;		/* looks on, never registers */
static struct scsi_lu	 lu2;		/* a second handle on PATH.pr */
static char		 dir[64], path[128];

static const uint8_t	 tur[16];
static const uint8_t	 rd10[16] = { 0x28, 0, 0, 0, 0, 8, 0, 0, 1 };
static const uint8_t	 inq[16] = { 0x12, 0, 0, 0, 96 };
static const uint8_t	 res6[16] = { 0x16 };
static const uint8_t	 rel6[16] = { 0x17 };

static struct scsi_nexus *
nexus_on(struct scsi_lu *lu)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.pub.scsipub:disk", 1);

	scsi_nexus_attach(nx, 0, lu);
	return nx;
}

static void
nexus_free(struct scsi_nexus *nx)
{
	scsi_nexus_detach(nx);
	free(nx);
}

static void
setup(void)
{
	mtest_init(&m, BLOCKS, BS);
	a = m.mt_nx;
	b = nexus_on(&m.mt_lu);
	c = nexus_on(&m.mt_lu);
	o = nexus_on(&m.mt_lu);
	strncpy(b->n_initiator, "iqn.2025-01.test:bravo",
	    sizeof(b->n_initiator) - 1);
	strncpy(c->n_initiator, "iqn.2025-01.test:charlie",
	    sizeof(c->n_initiator) - 1);
}

static void
teardown(void)
{
	nexus_free(b);
	nexus_free(c);
	nexus_free(o);
	mtest_fini(&m);
}

/* The fixture LU on a state file, and lu2 on the same file: 2 workers. */
static void
setup_shared(void)
{
	setup();
	snprintf(dir, sizeof(dir), "/tmp/check_pr.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lu.pr", dir);
	pr_lu_close(m.mt_lu.lu_pr);
	ck_assert_ptr_nonnull(m.mt_lu.lu_pr = pr_lu_open(path));
	scsi_lu_init(&lu2, BLOCKS, BS, "disk.img", 0x1234567890ULL,
	    &memstore_ops, m.mt_ms);
	ck_assert_ptr_nonnull(lu2.lu_pr = pr_lu_open(path));
}

static void
teardown_shared(void)
{
	char	 cmd[128];

	pr_lu_close(lu2.lu_pr);
	teardown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int
run(struct scsi_nexus *nx, const uint8_t *cdb, const void *dout,
    uint32_t len)
{
	return mtest_run(&m, nx, 0, cdb, dout, len);
}

/* PERSISTENT RESERVE OUT with a basic (or longer) parameter list. */
static int
prout_p(struct scsi_nexus *nx, int sa, int type, const uint8_t *p,
    uint32_t plen)
{
	uint8_t	 cdb[16] = { 0x5f };

	cdb[1] = (uint8_t)sa;
	cdb[2] = (uint8_t)type;
	be32enc(cdb + 5, plen);
	return run(nx, cdb, p, plen);
}

static int
prout(struct scsi_nexus *nx, int sa, int type, uint64_t key,
    uint64_t sakey, uint8_t flags)
{
	uint8_t	 p[24] = { 0 };

	be64enc(p, key);
	be64enc(p + 8, sakey);
	p[20] = flags;
	return prout_p(nx, sa, type, p, sizeof(p));
}

static int
reg(struct scsi_nexus *nx, uint64_t key)
{
	return prout(nx, REGISTER, 0, 0, key, 0);
}

/* PERSISTENT RESERVE IN; the data is in m.mt_din. */
static int
prin(struct scsi_nexus *nx, int sa, uint16_t alloc)
{
	uint8_t	 cdb[16] = { 0x5e };

	cdb[1] = (uint8_t)sa;
	be16enc(cdb + 7, alloc);
	return run(nx, cdb, NULL, 0);
}

static uint32_t
generation(void)
{
	ck_assert_int_eq(prin(o, 0, 8), SCSI_GOOD);
	return be32dec(m.mt_din);
}

static int
nkeys(void)
{
	ck_assert_int_eq(prin(o, 0, 1024), SCSI_GOOD);
	return (int)(be32dec(m.mt_din + 4) / 8);
}

static uint64_t
key_at(int i)
{
	ck_assert_int_eq(prin(o, 0, 1024), SCSI_GOOD);
	return be64dec(m.mt_din + 8 + 8 * i);
}

/* The reservation: type, 0 when none; its key in *key. */
static int
resv(struct scsi_nexus *nx, uint64_t *key)
{
	ck_assert_int_eq(prin(nx, 1, 64), SCSI_GOOD);
	if (be32dec(m.mt_din + 4) == 0)
		return 0;
	ck_assert_uint_eq(be32dec(m.mt_din + 4), 16);
	if (key != NULL)
		*key = be64dec(m.mt_din + 8);
	return m.mt_din[21];
}

static void
ua_is(struct scsi_nexus *nx, int asc)
{
	ck_assert_int_eq(run(nx, tur, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_UNIT_ATTENTION);
	ck_assert_int_eq(mtest_asc(&m), asc);
	TUR_OK(nx);
}

static int
writes(struct scsi_nexus *nx)
{
	uint8_t	 cdb[16] = { 0x2a, 0, 0, 0, 0, 8, 0, 0, 1 }, blk[BS];

	memset(blk, 0x5a, sizeof(blk));
	return run(nx, cdb, blk, BS);
}

/* A TransportID of format 01b for nexus nx (or 00b without ISID). */
static uint32_t
tid(uint8_t *p, const struct scsi_nexus *nx, int port)
{
	const uint8_t	*i = nx->n_isid;
	int		 n;

	memset(p, 0, 256);
	if (port)
		n = snprintf((char *)p + 4, 240, "%s,i,0x%02x%02x%02x%02x%02x"
		    "%02x", nx->n_initiator, i[0], i[1], i[2], i[3], i[4],
		    i[5]);
	else
		n = snprintf((char *)p + 4, 240, "%s", nx->n_initiator);
	n = (n + 1 + 3) & ~3;
	p[0] = (port ? 0x40 : 0) | 0x05;
	be16enc(p + 2, (uint16_t)n);
	return 4 + (uint32_t)n;
}

/* ---------------------------------------------------------------- */
/* REGISTER, REGISTER AND IGNORE EXISTING KEY, READ KEYS */

START_TEST(pr__read_keys_empty)
{
	ck_assert_int_eq(prin(a, 0, 64), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 8);
	ck_assert_uint_eq(be32dec(m.mt_din), 0);
	ck_assert_uint_eq(be32dec(m.mt_din + 4), 0);
}
END_TEST

START_TEST(pr__register_lists_keys_and_bumps_generation)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_uint_eq(generation(), 1);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_uint_eq(generation(), 2);
	ck_assert_int_eq(nkeys(), 2);
	ck_assert(key_at(0) == KA || key_at(1) == KA);
	ck_assert(key_at(0) == KB || key_at(1) == KB);
}
END_TEST

START_TEST(pr__register_unregistered_with_key_conflicts)
{
	ck_assert_int_eq(prout(a, REGISTER, 0, 5, KA, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(nkeys(), 0);
	ck_assert_uint_eq(generation(), 0);
}
END_TEST

START_TEST(pr__register_zero_key_unregistered_does_nothing)
{
	ck_assert_int_eq(reg(a, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 0);
	ck_assert_uint_eq(generation(), 0);
}
END_TEST

START_TEST(pr__register_wrong_key_conflicts)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, REGISTER, 0, 7, KB, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(a, REGISTER, 0, 0, KB, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_uint_eq(key_at(0), KA);
	ck_assert_uint_eq(generation(), 1);
}
END_TEST

START_TEST(pr__register_changes_then_removes_key)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, REGISTER, 0, KA, KB, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 1);
	ck_assert_uint_eq(key_at(0), KB);
	ck_assert_int_eq(prout(a, REGISTER, 0, KB, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 0);
	ck_assert_uint_eq(generation(), 3);
}
END_TEST

START_TEST(pr__register_and_ignore_existing_key)
{
	ck_assert_int_eq(prout(a, REG_IGNORE, 0, 99, KA, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(a, REG_IGNORE, 0, 99, KB, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 1);
	ck_assert_uint_eq(key_at(0), KB);
	ck_assert_int_eq(prout(a, REG_IGNORE, 0, 0, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 0);
	ck_assert_uint_eq(generation(), 3);
}
END_TEST

START_TEST(pr__allocation_length_cuts_data_not_length)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prin(a, 0, 12), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 12);
	ck_assert_uint_eq(be32dec(m.mt_din + 4), 16);
	ck_assert_int_eq(prin(a, 0, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* RESERVE, RELEASE, READ RESERVATION */

START_TEST(pr__reserve_needs_registration_and_key)
{
	uint64_t key = 0;

	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KB, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(b, &key), PR_TYPE_WE);
	ck_assert_uint_eq(key, KA);
	ck_assert_uint_eq(generation(), 1);	/* RESERVE leaves it */
}
END_TEST

START_TEST(pr__reserve_bad_type_or_scope)
{
	uint32_t sks;

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, 2, KA, 0, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert(mtest_sks(&m, &sks));
	ck_assert_uint_eq(sks & 0xffff, 2);
	ck_assert_int_eq(prout(a, RESERVE, 0x10 | PR_TYPE_WE, KA, 0, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(resv(a, NULL), 0);
}
END_TEST

START_TEST(pr__reserve_again_and_by_others)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(b, RESERVE, PR_TYPE_EA, KB, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(resv(a, NULL), PR_TYPE_EA);
}
END_TEST

START_TEST(pr__all_registrants_reservation_has_key_zero)
{
	uint64_t key = 1;

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE_AR, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(resv(a, &key), PR_TYPE_WE_AR);
	ck_assert_uint_eq(key, 0);
	/* every registrant holds it: b may reserve the same, and release */
	ck_assert_int_eq(prout(b, RESERVE, PR_TYPE_WE_AR, KB, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(prout(b, RELEASE, PR_TYPE_WE_AR, KB, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(resv(b, NULL), 0);
	ua_is(a, ASC_RESERVATIONS_RELEASED);
}
END_TEST

START_TEST(pr__release_by_holder_only)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(b, RELEASE, PR_TYPE_WE, KB, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(b, RELEASE, PR_TYPE_WE, KB, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(a, NULL), PR_TYPE_WE);
	ck_assert_int_eq(prout(c, RELEASE, PR_TYPE_WE, 0, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(a, RELEASE, PR_TYPE_EA, KA, 0, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_RELEASE_OF_PR);
	ck_assert_int_eq(prout(a, RELEASE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(a, NULL), 0);
	TUR_OK(b);			/* no UA: not registrants only */
	ck_assert_uint_eq(generation(), 2);
}
END_TEST

START_TEST(pr__release_registrants_only_tells_registrants)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA_RO, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(prout(a, RELEASE, PR_TYPE_EA_RO, KA, 0, 0),
	    SCSI_GOOD);
	ua_is(b, ASC_RESERVATIONS_RELEASED);
	TUR_OK(a);
	TUR_OK(c);
}
END_TEST

START_TEST(pr__unregistering_holder_releases)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE_RO, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(prout(a, REGISTER, 0, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(a, NULL), 0);
	ua_is(b, ASC_RESERVATIONS_RELEASED);
}
END_TEST

START_TEST(pr__all_registrants_goes_with_the_last)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA_AR, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(prout(a, REGISTER, 0, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(b, NULL), PR_TYPE_EA_AR);
	ck_assert_int_eq(prout(b, REGISTER, 0, KB, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(b, NULL), 0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* CLEAR, PREEMPT, PREEMPT AND ABORT */

START_TEST(pr__clear_removes_everything)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(c, CLEAR, 0, 0, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(b, CLEAR, 0, KA, 0, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(b, CLEAR, 0, KB, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 0);
	ck_assert_int_eq(resv(b, NULL), 0);
	ck_assert_uint_eq(generation(), 3);
	ua_is(a, ASC_RESERVATIONS_PREEMPTED);
	TUR_OK(b);
}
END_TEST

static void
preempt_takes_reservation(int sa)
{
	uint64_t key = 0;

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(writes(b), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(b, rd10, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(b, sa, PR_TYPE_WE, KB, KA, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(b, &key), PR_TYPE_WE);
	ck_assert_uint_eq(key, KB);
	ck_assert_int_eq(nkeys(), 1);
	ck_assert_uint_eq(generation(), 3);
	ck_assert_int_eq(writes(b), SCSI_GOOD);
	ua_is(a, ASC_REGISTRATIONS_PREEMPTED);
	ck_assert_int_eq(writes(a), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(a, rd10, NULL, 0), SCSI_GOOD);
}

START_TEST(pr__preempt_takes_reservation)
{
	preempt_takes_reservation(PREEMPT);
}
END_TEST

START_TEST(pr__preempt_and_abort_takes_reservation)
{
	preempt_takes_reservation(PREEMPT_ABORT);
}
END_TEST

START_TEST(pr__preempt_new_type_releases_the_others)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(reg(c, KC), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(b, PREEMPT, PR_TYPE_EA, KB, KA, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(b, NULL), PR_TYPE_EA);
	ua_is(a, ASC_REGISTRATIONS_PREEMPTED);
	ua_is(c, ASC_RESERVATIONS_RELEASED);
	TUR_OK(b);
}
END_TEST

START_TEST(pr__preempt_own_reservation_changes_type)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(a, PREEMPT, PR_TYPE_EA, KA, KA, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(a, NULL), PR_TYPE_EA);
	ck_assert_int_eq(nkeys(), 1);
}
END_TEST

START_TEST(pr__preempt_without_reservation_removes_regs)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(b, PREEMPT, PR_TYPE_EA, KB, KA, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 1);
	ck_assert_uint_eq(key_at(0), KB);
	ck_assert_int_eq(resv(b, NULL), 0);
	ck_assert_uint_eq(generation(), 3);
	ua_is(a, ASC_REGISTRATIONS_PREEMPTED);
}
END_TEST

START_TEST(pr__preempt_bad_keys)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(b, PREEMPT, PR_TYPE_WE, KB, 0, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(prout(b, PREEMPT, PR_TYPE_WE, KB, 0x77, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(c, PREEMPT, PR_TYPE_WE, 0, KA, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(b, PREEMPT, 2, KB, KA, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert_uint_eq(generation(), 2);
	ck_assert_int_eq(nkeys(), 2);
}
END_TEST

START_TEST(pr__preempt_all_registrants_with_zero_key)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(reg(c, KC), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA_AR, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(prout(b, PREEMPT, PR_TYPE_EA, KB, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 1);
	ck_assert_int_eq(resv(b, NULL), PR_TYPE_EA);
	ua_is(a, ASC_REGISTRATIONS_PREEMPTED);
	ua_is(c, ASC_REGISTRATIONS_PREEMPTED);
	ck_assert_int_eq(run(c, rd10, NULL, 0), SCSI_RESERVATION_CONFLICT);
}
END_TEST

/* ---------------------------------------------------------------- */
/* REGISTER AND MOVE, SPEC_I_PT, ALL_TG_PT, READ FULL STATUS */

static int
move(struct scsi_nexus *from, struct scsi_nexus *to, uint64_t key,
    uint64_t sakey, uint16_t relport, uint8_t flags)
{
	uint8_t	 p[24 + 256] = { 0 };
	uint32_t tl = tid(p + 24, to, 1);

	be64enc(p, key);
	be64enc(p + 8, sakey);
	p[17] = flags;
	be16enc(p + 18, relport);
	be32enc(p + 20, tl);
	return prout_p(from, REG_MOVE, PR_TYPE_WE, p, 24 + tl);
}

START_TEST(pr__register_and_move)
{
	uint64_t key = 0;

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(move(a, b, KA, KB, 1, 0), SCSI_GOOD);
	ck_assert_int_eq(resv(b, &key), PR_TYPE_EA);
	ck_assert_uint_eq(key, KB);
	ck_assert_int_eq(nkeys(), 2);
	ck_assert_uint_eq(generation(), 2);
	ck_assert_int_eq(run(b, rd10, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(a, rd10, NULL, 0), SCSI_RESERVATION_CONFLICT);
	/* and on to c, b unregistering (UNREG) */
	ck_assert_int_eq(move(b, c, KB, KC, 1, 0x02), SCSI_GOOD);
	ck_assert_int_eq(resv(c, &key), PR_TYPE_EA);
	ck_assert_uint_eq(key, KC);
	ck_assert_int_eq(nkeys(), 2);
}
END_TEST

START_TEST(pr__register_and_move_refusals)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(move(a, b, KA, KB, 1, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(move(b, c, KB, KC, 1, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(move(a, a, KA, KC, 1, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(move(a, c, KA, 0, 1, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(move(a, c, KA, KC, 2, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(prout(a, RELEASE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE_AR, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(move(a, c, KA, KC, 1, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_uint_eq(generation(), 2);
}
END_TEST

START_TEST(pr__spec_i_pt_registers_transport_ids)
{
	uint8_t	 p[24 + 4 + 512] = { 0 };
	uint32_t n = 24 + 4;

	n += tid(p + n, b, 1);
	n += tid(p + n, c, 0);		/* c's device: any ISID */
	be64enc(p + 8, KA);
	p[20] = SPEC_I_PT | ALL_TG_PT;
	be32enc(p + 24, n - 28);
	ck_assert_int_eq(prout_p(a, REGISTER, 0, p, n), SCSI_GOOD);
	ck_assert_int_eq(nkeys(), 3);
	ck_assert_uint_eq(generation(), 1);
	ck_assert_int_eq(prout(b, RESERVE, PR_TYPE_EA_RO, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(run(c, rd10, NULL, 0), SCSI_GOOD);
	/* an I_T nexus already registered cannot be named again */
	ck_assert_int_eq(prout_p(c, REGISTER, 0, p, n),
	    SCSI_RESERVATION_CONFLICT);
}
END_TEST

START_TEST(pr__spec_i_pt_bad_lists)
{
	uint8_t	 p[64] = { 0 };

	be64enc(p + 8, KA);
	p[20] = SPEC_I_PT;
	ck_assert_int_eq(prout_p(a, REGISTER, 0, p, 24),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	be32enc(p + 24, 100);			/* beyond the list */
	ck_assert_int_eq(prout_p(a, REGISTER, 0, p, 48),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	be32enc(p + 24, 20);
	p[28] = 0x01;				/* Fibre Channel */
	ck_assert_int_eq(prout_p(a, REGISTER, 0, p, 48),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(prout(a, REG_IGNORE, 0, 0, KA, SPEC_I_PT),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(nkeys(), 0);
}
END_TEST

START_TEST(pr__read_full_status)
{
	char		 want[256];
	const uint8_t	*d;
	uint32_t	 len, dl, off;
	int		 seen = 0;

	ck_assert_int_eq(prout(a, REGISTER, 0, 0, KA, ALL_TG_PT), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(b, RESERVE, PR_TYPE_WE_RO, KB, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(prin(c, 3, 4096), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din), 2);
	len = be32dec(m.mt_din + 4);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 8 + len);
	for (off = 8; off < 8 + len; off += 24 + dl) {
		d = m.mt_din + off;
		dl = be32dec(d + 20);
		ck_assert_uint_eq(dl % 4, 0);
		ck_assert_uint_eq(d[24], 0x45);	/* port format, iSCSI */
		ck_assert_uint_eq(be16dec(d + 26), dl - 4);
		if (be64dec(d) == KA) {
			ck_assert_uint_eq(d[12], 0x02);	/* ALL_TG_PT */
			snprintf(want, sizeof(want), "%s,i,0x%02x00000000%02x",
			    a->n_initiator, a->n_isid[0], a->n_isid[5]);
		} else {
			ck_assert_uint_eq(be64dec(d), KB);
			ck_assert_uint_eq(d[12], 0x01);	/* R_HOLDER */
			ck_assert_uint_eq(d[13], PR_TYPE_WE_RO);
			ck_assert_uint_eq(be16dec(d + 18), 1);
			snprintf(want, sizeof(want), "%s,i,0x%02x00000000%02x",
			    b->n_initiator, b->n_isid[0], b->n_isid[5]);
		}
		ck_assert_str_eq((const char *)d + 28, want);
		seen++;
	}
	ck_assert_int_eq(seen, 2);
}
END_TEST

START_TEST(pr__report_capabilities_private)
{
	ck_assert_int_eq(prin(a, 2, 8), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 8);
	ck_assert_uint_eq(be16dec(m.mt_din), 8);
	ck_assert_uint_eq(m.mt_din[2], 0x1c);	/* CRH SIP_C ATP_C, no PTPL_C */
	ck_assert_uint_eq(m.mt_din[3], 0x90);	/* TMV, ALLOW COMMANDS 001b */
	ck_assert_uint_eq(m.mt_din[4], 0xea);
	ck_assert_uint_eq(m.mt_din[5], 0x01);
	/* APTPL without PTPL_C */
	ck_assert_int_eq(prout(a, REGISTER, 0, 0, KA, APTPL),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(nkeys(), 0);
}
END_TEST

/* Parameter list lengths other than 24 (no SPEC_I_PT), or short data. */
static const uint32_t bad_plen[] = { 0, 8, 23, 25, 28, 4096 };

START_TEST(pr__bad_parameter_list_length)
{
	uint8_t	 p[4096] = { 0 };
	int	 sa;

	be64enc(p + 8, KA);
	for (sa = 0; sa < 8; sa++) {
		if (sa == REG_MOVE && bad_plen[_i] >= 24)
			continue;	/* its list is longer */
		ck_assert_int_eq(prout_p(a, sa, PR_TYPE_WE, p, bad_plen[_i]),
		    SCSI_CHECK_CONDITION);
		ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	}
	ck_assert_int_eq(nkeys(), 0);
}
END_TEST

START_TEST(pr__short_data_out)
{
	uint8_t	 cdb[16] = { 0x5f, REGISTER }, p[24] = { 0 };

	be32enc(cdb + 5, 24);
	be64enc(p + 8, KA);
	ck_assert_int_eq(run(a, cdb, p, 20), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	ck_assert_int_eq(nkeys(), 0);
}
END_TEST

START_TEST(pr__unknown_service_actions)
{
	uint8_t	 in[16] = { 0x5e, 0x04, 0, 0, 0, 0, 0, 0, 8 };
	uint8_t	 out[16] = { 0x5f, 0x08, 0, 0, 0, 0, 0, 0, 24 };

	ck_assert_int_eq(run(a, in, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(run(a, out, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Conflicts: SPC-4 table 65, SBC-3 table 13 */

static const struct {
	int	 type;
	int	 reg_read, reg_write, unreg_read, unreg_write;
} access_vec[] = {
	{ PR_TYPE_WE,		1, 0, 1, 0 },
	{ PR_TYPE_EA,		0, 0, 0, 0 },
	{ PR_TYPE_WE_RO,	1, 1, 1, 0 },
	{ PR_TYPE_EA_RO,	1, 1, 0, 0 },
	{ PR_TYPE_WE_AR,	1, 1, 1, 0 },
	{ PR_TYPE_EA_AR,	1, 1, 0, 0 },
};

static void
access_is(struct scsi_nexus *nx, int rd, int wr)
{
	ck_assert_int_eq(run(nx, rd10, NULL, 0), rd ? SCSI_GOOD :
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(writes(nx), wr ? SCSI_GOOD :
	    SCSI_RESERVATION_CONFLICT);
}

START_TEST(pr__access_by_type)
{
	uint8_t	 ms[16] = { 0x1a, 0, 0x3f, 0, 255 };
	uint8_t	 rc10[16] = { 0x25 }, rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1 };
	int	 type = access_vec[_i].type, we = type == PR_TYPE_WE ||
		    type == PR_TYPE_WE_RO || type == PR_TYPE_WE_AR;

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, type, KA, 0, 0), SCSI_GOOD);
	access_is(a, 1, 1);
	access_is(b, access_vec[_i].reg_read, access_vec[_i].reg_write);
	access_is(c, access_vec[_i].unreg_read, access_vec[_i].unreg_write);
	/* allowed under every type */
	TUR_OK(c);
	ck_assert_int_eq(run(c, inq, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(c, rc10, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(c, rl, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(prin(c, 1, 64), SCSI_GOOD);
	/* MODE SENSE passes Write Exclusive only */
	ck_assert_int_eq(run(c, ms, NULL, 0), we ? SCSI_GOOD :
	    SCSI_RESERVATION_CONFLICT);
	/* an unregistered nexus may register, then RO/AR let it in */
	ck_assert_int_eq(reg(c, KC), SCSI_GOOD);
	if (type >= PR_TYPE_WE_RO)
		access_is(c, 1, 1);
	else
		access_is(c, !(type == PR_TYPE_EA), 0);
}
END_TEST

START_TEST(pr__start_stop_and_prevent_by_cdb)
{
	uint8_t	 start[16] = { 0x1b, 0, 0, 0, 0x01 };
	uint8_t	 stop[16] = { 0x1b, 0, 0, 0, 0x00 };
	uint8_t	 allow[16] = { 0x1e, 0, 0, 0, 0x00 };
	uint8_t	 prevent[16] = { 0x1e, 0, 0, 0, 0x01 };

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(run(c, start, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(c, stop, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(c, allow, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(c, prevent, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(a, stop, NULL, 0), SCSI_GOOD);
}
END_TEST

START_TEST(pr__every_opcode_has_a_class)
{
	const struct scsi_cmd *tab = scsi_cmd_table(), *e;
	int	 op, i, n;

	/* writes conflict under both; nothing is EA-free but WE-bound */
	for (op = 0; op < 256; op++) {
		n = tab[op].c_sa != NULL ? tab[op].c_nsa : 1;
		for (i = 0; i < n; i++) {
			e = tab[op].c_sa != NULL ? &tab[op].c_sa[i] : &tab[op];
			if (e->c_handler == NULL)
				continue;
			if (e->c_dir == SCSI_DIR_WRITE && !(e->c_flags &
			    SCSI_CMD_PR) && op != 0x2f && op != 0x8f &&
			    op != 0xaf)
				ck_assert_msg(e->c_pr & SCSI_PR_WE, "%s",
				    e->c_name);
			if (e->c_pr & SCSI_PR_WE)
				ck_assert_msg(e->c_pr & SCSI_PR_EA, "%s",
				    e->c_name);
		}
	}
}
END_TEST

/* ---------------------------------------------------------------- */
/* RESERVE(6) beside persistent reservations (SPC-4 5.13.3, CRH=1) */

START_TEST(pr__reserve6_makes_pr_conflict)
{
	ck_assert_int_eq(run(a, res6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(prin(a, 0, 8), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prin(b, 2, 8), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(reg(b, KB), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(reg(a, KA), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(a, rel6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
}
END_TEST

START_TEST(pr__registrations_make_reserve6_conflict)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(run(b, res6, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(b, rel6, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(a, res6, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA_RO, KA, 0, 0),
	    SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	/* holder and registrants only registrants: GOOD, nothing done */
	ck_assert_int_eq(run(a, res6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(b, res6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(b, rel6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(c, res6, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(resv(a, NULL), PR_TYPE_EA_RO);
	ck_assert_int_eq(run(b, rd10, NULL, 0), SCSI_GOOD);
}
END_TEST

START_TEST(pr__lun_reset_keeps_persistent_reservation)
{
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	scsi_lun_reset(&m.mt_lu, a);
	mtest_clear_ua(&m, a, 0);
	mtest_clear_ua(&m, c, 0);
	ck_assert_int_eq(resv(a, NULL), PR_TYPE_WE);
	ck_assert_int_eq(writes(c), SCSI_RESERVATION_CONFLICT);
}
END_TEST

START_TEST(pr__disabled_is_invalid_opcode)
{
	/* REPORT SUPPORTED OPERATION CODES, one command with SA: 5Eh/00h */
	static const uint8_t rsoc_prin[16] = { 0xa3, 0x0c, 0x02, 0x5e, 0, 0,
	    0, 0, 0x01, 0 };

	m.mt_lu.lu_pr_enabled = 0;
	ck_assert_int_eq(prin(a, 0, 8), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_OPCODE);
	ck_assert_int_eq(reg(a, KA), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_OPCODE);
	ck_assert_int_eq(run(a, res6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(b, rd10, NULL, 0), SCSI_RESERVATION_CONFLICT);
	/* and REPORT SUPPORTED OPERATION CODES does not list them */
	ck_assert_int_eq(run(a, rsoc_prin, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[1] & 0x07, 0x01);	/* not supported */
	m.mt_lu.lu_pr_enabled = 1;
	ck_assert_int_eq(run(a, rsoc_prin, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[1] & 0x07, 0x03);
	ck_assert_uint_eq(be16dec(m.mt_din + 2), 10);
}
END_TEST

/* ---------------------------------------------------------------- */
/* PATH.pr: two handles (workers), reopen (restart) */

START_TEST(pr__shared_state_enforced_through_other_handle)
{
	struct scsi_nexus *b2 = nexus_on(&lu2);
	uint64_t key = 0;

	strncpy(b2->n_initiator, "iqn.2025-01.test:bravo",
	    sizeof(b2->n_initiator) - 1);
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_WE, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(writes(b2), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(b2, rd10, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(reg(b2, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(b2, PREEMPT, PR_TYPE_WE, KB, KA, 0), SCSI_GOOD);
	ua_is(a, ASC_REGISTRATIONS_PREEMPTED);
	ck_assert_int_eq(writes(a), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(writes(b2), SCSI_GOOD);
	ck_assert_int_eq(resv(a, &key), PR_TYPE_WE);
	ck_assert_uint_eq(key, KB);
	nexus_free(b2);
}
END_TEST

START_TEST(pr__shared_state_survives_reopen)
{
	struct pr_state	*st = malloc(sizeof(*st));
	uint64_t	 key = 0;

	ck_assert_int_eq(prout(a, REGISTER, 0, 0, KA, APTPL), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	ck_assert_int_eq(prout(a, RESERVE, PR_TYPE_EA, KA, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(prin(a, 2, 8), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[2], 0x1d);	/* PTPL_C */
	ck_assert_uint_eq(m.mt_din[3], 0x90);	/* APTPL 0 last: PTPL_A 0 */
	/* every worker goes, and comes back */
	pr_lu_close(lu2.lu_pr);
	pr_lu_close(m.mt_lu.lu_pr);
	m.mt_lu.lu_pr = pr_lu_open(path);
	lu2.lu_pr = pr_lu_open(path);
	m.mt_nx->n_lunex[0].ln_prseq = 0;
	c->n_lunex[0].ln_prseq = 0;
	ck_assert_int_eq(resv(c, &key), PR_TYPE_EA);
	ck_assert_uint_eq(key, KA);
	ck_assert_int_eq(nkeys(), 2);
	ck_assert_uint_eq(generation(), 2);
	ck_assert_int_eq(run(c, rd10, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(a, rd10, NULL, 0), SCSI_GOOD);
	pr_lu_snapshot(lu2.lu_pr, st);
	ck_assert_uint_eq(st->ps_generation, 2);
	ck_assert_uint_eq(st->ps_type, PR_TYPE_EA);
	ck_assert_uint_eq(st->ps_seq % 2, 0);
	free(st);
}
END_TEST

START_TEST(pr__reserve6_seen_through_other_handle)
{
	struct scsi_nexus *b2 = nexus_on(&lu2);

	ck_assert_int_eq(run(a, res6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(b2, res6, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(b2, rd10, NULL, 0), SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(run(b2, inq, NULL, 0), SCSI_GOOD);
	scsi_nexus_detach(a);			/* a's I_T nexus is lost */
	ck_assert_int_eq(run(b2, res6, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(b2, rel6, NULL, 0), SCSI_GOOD);
	scsi_nexus_attach(a, 0, &m.mt_lu);
	nexus_free(b2);
}
END_TEST

/* A RESERVE held through a worker that died went with its nexus. */
START_TEST(pr__reserve6_of_dead_worker_released)
{
	struct scsi_lu	 lu3;
	struct scsi_nexus *x;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == 0) {
		scsi_lu_init(&lu3, BLOCKS, BS, "disk.img", 1, &memstore_ops,
		    m.mt_ms);
		lu3.lu_pr = pr_lu_open(path);
		x = nexus_on(&lu3);
		_exit(run(x, res6, NULL, 0) == SCSI_GOOD ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(run(b, rd10, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(run(b, res6, NULL, 0), SCSI_GOOD);
}
END_TEST

/* A UA for a nexus that is not connected waits for it. */
START_TEST(pr__ua_waits_for_the_nexus)
{
	struct scsi_nexus *a2;

	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	ck_assert_int_eq(reg(b, KB), SCSI_GOOD);
	a2 = scsi_nexus_new(SCSI_MAX_LUNS);	/* the same I_T nexus */
	memcpy(a2->n_initiator, a->n_initiator, sizeof(a2->n_initiator));
	memcpy(a2->n_isid, a->n_isid, sizeof(a2->n_isid));
	memcpy(a2->n_target, a->n_target, sizeof(a2->n_target));
	a2->n_tpgt = a->n_tpgt;
	a2->n_relport = a->n_relport;
	scsi_nexus_detach(a);
	ck_assert_int_eq(prout(b, PREEMPT, PR_TYPE_WE, KB, KA, 0), SCSI_GOOD);
	scsi_nexus_attach(a2, 0, &lu2);		/* back, via another worker */
	ua_is(a2, ASC_REGISTRATIONS_PREEMPTED);
	nexus_free(a2);
	scsi_nexus_attach(a, 0, &m.mt_lu);
}
END_TEST

START_TEST(pr__unknown_file_is_reset)
{
	int	 fd;

	pr_lu_close(lu2.lu_pr);
	ck_assert_int_eq(reg(a, KA), SCSI_GOOD);
	pr_lu_close(m.mt_lu.lu_pr);
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "garbage!", 8, 0), 8);
	close(fd);
	m.mt_lu.lu_pr = pr_lu_open(path);
	lu2.lu_pr = pr_lu_open(path);
	m.mt_nx->n_lunex[0].ln_prseq = 0;
	ck_assert_int_eq(nkeys(), 0);
	ck_assert_uint_eq(generation(), 0);
}
END_TEST

Suite *
pr_suite(void)
{
	Suite	*s = suite_create("pr");
	TCase	*tc = tcase_create("private");
	TCase	*sh = tcase_create("shared");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pr__read_keys_empty);
	tcase_add_test(tc, pr__register_lists_keys_and_bumps_generation);
	tcase_add_test(tc, pr__register_unregistered_with_key_conflicts);
	tcase_add_test(tc, pr__register_zero_key_unregistered_does_nothing);
	tcase_add_test(tc, pr__register_wrong_key_conflicts);
	tcase_add_test(tc, pr__register_changes_then_removes_key);
	tcase_add_test(tc, pr__register_and_ignore_existing_key);
	tcase_add_test(tc, pr__allocation_length_cuts_data_not_length);
	tcase_add_test(tc, pr__reserve_needs_registration_and_key);
	tcase_add_test(tc, pr__reserve_bad_type_or_scope);
	tcase_add_test(tc, pr__reserve_again_and_by_others);
	tcase_add_test(tc, pr__all_registrants_reservation_has_key_zero);
	tcase_add_test(tc, pr__release_by_holder_only);
	tcase_add_test(tc, pr__release_registrants_only_tells_registrants);
	tcase_add_test(tc, pr__unregistering_holder_releases);
	tcase_add_test(tc, pr__all_registrants_goes_with_the_last);
	tcase_add_test(tc, pr__clear_removes_everything);
	tcase_add_test(tc, pr__preempt_takes_reservation);
	tcase_add_test(tc, pr__preempt_and_abort_takes_reservation);
	tcase_add_test(tc, pr__preempt_new_type_releases_the_others);
	tcase_add_test(tc, pr__preempt_own_reservation_changes_type);
	tcase_add_test(tc, pr__preempt_without_reservation_removes_regs);
	tcase_add_test(tc, pr__preempt_bad_keys);
	tcase_add_test(tc, pr__preempt_all_registrants_with_zero_key);
	tcase_add_test(tc, pr__register_and_move);
	tcase_add_test(tc, pr__register_and_move_refusals);
	tcase_add_test(tc, pr__spec_i_pt_registers_transport_ids);
	tcase_add_test(tc, pr__spec_i_pt_bad_lists);
	tcase_add_test(tc, pr__read_full_status);
	tcase_add_test(tc, pr__report_capabilities_private);
	tcase_add_loop_test(tc, pr__bad_parameter_list_length, 0,
	    sizeof(bad_plen) / sizeof(bad_plen[0]));
	tcase_add_test(tc, pr__short_data_out);
	tcase_add_test(tc, pr__unknown_service_actions);
	tcase_add_loop_test(tc, pr__access_by_type, 0,
	    sizeof(access_vec) / sizeof(access_vec[0]));
	tcase_add_test(tc, pr__start_stop_and_prevent_by_cdb);
	tcase_add_test(tc, pr__every_opcode_has_a_class);
	tcase_add_test(tc, pr__reserve6_makes_pr_conflict);
	tcase_add_test(tc, pr__registrations_make_reserve6_conflict);
	tcase_add_test(tc, pr__lun_reset_keeps_persistent_reservation);
	tcase_add_test(tc, pr__disabled_is_invalid_opcode);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(sh, setup_shared, teardown_shared);
	tcase_add_test(sh, pr__shared_state_enforced_through_other_handle);
	tcase_add_test(sh, pr__shared_state_survives_reopen);
	tcase_add_test(sh, pr__reserve6_seen_through_other_handle);
	tcase_add_test(sh, pr__reserve6_of_dead_worker_released);
	tcase_add_test(sh, pr__ua_waits_for_the_nexus);
	tcase_add_test(sh, pr__unknown_file_is_reset);
	suite_add_tcase(s, sh);
	return s;
}
