/*
 * Tests for common/conns.c, the master's count of the connections it
 * handed to workers: max-connections in all and per address, ids that
 * come back when a worker closes a connection (a stale id changes
 * nothing), a worker's death taking its connections with it, growth
 * that keeps the ids workers hold, and the address table after removals;
 * the records across a re-exec (conns_save, conns_load: the ids, the
 * counts per address, records that do not fit refused), and a record
 * following its connection to another worker (conns_moved).
 */
#include <string.h>

#include "conns.h"
#include "netaddr.h"
#include "pack.h"
#include "suites.h"

#define REC_TAG		3		/* any: conns_load reads no tag */

static struct conns	*cn;
static const char	*why;

static void
setup(void)
{
	ck_assert_ptr_nonnull(cn = conns_new(64));
	why = NULL;
}

static void
teardown(void)
{
	conns_free(cn);
}

/* Address number n (IPv4 mapped, as netaddr_key makes them). */
static const uint8_t *
addr(uint32_t n)
{
	static uint8_t	 a[8][NETADDR_KEY_LEN];
	static int	 next;
	uint8_t		*p = a[next++ % 8];

	memset(p, 0, NETADDR_KEY_LEN);
	p[10] = p[11] = 0xff;
	p[12] = 10;
	p[13] = (uint8_t)(n >> 16);
	p[14] = (uint8_t)(n >> 8);
	p[15] = (uint8_t)n;
	return p;
}

/* A connection from address n on slot, within max and peraddr: its id. */
static int64_t
add(uint32_t n, int slot, uint64_t max, uint64_t peraddr)
{
	return conns_add(cn, addr(n), slot, max, peraddr, &why);
}

START_TEST(conns__new_refuses_nonsense)
{
	ck_assert_ptr_null(conns_new(0));
	ck_assert_ptr_null(conns_new(1ULL << 23));
}
END_TEST

START_TEST(conns__max_connections_in_all)
{
	int	 i;

	for (i = 0; i < 3; i++)
		ck_assert_int_ge(add((uint32_t)i, 0, 3, 10), 0);
	ck_assert_int_eq(add(7, 0, 3, 10), -1);
	ck_assert_str_eq(why, "max-connections");
	ck_assert_uint_eq(conns_count(cn), 3);
}
END_TEST

START_TEST(conns__max_connections_per_address)
{
	ck_assert_int_ge(add(1, 0, 10, 2), 0);
	ck_assert_int_ge(add(1, 1, 10, 2), 0);
	ck_assert_int_eq(add(1, 0, 10, 2), -1);
	ck_assert_str_eq(why, "max-connections-per-address");
	ck_assert_int_ge(add(2, 0, 10, 2), 0);
	ck_assert_uint_eq(conns_count(cn), 3);
}
END_TEST

/* Every record in use: even a limit above the table refuses. */
START_TEST(conns__table_full_refuses)
{
	int	 i;

	for (i = 0; i < 64; i++)
		ck_assert_int_ge(add((uint32_t)i, 0, 1000, 1000), 0);
	ck_assert_int_eq(add(99, 0, 1000, 1000), -1);
	ck_assert_str_eq(why, "max-connections");
}
END_TEST

/* A closed connection gives its room back, in all and to its address. */
START_TEST(conns__closed_gives_room_back)
{
	int64_t	 id;

	id = add(1, 2, 10, 1);
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(add(1, 2, 10, 1), -1);
	conns_closed(cn, 2, (uint32_t)id);
	ck_assert_uint_eq(conns_count(cn), 0);
	ck_assert_int_ge(add(1, 2, 10, 1), 0);
}
END_TEST

