/*
 * SPC-4 primary commands: INQUIRY and its VPD pages, REPORT LUNS,
 * REQUEST SENSE, mode pages, REPORT SUPPORTED
 * OPERATION CODES (generated from the opcode table), EXTENDED COPY
 * inside one nexus's logical units and RECEIVE COPY RESULTS.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "pr.h"
#include "scsi.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))

#define VENDOR_ID	"SCSIPUB "
#define PRODUCT_REV	"0001"
#define SPC_SERIAL_LEN	16	/* unit serial number: the NAA in hex */

/* Copy s into a fixed ASCII field, space padded, printable only. */
static void
ascii_field(uint8_t *dst, size_t len, const char *s)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (*s == '\0') {
			dst[i] = ' ';
			continue;
		}
		dst[i] = (*s >= 0x20 && *s <= 0x7e) ? (uint8_t)*s : '_';
		s++;
	}
}

/* NAA 3 (locally assigned) designator of a logical unit, 8 bytes. */
void
spc_lu_naa(const struct scsi_lu *lu, uint8_t *naa)
{
	be64enc(naa, (3ULL << 60) | (lu->lu_id & 0x0fffffffffffffffULL));
}

/* ---------------------------------------------------------------- */
/* TEST UNIT READY, REQUEST SENSE */

void
spc_test_unit_ready(struct scsi_task *t, struct scsi_lu *lu)
{
	(void)t;
	(void)lu;
}

void
spc_request_sense(struct scsi_task *t, struct scsi_lu *lu)
{
	struct scsi_lunex *ln = scsi_task_lunex(t);
	uint8_t	 b[64];
	size_t	 n;
	uint16_t asc;
	int	 desc = t->t_cdb[1] & 0x01;

	if (lu == NULL)
		n = scsi_sense_build(b, desc, SK_ILLEGAL_REQUEST,
		    ASC_LUN_NOT_SUPPORTED, 0, 0, 0);
	else if (ln != NULL && scsi_ua_pop(ln, &asc) != 0)
		n = scsi_sense_build(b, desc, SK_UNIT_ATTENTION, asc, 0, 0, 0);
	else if ((n = sbc_sanitize_sense(lu, b, desc)) == 0)
		n = scsi_sense_build(b, desc, SK_NO_SENSE,
		    ASC_NO_ADDITIONAL_SENSE, 0, 0, 0);
	scsi_din(t, b, (uint32_t)n, t->t_cdb[4]);
}

/* ---------------------------------------------------------------- */
/* INQUIRY */

static const uint16_t version_descs[] = {
	0x00a0,		/* SAM-5 */
	0x0960,		/* iSCSI */
	0x0460,		/* SPC-4 */
	0x04c0,		/* SBC-3 */
};

static size_t
inq_standard(uint8_t *b, const struct scsi_lu *lu)
{
	size_t	 i;

	memset(b, 0, 74);
	b[0] = lu != NULL ? 0x00 : 0x7f;
	b[2] = 0x06;			/* SPC-4 */
	b[3] = 0x12;			/* HISUP, response data format 2 */
	b[4] = 74 - 5;
	b[5] = 0x08;			/* 3PC: EXTENDED COPY */
	b[7] = 0x02;			/* CMDQUE */
	memcpy(b + 8, VENDOR_ID, 8);
	ascii_field(b + 16, 16, lu != NULL ? lu->lu_name : "");
	memcpy(b + 32, PRODUCT_REV, 4);
	for (i = 0; i < nitems(version_descs); i++)
		be16enc(b + 58 + 2 * i, version_descs[i]);
	return 74;
}

static size_t
vpd_supported(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu);

/*
 * The unit serial number: the NAA designator in 16 hex digits, so that
 * two LUs (two overlays of one image) never share one.
 */
static void
spc_lu_serial(const struct scsi_lu *lu, char serial[SPC_SERIAL_LEN + 1])
{
	uint8_t	 naa[8];

	spc_lu_naa(lu, naa);
	snprintf(serial, SPC_SERIAL_LEN + 1, "%016llx",
	    (unsigned long long)be64dec(naa));
}

static size_t
vpd_serial(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	char	 serial[SPC_SERIAL_LEN + 1];

	(void)t;
	spc_lu_serial(lu, serial);
	memcpy(b + 4, serial, SPC_SERIAL_LEN);
	b[1] = 0x80;
	be16enc(b + 2, SPC_SERIAL_LEN);
	return 4 + SPC_SERIAL_LEN;
}

/* One identification descriptor; text designators NUL-padded to 4. */
static size_t
desig(uint8_t *p, uint8_t b0, uint8_t b1, const void *d, size_t len,
    int text)
{
	size_t	 plen = len;

	if (text)
		plen = (len + 1 + 3) & ~(size_t)3;
	memset(p, 0, 4 + plen);
	p[0] = b0;
	p[1] = b1;
	p[3] = (uint8_t)plen;
	memcpy(p + 4, d, len);
	return 4 + plen;
}

/*
 * The LU's designators: NAA, and T10 vendor ID based (the vendor, then
 * the product identification and unit serial number, as SPC suggests).
 */
static size_t
devid_lu(uint8_t *p, const struct scsi_lu *lu)
{
	char	 t10[8 + 16 + SPC_SERIAL_LEN + 1];
	uint8_t	 naa[8];
	size_t	 n;

	spc_lu_naa(lu, naa);
	n = desig(p, 0x01, 0x03, naa, 8, 0);		/* NAA, binary */
	memcpy(t10, VENDOR_ID, 8);
	ascii_field((uint8_t *)t10 + 8, 16, lu->lu_name);
	spc_lu_serial(lu, t10 + 24);
	n += desig(p + n, 0x02, 0x01, t10, sizeof(t10) - 1, 0);
	return n;
}

