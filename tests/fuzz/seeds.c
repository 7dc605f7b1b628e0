/*
 * The seed corpora of the fuzzing harnesses, written by the harnesses
 * themselves when SCSIPUB_FUZZ_SEEDS names a directory ("make -C
 * tests/fuzz seeds" refreshes tests/fuzz/corpus/): a few small valid
 * inputs each, in the input formats that fuzz_iscsi.c, fuzz_scsi.c and
 * fuzz_api.c describe, so that the format is written down in one place.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "fuzzenv.h"
#include "fuzzinput.h"
#include "hash.h"

struct sb {
	uint8_t	 sb_p[65536];
	size_t	 sb_len;
};

static struct sb	 sb;
static const char	*sb_dir;

static void
sb_put(const void *p, size_t n)
{
	if (n == 0)
		return;
	if (n > sizeof(sb.sb_p) - sb.sb_len)
		abort();
	memcpy(sb.sb_p + sb.sb_len, p, n);
	sb.sb_len += n;
}

static void
sb_u8(uint8_t v)
{
	sb_put(&v, 1);
}

static void
sb_be16(uint16_t v)
{
	uint8_t	 b[2];

	be16enc(b, v);
	sb_put(b, 2);
}

/* Write the input built so far as DIR/name and start the next one. */
static void
sb_save(const char *name)
{
	char	 p[1024];
	int	 fd;

	snprintf(p, sizeof(p), "%s/%s", sb_dir, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, sb.sb_p, sb.sb_len) != (ssize_t)sb.sb_len ||
	    close(fd) == -1) {
		perror(p);
		exit(1);
	}
	sb.sb_len = 0;
}

/* ---- fuzz_iscsi ---- */

#define CMD_F		0x80
#define CMD_R		0x40
#define CMD_W		0x20
#define CMD_SIMPLE	0x01

static uint32_t	 si_cmdsn;

/*
 * One record: a framed PDU (the harness fills in the lengths), its
 * data made up by the harness when data is NULL.
 */
static void
si_rec(int kind, const uint8_t *bhs, const void *data, size_t dlen)
{
	if (data == NULL && dlen > 0) {
		sb_u8((uint8_t)(kind | FR_GEN));
		sb_be16(ISCSI_BHS_LEN + 2);
		sb_put(bhs, ISCSI_BHS_LEN);
		sb_be16((uint16_t)dlen);
		return;
	}
	sb_u8((uint8_t)kind);
	sb_be16((uint16_t)(ISCSI_BHS_LEN + dlen));
	sb_put(bhs, ISCSI_BHS_LEN);
	sb_put(data, dlen);
}

static void
si_start(int mode)
{
	sb_u8((uint8_t)mode);
	si_cmdsn = 1;
}

static void
si_cmd(int kind, int flags, uint64_t lun, uint32_t itt, uint32_t edtl,
    const uint8_t *cdb, const void *data, size_t dlen)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = 0x01;
	bhs[1] = (uint8_t)(CMD_F | CMD_SIMPLE | flags);
	scsi_lun_encode(bhs + 8, lun);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, edtl);
	be32enc(bhs + 24, si_cmdsn++);
	memcpy(bhs + 32, cdb, 16);
	si_rec(kind | FR_FRAMED, bhs, data, dlen);
}

static void
si_data_out(int kind, uint32_t itt, uint32_t ttt, uint32_t sn, uint32_t off,
    int final, const void *data, size_t dlen)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = 0x05;
	bhs[1] = final ? 0x80 : 0;
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, ttt);
	be32enc(bhs + 36, sn);
	be32enc(bhs + 40, off);
	si_rec(kind | FR_FRAMED, bhs, data, dlen);
}

/* NOP-Out, Text, Task management, Logout, SNACK: opcode and byte 1. */
static void
si_other(int kind, int op, int b1, uint64_t lun, uint32_t itt, uint32_t ttt,
    const void *data, size_t dlen)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = (uint8_t)op;
	bhs[1] = (uint8_t)b1;
	scsi_lun_encode(bhs + 8, lun);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, ttt);
	be32enc(bhs + 24, si_cmdsn);
	if (!(op & 0x40))
		si_cmdsn++;
	si_rec(kind | FR_FRAMED, bhs, data, dlen);
}

static void
si_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	be32enc(cdb + 2, lba);
	be16enc(cdb + 7, n);
}

