/*
 * Unit tests for worker/iscsi/chap.c: value encodings, length checks
 * before decoding, the MD5 response, verification and mutual CHAP.
 */
#include <string.h>

#include <check.h>

#include "chap.h"

static const uint8_t seq16[16] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
};

/* MD5(0x01 || "secret" || 00..0f), computed independently. */
static const char kat_hex[] = "0x740e86463bda3a4d7017d6e0fba0699d";

/* A challenge state as login.c leaves it after sending CHAP_C. */
static void
chap_waiting(struct login_chap *c)
{
	memset(c, 0, sizeof(*c));
	c->lc_step = CHAP_STEP_WAIT_R;
	c->lc_id = 1;
	memcpy(c->lc_challenge, seq16, sizeof(seq16));
}

START_TEST(chap__decode_hex)
{
	uint8_t	out[8];
	size_t	n = 0;

	ck_assert_int_eq(chap_decode("0x0aFf10", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(out[0], 0x0a);
	ck_assert_uint_eq(out[1], 0xff);
	ck_assert_uint_eq(out[2], 0x10);
	ck_assert_int_eq(chap_decode("0Xabc", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 2);		/* odd: implied leading zero */
	ck_assert_uint_eq(out[0], 0x0a);
	ck_assert_uint_eq(out[1], 0xbc);
}
END_TEST

START_TEST(chap__decode_base64)
{
	uint8_t	out[32];
	size_t	n = 0;

	ck_assert_int_eq(chap_decode("0bAAECAwQFBgcICQoLDA0ODw==", out,
	    sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 16);
	ck_assert_mem_eq(out, seq16, 16);
	ck_assert_int_eq(chap_decode("0BYWI", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_mem_eq(out, "ab", 2);
	ck_assert_int_eq(chap_decode("0bYWI=", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(chap__decode_rejects_bad_syntax)
{
	uint8_t	out[32];
	size_t	n = 0;

	ck_assert_int_eq(chap_decode("0x", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("0xzz", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("0x12 4", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("1234", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("0bA", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("0bYW=I", out, sizeof(out), &n), -1);
	ck_assert_int_eq(chap_decode("0bYW*I", out, sizeof(out), &n), -1);
}
END_TEST

START_TEST(chap__decode_checks_length_before_decoding)
{
	uint8_t	out[4];
	size_t	n = 0;

	memset(out, 0xee, sizeof(out));
	/* 5 bytes of hex, then 5 bytes of base64, into a 4-byte buffer. */
	ck_assert_int_eq(chap_decode("0x0102030405", out, 4, &n), -1);
	ck_assert_int_eq(chap_decode("0bAQIDBAU=", out, 4, &n), -1);
	ck_assert_uint_eq(out[0], 0xee);
	ck_assert_uint_eq(out[3], 0xee);
	ck_assert_int_eq(chap_decode("0x01020304", out, 4, &n), 0);
	ck_assert_uint_eq(n, 4);
}
END_TEST

START_TEST(chap__encode_hex)
{
	char	buf[CHAP_HEX_SIZE(3)];
	uint8_t	b[3] = { 0x00, 0xab, 0x7f };

	ck_assert_int_eq(chap_encode_hex(b, 3, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0x00ab7f");
	ck_assert_int_eq(chap_encode_hex(b, 3, buf, sizeof(buf) - 1), -1);
	ck_assert_int_eq(chap_encode_hex(b, 1, buf, 2), -1);
}
END_TEST

START_TEST(chap__md5_known_answer)
{
	uint8_t	got[CHAP_MD5_LEN];
	char	hex[CHAP_HEX_SIZE(CHAP_MD5_LEN)];

	ck_assert_int_eq(chap_md5(1, "secret", seq16, 16, got), 0);
	ck_assert_int_eq(chap_encode_hex(got, sizeof(got), hex, sizeof(hex)),
	    0);
	ck_assert_str_eq(hex, kat_hex);
}
END_TEST

START_TEST(chap__alg_offered)
{
	ck_assert_int_eq(chap_alg_offered("5"), CHAP_ALG_MD5);
	ck_assert_int_eq(chap_alg_offered("7,6,5"), CHAP_ALG_MD5);
	ck_assert_int_eq(chap_alg_offered("7"), -1);
	ck_assert_int_eq(chap_alg_offered("55"), -1);
	ck_assert_int_eq(chap_alg_offered(""), -1);
	ck_assert_int_eq(chap_alg_offered("0x5"), -1);
}
END_TEST

START_TEST(chap__challenges_are_fresh)
{
	struct login_chap	a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(chap_challenge_new(&a), 0);
	ck_assert_int_eq(chap_challenge_new(&b), 0);
	ck_assert_int_ne(memcmp(a.lc_challenge, b.lc_challenge,
	    sizeof(a.lc_challenge)), 0);
}
END_TEST

START_TEST(chap__verify_accepts_right_response)
{
	struct login_chap	c;

	chap_waiting(&c);
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice", kat_hex),
	    0);
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice",
	    "0bdA6GRjvaOk1wF9bg+6BpnQ=="), 0);
}
END_TEST

START_TEST(chap__verify_rejects_wrong_secret)
{
	struct login_chap	c;

	chap_waiting(&c);
	ck_assert_int_eq(chap_verify(&c, "alice", "Secret", "alice", kat_hex),
	    -1);
}
END_TEST

START_TEST(chap__verify_rejects_wrong_user)
{
	struct login_chap	c;

	chap_waiting(&c);
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "bob", kat_hex),
	    -1);
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice2", kat_hex),
	    -1);
}
END_TEST

START_TEST(chap__verify_rejects_wrong_length)
{
	struct login_chap	c;

	chap_waiting(&c);
	/* 15 and 17 bytes; a prefix of the right answer is no answer. */
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice",
	    "0x740e86463bda3a4d7017d6e0fba069"), -1);
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice",
	    "0x740e86463bda3a4d7017d6e0fba0699d00"), -1);
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice",
	    "0x740e86463bda3a4d7017d6e0fba0699g"), -1);
}
END_TEST

START_TEST(chap__verify_needs_challenge_and_secret)
{
	struct login_chap	c;

	chap_waiting(&c);
	ck_assert_int_eq(chap_verify(&c, "alice", "", "alice", kat_hex), -1);
	ck_assert_int_eq(chap_verify(&c, "", "secret", "", kat_hex), -1);
	c.lc_step = CHAP_STEP_WAIT_A;
	ck_assert_int_eq(chap_verify(&c, "alice", "secret", "alice", kat_hex),
	    -1);
}
END_TEST

START_TEST(chap__mutual_answers)
{
	struct login_chap	c;
	char			r[CHAP_HEX_SIZE(CHAP_MD5_LEN)];

	chap_waiting(&c);
	/* MD5(0xa5 || "my-target-secret" || de ad be ef) */
	ck_assert_int_eq(chap_mutual(&c, "my-target-secret", "165",
	    "0xdeadbeef", r, sizeof(r)), 0);
	ck_assert_str_eq(r, "0x06c21150294c412c4966204d04503523");
	ck_assert_int_eq(chap_mutual(&c, "my-target-secret", "0xa5",
	    "0b3q2+7w==", r, sizeof(r)), 0);
	ck_assert_str_eq(r, "0x06c21150294c412c4966204d04503523");
}
END_TEST

START_TEST(chap__mutual_refuses_without_secret)
{
	struct login_chap	c;
	char			r[CHAP_HEX_SIZE(CHAP_MD5_LEN)];

	chap_waiting(&c);
	ck_assert_int_eq(chap_mutual(&c, "", "1", "0xdeadbeef", r, sizeof(r)),
	    -1);
}
END_TEST

START_TEST(chap__mutual_refuses_id_out_of_range)
{
	struct login_chap	c;
	char			r[CHAP_HEX_SIZE(CHAP_MD5_LEN)];
	static const char	*bad[] = { "256", "-1", "", "0x100", "1a",
				    "99999999999" };
	size_t			i;

	chap_waiting(&c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(chap_mutual(&c, "s3cret-target", bad[i],
		    "0xdeadbeef", r, sizeof(r)), -1);
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "255",
	    "0xdeadbeef", r, sizeof(r)), 0);
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "0",
	    "0xdeadbeef", r, sizeof(r)), 0);
}
END_TEST

START_TEST(chap__mutual_refuses_reflection)
{
	struct login_chap	c;
	char			r[CHAP_HEX_SIZE(CHAP_MD5_LEN)];

	chap_waiting(&c);
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "7",
	    "0x000102030405060708090a0b0c0d0e0f", r, sizeof(r)), -1);
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "7",
	    "0bAAECAwQFBgcICQoLDA0ODw==", r, sizeof(r)), -1);
}
END_TEST

