/*
 * Tests for common/psess.c: the provisioned-session record, its LMDB and
 * shmq encodings, and the mirror file's single-writer protocol.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"
#include "psess.h"
#include "shmq.h"

static struct psess_rec	 rec, got;
static struct psess_ment ent;
static char		 dir[PATH_MAX], path[PATH_MAX + 32];

static void
rec_fill(struct psess_rec *r, int nluns, int namelen)
{
	int	 i;

	memset(r, 0, sizeof(*r));
	r->ps_id = 0x0123456789abcdefULL;
	r->ps_owner = 42;
	r->ps_created = 1700000000;
	r->ps_idle = 0;
	r->ps_ttl = 3600;
	r->ps_quota = 64ULL << 20;
	r->ps_flags = PSESS_F_PERSISTENT | PSESS_F_PR;
	r->ps_nluns = (uint16_t)nluns;
	snprintf(r->ps_tier, sizeof(r->ps_tier), "gold");
	snprintf(r->ps_iqn, sizeof(r->ps_iqn), "p-00112233445566778899aabb");
	snprintf(r->ps_user, sizeof(r->ps_user), "u-0011223344556677");
	snprintf(r->ps_secret, sizeof(r->ps_secret), "AbCdEfGhIjKlMnOpQrStUvWx");
	for (i = 0; i < nluns; i++) {
		memset(r->ps_images[i], 'a' + i % 26, (size_t)namelen);
		r->ps_images[i][namelen] = '\0';
		r->ps_images[i][0] = (char)('0' + i % 10);
	}
}

START_TEST(psess__id_format_and_parse)
{
	char		 buf[PSESS_IDSTR];
	uint64_t	 id;

	psess_id_fmt(0x00000000000000ffULL, buf);
	ck_assert_str_eq(buf, "00000000000000ff");
	ck_assert_int_eq(psess_id_parse(buf, &id), 0);
	ck_assert_uint_eq(id, 0xff);
	ck_assert_int_eq(psess_id_parse("00000000000000FF", &id), -1);
	ck_assert_int_eq(psess_id_parse("00000000000000f", &id), -1);
	ck_assert_int_eq(psess_id_parse("00000000000000fff", &id), -1);
	ck_assert_int_eq(psess_id_parse("0000000000000000", &id), -1);
	ck_assert_int_eq(psess_id_parse("../../etc/passwd", &id), -1);
}
END_TEST

START_TEST(psess__record_roundtrip)
{
	static uint8_t	 buf[PSESS_REC_MAX];
	size_t		 n;

	rec_fill(&rec, CFG_MAX_TARGET_LUNS, CFG_NAME_MAX - 1);
	n = psess_rec_encode(&rec, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(psess_rec_decode(buf, n, &got), 0);
	ck_assert_mem_eq(&got, &rec, sizeof(rec));
	/* Truncated, or trailing bytes, or too small a buffer. */
	ck_assert_int_eq(psess_rec_decode(buf, n - 1, &got), -EPROTO);
	ck_assert_int_eq(psess_rec_decode(buf, 20, &got), -EPROTO);
	buf[n] = 'x';
	ck_assert_int_eq(psess_rec_decode(buf, n + 1, &got), -EPROTO);
	ck_assert_uint_eq(psess_rec_encode(&rec, buf, 100), 0);
}
END_TEST

START_TEST(psess__messages_carry_the_record)
{
	static char		 names[255][CFG_NAME_MAX];
	struct psess_limits	 pl = { 3, 10, 7 }, pl2;
	struct shmq_msg		 m;
	uint64_t		 id;
	int			 lun = 0, next, first, count, i, msgs = 0;

	rec_fill(&rec, CFG_MAX_TARGET_LUNS, CFG_NAME_MAX - 1);
	memset(&got, 0, sizeof(got));
	while (lun < rec.ps_nluns) {
		next = psess_msg_luns(&m, &rec, lun);
		ck_assert_int_gt(next, lun);
		ck_assert_uint_le(m.m_len, SHMQ_DATA_MAX);
		ck_assert_int_eq(psess_msg_luns_parse(&m, &id, &first, &count,
		    names), 0);
		ck_assert_uint_eq(id, rec.ps_id);
		ck_assert_int_eq(first, lun);
		ck_assert_int_eq(count, next - lun);
		for (i = 0; i < count; i++)
			memcpy(got.ps_images[first + i], names[i], CFG_NAME_MAX);
		lun = next;
		msgs++;
	}
	ck_assert_int_gt(msgs, 1);
	psess_msg_create(&m, &rec, &pl);
	ck_assert_uint_eq(m.m_type, SHMQ_PSESS_CREATE);
	ck_assert_int_eq(psess_msg_create_parse(&m, &got, &pl2), 0);
	ck_assert_mem_eq(&got, &rec, sizeof(rec));
	ck_assert_uint_eq(pl2.pl_sessions, 3);
	ck_assert_uint_eq(pl2.pl_rate, 10);
	ck_assert_uint_eq(pl2.pl_anon_max, 7);
	m.m_len--;
	ck_assert_int_eq(psess_msg_create_parse(&m, &got, &pl2), -EINVAL);
}
END_TEST

