/*
 * CHAP with MD5 for the iSCSI security negotiation stage.
 *
 * RFC 1994: Response = MD5(Identifier || secret || Challenge).
 * RFC 7143 12.1.3: CHAP_I is 0..255, CHAP_C and CHAP_R are binary
 * values of at most 1024 bytes written as 0x-hex or 0b-base64; a
 * challenge reflected back at us is refused.
 *
 * Every length is checked against the destination before a single
 * byte is decoded, and every buffer that held key material is wiped.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "chap.h"
#include "digest.h"
#include "hex.h"

static int	chap_b64val(int);
static int	chap_decode_hex(const char *, size_t, uint8_t *, size_t,
		    size_t *);
static int	chap_decode_b64(const char *, size_t, uint8_t *, size_t,
		    size_t *);
static int	chap_parse_id(const char *, uint8_t *);

/* Longest encoded value we look at: base64 of 1024 bytes is 1368. */
#define CHAP_TEXT_MAX	(2 + 2 * CHAP_BINARY_MAX)

/*
 * CHAP_A from the initiator is a list of algorithm numbers; we take 5
 * (MD5) and nothing else.  Returns CHAP_ALG_MD5 or -1.
 */
int
chap_alg_offered(const char *list)
{
	const char	*p = list, *end;
	size_t		 n;

	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 1 && p[0] == '5')
			return CHAP_ALG_MD5;
		if (end == NULL)
			return -1;
		p = end + 1;
	}
}

/* A fresh CHAP_I and CHAP_C from the CSPRNG.  Returns 0 or -1. */
int
chap_challenge_new(struct login_chap *c)
{
	if (RAND_bytes(&c->lc_id, 1) != 1 ||
	    RAND_bytes(c->lc_challenge, sizeof(c->lc_challenge)) != 1) {
		OPENSSL_cleanse(c->lc_challenge, sizeof(c->lc_challenge));
		return -1;
	}
	return 0;
}

static int
chap_b64val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* n hex digits; an odd count has an implied leading zero digit. */
static int
chap_decode_hex(const char *s, size_t n, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	size_t	need = (n + 1) / 2, i, o = 0;
	int	hi, lo;

	if (n == 0 || need > outmax)
		return -1;
	i = 0;
	if (n % 2 == 1) {
		if ((lo = hex_digit((unsigned char)s[0])) == -1)
			return -1;
		out[o++] = (uint8_t)lo;
		i = 1;
	}
	for (; i < n; i += 2) {
		hi = hex_digit((unsigned char)s[i]);
		lo = hex_digit((unsigned char)s[i + 1]);
		if (hi == -1 || lo == -1)
			return -1;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = o;
	return 0;
}

/* RFC 4648 base64, '=' padding optional but never in the middle. */
static int
chap_decode_b64(const char *s, size_t n, uint8_t *out, size_t outmax,
    size_t *outlen)
{
	size_t		 need, i, o = 0;
	uint32_t	 acc = 0;
	int		 v, bits = 0;

	if (n > 0 && s[n - 1] == '=')
		n--;
	if (n > 0 && s[n - 1] == '=')
		n--;
	if (n == 0 || n % 4 == 1)
		return -1;
	need = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (need > outmax)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = chap_b64val((unsigned char)s[i])) == -1)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = o;
	return 0;
}

/*
 * Decode a CHAP binary value ("0x..." hex or "0b..." base64) into at
 * most outmax bytes.  The decoded size is computed from the text length
 * and refused before anything is written if it does not fit.
 */
int
chap_decode(const char *text, uint8_t *out, size_t outmax, size_t *outlen)
{
	size_t	n;

	n = strnlen(text, CHAP_TEXT_MAX + 1);
	if (n < 3 || n > CHAP_TEXT_MAX || text[0] != '0')
		return -1;
	if (text[1] == 'x' || text[1] == 'X')
		return chap_decode_hex(text + 2, n - 2, out, outmax, outlen);
	if (text[1] == 'b' || text[1] == 'B')
		return chap_decode_b64(text + 2, n - 2, out, outmax, outlen);
	return -1;
}