START_TEST(chap__mutual_challenge_size_limit)
{
	struct login_chap	c;
	char			r[CHAP_HEX_SIZE(CHAP_MD5_LEN)];
	static char		big[2 + 2 * 1025 + 1];

	chap_waiting(&c);
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '0';
	big[1] = 'x';
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "7", big, r,
	    sizeof(r)), -1);
	big[2 + 2 * 1024] = '\0';	/* exactly 1024 bytes is allowed */
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "7", big, r,
	    sizeof(r)), 0);
	ck_assert_int_eq(chap_mutual(&c, "s3cret-target", "7", "0x", r,
	    sizeof(r)), -1);
}
END_TEST

START_TEST(chap__wipe_clears_state)
{
	struct login_chap	c;
	static const uint8_t	zero[sizeof(c.lc_challenge)];

	chap_waiting(&c);
	chap_wipe(&c);
	ck_assert_mem_eq(c.lc_challenge, zero, sizeof(zero));
	ck_assert_uint_eq(c.lc_id, 0);
}
END_TEST

Suite *
chap_suite(void)
{
	Suite	*s = suite_create("chap");
	TCase	*tc = tcase_create("encoding");

	tcase_add_test(tc, chap__decode_hex);
	tcase_add_test(tc, chap__decode_base64);
	tcase_add_test(tc, chap__decode_rejects_bad_syntax);
	tcase_add_test(tc, chap__decode_checks_length_before_decoding);
	tcase_add_test(tc, chap__encode_hex);
	suite_add_tcase(s, tc);

	tc = tcase_create("exchange");
	tcase_add_test(tc, chap__md5_known_answer);
	tcase_add_test(tc, chap__alg_offered);
	tcase_add_test(tc, chap__challenges_are_fresh);
	tcase_add_test(tc, chap__verify_accepts_right_response);
	tcase_add_test(tc, chap__verify_rejects_wrong_secret);
	tcase_add_test(tc, chap__verify_rejects_wrong_user);
	tcase_add_test(tc, chap__verify_rejects_wrong_length);
	tcase_add_test(tc, chap__verify_needs_challenge_and_secret);
	tcase_add_test(tc, chap__mutual_answers);
	tcase_add_test(tc, chap__mutual_refuses_without_secret);
	tcase_add_test(tc, chap__mutual_refuses_id_out_of_range);
	tcase_add_test(tc, chap__mutual_refuses_reflection);
	tcase_add_test(tc, chap__mutual_challenge_size_limit);
	tcase_add_test(tc, chap__wipe_clears_state);
	suite_add_tcase(s, tc);
	return s;
}