START_TEST(psess__malformed_messages_are_refused)
{
	static char		 names[255][CFG_NAME_MAX];
	struct psess_touch	 t;
	struct shmq_msg		 m;
	uint64_t		 id;
	int			 first, count;

	rec_fill(&rec, 3, 8);
	psess_msg_luns(&m, &rec, 0);
	m.m_data[m.m_len - 1] = 'x';		/* last name unterminated */
	ck_assert_int_eq(psess_msg_luns_parse(&m, &id, &first, &count, names),
	    -EINVAL);
	psess_msg_luns(&m, &rec, 0);
	m.m_data[10] = 200;			/* more names than sent */
	ck_assert_int_eq(psess_msg_luns_parse(&m, &id, &first, &count, names),
	    -EINVAL);
	psess_msg_luns(&m, &rec, 0);
	m.m_data[8] = 0x01;			/* first LUN 256 + ... */
	ck_assert_int_eq(psess_msg_luns_parse(&m, &id, &first, &count, names),
	    -EINVAL);
	psess_msg_id(&m, SHMQ_PSESS_DELETE, 0);
	ck_assert_int_eq(psess_msg_id_parse(&m, &id), -EINVAL);
	m.m_len = 4;
	ck_assert_int_eq(psess_msg_id_parse(&m, &id), -EINVAL);
	m.m_len = 3;
	ck_assert_int_eq(psess_msg_touch_parse(&m, &t), -EINVAL);
}
END_TEST

START_TEST(psess__touch_roundtrip)
{
	struct psess_touch	 t, t2;
	struct shmq_msg		 m;

	memset(&t, 0, sizeof(t));
	t.pt_id = 7;
	t.pt_start = 1;
	t.pt_conn.pc_conn = (uint64_t)1234 << 32 | 5;
	t.pt_conn.pc_slot = 3;
	snprintf(t.pt_conn.pc_peer, sizeof(t.pt_conn.pc_peer),
	    "[2001:db8::1]:51234");
	memset(t.pt_conn.pc_initiator, 'i', PSESS_INI_MAX - 1);
	psess_msg_touch(&m, &t);
	ck_assert_uint_le(m.m_len, SHMQ_DATA_MAX);
	ck_assert_int_eq(psess_msg_touch_parse(&m, &t2), 0);
	ck_assert_uint_eq(t2.pt_id, 7);
	ck_assert_int_eq(t2.pt_start, 1);
	ck_assert_uint_eq(t2.pt_conn.pc_conn, t.pt_conn.pc_conn);
	ck_assert_uint_eq(t2.pt_conn.pc_slot, 3);
	ck_assert_str_eq(t2.pt_conn.pc_peer, t.pt_conn.pc_peer);
	ck_assert_str_eq(t2.pt_conn.pc_initiator, t.pt_conn.pc_initiator);
	/* A longer name on the ring is cut to what the record holds. */
	memset(m.m_data + PSESS_TOUCH_HDR, 'j', SHMQ_DATA_MAX - PSESS_TOUCH_HDR);
	m.m_len = SHMQ_DATA_MAX;
	ck_assert_int_eq(psess_msg_touch_parse(&m, &t2), 0);
	ck_assert_uint_eq(strlen(t2.pt_conn.pc_initiator), PSESS_INI_MAX - 1);
}
END_TEST

