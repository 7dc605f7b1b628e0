/*
 * isctest scenarios on restarts: a session that must outlive the workers
 * serving it (the daemon replaced under it, tests/integration/
 * restart.sh sends the signal meanwhile), and an anonymous session whose
 * worker died: its disk back with a reset's unit attention, or, once
 * lost, a medium change's, never silently another disk.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

#define LIVE_BLOCKS	8		/* each write: 4 KiB of 512-byte blocks */
#define LIVE_SLOTS	256		/* written round a 1 MiB region */
#define LIVE_MAX_CMDS	(1 << 20)
#define LOST_BLOCKS	16
#define LOST_BYTE	0x5c

/* The ISID of drop-write, adopt-check and lost-check: one nexus. */
static const uint8_t	restart_isid[6] = { 0x80, 0x5c, 0x5c, 0x00, 0x00, 0x13 };

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Write i's pattern into buf: its number, then a byte of it. */
static void
live_pattern(uint8_t *buf, size_t len, uint32_t i)
{
	memset(buf, (int)((i * 7 + 1) & 0xff), len);
	be32enc(buf, i);
}

static uint32_t
live_cmd(struct conn *c, struct scsi_io *io, const char *what)
{
	struct scsi_res	 res;
	int64_t		 t0 = now_ms();

	if (scsi_status(c, io, &res) != ST_GOOD)
		fail("%s -> %s (sense %04x)", what, res_str(&res),
		    sense_asc(&res));
	return (uint32_t)(now_ms() - t0);
}

static void
live_report(uint32_t *lat, uint32_t n)
{
	uint32_t	 slow = 0, i;

	qsort(lat, n, sizeof(*lat), cmp_u32);
	for (i = 0; i < n; i++)
		slow += lat[i] >= 100;
	step("latency over %u commands: p50 %u ms, p99 %u ms, p99.9 %u ms, "
	    "max %u ms, %u at 100 ms or more", n, lat[n / 2],
	    lat[(uint64_t)n * 99 / 100], lat[(uint64_t)n * 999 / 1000],
	    lat[n - 1], slow);
}

/*
 * One login, then writes and reads for -w seconds, one at a time, each
 * timed: every one must be GOOD (no unit attention), no Async Message
 * may come, the connection must never drop; then every byte written
 * reads back.  A restart meanwhile must be invisible: this initiator
 * logs in exactly once.
 */
void
sc_live(void)
{
	struct login_opts	 lo = login_defaults();
	struct conn		 c;
	struct scsi_io		 io;
	uint8_t			*shadow, *buf;
	uint32_t		*lat, n = 0, i, len;
	int64_t			 end;

	len = LIVE_BLOCKS * 512;
	shadow = xmalloc((size_t)LIVE_SLOTS * len);
	buf = xmalloc((size_t)LIVE_SLOTS * len);
	lat = xmalloc(sizeof(*lat) * LIVE_MAX_CMDS);
	login_ok(&c, &lo);
	do_readcap(&c);
	if (c.c_blksz != 512 || c.c_blocks < LIVE_SLOTS * LIVE_BLOCKS)
		fail("want 512-byte blocks and at least %d of them",
		    LIVE_SLOTS * LIVE_BLOCKS);
	do_read(&c, 0, LIVE_SLOTS * LIVE_BLOCKS, shadow);
	end = now_ms() + opt.o_wait * 1000;
	for (i = 0; now_ms() < end && n + 2 < LIVE_MAX_CMDS; i++) {
		uint8_t *p = shadow + (size_t)(i % LIVE_SLOTS) * len;

		live_pattern(p, len, i);
		io_rw10(&io, SCSI_WRITE10, (i % LIVE_SLOTS) * LIVE_BLOCKS,
		    LIVE_BLOCKS, 512);
		io.io_out = p;
		io.io_outlen = len;
		lat[n++] = live_cmd(&c, &io, "WRITE(10)");
		io_rw10(&io, SCSI_READ10, (i % LIVE_SLOTS) * LIVE_BLOCKS,
		    LIVE_BLOCKS, 512);
		io.io_in = buf;
		io.io_inlen = len;
		lat[n++] = live_cmd(&c, &io, "READ(10)");
		if (memcmp(buf, p, len) != 0)
			fail("write %u did not read back", i);
		if (c.c_asyncs > 0)
			fail("the target sent an Async Message after %u "
			    "writes", i);
	}
	step("%u writes and reads on one session", i);
	do_read(&c, 0, LIVE_SLOTS * LIVE_BLOCKS, buf);
	if (memcmp(buf, shadow, (size_t)LIVE_SLOTS * len) != 0)
		fail("the region does not read back as written");
	live_report(lat, n);
	logout(&c);
	step("one login, every byte back");
	free(shadow);
	free(buf);
	free(lat);
}

