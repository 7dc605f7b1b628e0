/*
 * Digests fetched once (see digest.h).  An implicit fetch, EVP_sha256()
 * or EVP_md5() passed to EVP_DigestInit, looks the algorithm up in the
 * provider at every call.
 */

#include <openssl/evp.h>

#include "digest.h"

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