/* An id closed twice, or by another worker, changes nothing. */
START_TEST(conns__stale_or_foreign_id_ignored)
{
	int64_t	 a, b;

	a = add(1, 0, 10, 10);
	conns_closed(cn, 0, (uint32_t)a);
	b = add(1, 0, 10, 10);		/* may take a's record */
	ck_assert_int_ne(a, b);
	conns_closed(cn, 0, (uint32_t)a);
	ck_assert_uint_eq(conns_count(cn), 1);
	conns_closed(cn, 1, (uint32_t)b);
	ck_assert_uint_eq(conns_count(cn), 1);
	conns_closed(cn, 0, 0xffffffffu);
	ck_assert_uint_eq(conns_count(cn), 1);
	conns_closed(cn, 0, (uint32_t)b);
	ck_assert_uint_eq(conns_count(cn), 0);
}
END_TEST

START_TEST(conns__live_ids_distinct)
{
	int64_t	 id[32];
	int	 i, j;

	for (i = 0; i < 32; i++)
		ck_assert_int_ge(id[i] = add((uint32_t)i % 4, 0, 64, 64), 0);
	for (i = 0; i < 32; i++)
		for (j = i + 1; j < 32; j++)
			ck_assert_int_ne(id[i], id[j]);
}
END_TEST

/* A worker died: its connections are gone, the others' stay. */
START_TEST(conns__slot_gone_takes_its_connections)
{
	int64_t	 keep;

	ck_assert_int_ge(add(1, 0, 10, 2), 0);
	ck_assert_int_ge(add(1, 0, 10, 2), 0);
	ck_assert_int_ge(keep = add(2, 1, 10, 2), 0);
	conns_slot_gone(cn, 0);
	ck_assert_uint_eq(conns_count(cn), 1);
	ck_assert_int_ge(add(1, 1, 10, 2), 0);
	ck_assert_int_ge(add(1, 1, 10, 2), 0);
	ck_assert_int_ge(add(2, 1, 10, 2), 0);
	ck_assert_int_eq(add(2, 1, 10, 2), -1);
	conns_closed(cn, 1, (uint32_t)keep);
	ck_assert_uint_eq(conns_count(cn), 3);
}
END_TEST

/* A reload raised max-connections: the ids handed out still close. */
START_TEST(conns__grow_keeps_ids)
{
	int64_t	 id[64];
	int	 i;

	for (i = 0; i < 64; i++)
		ck_assert_int_ge(id[i] = add((uint32_t)i % 3, 0, 64, 64), 0);
	ck_assert_int_eq(conns_grow(cn, 200), 0);
	ck_assert_uint_eq(conns_count(cn), 64);
	ck_assert_int_eq(add(0, 0, 200, 22), -1);	/* still counted */
	ck_assert_int_ge(add(5, 0, 200, 200), 0);
	for (i = 0; i < 64; i++)
		conns_closed(cn, 0, (uint32_t)id[i]);
	ck_assert_uint_eq(conns_count(cn), 1);
	for (i = 0; i < 22; i++)	/* address 0 had 22, and is free */
		ck_assert_int_ge(add(0, 0, 200, 22), 0);
	ck_assert_int_eq(add(0, 0, 200, 22), -1);
}
END_TEST

/*
 * Many addresses, one connection each, every other one closed: those
 * left are still counted (the table's removals keep them findable).
 */
START_TEST(conns__addresses_found_after_removals)
{
	int64_t	 id[64];
	int	 i;

	for (i = 0; i < 64; i++)
		ck_assert_int_ge(id[i] = add((uint32_t)i * 7919, 0, 64, 1),
		    0);
	for (i = 0; i < 64; i += 2)
		conns_closed(cn, 0, (uint32_t)id[i]);
	for (i = 1; i < 64; i += 2)
		ck_assert_msg(add((uint32_t)i * 7919, 0, 64, 1) == -1,
		    "address %d counted no more", i);
	for (i = 0; i < 64; i += 2)
		ck_assert_int_ge(add((uint32_t)i * 7919, 0, 64, 1), 0);
}
END_TEST

/* ---- Across a re-exec ---- */