static size_t
devid_port(uint8_t *p, const struct scsi_nexus *nx)
{
	char	 name[sizeof(nx->n_target) + 16];
	uint8_t	 v[4] = { 0, 0, 0, 0 };
	size_t	 n;
	int	 len;

	len = snprintf(name, sizeof(name), "%.*s,t,0x%04x",
	    (int)strnlen(nx->n_target, sizeof(nx->n_target) - 1), nx->n_target,
	    nx->n_tpgt);
	n = desig(p, 0x53, 0x98, name, (size_t)len, 1);	/* port name */
	be16enc(v + 2, nx->n_relport != 0 ? nx->n_relport : 1);
	n += desig(p + n, 0x51, 0x94, v, 4, 0);		/* relative port */
	be16enc(v + 2, nx->n_tpgt);
	n += desig(p + n, 0x51, 0x95, v, 4, 0);		/* port group */
	n += desig(p + n, 0x53, 0xa8, nx->n_target,	/* device name */
	    strnlen(nx->n_target, sizeof(nx->n_target) - 1), 1);
	return n;
}

static size_t
vpd_devid(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	size_t	 n = 4;

	b[1] = 0x83;
	n += devid_lu(b + n, lu);
	if (t->t_nexus != NULL)
		n += devid_port(b + n, t->t_nexus);
	be16enc(b + 2, (uint16_t)(n - 4));
	return n;
}

static size_t
vpd_extinq(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	(void)t;
	(void)lu;
	b[1] = 0x86;
	b[3] = 0x3c;
	b[5] = 0x07;			/* HEADSUP, ORDSUP, SIMPSUP */
	b[6] = 0x01;			/* V_SUP: volatile cache */
	return 64;
}

static uint32_t
gran_blocks(const struct scsi_lu *lu)
{
	if (lu->lu_blksz == 0 || lu->lu_blksz >= SCSI_OPT_GRAN_BYTES)
		return 1;
	return SCSI_OPT_GRAN_BYTES / lu->lu_blksz;
}

static size_t
vpd_limits(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	uint32_t bs = lu->lu_blksz != 0 ? lu->lu_blksz : 512, unit, amax;

	(void)t;
	b[1] = 0xb0;
	b[3] = 0x3c;
	b[5] = SCSI_MAX_CAW_BLOCKS;
	be16enc(b + 6, (uint16_t)gran_blocks(lu));
	be32enc(b + 8, lu->lu_max_xfer / bs);
	be32enc(b + 12, MIN((1u << 20) / bs, lu->lu_max_xfer / bs));
	be32enc(b + 20, SCSI_MAX_UNMAP_BLOCKS);
	be32enc(b + 24, SCSI_MAX_UNMAP_DESC);
	be32enc(b + 28, gran_blocks(lu));
	be32enc(b + 32, 0x80000000);	/* UGAVALID, alignment 0 */
	be64enc(b + 36, sbc_max_ws(lu));
	sbc_atomic_limits(lu, &unit, &amax);
	be32enc(b + 44, amax);		/* MAXIMUM ATOMIC TRANSFER LENGTH */
	be32enc(b + 48, unit);		/* ATOMIC ALIGNMENT */
	be32enc(b + 52, unit);		/* ATOMIC TRANSFER LENGTH GRANULARITY */
	return 64;			/* no atomic boundaries: 56-63 zero */
}

static size_t
vpd_bdc(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	(void)t;
	b[1] = 0xb1;
	b[3] = 0x3c;
	be16enc(b + 4, 0x0001);		/* non-rotating medium */
	if (sbc_sanitize_offered(lu))	/* WABEREQ 01b: reads after BLOCK */
		b[7] = 0x40;		/* ERASE succeed; WACEREQ 0 */
	return 64;
}

static size_t
vpd_lbp(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	(void)t;
	(void)lu;
	b[1] = 0xb2;
	b[3] = 0x04;
	b[5] = 0xe4;			/* LBPU, LBPWS, LBPWS10, LBPRZ */
	b[6] = 0x02;			/* thin provisioned */
	return 8;
}

static const struct {
	uint8_t	 page;
	size_t	(*fill)(uint8_t *, struct scsi_task *, const struct scsi_lu *);
} vpd_pages[] = {
	{ 0x00, vpd_supported },
	{ 0x80, vpd_serial },
	{ 0x83, vpd_devid },
	{ 0x86, vpd_extinq },
	{ 0xb0, vpd_limits },
	{ 0xb1, vpd_bdc },
	{ 0xb2, vpd_lbp },
};

static size_t
vpd_supported(uint8_t *b, struct scsi_task *t, const struct scsi_lu *lu)
{
	size_t	 i;

	(void)t;
	b[1] = 0x00;
	for (i = 0; i < nitems(vpd_pages) && (lu != NULL || i == 0); i++)
		b[4 + i] = vpd_pages[i].page;
	b[3] = (uint8_t)i;
	return 4 + i;
}

static void
inq_vpd(struct scsi_task *t, const struct scsi_lu *lu, uint32_t alloc)
{
	uint8_t	 b[1024];
	size_t	 i, n;

	for (i = 0; i < nitems(vpd_pages); i++) {
		if (vpd_pages[i].page == t->t_cdb[2])
			break;
	}
	if (i == nitems(vpd_pages) || (lu == NULL && i != 0)) {
		scsi_sense_cdb(t, 2, -1);
		return;
	}
	memset(b, 0, sizeof(b));
	n = vpd_pages[i].fill(b, t, lu);
	b[0] = lu != NULL ? 0x00 : 0x7f;
	scsi_din(t, b, (uint32_t)n, alloc);
}