static void
si_read(int kind, uint64_t lun, uint32_t itt, uint32_t lba, uint16_t n)
{
	uint8_t	 cdb[16];

	si_rw10(cdb, 0x28, lba, n);
	si_cmd(kind, CMD_R, lun, itt, n * 512u, cdb, NULL, 0);
}

/* A raw Login Request, as an initiator writes it. */
static void
si_raw_login(int csg, int nsg, const char *text, size_t len)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];
	size_t	 pad = (4 - (len & 3)) & 3;
	static const uint8_t zero[4];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = 0x43;
	bhs[1] = (uint8_t)(0x80 | csg << 2 | nsg);
	be24enc(bhs + 5, (uint32_t)len);
	bhs[8] = 0x80;
	bhs[13] = 0x09;
	be32enc(bhs + 16, 0x77 + (uint32_t)csg);
	be32enc(bhs + 24, 1);
	sb_u8(0);
	sb_be16((uint16_t)(ISCSI_BHS_LEN + len + pad));
	sb_put(bhs, sizeof(bhs));
	sb_put(text, len);
	sb_put(zero, pad);
}

static const char si_sec[] = "InitiatorName=iqn.2025-01.test:raw\0"
    "SessionType=Normal\0TargetName=" FZ_PREFIX ":alpha\0AuthMethod=None";
static const char si_op[] = "HeaderDigest=None\0DataDigest=None\0"
    "MaxRecvDataSegmentLength=8192\0InitialR2T=Yes\0ImmediateData=Yes\0"
    "MaxBurstLength=262144\0FirstBurstLength=65536";

static void
si_seed_login(void)
{
	si_start(PFX_RAW);
	si_raw_login(0, 1, si_sec, sizeof(si_sec));
	si_raw_login(1, 3, si_op, sizeof(si_op));
	si_read(0, 0, 1, 0, 8);
	sb_save("login-raw");
}

static void
si_seed_discovery(void)
{
	static const char st[] = "SendTargets=All";

	si_start(PFX_DISCOVERY);
	si_other(0, 0x04, 0x80, 0, 1, 0xffffffff, st, sizeof(st));
	si_other(0, 0x46, 0x80, 0, 2, 0, NULL, 0);
	sb_save("discovery-sendtargets");
}

static void
si_seed_read(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_PUBLIC);
	si_read(0, 0, 1, 0, 8);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x88;
	be64enc(cdb + 2, 100);
	be32enc(cdb + 10, 16);
	si_cmd(0, CMD_R, 0, 2, 16 * 512, cdb, NULL, 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x12;
	cdb[4] = 96;
	si_cmd(0, CMD_R, 0, 3, 96, cdb, NULL, 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0xa0;
	be32enc(cdb + 6, 64);
	si_cmd(0, CMD_R, 0, 4, 64, cdb, NULL, 0);
	sb_save("read");
}

static void
si_seed_write_imm(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_PUBLIC);
	si_rw10(cdb, 0x2a, 3, 2);
	si_cmd(0, CMD_W, 0, 1, 1024, cdb, NULL, 1024);
	si_read(0, 0, 2, 0, 8);
	sb_save("write-immediate");
}

static void
si_seed_write_unsol(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_PUBLIC | FI_UNSOL);
	si_rw10(cdb, 0x2a, 16, 4);
	si_cmd(0, CMD_W, 0, 1, 2048, cdb, NULL, 1024);
	si_data_out(0, 1, 0xffffffff, 0, 1024, 1, NULL, 1024);
	si_read(0, 0, 2, 16, 4);
	sb_save("write-unsolicited");
}

static void
si_seed_write_r2t(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_PUBLIC | FI_NOIMM);
	si_rw10(cdb, 0x2a, 8, 2);
	si_cmd(0, CMD_W, 0, 1, 1024, cdb, NULL, 0);
	si_data_out(0, 1, 1, 0, 0, 0, NULL, 512);
	si_data_out(0, 1, 1, 1, 512, 1, NULL, 512);
	si_read(0, 0, 2, 8, 2);
	sb_save("write-r2t");
}

