/*
 * Unit tests for common/crc32c.c.
 * Vectors from RFC 3720 appendix B.4 and the usual "123456789" check.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

#define RAND_MAX_LEN	5000
#define BIG_LEN		(3 * 3 * 8192 + 3 * 256 + 77)

/* RFC 3720 B.4: iSCSI Read (10) SCSI command PDU, 48 bytes. */
static const uint8_t read_pdu[48] = {
	0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
	0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static uint32_t
rng_next(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static uint8_t *
rand_buf(size_t len, uint32_t seed)
{
	uint8_t *b;
	size_t i;

	b = malloc(len);
	ck_assert_ptr_nonnull(b);
	for (i = 0; i < len; i++)
		b[i] = rng_next(&seed) & 0xff;
	return b;
}

/* Check one vector against every implementation usable here. */
static void
check_vec(const void *buf, size_t len, uint32_t want)
{
	ck_assert_uint_eq(crc32c_sw(0, buf, len), want);
	ck_assert_uint_eq(crc32c(0, buf, len), want);
	if (crc32c_hw_available())
		ck_assert_uint_eq(crc32c_hw(0, buf, len), want);
}

static void
check_fill(int v, uint32_t want)
{
	uint8_t b[32];

	memset(b, v, sizeof(b));
	check_vec(b, sizeof(b), want);
}

START_TEST(crc32c__rfc3720_zeros)
{
	check_fill(0x00, 0x8a9136aa);
}
END_TEST

START_TEST(crc32c__rfc3720_ones)
{
	check_fill(0xff, 0x62a8ab43);
}
END_TEST

START_TEST(crc32c__rfc3720_ascending)
{
	uint8_t b[32];
	int i;

	for (i = 0; i < 32; i++)
		b[i] = i;
	check_vec(b, sizeof(b), 0x46dd794e);
}
END_TEST

START_TEST(crc32c__rfc3720_descending)
{
	uint8_t b[32];
	int i;

	for (i = 0; i < 32; i++)
		b[i] = 31 - i;
	check_vec(b, sizeof(b), 0x113fdb5c);
}
END_TEST

START_TEST(crc32c__rfc3720_read_pdu)
{
	check_vec(read_pdu, sizeof(read_pdu), 0xd9963a56);
}
END_TEST

START_TEST(crc32c__check_123456789)
{
	check_vec("123456789", 9, 0xe3069283);
}
END_TEST

START_TEST(crc32c__empty)
{
	check_vec(NULL, 0, 0);
	ck_assert_uint_eq(crc32c(0x12345678, NULL, 0), 0x12345678);
	ck_assert_uint_eq(crc32c_sw(0x12345678, "", 0), 0x12345678);
}
END_TEST

START_TEST(crc32c__le_enc)
{
	/* RFC 3720 B.4 lists the zeros digest as "aa 36 91 8a". */
	static const uint8_t want[4] = { 0xaa, 0x36, 0x91, 0x8a };
	uint8_t out[4];

	crc32c_le_enc(out, 0x8a9136aa);
	ck_assert_mem_eq(out, want, sizeof(want));
}
END_TEST

START_TEST(crc32c__impl)
{
	const char *s = crc32c_impl();

	ck_assert_ptr_nonnull(s);
	if (crc32c_hw_available())
		ck_assert_str_eq(s, "sse4.2");
	else
		ck_assert_str_eq(s, "sw");
	/* Stable across calls and after dispatch has happened. */
	(void)crc32c(0, "x", 1);
	ck_assert_str_eq(crc32c_impl(), s);
}
END_TEST

/* Split buf at every position and compare with the one-shot value. */
static void
check_incr(crc_fn fn, const uint8_t *buf, size_t len)
{
	uint32_t whole, c;
	size_t i;

	whole = fn(0, buf, len);
	for (i = 0; i <= len; i++) {
		c = fn(0, buf, i);
		c = fn(c, buf + i, len - i);
		ck_assert_uint_eq(c, whole);
	}
}

START_TEST(crc32c__incremental)
{
	uint8_t *b;
	size_t len = 1000;

	b = rand_buf(len, 0x1234567);
	check_incr(crc32c_sw, b, len);
	check_incr(crc32c, b, len);
	if (crc32c_hw_available())
		check_incr(crc32c_hw, b, len);
	free(b);
}
END_TEST

START_TEST(crc32c__incremental_chunks)
{
	uint8_t *b;
	uint32_t whole, c, seed = 42;
	size_t off, n;

	b = rand_buf(BIG_LEN, 0xabcdef);
	whole = crc32c_sw(0, b, BIG_LEN);
	ck_assert_uint_eq(crc32c(0, b, BIG_LEN), whole);
	for (c = 0, off = 0; off < BIG_LEN; off += n) {
		n = rng_next(&seed) % 9000;
		if (n > BIG_LEN - off)
			n = BIG_LEN - off;
		c = crc32c(c, b + off, n);
	}
	ck_assert_uint_eq(c, whole);
	free(b);
}
END_TEST

/* hw == sw for every length 0..RAND_MAX_LEN, varying the start offset. */
START_TEST(crc32c__hw_eq_sw_lengths)
{
	uint8_t *b;
	size_t len, off;

	if (!crc32c_hw_available())
		return;
	b = rand_buf(RAND_MAX_LEN + 16, 0xdeadbeef);
	for (len = 0; len <= RAND_MAX_LEN; len++) {
		off = (len * 7) & 15;
		ck_assert_uint_eq(crc32c_hw(0, b + off, len),
		    crc32c_sw(0, b + off, len));
	}
	free(b);
}
END_TEST

/* hw == sw for all 16 misaligned starts around block boundaries. */
START_TEST(crc32c__hw_eq_sw_misaligned)
{
	static const size_t lens[] = {
		1, 7, 8, 9, 63, 767, 768, 769, 775, 776, 1536, 2311,
		24575, 24576, 24577, 24576 + 768, 2 * 24576 + 1535, BIG_LEN,
	};
	uint8_t *b;
	uint32_t seed;
	size_t i, off;

	if (!crc32c_hw_available())
		return;
	b = rand_buf(BIG_LEN + 16, 0x5eed);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (off = 0; off < 16; off++) {
			seed = (uint32_t)(i * 16 + off + 1);
			seed = rng_next(&seed);
			ck_assert_uint_eq(crc32c_hw(seed, b + off, lens[i]),
			    crc32c_sw(seed, b + off, lens[i]));
		}
	}
	free(b);
}
END_TEST

/* hw == sw on random lengths large enough to use the long blocks. */
START_TEST(crc32c__hw_eq_sw_random_big)
{
	uint8_t *b;
	uint32_t seed = 7;
	size_t len, off;
	int i;

	if (!crc32c_hw_available())
		return;
	b = rand_buf(BIG_LEN + 16, 0x600d);
	for (i = 0; i < 64; i++) {
		len = rng_next(&seed) % (BIG_LEN + 1);
		off = rng_next(&seed) & 15;
		ck_assert_uint_eq(crc32c_hw(0, b + off, len),
		    crc32c_sw(0, b + off, len));
	}
	free(b);
}
END_TEST

Suite *
crc32c_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("crc32c");

	tc = tcase_create("vectors");
	tcase_add_test(tc, crc32c__rfc3720_zeros);
	tcase_add_test(tc, crc32c__rfc3720_ones);
	tcase_add_test(tc, crc32c__rfc3720_ascending);
	tcase_add_test(tc, crc32c__rfc3720_descending);
	tcase_add_test(tc, crc32c__rfc3720_read_pdu);
	tcase_add_test(tc, crc32c__check_123456789);
	tcase_add_test(tc, crc32c__empty);
	tcase_add_test(tc, crc32c__le_enc);
	tcase_add_test(tc, crc32c__impl);
	suite_add_tcase(s, tc);

	tc = tcase_create("consistency");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crc32c__incremental);
	tcase_add_test(tc, crc32c__incremental_chunks);
	tcase_add_test(tc, crc32c__hw_eq_sw_lengths);
	tcase_add_test(tc, crc32c__hw_eq_sw_misaligned);
	tcase_add_test(tc, crc32c__hw_eq_sw_random_big);
	suite_add_tcase(s, tc);

	return s;
}