void
spc_inquiry(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[96];
	uint32_t alloc = be16dec(t->t_cdb + 3);

	if (t->t_cdb[1] & 0x01) {
		inq_vpd(t, lu, alloc);
		return;
	}
	if (t->t_cdb[2] != 0) {
		scsi_sense_cdb(t, 2, -1);
		return;
	}
	scsi_din(t, b, (uint32_t)inq_standard(b, lu), alloc);
}

/* ---------------------------------------------------------------- */
/* REPORT LUNS */

/*
 * The LUNs the nexus sees; having told them, it clears the nexus's
 * REPORTED LUNS DATA HAS CHANGED on every LU (SPC-4 lets it).
 */
void
spc_report_luns(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[8 + 8 * SCSI_MAX_LUNS];
	struct scsi_nexus *nx = t->t_nexus;
	uint32_t alloc = be32dec(t->t_cdb + 6), n = 8;
	int	 i;

	(void)lu;
	if (alloc < 16) {
		scsi_sense_cdb(t, 6, -1);
		return;
	}
	if (t->t_cdb[2] > 0x02) {
		scsi_sense_cdb(t, 2, -1);
		return;
	}
	memset(b, 0, 8);
	for (i = 0; nx != NULL && t->t_cdb[2] != 0x01 && i < nx->n_nlun; i++) {
		if (nx->n_lu[i] == NULL)
			continue;
		scsi_lun_encode(b + n, (uint64_t)i);
		n += 8;
	}
	for (i = 0; nx != NULL && i < nx->n_nlun; i++)
		nx->n_lunex[i].ln_ua &= ~UA_LUNS_CHANGED;
	be32enc(b, n - 8);
	scsi_din(t, b, n, alloc);
}

/* ---------------------------------------------------------------- */
/* Mode pages: caching 08h, control 0Ah, informational exceptions 1Ch */

#define PC_CURRENT	0
#define PC_CHANGEABLE	1
#define PC_DEFAULT	2
#define PC_SAVED	3

static void
mp_caching(uint8_t *p, const struct scsi_mode *md, int pc)
{
	p[0] = 0x08;
	p[1] = 0x12;
	if (pc == PC_CHANGEABLE || pc == PC_DEFAULT)
		p[2] = 0x04;		/* WCE */
	else
		p[2] = md->md_wce ? 0x04 : 0x00;
}

static void
mp_control(uint8_t *p, const struct scsi_mode *md, int pc)
{
	p[0] = 0x0a;
	p[1] = 0x0a;
	if (pc == PC_CHANGEABLE) {
		p[2] = 0x20 | 0x04;	/* TST 000b/001b, D_SENSE */
		p[4] = 0x08;		/* SWP */
		return;
	}
	p[2] = 0x02;			/* GLTSD: no saved log parameters */
	if (pc == PC_CURRENT) {
		p[2] |= (uint8_t)((md->md_tst & 1) << 5);
		p[2] |= md->md_dsense ? 0x04 : 0x00;
		p[4] = md->md_swp ? 0x08 : 0x00;
	}
	be16enc(p + 8, 0xffff);		/* busy timeout: unlimited */
}

static void
mp_iec(uint8_t *p, const struct scsi_mode *md, int pc)
{
	(void)md;
	p[0] = 0x1c;
	p[1] = 0x0a;
	if (pc != PC_CHANGEABLE)
		p[2] = 0x08;		/* DEXCPT */
}

static const struct mpage {
	uint8_t	 code;
	uint8_t	 len;
	void	(*fill)(uint8_t *, const struct scsi_mode *, int);
} mpages[] = {
	{ 0x08, 20, mp_caching },
	{ 0x0a, 12, mp_control },
	{ 0x1c, 12, mp_iec },
};

static const struct mpage *
mpage_find(uint8_t code)
{
	size_t	 i;

	for (i = 0; i < nitems(mpages); i++) {
		if (mpages[i].code == code)
			return &mpages[i];
	}
	return NULL;
}

static size_t
ms_blockdesc(uint8_t *p, const struct scsi_lu *lu, int pc, int longlba)
{
	int	 cur = pc != PC_CHANGEABLE;

	if (longlba) {
		memset(p, 0, 16);
		if (cur) {
			be64enc(p, lu->lu_blocks);
			be32enc(p + 12, lu->lu_blksz);
		}
		return 16;
	}
	memset(p, 0, 8);
	if (cur) {
		be32enc(p, lu->lu_blocks > UINT32_MAX ? UINT32_MAX :
		    (uint32_t)lu->lu_blocks);
		be24enc(p + 5, lu->lu_blksz);
	}
	return 8;
}

static size_t
ms_pages(uint8_t *p, const struct scsi_mode *md, int pc, uint8_t page)
{
	size_t	 i, n = 0;

	for (i = 0; i < nitems(mpages); i++) {
		if (page != 0x3f && mpages[i].code != page)
			continue;
		memset(p + n, 0, mpages[i].len);
		mpages[i].fill(p + n, md, pc);
		n += mpages[i].len;
	}
	return n;
}