/* The records of from, as conns_save writes them, into pk. */
static void
saved(const struct conns *from, struct pack *pk)
{
	pack_init(pk, "TESTCONN", 1, 0);
	conns_save(from, pk, REC_TAG);
	ck_assert_int_eq(pk->pk_err, 0);
}

/* Each record of pk given to conns_load: how many it refused. */
static int
load_all(struct conns *to, const struct pack *pk, int nslots)
{
	struct pack	 rd, s;
	uint16_t	 minor, tag;
	int		 r, refused = 0;

	ck_assert_int_eq(unpack_init(&rd, pk->pk_buf, pk->pk_len, "TESTCONN",
	    1, &minor), 0);
	while ((r = unpack_section(&rd, &tag, &s)) == 1) {
		ck_assert_uint_eq(tag, REC_TAG);
		refused += conns_load(to, &s, nslots) == -1;
	}
	ck_assert_int_eq(r, 0);
	return refused;
}

/*
 * Saved, then loaded into a fresh table: every id still closes its
 * connection, the addresses are counted as before, and no record in
 * use is handed out again.
 */
START_TEST(conns__reloaded_keeps_ids_and_counts)
{
	struct conns	*old = cn;
	struct pack	 pk;
	int64_t		 id[3], more[64];
	int		 i, j;

	ck_assert_int_ge(id[0] = add(1, 0, 64, 2), 0);
	ck_assert_int_ge(id[1] = add(1, 1, 64, 2), 0);
	conns_closed(cn, 1, (uint32_t)id[1]);	/* a generation past 1 */
	ck_assert_int_ge(id[1] = add(1, 1, 64, 2), 0);
	ck_assert_int_ge(id[2] = add(2, 2, 64, 2), 0);
	saved(old, &pk);
	ck_assert_ptr_nonnull(cn = conns_new(64));
	ck_assert_int_eq(load_all(cn, &pk, 3), 0);
	pack_free(&pk);
	conns_free(old);
	ck_assert_uint_eq(conns_count(cn), 3);
	ck_assert_int_eq(add(1, 0, 64, 2), -1);
	ck_assert_str_eq(why, "max-connections-per-address");
	ck_assert_int_ge(more[0] = add(2, 0, 64, 2), 0);
	for (i = 1; i < 61; i++)
		ck_assert_int_ge(more[i] = add(100 + (uint32_t)i, 0, 64, 2), 0);
	ck_assert_int_eq(add(99, 0, 64, 2), -1);
	ck_assert_str_eq(why, "max-connections");
	for (i = 0; i < 61; i++)
		for (j = 0; j < 3; j++)
			ck_assert_int_ne(more[i], id[j]);
	for (i = 0; i < 61; i++)
		conns_closed(cn, 0, (uint32_t)more[i]);
	conns_closed(cn, 2, (uint32_t)id[1]);	/* not its worker */
	ck_assert_uint_eq(conns_count(cn), 3);
	for (j = 0; j < 3; j++)
		conns_closed(cn, j, (uint32_t)id[j]);
	ck_assert_uint_eq(conns_count(cn), 0);
	ck_assert_int_ge(add(1, 0, 64, 2), 0);
	ck_assert_int_ge(add(1, 0, 64, 2), 0);
}
END_TEST

/*
 * Records that do not fit: a number past a smaller table, one already
 * in use, a worker slot past those there are, a section cut short.
 */