/* PERSISTENT RESERVE OUT: basic parameter list. */
static void
si_prout(int kind, uint64_t lun, uint32_t itt, int sa, int type,
    uint64_t key, uint64_t sakey)
{
	uint8_t	 cdb[16], p[24];

	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	cdb[0] = 0x5f;
	cdb[1] = (uint8_t)sa;
	cdb[2] = (uint8_t)type;
	be32enc(cdb + 5, sizeof(p));
	be64enc(p, key);
	be64enc(p + 8, sakey);
	si_cmd(kind, CMD_W, lun, itt, sizeof(p), cdb, p, sizeof(p));
}

static void
si_seed_chap_pr(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_CHAP | FI_HDIGEST | FI_DDIGEST);
	si_prout(0, 1, 1, 0, 0, 0, 0x1234);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5e;
	be16enc(cdb + 7, 256);
	si_cmd(0, CMD_R, 1, 2, 256, cdb, NULL, 0);
	si_rw10(cdb, 0x2a, 0, 1);
	si_cmd(0, CMD_W, 1, 3, 512, cdb, NULL, 512);
	si_prout(0, 1, 4, 4, 1, 0x1234, FZ_GHOST_KEY);
	si_cmd(0, CMD_W, 1, 5, 512, cdb, NULL, 512);
	si_read(0, 1, 6, 0, 1);
	sb_save("chap-reservation");
}

static void
si_seed_mutual(void)
{
	static const char ping[] = "ping";

	si_start(PFX_MUTUAL);
	si_other(0, 0x40, 0x80, 0, 1, 0xffffffff, ping, sizeof(ping));
	si_other(0, 0x42, 0x80 | 5, 0, 2, 0xffffffff, NULL, 0);
	si_other(0, 0x42, 0x80 | 1, 0, 3, 7, NULL, 0);
	si_other(0, 0x10, 0x80, 0, 4, 0, NULL, 0);
	si_other(0, 0x46, 0x80, 0, 5, 0, NULL, 0);
	sb_save("mutual-nop-tmf-logout");
}

/* EXTENDED COPY: one identification descriptor of an LU. */
static void
si_xc_target(uint8_t *d, const char *image, int lun)
{
	const char	*iqn = FZ_PREFIX ":multi";
	uint64_t	 h;
	uint8_t		 l = (uint8_t)lun;

	h = fnv1a(FNV1A_INIT, iqn, strlen(iqn));
	h = fnv1a(h, image, strlen(image));
	h = fnv1a(h, &l, 1);
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = 8;
	be64enc(d + 8, (3ULL << 60) | (h & 0x0fffffffffffffffULL));
	be24enc(d + 29, 512);
}

static size_t
si_xcopy_list(uint8_t *p, const char *img0, const char *img1)
{
	uint8_t	*s = p + 16 + 64;

	memset(p, 0, 16 + 64 + 28);
	p[0] = 1;
	be16enc(p + 2, 64);
	be32enc(p + 8, 28);
	si_xc_target(p + 16, img0, 0);
	si_xc_target(p + 48, img1, 1);
	s[0] = 0x02;
	be16enc(s + 2, 24);
	be16enc(s + 4, 0);
	be16enc(s + 6, 1);
	be16enc(s + 10, 8);
	be64enc(s + 12, 0);
	be64enc(s + 20, 32);
	return 16 + 64 + 28;
}

static void
si_unmap(int kind, uint64_t lun, uint32_t itt, uint64_t lba, uint32_t n)
{
	uint8_t	 cdb[16], p[24];

	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	cdb[0] = 0x42;
	be16enc(cdb + 7, sizeof(p));
	be16enc(p, sizeof(p) - 2);
	be16enc(p + 2, 16);
	be64enc(p + 8, lba);
	be32enc(p + 16, n);
	si_cmd(kind, CMD_W, lun, itt, sizeof(p), cdb, p, sizeof(p));
}

static void
si_seed_multi(void)
{
	uint8_t	 cdb[16], p[128];
	size_t	 n;

	si_start(PFX_MULTI);
	si_rw10(cdb, 0x2a, 0, 1);
	si_cmd(0, CMD_W, 0, 1, 512, cdb, NULL, 512);
	si_unmap(0, 0, 2, 4, 2);
	n = si_xcopy_list(p, "alpha", "beta");
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x83;
	be32enc(cdb + 10, (uint32_t)n);
	si_cmd(0, CMD_W, 0, 3, (uint32_t)n, cdb, p, n);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x84;
	cdb[2] = 1;
	be32enc(cdb + 10, 64);
	si_cmd(0, CMD_R, 0, 4, 64, cdb, NULL, 0);
	si_read(0, 1, 5, 32, 8);
	sb_save("multi-unmap-xcopy");
}

