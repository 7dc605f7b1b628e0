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

#include <stdint.h>

#include <openssl/evp.h>

/* Fetch both; -1 when OpenSSL cannot give one. */
int		 digest_init(void);
/* NULL when it cannot be fetched. */
const EVP_MD	*digest_sha256(void);
const EVP_MD	*digest_md5(void);

/*
 * The name of an anonymous session's overlay directory: "anon-" and 32
 * hex digits of SHA-256(initiator NUL target NUL address[16]).  The
 * worker makes it (worker/iscsi/target.c); the coordinator finds it from
 * a session's end (coordinator/anon.c).  -1 when the digest fails.
 */
#define DIGEST_ANON_DIR_LEN	(5 + 32)
int		 digest_anon_dir(const char *, const char *, const uint8_t *,
		    char *);

#endif