/* A move carries the id the connection had; the name after it whole. */
START_TEST(psess__touch_move_roundtrip)
{
	struct psess_touch	 t, t2;
	struct shmq_msg		 m;

	memset(&t, 0, sizeof(t));
	t.pt_id = 9;
	t.pt_start = 1;
	t.pt_from = (uint64_t)4321 << 32 | 7;
	t.pt_conn.pc_conn = (uint64_t)1234 << 32 | 5;
	t.pt_conn.pc_slot = 6;
	snprintf(t.pt_conn.pc_peer, sizeof(t.pt_conn.pc_peer), "10.0.0.1:3");
	memset(t.pt_conn.pc_initiator, 'i', PSESS_INI_MAX - 1);
	psess_msg_touch(&m, &t);
	ck_assert_uint_le(m.m_len, SHMQ_DATA_MAX);
	ck_assert_int_eq(psess_msg_touch_parse(&m, &t2), 0);
	ck_assert_int_eq(t2.pt_start, 1);
	ck_assert_uint_eq(t2.pt_from, t.pt_from);
	ck_assert_uint_eq(t2.pt_conn.pc_conn, t.pt_conn.pc_conn);
	ck_assert_uint_eq(t2.pt_conn.pc_slot, 6);
	ck_assert_str_eq(t2.pt_conn.pc_initiator, t.pt_conn.pc_initiator);
	/* An end never carries one; a move cut before its id is refused. */
	t.pt_start = 0;
	psess_msg_touch(&m, &t);
	ck_assert_int_eq(psess_msg_touch_parse(&m, &t2), 0);
	ck_assert_uint_eq(t2.pt_from, 0);
	ck_assert_int_eq(t2.pt_start, 0);
	t.pt_start = 1;
	psess_msg_touch(&m, &t);
	m.m_len = PSESS_TOUCH_HDR + 4;
	ck_assert_int_eq(psess_msg_touch_parse(&m, &t2), -EINVAL);
}
END_TEST

START_TEST(psess__state_and_expiry)
{
	rec_fill(&rec, 1, 4);
	rec.ps_ttl = 100;
	ck_assert_int_eq(psess_state(&rec, 0), PSESS_WAITING);
	ck_assert_uint_eq(psess_expires(&rec, 0), rec.ps_created + 100);
	ck_assert_int_eq(psess_state(&rec, 2), PSESS_ACTIVE);
	ck_assert_uint_eq(psess_expires(&rec, 2), 0);	/* never while used */
	rec.ps_flags |= PSESS_F_LOGGED_IN;
	rec.ps_idle = rec.ps_created + 50;
	ck_assert_int_eq(psess_state(&rec, 0), PSESS_SUSPENDED);
	ck_assert_uint_eq(psess_expires(&rec, 0), rec.ps_created + 150);
	rec.ps_ttl = 0;
	ck_assert_uint_eq(psess_expires(&rec, 0), 0);
	ck_assert_str_eq(psess_state_name(PSESS_SUSPENDED), "suspended");
}
END_TEST

static void
mirror_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/scsipub-psess-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, PSESS_MIRROR_FILE);
	log_init(1, 0);
}

static void
mirror_teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void
mirror_put(struct psess_mirror *m, int idx, const struct psess_rec *r)
{
	struct psess_ment	*e = psess_mirror_entry(m, idx);

	psess_mirror_begin(e);
	ck_assert_uint_eq(atomic_load(&e->me_seq) & 1, 1);
	e->me_rec = *r;
	e->me_used = 1;
	psess_mirror_end(e);
	ck_assert_uint_eq(atomic_load(&e->me_seq) & 1, 0);
}