static void
si_seed_psess(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_PSESS | FI_TWO);
	si_rw10(cdb, 0x2a, 40, 2);
	si_cmd(0, CMD_W, 0, 1, 1024, cdb, NULL, 1024);
	si_cmdsn = 1;
	si_read(FR_CONN2, 0, 1, 40, 4);
	si_prout(FR_CONN2, 1, 2, 0, 0, 0, 0xb2);
	sb_save("psess-two-connections");
}

/* MODE SELECT(10) of the caching page (WCE) or control page (SWP). */
static void
si_mode_select(int kind, uint32_t itt, int page, int on)
{
	uint8_t	 cdb[16], p[8 + 20];
	size_t	 n;

	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	n = 8 + (page == 0x08 ? 20 : 12);
	p[8] = (uint8_t)page;
	p[9] = (uint8_t)(n - 10);
	if (page == 0x08)
		p[10] = on ? 0x04 : 0;
	else {
		p[10] = 0x02;			/* GLTSD, as it stands */
		p[12] = on ? 0x08 : 0;
		be16enc(p + 16, 0xffff);	/* busy timeout, ditto */
	}
	cdb[0] = 0x55;
	cdb[1] = 0x10;
	be16enc(cdb + 7, (uint16_t)n);
	si_cmd(kind, CMD_W, 0, itt, (uint32_t)n, cdb, p, n);
}

static void
si_seed_readonly(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_READONLY);
	si_rw10(cdb, 0x2a, 0, 1);
	si_cmd(0, CMD_W, 0, 1, 512, cdb, NULL, 512);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5a;
	cdb[2] = 0x3f;
	be16enc(cdb + 7, 256);
	si_cmd(0, CMD_R, 0, 2, 256, cdb, NULL, 0);
	si_mode_select(0, 3, 0x08, 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x35;
	si_cmd(0, 0, 0, 4, 0, cdb, NULL, 0);
	sb_save("readonly");
}

static void
si_seed_digests(void)
{
	uint8_t	 cdb[16];

	si_start(PFX_PUBLIC | FI_HDIGEST | FI_DDIGEST);
	si_rw10(cdb, 0x2a, 100, 2);
	si_cmd(FR_SPLIT, CMD_W, 0, 1, 1024, cdb, NULL, 1024);
	si_read(FR_SPLIT, 0, 2, 100, 16);
	sb_save("digests-split");
}

static void
fz_seeds_iscsi(void)
{
	si_seed_login();
	si_seed_discovery();
	si_seed_read();
	si_seed_write_imm();
	si_seed_write_unsol();
	si_seed_write_r2t();
	si_seed_chap_pr();
	si_seed_mutual();
	si_seed_multi();
	si_seed_psess();
	si_seed_readonly();
	si_seed_digests();
}

/* ---- fuzz_scsi ---- */

/* One command; its Data-Out made up by the harness when data is NULL. */
static void
ss_cmd(int flags, const uint8_t *cdb, const void *data, size_t dlen)
{
	if (data == NULL && dlen > 0)
		flags |= FC_GEN;
	sb_u8((uint8_t)flags);
	sb_put(cdb, 16);
	sb_be16((uint16_t)dlen);
	if (data != NULL)
		sb_put(data, dlen);
}

static void
ss_rw(int flags, uint8_t op, uint64_t lba, uint32_t n, size_t dlen)
{
	uint8_t	 cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = op;
	if (op == 0x88 || op == 0x8a || op == 0x8b || op == 0x8f) {
		be64enc(cdb + 2, lba);
		be32enc(cdb + 10, n);
	} else {
		be32enc(cdb + 2, (uint32_t)lba);
		be16enc(cdb + 7, (uint16_t)n);
	}
	if (op == 0x2f || op == 0x8f)
		cdb[1] = 0x02;			/* BYTCHK 1 */
	ss_cmd(flags, cdb, NULL, dlen);
}

static void
ss_prout(int flags, int sa, int type, uint64_t key, uint64_t sakey)
{
	uint8_t	 cdb[16], p[24];

	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	cdb[0] = 0x5f;
	cdb[1] = (uint8_t)sa;
	cdb[2] = (uint8_t)type;
	be32enc(cdb + 5, sizeof(p));
	be64enc(p, key);
	be64enc(p + 8, sakey);
	ss_cmd(flags, cdb, p, sizeof(p));
}

