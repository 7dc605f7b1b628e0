/*
 * The message digests the daemon uses (SHA-256 for the anonymous
 * overlay directories, MD5 for CHAP), fetched from OpenSSL's provider
 * once.  The master calls digest_init() before it forks, so what the
 * provider set up is shared by every worker instead of built again in
 * each at its first login; a process that did not (a unit test) gets
 * them fetched at first use.
 */

#ifndef DIGEST_H
#define DIGEST_H

#include <openssl/evp.h>

/* Fetch both; -1 when OpenSSL cannot give one. */
int		 digest_init(void);
/* NULL when it cannot be fetched. */
const EVP_MD	*digest_sha256(void);
const EVP_MD	*digest_md5(void);

#endif
