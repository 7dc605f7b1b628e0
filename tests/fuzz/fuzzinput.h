/*
 * The input formats of the fuzzing harnesses, shared by each harness
 * (which reads them) and seeds.c (which writes the seed corpora).
 */
#ifndef SCSIPUB_FUZZINPUT_H
#define SCSIPUB_FUZZINPUT_H

/*
 * fuzz_iscsi: one byte of mode, then records [kind][length, 16 bits
 * big-endian][bytes].  The mode's low bits choose the canned start.
 */
#define FI_PFX_MASK	0x07
enum fi_prefix {
	PFX_RAW = 0,		/* the fuzzer logs in (or not) */
	PFX_PUBLIC,		/* the public target of image alpha */
	PFX_DISCOVERY,		/* a discovery session */
	PFX_CHAP,		/* vault, one-way CHAP */
	PFX_MUTUAL,		/* vault, mutual CHAP */
	PFX_MULTI,		/* <prefix>:multi, two private LUs */
	PFX_PSESS,		/* the provisioned session p-fuzz, CHAP */
	PFX_READONLY,		/* the static target "ro" */
};
#define FI_HDIGEST	0x08	/* HeaderDigest=CRC32C */
#define FI_DDIGEST	0x10	/* DataDigest=CRC32C */
#define FI_UNSOL	0x20	/* InitialR2T=No */
#define FI_NOIMM	0x40	/* ImmediateData=No */
#define FI_TWO		0x80	/* a second connection, initiator */

/* Record kinds. */
#define FR_FRAMED	0x01	/* one PDU the harness completes */
#define FR_CONN2	0x02	/* to the second connection */
#define FR_SPLIT	0x04	/* two writes, the loop run between */
#define FR_GEN		0x08	/* framed, its data made up here: after
				   BHS and AHS, 16 bits of length */

/*
 * fuzz_scsi: one byte of set-up, then commands
 * [flags][CDB, 16 bytes][Data-Out length, 16 bits][Data-Out, unless
 * FC_GEN][EDTL, 32 bits, with FC_EDTL].
 */
#define FS_RO0		0x01	/* LU 0 is an image marked read-only */
#define FS_RESV1	0x02	/* nexus B holds LU 1 reserved ... */
#define FS_TYPE(b)	(((b) >> 2) & 7)	/* ... of this type */
#define FS_TYPE_SET(t)	((t) << 2)
#define FS_BIGBLK1	0x20	/* LU 1 has 4096-byte blocks */
#define FS_R6		0x40	/* B holds LU 0 with RESERVE(6) */
#define FS_NOPR0	0x80	/* LU 0 has no persistent reservations */

#define FC_NEXUS_B	0x01	/* from nexus B, else A */
#define FC_LUN(b)	(((b) >> 1) & 3)	/* LUN 0, 1, 2 (none), 300 */
#define FC_LUN_SET(l)	((l) << 1)
#define FC_EDTL		0x08	/* EDTL follows the Data-Out */
#define FC_GEN		0x10	/* no Data-Out bytes in the input: the
				   harness makes up as many as said */

/* fuzz_api: one byte of mode, then the bytes a client sends. */
#define FA_HANGUP	0x01	/* close once the request is written */
#define FA_REFUSE	0x02	/* the coordinator refuses (ENOSPC) */

/* tests/fuzz/seeds.c */
void	 fz_seeds(const char *);

#endif /* SCSIPUB_FUZZINPUT_H */