/* Log in as restart_isid (the same nexus every time). */
static void
restart_login(struct conn *c)
{
	struct login_opts	 lo = login_defaults();

	lo.lo_isid = restart_isid;
	login_ok(c, &lo);
}

/* The first command's unit attention: its ASC/ASCQ, or -1 for none. */
static int
first_ua(struct conn *c)
{
	struct scsi_io	 io = { .io_cdb = { SCSI_TUR } };
	struct scsi_res	 res;

	if (scsi_status(c, &io, &res) == ST_GOOD)
		return -1;
	if (res.sr_status != ST_CHECK || sense_key(&res) != SENSE_UA)
		fail("TEST UNIT READY -> %s", res_str(&res));
	return sense_asc(&res);
}

/*
 * Write LOST_BYTE over the first blocks, then drop the connection with
 * no logout, as a worker's death or a cable would.
 */
void
sc_drop_write(void)
{
	struct conn	 c;
	uint8_t		 buf[LOST_BLOCKS * 512];

	restart_login(&c);
	(void)first_ua(&c);
	memset(buf, LOST_BYTE, sizeof(buf));
	do_write(&c, 0, LOST_BLOCKS, buf);
	conn_close(&c);
	step("connection dropped without a logout");
}

static int
lost_written(struct conn *c)
{
	uint8_t		 buf[LOST_BLOCKS * 512];
	size_t		 i;

	do_read(c, 0, LOST_BLOCKS, buf);
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != LOST_BYTE)
			return 0;
	return 1;
}

/*
 * The same nexus again after its worker died: the disk it wrote, told
 * of the reset first (POWER ON, RESET OR BUS DEVICE RESET, 29h/00h).
 */
void
sc_adopt_check(void)
{
	struct conn	 c;
	int		 asc;

	restart_login(&c);
	if ((asc = first_ua(&c)) != 0x2900)
		fail("first command: %s %04x, want UNIT ATTENTION 2900",
		    asc == -1 ? "GOOD, no unit attention" : "ASC/ASCQ", asc);
	step("UNIT ATTENTION 29h/00h first");
	if (!lost_written(&c))
		fail("the data written before the worker died is gone");
	step("the data written before is there");
	logout(&c);
}

/*
 * The same nexus once its overlay was given up: a pristine disk, but
 * said (MEDIUM MAY HAVE CHANGED, 28h/00h), never silently.
 */
void
sc_lost_check(void)
{
	struct conn	 c;
	int		 asc;

	restart_login(&c);
	if ((asc = first_ua(&c)) != 0x2800)
		fail("first command: %s %04x, want UNIT ATTENTION 2800",
		    asc == -1 ? "GOOD, no unit attention" : "ASC/ASCQ", asc);
	step("UNIT ATTENTION 28h/00h first");
	if (lost_written(&c))
		fail("the overlay should be gone");
	step("a fresh disk, as said");
	logout(&c);
}

/* ---- :multi across a reload that changes the catalog ---- */

#define MULTI_MAX	16		/* LUNs looked at */

/* The ISID of multi-reload: one nexus, before and after the drop. */
static const uint8_t	multi_isid[6] = { 0x80, 0x3f, 0x0e, 0x00, 0x00, 0x21 };

/* The image behind LUN lun: INQUIRY's product identification. */
static void
multi_name(struct conn *c, int lun, char *name)
{
	struct scsi_io	 io;
	struct scsi_res	 res;
	uint8_t		 buf[96];
	size_t		 n;

	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x12;
	be16enc(io.io_cdb + 3, sizeof(buf));
	io.io_in = buf;
	io.io_inlen = io.io_edtl = sizeof(buf);
	opt.o_lun = lun;
	scsi_good(c, &io, &res, "INQUIRY");
	memcpy(name, buf + 16, 16);
	for (n = 16; n > 0 && name[n - 1] == ' '; n--)
		;
	name[n] = '\0';
}