void
spc_mode_sense(struct scsi_task *t, struct scsi_lu *lu)
{
	const uint8_t *cdb = t->t_cdb;
	uint8_t	 b[256];
	int	 ten = cdb[0] == 0x5a, pc = cdb[2] >> 6, llba;
	uint8_t	 page = cdb[2] & 0x3f, sub = cdb[3];
	size_t	 hdr = ten ? 8 : 4, bd = 0, n;

	if (pc == PC_SAVED) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUPPORTED);
		return;
	}
	if (page != 0x3f && mpage_find(page) == NULL) {
		scsi_sense_cdb(t, 2, 5);
		return;
	}
	if (sub != 0 && !(page == 0x3f && sub == 0xff)) {
		scsi_sense_cdb(t, 3, -1);
		return;
	}
	memset(b, 0, hdr);
	llba = ten && (cdb[1] & 0x10);
	if (!(cdb[1] & 0x08))
		bd = ms_blockdesc(b + hdr, lu, pc, llba);
	n = hdr + bd + ms_pages(b + hdr + bd, scsi_task_mode(t), pc, page);
	if (ten) {
		be16enc(b, (uint16_t)(n - 2));
		b[3] = (scsi_wp(t, lu) ? 0x80 : 0) | 0x10;	/* WP, DPOFUA */
		b[4] = bd == 16 ? 0x01 : 0x00;
		be16enc(b + 6, (uint16_t)bd);
	} else {
		b[0] = (uint8_t)(n - 1);
		b[2] = (scsi_wp(t, lu) ? 0x80 : 0) | 0x10;
		b[3] = (uint8_t)bd;
	}
	scsi_din(t, b, (uint32_t)n, ten ? be16dec(cdb + 7) : cdb[4]);
}

/* ---------------------------------------------------------------- */
/* MODE SELECT */

uint32_t
spc_xfer_mode_select(const uint8_t *cdb, const struct scsi_lu *lu)
{
	(void)lu;
	return cdb[0] == 0x55 ? be16dec(cdb + 7) : cdb[4];
}

static int
msel_blockdesc(struct scsi_task *t, const struct scsi_lu *lu,
    const uint8_t *p, size_t bd)
{
	uint64_t blocks = bd == 16 ? be64dec(p) : be32dec(p);
	uint32_t blksz = bd == 16 ? be32dec(p + 12) : be24dec(p + 5);

	if (blksz != lu->lu_blksz) {
		scsi_sense_param(t, (unsigned)(bd == 16 ? 12 : 5), -1);
		return -1;
	}
	if (blocks != 0 && blocks != lu->lu_blocks &&
	    !(bd == 8 && blocks == UINT32_MAX)) {
		scsi_sense_param(t, 0, -1);
		return -1;
	}
	return 0;
}

/* Check one page against current values and the changeable mask. */
static int
msel_page(struct scsi_task *t, const uint8_t *p, size_t off, size_t end)
{
	const struct mpage *mp;
	uint8_t	 cur[32], chg[32], bad;
	size_t	 i;
	int	 bit;

	if (p[off] & 0xc0) {
		scsi_sense_param(t, (unsigned)off, (p[off] & 0x80) ? 7 : 6);
		return -1;
	}
	if ((mp = mpage_find(p[off] & 0x3f)) == NULL) {
		scsi_sense_param(t, (unsigned)off, 5);
		return -1;
	}
	if (off + 1 >= end) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return -1;
	}
	if ((size_t)p[off + 1] + 2 != mp->len) {
		scsi_sense_param(t, (unsigned)off + 1, -1);
		return -1;
	}
	if (off + mp->len > end) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return -1;
	}
	memset(cur, 0, sizeof(cur));
	memset(chg, 0, sizeof(chg));
	mp->fill(cur, scsi_task_mode(t), PC_CURRENT);
	mp->fill(chg, scsi_task_mode(t), PC_CHANGEABLE);
	for (i = 2; i < mp->len; i++) {
		if ((bad = (p[off + i] ^ cur[i]) & ~chg[i]) == 0)
			continue;
		for (bit = 7; (bad & (1 << bit)) == 0; bit--)
			;
		scsi_sense_param(t, (unsigned)(off + i), bit);
		return -1;
	}
	return (int)mp->len;
}

/* The nexus's own values: nobody else's change, so no unit attention. */
static void
msel_apply(struct scsi_task *t, const uint8_t *p)
{
	struct scsi_mode *md = scsi_task_mode(t);
	struct scsi_lunex *ln = scsi_task_lunex(t);

	switch (p[0] & 0x3f) {
	case 0x08:
		md->md_wce = (p[2] & 0x04) != 0;
		break;
	case 0x0a:
		md->md_tst = (p[2] >> 5) & 1;
		md->md_dsense = (p[2] & 0x04) != 0;
		if (ln != NULL)
			scsi_lunex_swp(ln, p[4] & 0x08);
		break;
	}
}

static int
msel_header(struct scsi_task *t, const struct scsi_lu *lu, uint32_t plen,
    size_t *off)
{
	const uint8_t *p = t->t_dout;
	size_t	 hdr = t->t_cdb[0] == 0x55 ? 8 : 4, bd;

	if (t->t_doutlen < plen || plen < hdr) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return -1;
	}
	bd = hdr == 8 ? be16dec(p + 6) : p[3];
	if (bd != 0 && bd != 8 && !(hdr == 8 && bd == 16 && (p[4] & 1))) {
		scsi_sense_param(t, (unsigned)hdr - 1, -1);
		return -1;
	}
	if (hdr + bd > plen) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return -1;
	}
	if (bd != 0 && msel_blockdesc(t, lu, p + hdr, bd) != 0)
		return -1;
	*off = hdr + bd;
	return 0;
}

void
spc_mode_select(struct scsi_task *t, struct scsi_lu *lu)
{
	uint32_t plen = spc_xfer_mode_select(t->t_cdb, lu);
	size_t	 off, start;
	int	 len;

	if (t->t_cdb[1] & 0x01) {		/* SP: cannot save */
		scsi_sense_cdb(t, 1, 0);
		return;
	}
	if (plen == 0)
		return;
	if (msel_header(t, lu, plen, &start) != 0)
		return;
	for (off = start; off < plen; off += (size_t)len) {
		if ((len = msel_page(t, t->t_dout, off, plen)) < 0)
			return;
	}
	for (off = start; off < plen; off += t->t_dout[off + 1] + 2)
		msel_apply(t, t->t_dout + off);
}

