/*
 * Digests fetched once (see digest.h).  An implicit fetch, EVP_sha256()
 * or EVP_md5() passed to EVP_DigestInit, looks the algorithm up in the
 * provider at every call.
 */

#include <string.h>

#include <openssl/evp.h>

#include "digest.h"
#include "hex.h"

static EVP_MD	*digest_sha256_md;
static EVP_MD	*digest_md5_md;

const EVP_MD *
digest_sha256(void)
{
	if (digest_sha256_md == NULL)
		digest_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return digest_sha256_md;
}

const EVP_MD *
digest_md5(void)
{
	if (digest_md5_md == NULL)
		digest_md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
	return digest_md5_md;
}

int
digest_init(void)
{
	return digest_sha256() != NULL && digest_md5() != NULL ? 0 : -1;
}

/* name holds DIGEST_ANON_DIR_LEN + 1; addr is 16 bytes. */
int
digest_anon_dir(const char *initiator, const char *target,
    const uint8_t *addr, char *name)
{
	static EVP_MD_CTX *ctx;	/* kept: a new one per login costs */
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned int	 dlen = 0;

	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestInit_ex2(ctx, digest_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, initiator, strlen(initiator) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, target, strlen(target) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, addr, 16) != 1 ||
	    EVP_DigestFinal_ex(ctx, d, &dlen) != 1 || dlen < 16)
		return -1;
	memcpy(name, "anon-", 5);
	hex_encode(d, 16, name + 5);
	return 0;
}