START_TEST(psess__mirror_writer_and_reader)
{
	struct psess_mirror	*w, *r;
	uint64_t		 id;

	/* No file yet: a worker has nothing to map. */
	ck_assert_ptr_null(psess_mirror_open(path, 0));
	ck_assert_ptr_nonnull(w = psess_mirror_open(path, 1));
	/* Not before the writer has published it. */
	ck_assert_ptr_null(psess_mirror_open(path, 0));
	psess_mirror_publish(w);
	ck_assert_ptr_nonnull(r = psess_mirror_open(path, 0));
	ck_assert_int_eq(psess_mirror_peek(r, 7, &id), 0);
	rec_fill(&rec, 2, 5);
	mirror_put(w, 7, &rec);
	ck_assert_int_eq(psess_mirror_peek(r, 7, &id), 1);
	ck_assert_uint_eq(id, rec.ps_id);
	ck_assert_int_eq(psess_mirror_read(r, 7, &ent), 1);
	ck_assert_mem_eq(&ent.me_rec, &rec, sizeof(rec));
	ck_assert_int_eq(psess_mirror_find(r, rec.ps_id, NULL, &ent), 7);
	ck_assert_int_eq(psess_mirror_find(r, 0, "P-00112233445566778899AABB",
	    &ent), 7);
	ck_assert_int_eq(psess_mirror_find(r, 0, "p-nope", &ent), -1);
	ck_assert_int_eq(psess_mirror_find(r, 99, NULL, &ent), -1);
	psess_mirror_close(r);
	psess_mirror_close(w);
	/* Reopened by a new coordinator: kept. */
	ck_assert_ptr_nonnull(w = psess_mirror_open(path, 1));
	ck_assert_int_eq(psess_mirror_peek(w, 7, &id), 1);
	psess_mirror_close(w);
}
END_TEST

START_TEST(psess__mirror_unknown_file_is_reset)
{
	struct psess_mirror	*w;
	uint64_t		 id;
	int			 fd;

	ck_assert_int_ne(fd = open(path, O_CREAT | O_WRONLY, 0600), -1);
	ck_assert_int_eq(write(fd, "garbage", 7), 7);
	close(fd);
	ck_assert_ptr_null(psess_mirror_open(path, 0));
	ck_assert_ptr_nonnull(w = psess_mirror_open(path, 1));
	ck_assert_int_eq(psess_mirror_peek(w, 0, &id), 0);
	psess_mirror_close(w);
}
END_TEST

/*
 * A scan reads a word of each entry: a page in six of the file comes
 * into memory, not the whole file through readahead (it did: 23 MiB in
 * every coordinator).
 */
START_TEST(psess__mirror_scan_reads_only_what_it_needs)
{
	struct psess_mirror	*w;
	unsigned char		*vec;
	uint8_t			*base;
	size_t			 len, pages, in = 0, i;
	long			 psz = sysconf(_SC_PAGESIZE);

	ck_assert_ptr_nonnull(w = psess_mirror_open(path, 1));
	psess_mirror_publish(w);
	ck_assert_int_eq(psess_mirror_find(w, 99, NULL, &ent), -1);
	/* the mapping: the header page, then the entries */
	base = (uint8_t *)psess_mirror_entry(w, 0) - 4096;	/* MIRROR_HDR */
	len = (size_t)((uint8_t *)psess_mirror_entry(w, PSESS_MAX - 1) -
	    base) + sizeof(struct psess_ment);
	pages = (len + (size_t)psz - 1) / (size_t)psz;
	ck_assert_ptr_nonnull(vec = calloc(pages, 1));
	ck_assert_int_eq(mincore(base, len, vec), 0);
	for (i = 0; i < pages; i++)
		in += vec[i] & 1;
	ck_assert_uint_ge(pages, 4 * PSESS_MAX);
	ck_assert_uint_le(in, 2 * PSESS_MAX + 32);
	free(vec);
	psess_mirror_close(w);
}
END_TEST

Suite *
psess_suite(void)
{
	Suite	*s = suite_create("psess");
	TCase	*tc;

	tc = tcase_create("record");
	tcase_add_test(tc, psess__id_format_and_parse);
	tcase_add_test(tc, psess__record_roundtrip);
	tcase_add_test(tc, psess__messages_carry_the_record);
	tcase_add_test(tc, psess__malformed_messages_are_refused);
	tcase_add_test(tc, psess__touch_roundtrip);
	tcase_add_test(tc, psess__touch_move_roundtrip);
	tcase_add_test(tc, psess__state_and_expiry);
	suite_add_tcase(s, tc);
	tc = tcase_create("mirror");
	tcase_add_checked_fixture(tc, mirror_setup, mirror_teardown);
	tcase_add_test(tc, psess__mirror_writer_and_reader);
	tcase_add_test(tc, psess__mirror_unknown_file_is_reset);
	tcase_add_test(tc, psess__mirror_scan_reads_only_what_it_needs);
	suite_add_tcase(s, tc);
	return s;
}