/* ---------------------------------------------------------------- */
/* PREVENT ALLOW MEDIUM REMOVAL, START STOP UNIT: fixed medium */

void
spc_prevent_allow(struct scsi_task *t, struct scsi_lu *lu)
{
	(void)lu;
	if ((t->t_cdb[4] & 0x03) > 1)
		scsi_sense_cdb(t, 4, 1);
}

void
spc_start_stop(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 pc = t->t_cdb[4] >> 4;

	(void)lu;
	if (t->t_cdb[4] & 0x02) {		/* LOEJ: nothing to eject */
		scsi_sense_cdb(t, 4, 1);
		return;
	}
	switch (pc) {
	case 0x0: case 0x1: case 0x2: case 0x3:
	case 0x7: case 0xa: case 0xb:
		break;
	default:
		scsi_sense_cdb(t, 4, 7);
	}
}

/* ---------------------------------------------------------------- */
/* REPORT SUPPORTED OPERATION CODES, from the opcode table */

#define RSOC_NOMINAL	1		/* seconds */
#define RSOC_RECOMMEND	60

static size_t
rsoc_timeouts(uint8_t *p)
{
	memset(p, 0, 12);
	be16enc(p, 0x0a);
	be32enc(p + 4, RSOC_NOMINAL);
	be32enc(p + 8, RSOC_RECOMMEND);
	return 12;
}

static size_t
rsoc_desc(uint8_t *p, uint8_t op, const struct scsi_cmd *c, int sa,
    int rctd)
{
	memset(p, 0, 8);
	p[0] = op;
	if (sa)
		be16enc(p + 2, c->c_saval);
	p[5] = (uint8_t)((rctd ? 0x02 : 0) | (sa ? 0x01 : 0));
	be16enc(p + 6, c->c_cdblen);
	return 8 + (rctd ? rsoc_timeouts(p + 8) : 0);
}

/*
 * PERSISTENT RESERVE IN/OUT exist only where reservations are on, WRITE
 * ATOMIC and SANITIZE only where the store can do them.
 */
static int
rsoc_hidden(const struct scsi_cmd *c, const struct scsi_lu *lu)
{
	uint32_t unit, max = 0;

	if (c->c_flags & SCSI_CMD_PR)
		return lu == NULL || !pr_enabled(lu);
	if (c->c_flags & SCSI_CMD_ATOMIC) {
		if (lu != NULL)
			sbc_atomic_limits(lu, &unit, &max);
		return max == 0;
	}
	if (c->c_flags & SCSI_CMD_SANITIZE)
		return lu == NULL || !sbc_sanitize_offered(lu);
	return 0;
}

static size_t
rsoc_all(uint8_t *b, int rctd, const struct scsi_lu *lu)
{
	const struct scsi_cmd *tab = scsi_cmd_table(), *c;
	size_t	 n = 4;
	int	 op, i;

	for (op = 0; op < 256; op++) {
		c = &tab[op];
		if (rsoc_hidden(c, lu))
			continue;
		for (i = 0; c->c_sa != NULL && i < c->c_nsa; i++)
			n += rsoc_desc(b + n, (uint8_t)op, &c->c_sa[i], 1,
			    rctd);
		if (c->c_sa == NULL && c->c_handler != NULL)
			n += rsoc_desc(b + n, (uint8_t)op, c, 0, rctd);
	}
	be32enc(b, (uint32_t)(n - 4));
	return n;
}

static const struct scsi_cmd *
rsoc_sa(const struct scsi_cmd *c, uint16_t sa)
{
	int	 i;

	for (i = 0; i < c->c_nsa; i++) {
		if (c->c_sa[i].c_saval == sa)
			return &c->c_sa[i];
	}
	return NULL;
}

/* One command: -1 after sense for a bad reporting option. */
static int
rsoc_one(struct scsi_task *t, uint8_t *b, size_t *len, int rctd,
    const struct scsi_lu *lu)
{
	const struct scsi_cmd *c = &scsi_cmd_table()[t->t_cdb[3]], *f;
	int	 opt = t->t_cdb[2] & 0x07;

	if ((opt == 1 && c->c_sa != NULL) || (opt == 2 && c->c_sa == NULL)) {
		scsi_sense_cdb(t, 3, -1);
		return -1;
	}
	if (rsoc_hidden(c, lu))
		f = NULL;
	else if (c->c_sa != NULL)
		f = rsoc_sa(c, be16dec(t->t_cdb + 4));
	else
		f = c->c_handler != NULL ? c : NULL;
	memset(b, 0, 4);
	b[1] = (uint8_t)((rctd ? 0x80 : 0) | (f != NULL ? 0x03 : 0x01));
	*len = 4;
	if (f == NULL)
		return 0;
	be16enc(b + 2, f->c_cdblen);
	memcpy(b + 4, f->c_usage, f->c_cdblen);
	*len += f->c_cdblen;
	if (rctd)
		*len += rsoc_timeouts(b + *len);
	return 0;
}

void
spc_report_opcodes(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[4096];
	size_t	 n;
	int	 rctd = (t->t_cdb[2] & 0x80) != 0;

	switch (t->t_cdb[2] & 0x07) {
	case 0:
		n = rsoc_all(b, rctd, lu);
		break;
	case 1: case 2: case 3:
		if (rsoc_one(t, b, &n, rctd, lu) != 0)
			return;
		break;
	default:
		scsi_sense_cdb(t, 2, 2);
		return;
	}
	scsi_din(t, b, (uint32_t)n, be32dec(t->t_cdb + 6));
}

/*
 * The task management functions a logical unit has, and the bit of
 * REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-4 6.41) that says so.
 */