/* REPORT LUNS: how many, each below MULTI_MAX (they are 0..n-1). */
static int
multi_luns(struct conn *c)
{
	struct scsi_io	 io;
	struct scsi_res	 res;
	uint8_t		 buf[8 + 8 * MULTI_MAX];
	uint32_t	 n, i;

	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0xa0;
	be32enc(io.io_cdb + 6, sizeof(buf));
	io.io_in = buf;
	io.io_inlen = io.io_edtl = sizeof(buf);
	opt.o_lun = 0;
	scsi_good(c, &io, &res, "REPORT LUNS");
	n = be32dec(buf) / 8;
	if (n == 0 || n > MULTI_MAX)
		fail("REPORT LUNS: %u LUNs", n);
	for (i = 0; i < n; i++)
		if (buf[8 + 8 * i + 1] != i)
			fail("REPORT LUNS: LUN %u where %u was", buf[9 + 8 * i],
			    i);
	return (int)n;
}

/* The mark of image name: a block of its name, over and over. */
static void
multi_mark(const char *name, uint8_t *blk)
{
	size_t	 i, n = strlen(name) + 1;

	for (i = 0; i < 512; i++)
		blk[i] = i % n == n - 1 ? '/' : (uint8_t)name[i % n];
}

/* Does LUN lun's first block hold the mark of name? */
static int
multi_marked(struct conn *c, int lun, const char *name)
{
	uint8_t	 want[512], got[512];

	multi_mark(name, want);
	opt.o_lun = lun;
	do_read(c, 0, 1, got);
	return memcmp(want, got, sizeof(got)) == 0;
}

/* Every LUN's first unit attention: asc (any if -1), or none. */
static void
multi_ua(struct conn *c, int n, int asc)
{
	int	 i, got;

	for (i = 0; i < n; i++) {
		opt.o_lun = i;
		got = first_ua(c);
		if (asc == -1 ? got == -1 : got != asc)
			fail("LUN %d, first command: %s %04x, want UNIT "
			    "ATTENTION %04x", i, got == -1 ? "GOOD, no unit "
			    "attention" : "ASC/ASCQ", got, asc);
	}
}

static void
multi_login(struct conn *c)
{
	struct login_opts	 lo = login_defaults();

	lo.lo_isid = multi_isid;
	login_ok(c, &lo);
}

/*
 * A :multi session marks each LUN with its image's name and waits -w
 * seconds (tests/integration/restart.sh adds an image that sorts first
 * and reloads meanwhile): on the same connection each LUN is still its
 * image with its mark, told REPORTED LUNS DATA HAS CHANGED (3Fh/0Eh),
 * the new image after them.  Dropped and back (a new login of the same
 * nexus): the LUNs in the catalog's order, each image with its mark.
 */
void
sc_multi_reload(void)
{
	char		 names[MULTI_MAX][17], name[17];
	uint8_t		 blk[512];
	struct conn	 c;
	struct pdu	 p;
	int		 n, m, i, j;

	multi_login(&c);
	c.c_nopin_answer = 1;
	n = multi_luns(&c);
	for (i = 0; i < n; i++) {
		multi_name(&c, i, names[i]);
		multi_mark(names[i], blk);
		opt.o_lun = i;
		do_write(&c, 0, 1, blk);
	}
	step("marked %d LUNs", n);
	if (pdu_wait(&c, &p, now_ms() + opt.o_wait * 1000) != RX_TIMEOUT)
		fail("the session did not stay quiet through the reload");
	multi_ua(&c, n, 0x3f0e);
	step("UNIT ATTENTION 3Fh/0Eh on each of the %d LUNs", n);
	for (i = 0; i < n; i++) {
		multi_name(&c, i, name);
		if (strcmp(name, names[i]) != 0)
			fail("LUN %d was %s, is %s now", i, names[i], name);
		if (!multi_marked(&c, i, name))
			fail("LUN %d (%s) lost its mark", i, name);
	}
	if ((m = multi_luns(&c)) != n + 1)
		fail("REPORT LUNS: %d LUNs, want %d", m, n + 1);
	multi_name(&c, n, name);
	step("each LUN its image and its mark; %s new as LUN %d", name, n);
	conn_close(&c);
	multi_login(&c);
	multi_ua(&c, n + 1, -1);
	for (i = 0; i < n + 1; i++) {
		multi_name(&c, i, name);
		for (j = 0; j < n && strcmp(names[j], name) != 0; j++)
			;
		if (j < n && !multi_marked(&c, i, name))
			fail("back: LUN %d (%s) lost its mark", i, name);
	}
	step("back with a new login: every image its mark, in catalog order");
	logout(&c);
}