static void
ss_prin(int flags, int sa)
{
	uint8_t	 cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5e;
	cdb[1] = (uint8_t)sa;
	be16enc(cdb + 7, 1024);
	ss_cmd(flags, cdb, NULL, 0);
}

#define SS_A	0
#define SS_B	FC_NEXUS_B
#define SS_LUN1	FC_LUN_SET(1)

static void
ss_cdb(int flags, uint8_t op, uint8_t b1, uint8_t b2, uint32_t alloc, int at)
{
	uint8_t	 cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = op;
	cdb[1] = b1;
	cdb[2] = b2;
	if (at == 3)
		be16enc(cdb + 3, (uint16_t)alloc);
	else if (at == 4)
		cdb[4] = (uint8_t)alloc;
	else if (at > 0)
		be32enc(cdb + at, alloc);
	ss_cmd(flags, cdb, NULL, 0);
}

static void
ss_seed_rw(void)
{
	sb_u8(0);
	ss_rw(SS_A, 0x28, 0, 8, 0);
	ss_rw(SS_A, 0x2a, 4, 1, 512);
	ss_rw(SS_B, 0x28, 0, 8, 0);
	ss_rw(SS_A | SS_LUN1, 0x8a, 90, 1, 512);
	ss_rw(SS_B | SS_LUN1, 0x88, 88, 8, 0);
	ss_rw(SS_A, 0x2f, 4, 1, 512);
	sb_save("read-write");
}

static void
ss_seed_pr(void)
{
	sb_u8(FS_RESV1 | FS_TYPE_SET(0));
	ss_prin(SS_A | SS_LUN1, 0);
	ss_prout(SS_A | SS_LUN1, 0, 0, 0, 0xa1);
	ss_rw(SS_A | SS_LUN1, 0x2a, 0, 1, 512);
	ss_prout(SS_A | SS_LUN1, 4, 1, 0xa1, 0xb0b0b0b0b0ULL);
	ss_rw(SS_A | SS_LUN1, 0x2a, 0, 1, 512);
	ss_prin(SS_B | SS_LUN1, 3);
	ss_prout(SS_A | SS_LUN1, 3, 0, 0xa1, 0);
	sb_save("reservation-preempt");
}

static void
ss_seed_pr_ro(void)
{
	sb_u8(FS_RESV1 | FS_TYPE_SET(2));
	ss_prout(SS_A | SS_LUN1, 0, 0, 0, 0xa1);
	ss_rw(SS_A | SS_LUN1, 0x2a, 8, 1, 512);
	ss_prout(SS_B | SS_LUN1, 2, 5, 0xb0b0b0b0b0ULL, 0);
	ss_prin(SS_A | SS_LUN1, 1);
	sb_save("reservation-registrants-only");
}

/* An iSCSI TransportID: a port (name,i,0xISID) or, isid NULL, a device. */
static size_t
ss_tid(uint8_t *b, const char *name, const char *isid)
{
	char	 t[256];
	size_t	 n;

	n = (size_t)snprintf(t, sizeof(t), isid != NULL ? "%s,i,0x%s" : "%s",
	    name, isid);
	n = (n + 1 + 3) & ~(size_t)3;
	memset(b, 0, 4 + n);
	b[0] = (uint8_t)(isid != NULL ? 0x45 : 0x05);
	be16enc(b + 2, (uint16_t)n);
	memcpy(b + 4, t, strlen(t));
	return 4 + n;
}

static void
ss_seed_spec_i_pt(void)
{
	uint8_t	 cdb[16], p[24 + 4 + 128];
	size_t	 n = 28;

	sb_u8(0);
	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	be64enc(p + 8, 0xa1);
	p[20] = 0x08;				/* SPEC_I_PT */
	n += ss_tid(p + n, "iqn.2025-01.test:bravo", "800000000002");
	n += ss_tid(p + n, "iqn.2025-01.test:charlie", NULL);
	be32enc(p + 24, (uint32_t)(n - 28));
	cdb[0] = 0x5f;
	be32enc(cdb + 5, (uint32_t)n);
	ss_cmd(SS_A, cdb, p, n);
	ss_prin(SS_B, 3);
	sb_save("reservation-spec-i-pt");
}