static const struct scsi_tmf_desc tmfs[SCSI_TMF_COUNT] = {
	[SCSI_TMF_ABORT_TASK] =		{ "abort-task", 0, 7 },	/* ATS */
	[SCSI_TMF_ABORT_TASK_SET] =	{ "abort-task-set", 0, 6 }, /* ATSS */
	[SCSI_TMF_CLEAR_ACA] =		{ "clear-aca", 0, 5 },	/* CACAS */
	[SCSI_TMF_CLEAR_TASK_SET] =	{ "clear-task-set", 0, 4 }, /* CTSS */
	[SCSI_TMF_LUN_RESET] =		{ "lun-reset", 0, 3 },	/* LURS */
	[SCSI_TMF_TARGET_RESET] =	{ "target-reset", 0, 1 }, /* TRS */
};

const struct scsi_tmf_desc *
spc_tmf(enum scsi_tmf id)
{
	return (unsigned)id < SCSI_TMF_COUNT ? &tmfs[id] : NULL;
}

/* REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS: every one of tmfs[]. */
void
spc_report_tmf(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[16];
	size_t	 i;

	(void)lu;
	memset(b, 0, sizeof(b));
	for (i = 0; i < nitems(tmfs); i++)
		b[tmfs[i].tm_byte] |= (uint8_t)(1 << tmfs[i].tm_bit);
	if (t->t_cdb[2] & 0x80) {		/* REPD: extended format */
		b[3] = 0x0c;
		scsi_din(t, b, 16, be32dec(t->t_cdb + 6));
	} else
		scsi_din(t, b, 4, be32dec(t->t_cdb + 6));
}

/* ---------------------------------------------------------------- */
/* EXTENDED COPY (LID1): block to block, LUs of the same nexus only */

#define XC_MAX_TGT	8
#define XC_MAX_SEG	16
#define XC_MAX_LIST	SCSI_XCOPY_MAX_LIST
#define XC_TGT_LEN	32
#define XC_SEG_LEN	28

struct xc_seg {
	struct scsi_lu	*xs_src, *xs_dst;
	struct scsi_lunex *xs_sln, *xs_dln;	/* this nexus on each */
	uint64_t	 xs_slba, xs_dlba;
	uint32_t	 xs_n;
};

uint32_t
spc_xfer_xcopy(const uint8_t *cdb, const struct scsi_lu *lu)
{
	(void)lu;
	return be32dec(cdb + 10);
}

/* Parameter list header; counts target and segment descriptors. */
static int
xc_header(struct scsi_task *t, uint32_t plen, int *ntgt, int *nseg)
{
	const uint8_t *p = t->t_dout;
	uint64_t tdl, sdl, idl, off;
	int	 n = 0;

	if (plen < 16 || t->t_doutlen < plen)
		goto lenerr;
	tdl = be16dec(p + 2);
	sdl = be32dec(p + 8);
	idl = be32dec(p + 12);
	if (((p[1] >> 3) & 3) == 1) {
		scsi_sense_param(t, 1, 4);
		return -1;
	}
	if (tdl + sdl > XC_MAX_LIST || 16 + tdl + sdl + idl > plen)
		goto lenerr;
	if (tdl % XC_TGT_LEN != 0) {
		scsi_sense_param(t, 2, -1);
		return -1;
	}
	if ((*ntgt = (int)(tdl / XC_TGT_LEN)) > XC_MAX_TGT) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_TOO_MANY_TARGET_DESCS);
		return -1;
	}
	for (off = 16 + tdl; off + 4 <= 16 + tdl + sdl; n++)
		off += 4 + be16dec(p + off + 2);
	if ((*nseg = n) > XC_MAX_SEG) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_TOO_MANY_SEGMENT_DESCS);
		return -1;
	}
	if (off != 16 + tdl + sdl) {
		scsi_sense_param(t, 8, -1);
		return -1;
	}
	return 0;
lenerr:
	scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
	return -1;
}

/*
 * An identification descriptor names a copy target by its NAA
 * designator; only the logical units of this very nexus qualify: the
 * nexus's attachment to it, or NULL.
 */
static struct scsi_lunex *
xc_find_lu(struct scsi_nexus *nx, const uint8_t *d)
{
	uint8_t	 naa[8];
	int	 i;

	if ((d[4] & 0x0f) != 1 || (d[5] & 0x0f) != 3 || d[7] != 8)
		return NULL;
	for (i = 0; nx != NULL && i < nx->n_nlun; i++) {
		if (nx->n_lu[i] == NULL)
			continue;
		spc_lu_naa(nx->n_lu[i], naa);
		if (memcmp(naa, d + 8, 8) == 0)
			return &nx->n_lunex[i];
	}
	return NULL;
}

static int
xc_targets(struct scsi_task *t, int ntgt, struct scsi_lunex **tgt)
{
	const uint8_t *d;
	unsigned off;
	int	 i;

	for (i = 0; i < ntgt; i++) {
		off = 16 + (unsigned)i * XC_TGT_LEN;
		d = t->t_dout + off;
		if (d[0] != 0xe4) {
			scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_UNSUPPORTED_TARGET_DESC);
			return -1;
		}
		if ((d[1] & 0x1f) != 0) {	/* not a block device */
			scsi_sense_param(t, off + 1, 4);
			return -1;
		}
		if ((tgt[i] = xc_find_lu(t->t_nexus, d)) == NULL) {
			scsi_sense(t, SK_COPY_ABORTED, ASC_COPY_TARGET_UNREACHABLE);
			return -1;
		}
		if (be24dec(d + 29) != tgt[i]->ln_lu->lu_blksz) {
			scsi_sense_param(t, off + 29, -1);
			return -1;
		}
	}
	return 0;
}

static int
xc_range(const struct scsi_lu *lu, uint64_t lba, uint32_t n)
{
	return lba > lu->lu_blocks || n > lu->lu_blocks - lba;
}