/* "0x" and lower-case hex digits, NUL terminated.  Returns 0 or -1. */
int
chap_encode_hex(const uint8_t *bin, size_t n, char *out, size_t outsz)
{
	if (n > (outsz - 3) / 2 || outsz < 3)
		return -1;
	out[0] = '0';
	out[1] = 'x';
	hex_encode(bin, n, out + 2);
	return 0;
}

/* RFC 1994 response: MD5(id || secret || challenge). */
int
chap_md5(uint8_t id, const char *secret, const uint8_t *chal, size_t clen,
    uint8_t out[CHAP_MD5_LEN])
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len = 0;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex2(ctx, digest_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestUpdate(ctx, chal, clen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == CHAP_MD5_LEN;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		OPENSSL_cleanse(out, CHAP_MD5_LEN);
	return ok ? 0 : -1;
}

/*
 * Check the initiator's CHAP_N and CHAP_R against the configured user
 * and secret and the challenge we sent.  Returns 0 when they match.
 */
int
chap_verify(const struct login_chap *c, const char *user, const char *secret,
    const char *chap_n, const char *chap_r)
{
	uint8_t	 got[CHAP_MD5_LEN], want[CHAP_MD5_LEN];
	size_t	 glen = 0;
	int	 ok;

	if (c->lc_step != CHAP_STEP_WAIT_R || user[0] == '\0' ||
	    secret[0] == '\0')
		return -1;
	if (chap_decode(chap_r, got, sizeof(got), &glen) == -1 ||
	    glen != CHAP_MD5_LEN) {
		OPENSSL_cleanse(got, sizeof(got));
		return -1;
	}
	ok = chap_md5(c->lc_id, secret, c->lc_challenge,
	    sizeof(c->lc_challenge), want) == 0;
	/* Both comparisons always run: no early exit on the user name. */
	ok &= CRYPTO_memcmp(got, want, sizeof(want)) == 0;
	ok &= strcmp(chap_n, user) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return ok ? 0 : -1;
}

/* CHAP_I: a numeric value 0..255, decimal or 0x-hex. */
static int
chap_parse_id(const char *s, uint8_t *id)
{
	unsigned int	 v = 0;
	int		 d, base = 10, n = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s != '\0'; s++, n++) {
		d = hex_digit((unsigned char)*s);
		if (d == -1 || d >= base || n >= 8)
			return -1;
		v = v * (unsigned int)base + (unsigned int)d;
	}
	if (n == 0 || v > 255)
		return -1;
	*id = (uint8_t)v;
	return 0;
}

/*
 * Mutual CHAP: answer the initiator's CHAP_I and CHAP_C with our
 * CHAP_R, hex encoded into rhex.  Refused without a target secret,
 * with CHAP_I out of range, with an oversized or empty CHAP_C, and
 * when CHAP_C is the challenge we sent (reflection).  Returns 0 or -1.
 */
int
chap_mutual(const struct login_chap *c, const char *secret,
    const char *chap_i, const char *chap_c, char *rhex, size_t rhexsz)
{
	uint8_t	 chal[CHAP_BINARY_MAX], r[CHAP_MD5_LEN];
	size_t	 clen = 0;
	uint8_t	 id;
	int	 rc = -1;

	if (c->lc_step != CHAP_STEP_WAIT_R || secret[0] == '\0' ||
	    chap_parse_id(chap_i, &id) == -1)
		return -1;
	if (chap_decode(chap_c, chal, sizeof(chal), &clen) == -1 || clen == 0)
		goto out;
	if (clen == sizeof(c->lc_challenge) &&
	    CRYPTO_memcmp(chal, c->lc_challenge, clen) == 0)
		goto out;
	if (chap_md5(id, secret, chal, clen, r) == -1)
		goto out;
	rc = chap_encode_hex(r, sizeof(r), rhex, rhexsz);
 out:
	OPENSSL_cleanse(chal, sizeof(chal));
	OPENSSL_cleanse(r, sizeof(r));
	return rc;
}

void
chap_wipe(struct login_chap *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}
