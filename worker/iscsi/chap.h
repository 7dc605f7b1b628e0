/*
 * CHAP for iSCSI login (RFC 1994, RFC 7143 section 12.1.3): MD5 only,
 * challenges from the OpenSSL CSPRNG, responses compared in constant
 * time.  worker/login.c drives the exchange; this file does the
 * encoding, the arithmetic and the checks.
 */
#ifndef SCSIPUB_CHAP_H
#define SCSIPUB_CHAP_H

#include <stddef.h>
#include <stdint.h>

#define CHAP_ALG_MD5		5
#define CHAP_MD5_LEN		16	/* CHAP_R for MD5 */
#define CHAP_CHALLENGE_LEN	16	/* the CHAP_C we send */
#define CHAP_BINARY_MAX		1024	/* RFC 7143 12.1.3: C and R limit */
#define CHAP_HEX_SIZE(n)	(2 + 2 * (n) + 1)	/* "0x" digits NUL */

enum chap_step {
	CHAP_STEP_NONE = 0,	/* AuthMethod not settled yet */
	CHAP_STEP_WAIT_A,	/* AuthMethod=CHAP answered, want CHAP_A */
	CHAP_STEP_WAIT_R,	/* challenge sent, want CHAP_N and CHAP_R */
	CHAP_STEP_REJECTED,	/* CHAP_A=Reject sent: the login must fail */
	CHAP_STEP_DONE,		/* initiator authenticated */
};

/* One connection's CHAP exchange; login.h knows it as l_chap. */
struct login_chap {
	enum chap_step	 lc_step;
	uint8_t		 lc_id;				/* our CHAP_I */
	uint8_t		 lc_challenge[CHAP_CHALLENGE_LEN];	/* our CHAP_C */
};

/* worker/chap.c */
int	 chap_alg_offered(const char *);
int	 chap_challenge_new(struct login_chap *);
int	 chap_decode(const char *, uint8_t *, size_t, size_t *);
int	 chap_encode_hex(const uint8_t *, size_t, char *, size_t);
int	 chap_md5(uint8_t, const char *, const uint8_t *, size_t,
	    uint8_t [CHAP_MD5_LEN]);
int	 chap_verify(const struct login_chap *, const char *, const char *,
	    const char *, const char *);
int	 chap_mutual(const struct login_chap *, const char *, const char *,
	    const char *, char *, size_t);
void	 chap_wipe(struct login_chap *);

#endif /* SCSIPUB_CHAP_H */