static void
ss_seed_register_move(void)
{
	uint8_t	 cdb[16], p[24 + 64];
	size_t	 n = 24;

	sb_u8(0);
	ss_prout(SS_A | SS_LUN1, 0, 0, 0, 0xa1);
	ss_prout(SS_A | SS_LUN1, 1, 1, 0xa1, 0);
	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	be64enc(p, 0xa1);
	be64enc(p + 8, 0xb2);
	p[17] = 0x02;				/* UNREG */
	be16enc(p + 18, 1);			/* relative target port */
	n += ss_tid(p + n, "iqn.2025-01.test:bravo", "800000000002");
	be32enc(p + 20, (uint32_t)(n - 24));
	cdb[0] = 0x5f;
	cdb[1] = 0x07;
	cdb[2] = 0x01;
	be32enc(cdb + 5, (uint32_t)n);
	ss_cmd(SS_A | SS_LUN1, cdb, p, n);
	ss_rw(SS_B | SS_LUN1, 0x2a, 5, 1, 512);
	ss_prin(SS_A | SS_LUN1, 1);
	sb_save("reservation-register-and-move");
}

static void
ss_seed_unmap(void)
{
	uint8_t	 cdb[16], p[40];

	sb_u8(0);
	ss_rw(SS_A, 0x2a, 7, 2, 1024);
	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	cdb[0] = 0x42;
	be16enc(cdb + 7, sizeof(p));
	be16enc(p, sizeof(p) - 2);
	be16enc(p + 2, 32);
	be64enc(p + 8, 0);
	be32enc(p + 16, 8);
	be64enc(p + 24, 12);
	be32enc(p + 32, 2);
	ss_cmd(SS_A, cdb, p, sizeof(p));
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9e;
	cdb[1] = 0x12;
	be32enc(cdb + 10, 64);
	ss_cmd(SS_A, cdb, NULL, 0);
	ss_rw(SS_A, 0x28, 0, 16, 0);
	sb_save("unmap");
}

static void
ss_xc_target(uint8_t *d, uint64_t id, uint32_t bs)
{
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = 8;
	be64enc(d + 8, (3ULL << 60) | id);
	be24enc(d + 29, bs);
}

static void
ss_seed_xcopy(void)
{
	uint8_t	 cdb[16], p[16 + 64 + 28], *s = p + 16 + 64;

	sb_u8(0);
	ss_rw(SS_A, 0x2a, 0, 1, 512);
	memset(p, 0, sizeof(p));
	p[0] = 7;
	be16enc(p + 2, 64);
	be32enc(p + 8, 28);
	ss_xc_target(p + 16, 0x11111111, 512);
	ss_xc_target(p + 48, 0x22222222, 512);
	s[0] = 0x02;
	be16enc(s + 2, 24);
	be16enc(s + 6, 1);
	be16enc(s + 10, 8);
	be64enc(s + 20, 40);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x83;
	be32enc(cdb + 10, sizeof(p));
	ss_cmd(SS_A, cdb, p, sizeof(p));
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x84;
	cdb[2] = 7;
	be32enc(cdb + 10, 64);
	ss_cmd(SS_A, cdb, NULL, 0);
	cdb[1] = 0x03;
	cdb[2] = 0;
	ss_cmd(SS_A, cdb, NULL, 0);
	ss_rw(SS_B | SS_LUN1, 0x28, 40, 8, 0);
	sb_save("extended-copy");
}

/* MODE SELECT(6) of the control page (SWP) or caching page (WCE). */
static void
ss_mode_select(int flags, int page, int on)
{
	uint8_t	 cdb[16], p[4 + 20];
	size_t	 n = 4 + (page == 0x08 ? 20 : 12);

	memset(cdb, 0, sizeof(cdb));
	memset(p, 0, sizeof(p));
	p[4] = (uint8_t)page;
	p[5] = (uint8_t)(n - 6);
	if (page == 0x08)
		p[6] = on ? 0x04 : 0;
	else {
		p[6] = 0x02;			/* GLTSD, as it stands */
		p[8] = on ? 0x08 : 0;
		be16enc(p + 12, 0xffff);	/* busy timeout, ditto */
	}
	cdb[0] = 0x15;
	cdb[1] = 0x10;
	cdb[4] = (uint8_t)n;
	ss_cmd(flags, cdb, p, n);
}

