/*
 * common/pack.c: records read back as written; a newer reader takes an
 * older record (missing fields read as zeros) and an older reader a
 * newer one (unknown sections and appended fields skipped); a record
 * whose lengths run past it, or of another major version, is refused.
 */
#include <errno.h>
#include <string.h>

#include <check.h>

#include "pack.h"
#include "suites.h"

#define MAGIC	"TESTPACK"

START_TEST(pack__roundtrip)
{
	struct pack	 pk, rd, sec;
	uint16_t	 minor, tag;
	size_t		 m, n;
	const uint8_t	*b;
	char		 s[16];
	uint8_t		 raw[3];

	pack_init(&pk, MAGIC, 1, 2);
	m = pack_section(&pk, 7);
	pack_u8(&pk, 0xab);
	pack_u16(&pk, 0x1234);
	pack_u32(&pk, 0xdeadbeef);
	pack_u64(&pk, 0x0102030405060708ULL);
	pack_bytes(&pk, "xyz", 3);
	pack_blob(&pk, "hello", 5);
	pack_str(&pk, "name");
	pack_section_end(&pk, m);
	ck_assert_int_eq(pk.pk_err, 0);

	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, MAGIC, 1,
	    &minor), 0);
	ck_assert_int_eq(minor, 2);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 1);
	ck_assert_int_eq(tag, 7);
	ck_assert_int_eq(unpack_u8(&sec), 0xab);
	ck_assert_int_eq(unpack_u16(&sec), 0x1234);
	ck_assert_uint_eq(unpack_u32(&sec), 0xdeadbeef);
	ck_assert(unpack_u64(&sec) == 0x0102030405060708ULL);
	unpack_bytes(&sec, raw, 3);
	ck_assert_mem_eq(raw, "xyz", 3);
	b = unpack_blob(&sec, &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_mem_eq(b, "hello", 5);
	unpack_str(&sec, s, sizeof(s));
	ck_assert_str_eq(s, "name");
	ck_assert_int_eq(sec.pk_short, 0);
	ck_assert_int_eq(sec.pk_err, 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 0);
	pack_free(&pk);
}
END_TEST

/*
 * The old writer knew one field of section 1; the new one appends a
 * field and adds section 2.  Each reads the other's record.
 */
START_TEST(pack__old_and_new_readers)
{
	struct pack	 old, new, rd, sec;
	uint16_t	 minor, tag;
	size_t		 m;
	int		 seen2 = 0;

	pack_init(&old, MAGIC, 1, 0);
	m = pack_section(&old, 1);
	pack_u32(&old, 11);
	pack_section_end(&old, m);

	pack_init(&new, MAGIC, 1, 1);
	m = pack_section(&new, 1);
	pack_u32(&new, 11);
	pack_u32(&new, 22);
	pack_section_end(&new, m);
	m = pack_section(&new, 2);
	pack_str(&new, "only new readers know me");
	pack_section_end(&new, m);

	/* a new reader of the old record: the appended field is zero */
	ck_assert_int_eq(unpack_init(&rd, old.pk_buf, old.pk_len, MAGIC, 1,
	    &minor), 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 1);
	ck_assert_uint_eq(unpack_u32(&sec), 11);
	ck_assert_uint_eq(unpack_u32(&sec), 0);
	ck_assert_int_eq(sec.pk_short, 1);
	ck_assert_int_eq(sec.pk_err, 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 0);

	/* an old reader of the new record: reads one field, skips the rest */
	ck_assert_int_eq(unpack_init(&rd, new.pk_buf, new.pk_len, MAGIC, 1,
	    &minor), 0);
	while (unpack_section(&rd, &tag, &sec) == 1) {
		if (tag == 1)
			ck_assert_uint_eq(unpack_u32(&sec), 11);
		else
			seen2 = 1;	/* unknown to it: skipped */
	}
	ck_assert_int_eq(rd.pk_err, 0);
	ck_assert_int_eq(seen2, 1);
	pack_free(&old);
	pack_free(&new);
}
END_TEST

START_TEST(pack__bad_records_refused)
{
	struct pack	 pk, rd, sec;
	uint16_t	 minor, tag;
	size_t		 m, n;
	char		 s[4];

	pack_init(&pk, MAGIC, 2, 0);
	m = pack_section(&pk, 1);
	pack_str(&pk, "toolong");
	pack_section_end(&pk, m);

	/* another major version, another magic, a torn header */
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, MAGIC, 1,
	    &minor), -1);
	ck_assert_int_eq(rd.pk_err, EPROTO);
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, "OTHERMAG",
	    2, &minor), -1);
	ck_assert_int_eq(rd.pk_err, EBADMSG);
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, 9, MAGIC, 2, &minor),
	    -1);

	/* a string longer than its buffer */
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, MAGIC, 2,
	    &minor), 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 1);
	unpack_str(&sec, s, sizeof(s));
	ck_assert_int_eq(sec.pk_err, EBADMSG);

	/* a section cut short: its length runs past the record */
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len - 1, MAGIC, 2,
	    &minor), 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), -1);
	ck_assert_int_eq(rd.pk_err, EBADMSG);

	/* a blob whose length runs past its section */
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, MAGIC, 2,
	    &minor), 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 1);
	sec.pk_len -= 2;
	ck_assert_ptr_null(unpack_blob(&sec, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(sec.pk_err, EBADMSG);
	pack_free(&pk);
}
END_TEST

Suite *
pack_suite(void)
{
	Suite	*s = suite_create("pack");
	TCase	*tc = tcase_create("pack");

	tcase_add_test(tc, pack__roundtrip);
	tcase_add_test(tc, pack__old_and_new_readers);
	tcase_add_test(tc, pack__bad_records_refused);
	suite_add_tcase(s, tc);
	return s;
}
