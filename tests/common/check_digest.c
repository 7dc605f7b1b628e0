/*
 * Tests for common/digest.c: SHA-256 and MD5 fetched once, and right.
 */
#include <string.h>

#include <check.h>
#include <openssl/evp.h>

#include "digest.h"
#include "suites.h"

/* digest of "abc" with md, into out; its length */
static unsigned int
digest_abc(const EVP_MD *md, unsigned char *out)
{
	unsigned int	 len = 0;

	ck_assert_ptr_nonnull(md);
	ck_assert_int_eq(EVP_Digest("abc", 3, out, &len, md, NULL), 1);
	return len;
}

START_TEST(digest__fetched_once)
{
	const EVP_MD	*sha, *md5;

	ck_assert_int_eq(digest_init(), 0);
	sha = digest_sha256();
	md5 = digest_md5();
	ck_assert_ptr_nonnull(sha);
	ck_assert_ptr_nonnull(md5);
	/* the same objects every time: nothing is looked up again */
	ck_assert_ptr_eq(digest_sha256(), sha);
	ck_assert_ptr_eq(digest_md5(), md5);
	ck_assert_int_eq(digest_init(), 0);
	ck_assert_ptr_eq(digest_sha256(), sha);
}
END_TEST

START_TEST(digest__known_answers)
{
	/* FIPS 180-2 and RFC 1321 test vectors for "abc" */
	static const unsigned char sha[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad
	};
	static const unsigned char md5[16] = {
		0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
		0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72
	};
	unsigned char	 out[EVP_MAX_MD_SIZE];

	/* first use without digest_init(), as a unit test's process does */
	ck_assert_uint_eq(digest_abc(digest_sha256(), out), sizeof(sha));
	ck_assert_mem_eq(out, sha, sizeof(sha));
	ck_assert_uint_eq(digest_abc(digest_md5(), out), sizeof(md5));
	ck_assert_mem_eq(out, md5, sizeof(md5));
}
END_TEST

Suite *
digest_suite(void)
{
	Suite	*s = suite_create("digest");
	TCase	*tc = tcase_create("fetch");

	tcase_add_test(tc, digest__fetched_once);
	tcase_add_test(tc, digest__known_answers);
	suite_add_tcase(s, tc);
	return s;
}