START_TEST(conns__load_refuses_what_does_not_fit)
{
	struct conns	*small;
	struct pack	 pk, rd, s;
	uint16_t	 minor, tag;
	int64_t		 id[20];
	int		 i;

	for (i = 0; i < 20; i++)
		ck_assert_int_ge(id[i] = add((uint32_t)i, i % 2, 64, 64), 0);
	saved(cn, &pk);
	ck_assert_ptr_nonnull(small = conns_new(16));
	ck_assert_int_eq(load_all(small, &pk, 2), 4);
	ck_assert_uint_eq(conns_count(small), 16);
	ck_assert_int_eq(load_all(small, &pk, 2), 20);
	ck_assert_uint_eq(conns_count(small), 16);
	for (i = 0; i < 20; i++)
		conns_closed(small, i % 2, (uint32_t)id[i]);
	ck_assert_uint_eq(conns_count(small), 0);
	/* no slot 1: its ten refused, and two of slot 0 past 16 */
	ck_assert_int_eq(load_all(small, &pk, 1), 12);
	ck_assert_uint_eq(conns_count(small), 8);
	conns_free(small);

	ck_assert_ptr_nonnull(small = conns_new(64));
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, "TESTCONN",
	    1, &minor), 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &s), 1);
	s.pk_len -= 1;				/* in the address */
	ck_assert_int_eq(conns_load(small, &s, 2), -1);
	ck_assert_uint_eq(conns_count(small), 0);
	conns_free(small);
	pack_free(&pk);
}
END_TEST

/* ---- A connection handed to another worker ---- */

START_TEST(conns__moved_follows_its_connection)
{
	int64_t	 id;

	ck_assert_int_ge(id = add(1, 0, 10, 1), 0);
	ck_assert_int_eq(conns_moved(cn, 0, 2, (uint32_t)id), 0);
	conns_closed(cn, 0, (uint32_t)id);
	conns_slot_gone(cn, 0);
	ck_assert_uint_eq(conns_count(cn), 1);
	ck_assert_int_eq(add(1, 0, 10, 1), -1);		/* still counted */
	conns_closed(cn, 2, (uint32_t)id);
	ck_assert_uint_eq(conns_count(cn), 0);
	ck_assert_int_ge(add(1, 0, 10, 1), 0);
}
END_TEST

/* From a worker that does not have it, or an older generation: no. */
START_TEST(conns__moved_refuses_wrong_slot_or_generation)
{
	int64_t	 a, b;

	ck_assert_int_ge(a = add(1, 0, 10, 10), 0);
	conns_closed(cn, 0, (uint32_t)a);
	ck_assert_int_ge(b = add(1, 0, 10, 10), 0);
	ck_assert_int_ne(a, b);
	ck_assert_int_eq(conns_moved(cn, 0, 1, (uint32_t)a), -1);
	ck_assert_int_eq(conns_moved(cn, 1, 2, (uint32_t)b), -1);
	ck_assert_int_eq(conns_moved(cn, 0, 1, 0xffffffffu), -1);
	conns_slot_gone(cn, 1);
	conns_slot_gone(cn, 2);
	ck_assert_uint_eq(conns_count(cn), 1);
	conns_closed(cn, 0, (uint32_t)b);
	ck_assert_uint_eq(conns_count(cn), 0);
}
END_TEST

Suite *
conns_suite(void)
{
	Suite	*s = suite_create("conns");
	TCase	*tc;

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conns__new_refuses_nonsense);
	tcase_add_test(tc, conns__max_connections_in_all);
	tcase_add_test(tc, conns__max_connections_per_address);
	tcase_add_test(tc, conns__table_full_refuses);
	tcase_add_test(tc, conns__closed_gives_room_back);
	tcase_add_test(tc, conns__stale_or_foreign_id_ignored);
	tcase_add_test(tc, conns__live_ids_distinct);
	tcase_add_test(tc, conns__slot_gone_takes_its_connections);
	tcase_add_test(tc, conns__grow_keeps_ids);
	tcase_add_test(tc, conns__addresses_found_after_removals);
	suite_add_tcase(s, tc);

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conns__reloaded_keeps_ids_and_counts);
	tcase_add_test(tc, conns__load_refuses_what_does_not_fit);
	tcase_add_test(tc, conns__moved_follows_its_connection);
	tcase_add_test(tc, conns__moved_refuses_wrong_slot_or_generation);
	suite_add_tcase(s, tc);
	return s;
}