static void
ss_seed_mode(void)
{
	uint8_t	 cdb[16];

	sb_u8(0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x5a;
	cdb[2] = 0x3f;
	be16enc(cdb + 7, 512);
	ss_cmd(SS_A, cdb, NULL, 0);
	ss_mode_select(SS_A, 0x08, 0);
	ss_mode_select(SS_A, 0x0a, 1);
	ss_cdb(SS_B, 0x00, 0, 0, 0, 0);
	ss_rw(SS_B, 0x2a, 0, 1, 512);
	ss_mode_select(SS_A, 0x0a, 0);
	ss_cdb(SS_B, 0x00, 0, 0, 0, 0);
	ss_rw(SS_B, 0x2a, 0, 1, 512);
	sb_save("mode-select");
}

static void
ss_seed_write_same(void)
{
	uint8_t	 cdb[16];

	sb_u8(0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x41;
	be32enc(cdb + 2, 8);
	be16enc(cdb + 7, 8);
	ss_cmd(SS_A, cdb, NULL, 512);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x93;
	cdb[1] = 0x08;
	be64enc(cdb + 2, 8);
	be32enc(cdb + 10, 4);
	ss_cmd(SS_A, cdb, NULL, 512);
	cdb[1] = 0x01;
	ss_cmd(SS_A | SS_LUN1, cdb, NULL, 0);
	ss_rw(SS_A, 0x28, 8, 8, 0);
	sb_save("write-same");
}

static void
ss_seed_caw(void)
{
	uint8_t	 cdb[16];

	sb_u8(0);
	ss_rw(SS_A, 0x2a, 2, 1, 512);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x89;
	be64enc(cdb + 2, 2);
	cdb[13] = 1;
	ss_cmd(SS_A, cdb, NULL, 1024);
	ss_rw(SS_A, 0x28, 2, 1, 0);
	sb_save("compare-and-write");
}

static void
ss_seed_inquiry(void)
{
	static const uint8_t vpd[] = { 0x00, 0x80, 0x83, 0x86, 0xb0, 0xb1,
	    0xb2 };
	size_t	 i;

	sb_u8(0);
	ss_cdb(SS_A, 0x12, 0, 0, 96, 3);
	for (i = 0; i < sizeof(vpd); i++)
		ss_cdb(SS_A, 0x12, 1, vpd[i], 255, 3);
	ss_cdb(SS_A, 0xa0, 0, 0, 256, 6);
	ss_cdb(SS_A, 0xa3, 0x0c, 0, 8192, 6);
	ss_cdb(SS_A, 0xa3, 0x0c, 0x81, 64, 6);
	ss_cdb(SS_A, 0xa3, 0x0d, 0, 16, 6);
	ss_cdb(SS_A, 0x25, 0, 0, 0, 0);
	ss_cdb(SS_A | SS_LUN1, 0x9e, 0x10, 0, 32, 10);
	ss_cdb(SS_B, 0x03, 0, 0, 252, 4);
	ss_cdb(SS_A | FC_LUN_SET(2), 0x00, 0, 0, 0, 0);
	ss_cdb(SS_A | FC_LUN_SET(3), 0xa0, 0, 0, 256, 6);
	sb_save("inquiry-vpd-luns");
}

static void
ss_seed_reserve6(void)
{
	uint8_t	 cdb[16];

	sb_u8(FS_R6);
	ss_rw(SS_A, 0x2a, 0, 1, 512);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x17;
	ss_cmd(SS_B, cdb, NULL, 0);
	cdb[0] = 0x56;
	ss_cmd(SS_A, cdb, NULL, 0);
	ss_rw(SS_A, 0x2a, 0, 1, 512);
	ss_rw(SS_B, 0x28, 0, 1, 0);
	sb_save("reserve6");
}

static void
ss_seed_orwrite(void)
{
	sb_u8(0);
	ss_rw(SS_A | SS_LUN1, 0x8b, 2, 1, 512);
	ss_rw(SS_A | SS_LUN1, 0x8f, 2, 1, 512);
	ss_cdb(SS_A | SS_LUN1, 0x90, 0, 0, 0, 0);
	ss_cdb(SS_A | SS_LUN1, 0x91, 0, 0, 0, 0);
	ss_cdb(SS_A, 0x1b, 0, 0, 1, 4);
	ss_cdb(SS_A, 0x1e, 0, 0, 1, 4);
	ss_rw(SS_A | SS_LUN1, 0x88, 2, 1, 0);
	sb_save("orwrite-verify");
}

static void
ss_seed_bigblock(void)
{
	sb_u8(FS_BIGBLK1);
	ss_cdb(SS_A | SS_LUN1, 0x9e, 0x10, 0, 32, 10);
	ss_rw(SS_B | SS_LUN1, 0x88, 3, 2, 0);
	ss_cdb(SS_A | SS_LUN1, 0x9e, 0x12, 0, 64, 10);
	sb_save("big-blocks");
}

static void
fz_seeds_scsi(void)
{
	ss_seed_rw();
	ss_seed_pr();
	ss_seed_pr_ro();
	ss_seed_spec_i_pt();
	ss_seed_register_move();
	ss_seed_unmap();
	ss_seed_xcopy();
	ss_seed_mode();
	ss_seed_write_same();
	ss_seed_caw();
	ss_seed_inquiry();
	ss_seed_reserve6();
	ss_seed_orwrite();
	ss_seed_bigblock();
}

/* ---- fuzz_api ---- */

static void
sa_seed(const char *name, int mode, const char *req)
{
	sb_u8((uint8_t)mode);
	sb_put(req, strlen(req));
	sb_save(name);
}

static void
fz_seeds_api(void)
{
	sa_seed("status", 0, "GET /status HTTP/1.1\r\nHost: a\r\n\r\n");
	sa_seed("status-html", 0, "GET /api/status HTTP/1.1\r\n"
	    "Accept: text/html\r\n\r\n");
	sa_seed("metrics", 0, "GET /metrics HTTP/1.1\r\n\r\n");
	sa_seed("images", 0, "GET /api/images HTTP/1.1\r\n"
	    "Connection: close\r\n\r\n");
	sa_seed("create", 0, "POST /api/sessions HTTP/1.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: 29\r\n\r\n"
	    "{\"images\": [\"alpha\",\"beta\"]}");
	sa_seed("create-token", 0, "POST /api/sessions HTTP/1.1\r\n"
	    "Authorization: Bearer " FZ_TOKEN "\r\nContent-Length: 36\r\n\r\n"
	    "{\"images\": [\"alpha\"], \"tier\": \"gold\"}");
	sa_seed("session-get-delete", 0, "GET /api/sessions/5eed5eed00000002 "
	    "HTTP/1.1\r\n\r\nDELETE /api/sessions/5eed5eed00000002 HTTP/1.1"
	    "\r\n\r\n");
	sa_seed("sessions-list", 0, "GET /api/sessions HTTP/1.1\r\n\r\n"
	    "GET /api/sessions/5eed5eed00000001 HTTP/1.1\r\n\r\n");
	sa_seed("methods", 0, "HEAD /api/images HTTP/1.1\r\n\r\n"
	    "OPTIONS /api/sessions HTTP/1.1\r\n\r\n"
	    "PUT /status HTTP/1.0\r\n\r\n");
	sa_seed("create-hangup", FA_HANGUP | FA_REFUSE,
	    "POST /api/sessions HTTP/1.1\r\nContent-Length: 21\r\n\r\n"
	    "{\"images\":[\"alpha\"]}");
	sa_seed("refused", FA_REFUSE, "POST /api/sessions HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n15\r\n{\"images\":[\"alpha\"]}"
	    "\r\n0\r\n\r\nDELETE /api/sessions/5eed5eed00000002 HTTP/1.1\r\n"
	    "\r\n");
	sa_seed("token-bad", 0, "GET /api/sessions HTTP/1.1\r\n"
	    "Authorization: Basic Zm9vOmJhcg==\r\n\r\n");
}

/* SCSIPUB_FUZZ_SEEDS=DIR: write the harness's seeds there, and exit. */
void
fz_seeds(const char *harness)
{
	if ((sb_dir = getenv("SCSIPUB_FUZZ_SEEDS")) == NULL)
		return;
	if (strcmp(harness, "iscsi") == 0)
		fz_seeds_iscsi();
	else if (strcmp(harness, "scsi") == 0)
		fz_seeds_scsi();
	else if (strcmp(harness, "api") == 0)
		fz_seeds_api();
	exit(0);
}