static int
xc_segment_check(struct scsi_task *t, unsigned off, const struct xc_seg *s)
{
	if (s->xs_src->lu_blksz != s->xs_dst->lu_blksz) {
		scsi_sense_param(t, off + 4, -1);
		return -1;
	}
	if (xc_range(s->xs_src, s->xs_slba, s->xs_n) ||
	    xc_range(s->xs_dst, s->xs_dlba, s->xs_n)) {
		scsi_sense(t, SK_COPY_ABORTED, ASC_NO_ADDITIONAL_SENSE);
		return -1;
	}
	if (s->xs_n != 0 && scsi_lunex_wp(s->xs_dln)) {
		scsi_sense(t, SK_COPY_ABORTED, ASC_WRITE_PROTECTED);
		return -1;
	}
	return 0;
}

static int
xc_segment(struct scsi_task *t, unsigned off, int ntgt,
    struct scsi_lunex **tgt, struct xc_seg *s)
{
	const uint8_t *d = t->t_dout + off;
	uint16_t si, di;

	if (d[0] != 0x02) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_UNSUPPORTED_SEGMENT_DESC);
		return -1;
	}
	if (be16dec(d + 2) != XC_SEG_LEN - 4) {
		scsi_sense_param(t, off + 2, -1);
		return -1;
	}
	si = be16dec(d + 4);
	di = be16dec(d + 6);
	if (si >= ntgt || di >= ntgt) {		/* no such copy target */
		scsi_sense(t, SK_COPY_ABORTED, ASC_COPY_TARGET_UNREACHABLE);
		return -1;
	}
	s->xs_sln = tgt[si];
	s->xs_dln = tgt[di];
	s->xs_src = tgt[si]->ln_lu;
	s->xs_dst = tgt[di]->ln_lu;
	s->xs_n = be16dec(d + 10);
	s->xs_slba = be64dec(d + 12);
	s->xs_dlba = be64dec(d + 20);
	return xc_segment_check(t, off, s);
}

/* Copy one chunk; backwards when the ranges overlap upwards. */
static int
xc_chunk(const struct xc_seg *s, uint8_t *buf, uint32_t done, uint32_t k,
    int back, int *wr)
{
	uint64_t bs = s->xs_src->lu_blksz, i;
	int	 rc;

	i = back ? s->xs_n - done - k : done;
	*wr = 0;
	rc = s->xs_src->lu_ops->so_read(s->xs_src->lu_store, buf, k * bs,
	    (s->xs_slba + i) * bs);
	if (rc != 0)
		return rc;
	*wr = 1;
	return s->xs_dst->lu_ops->so_write(s->xs_dst->lu_store, buf, k * bs,
	    (s->xs_dlba + i) * bs);
}

/* A copy in steps (scsi.h): its segments and how far it got. */
struct xc_step {
	struct scsi_step	 xp_sp;
	struct xc_seg		 xp_segs[XC_MAX_SEG];
	int			 xp_nseg;
	int			 xp_seg;	/* the segment being copied */
	uint32_t		 xp_done;	/* of its blocks, copied */
	uint64_t		 xp_bytes;	/* in all */
	uint8_t			 xp_listid;
	int			 xp_record;	/* for RECEIVE COPY RESULTS */
};

/* One chunk of the current segment: 0 or the store's error. */
static int
xc_run(struct xc_step *xp, int *wr)
{
	const struct xc_seg *s = &xp->xp_segs[xp->xp_seg];
	uint32_t per = SCSI_STEP_BYTES / s->xs_src->lu_blksz, k;
	uint8_t	*buf;
	int	 back, rc;

	k = MIN(per > 0 ? per : 1, s->xs_n - xp->xp_done);
	if ((buf = malloc((size_t)k * s->xs_src->lu_blksz)) == NULL)
		return -ENOMEM;
	back = s->xs_src == s->xs_dst && s->xs_dlba > s->xs_slba &&
	    s->xs_dlba < s->xs_slba + s->xs_n;
	rc = xc_chunk(s, buf, xp->xp_done, k, back, wr);
	free(buf);
	if (rc != 0)
		return rc;
	xp->xp_done += k;
	xp->xp_bytes += (uint64_t)k * s->xs_src->lu_blksz;
	return 0;
}

static void
xc_error(struct scsi_task *t, int rc, int wr)
{
	if (!wr)
		scsi_sense(t, SK_COPY_ABORTED, ASC_READ_ERROR);
	else if (rc == -ENOSPC || rc == -EDQUOT)
		scsi_sense(t, SK_COPY_ABORTED, ASC_SPACE_ALLOC_FAILED);
	else
		scsi_sense(t, SK_COPY_ABORTED, ASC_WRITE_ERROR);
}

static void
xc_record(struct scsi_nexus *nx, uint8_t listid, uint16_t segs,
    uint64_t bytes, int failed)
{
	struct scsi_copyres *cr = NULL;
	int	 i;

	for (i = 0; i < SCSI_COPYRES_MAX; i++) {
		if (nx->n_copyres[i].cr_valid &&
		    nx->n_copyres[i].cr_listid == listid)
			cr = &nx->n_copyres[i];
	}
	if (cr == NULL) {
		cr = &nx->n_copyres[nx->n_copynext];
		nx->n_copynext = (nx->n_copynext + 1) % SCSI_COPYRES_MAX;
	}
	cr->cr_valid = 1;
	cr->cr_listid = listid;
	cr->cr_status = failed ? 0x01 : 0x00;
	cr->cr_segs = segs;
	cr->cr_bytes = bytes;
}

