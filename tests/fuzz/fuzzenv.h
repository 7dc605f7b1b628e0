/*
 * What the fuzzing harnesses share: the byte alphabets that tell data
 * an initiator wrote from a base image's and from memory nobody wrote,
 * switchable invariant checks, a scratch directory, and the worker the
 * harnesses drive (fuzzworker.c, over tests/worker/tworker.c).
 */
#ifndef SCSIPUB_FUZZENV_H
#define SCSIPUB_FUZZENV_H

#include <stddef.h>
#include <stdint.h>

#include "tworker.h"

/*
 * Base images hold bytes 0x40-0x4f, initiators write bytes 0x80-0x9f
 * (the harnesses map what the fuzzer writes into that range), unmapped
 * blocks read as 0.  ORWRITE ORs them together: 0xc0-0xdf.  The set is
 * closed under OR, and FZ_POISON, which fills every buffer malloc hands
 * out (see __asan_default_options), is outside it: a byte read back
 * that is not in the set came from memory nobody wrote.
 */
#define FZ_POISON	0xee

static inline uint8_t
fz_base_byte(uint64_t off, unsigned seed)
{
	return (uint8_t)(0x40 | ((off * 7 + (off >> 9) + seed) & 0x0f));
}

static inline uint8_t
fz_ini_byte(uint8_t b)
{
	return (uint8_t)(0x80 | (b & 0x1f));
}

static inline int
fz_byte_ok(uint8_t b)
{
	return b == 0 || (b & 0xf0) == 0x40 || (b & 0xe0) == 0x80 ||
	    (b & 0xe0) == 0xc0;
}

/* fuzzenv.c */
int	 fz_check(const char *);
void	 fz_fail(const char *, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
size_t	 fz_bad_byte(const uint8_t *, size_t);
int	 fz_write_op(uint8_t);
int	 fz_read_op(uint8_t);
const char *fz_scratch(const char *);
void	 fz_mkdir(const char *, const char *);
void	 fz_image(const char *, const char *, size_t, unsigned);
void	 fz_rmtree(const char *);

/* The worker a harness drives (fuzzworker.c). */
#define FZ_PREFIX	"iqn.2025-01.pub.scsipub"
#define FZ_VAULT_USER	"vault-user"
#define FZ_VAULT_SECRET	"vault-secret-0123"
#define FZ_VAULT_MUSER	"vault-target"
#define FZ_VAULT_MSECRET "vault-target-secret-42"
#define FZ_PSESS_IQN	"p-fuzz"
#define FZ_PSESS_USER	"u-fuzz"
#define FZ_PSESS_SECRET	"psess-secret-0123456"
#define FZ_PSESS_ID	0x5eed5eed00000001ULL	/* owned by FZ_TOKEN */
#define FZ_MINE_IQN	"p-mine"
#define FZ_MINE_ID	0x5eed5eed00000002ULL	/* owned by 127.0.0.1 */
#define FZ_TOKEN	"fuzz-token-gold-0123"
#define FZ_GHOST	"iqn.2025-01.test:ghost"
#define FZ_GHOST_KEY	0x6760577e11ULL

/* fuzzworker.c */
void	 fz_worker_init(struct tworker *, const char *, const int *, int);
void	 fz_worker_reset(struct tworker *);
void	 fz_ghost_reserve(struct tworker *);
int	 fz_ghost_holds(struct tworker *);
int	 fz_overlay_written(struct tworker *, const char *);

#endif /* SCSIPUB_FUZZENV_H */