static int
xc_parse(struct scsi_task *t, struct xc_seg *segs, int *nseg)
{
	struct scsi_lunex *tgt[XC_MAX_TGT];
	unsigned off;
	int	 ntgt, i;

	if (xc_header(t, be32dec(t->t_cdb + 10), &ntgt, nseg) != 0)
		return -1;
	if (xc_targets(t, ntgt, tgt) != 0)
		return -1;
	off = 16 + (unsigned)ntgt * XC_TGT_LEN;
	for (i = 0; i < *nseg; i++) {
		if (xc_segment(t, off, ntgt, tgt, &segs[i]) != 0)
			return -1;
		off += 4 + be16dec(t->t_dout + off + 2);
	}
	return 0;
}

/*
 * What the copy reads and writes, checked for this nexus on each LU as
 * a READ(16) of the source and a WRITE(16) of the destination would be:
 * reservations (RESERVATION CONFLICT, as for them), then protection.
 */
static int
xc_access(struct scsi_task *t, const struct xc_seg *segs, int nseg)
{
	const struct scsi_cmd *rd = &scsi_cmd_table()[0x88];
	const struct scsi_cmd *wr = &scsi_cmd_table()[0x8a];
	int	 i;

	for (i = 0; i < nseg; i++) {
		if (segs[i].xs_n == 0)
			continue;
		pr_sync(segs[i].xs_sln);
		pr_sync(segs[i].xs_dln);
		if (pr_check(t, rd, segs[i].xs_sln) != 0 ||
		    pr_check(t, wr, segs[i].xs_dln) != 0)
			return -1;
	}
	return 0;
}

/* One chunk of the copy, or the end of it: its result recorded. */
static int
xc_step(struct scsi_task *t, struct scsi_step *sp)
{
	struct xc_step *xp = (struct xc_step *)sp;
	int	 rc = 0, wr = 0;

	while (xp->xp_seg < xp->xp_nseg &&
	    xp->xp_done == xp->xp_segs[xp->xp_seg].xs_n) {
		xp->xp_seg++;
		xp->xp_done = 0;
	}
	if (xp->xp_seg < xp->xp_nseg && (rc = xc_run(xp, &wr)) == 0)
		return 1;
	if (xp->xp_record)
		xc_record(t->t_nexus, xp->xp_listid, (uint16_t)(rc == 0 ?
		    xp->xp_nseg : xp->xp_seg), xp->xp_bytes, rc != 0);
	if (rc == -ENOMEM)
		scsi_sense(t, SK_COPY_ABORTED, ASC_SYSTEM_RESOURCE_FAILURE);
	else if (rc != 0)
		xc_error(t, rc, wr);
	return 0;
}

void
spc_xcopy(struct scsi_task *t, struct scsi_lu *lu)
{
	struct xc_step *xp;

	if (be32dec(t->t_cdb + 10) == 0)
		return;
	if ((xp = calloc(1, sizeof(*xp))) == NULL) {
		scsi_sense(t, SK_COPY_ABORTED, ASC_SYSTEM_RESOURCE_FAILURE);
		return;
	}
	if (xc_parse(t, xp->xp_segs, &xp->xp_nseg) != 0 ||
	    xc_access(t, xp->xp_segs, xp->xp_nseg) != 0) {
		free(xp);
		return;
	}
	xp->xp_listid = t->t_dout[0];
	xp->xp_record = ((t->t_dout[1] >> 3) & 3) != 3;
	scsi_step_start(t, &xp->xp_sp, lu, xc_step);
}

/* ---------------------------------------------------------------- */
/* RECEIVE COPY RESULTS */

static void
rcr_status(struct scsi_task *t, uint32_t alloc)
{
	const struct scsi_copyres *cr = NULL;
	uint8_t	 b[12];
	int	 i;

	for (i = 0; i < SCSI_COPYRES_MAX; i++) {
		if (t->t_nexus->n_copyres[i].cr_valid &&
		    t->t_nexus->n_copyres[i].cr_listid == t->t_cdb[2])
			cr = &t->t_nexus->n_copyres[i];
	}
	if (cr == NULL) {
		scsi_sense_cdb(t, 2, -1);
		return;
	}
	memset(b, 0, sizeof(b));
	be32enc(b, 8);
	b[4] = cr->cr_status;
	be16enc(b + 5, cr->cr_segs);
	if (cr->cr_bytes > UINT32_MAX) {
		b[7] = 0xf1;			/* kibibytes */
		be32enc(b + 8, (uint32_t)MIN(cr->cr_bytes >> 10, UINT32_MAX));
	} else
		be32enc(b + 8, (uint32_t)cr->cr_bytes);
	scsi_din(t, b, sizeof(b), alloc);
}

static void
rcr_params(struct scsi_task *t, const struct scsi_lu *lu, uint32_t alloc)
{
	uint8_t	 b[46];

	memset(b, 0, sizeof(b));
	be32enc(b, sizeof(b) - 4);
	b[4] = 0x01;				/* SNLID */
	be16enc(b + 8, XC_MAX_TGT);
	be16enc(b + 10, XC_MAX_SEG);
	be32enc(b + 12, XC_MAX_LIST);
	be32enc(b + 16, 0xffffu * lu->lu_blksz);	/* max segment */
	be16enc(b + 34, 1);			/* total concurrent copies */
	b[36] = 1;				/* max concurrent copies */
	b[37] = 9;				/* data segment granularity */
	b[43] = 2;
	b[44] = 0x02;				/* block -> block segment */
	b[45] = 0xe4;				/* identification target */
	scsi_din(t, b, sizeof(b), alloc);
}

void
spc_copy_results(struct scsi_task *t, struct scsi_lu *lu)
{
	uint32_t alloc = be32dec(t->t_cdb + 10);

	if ((t->t_cdb[1] & 0x1f) == 0x00)
		rcr_status(t, alloc);
	else
		rcr_params(t, lu, alloc);
}
