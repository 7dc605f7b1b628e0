/*
 * Tests for worker/iscsi/handoff.c: connections handed live from one
 * in-process worker to another (tests/worker/tworker.h), the test the
 * master between them.  A write waiting for its Data-Out, stopped with
 * a PDU partly read, goes on on the new worker with every byte, its
 * sequence numbers without a gap and no unit attention; the old worker
 * neither ends the session nor reports a close.  A record cut short, of
 * another major version, or with a task whose R2T lies past its buffer
 * closes the connection and the master is told.  TLS connections stay;
 * one still logging in goes once its login ends.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bytes.h"
#include "fdpass.h"
#include "initiator.h"
#include "proc.h"
#include "shmq.h"
#include "suites.h"
#include "taskrec.h"

#define PUBLIC		TI_PREFIX ":alpha"
#define SOLICIT		"ImmediateData=No;InitialR2T=Yes"
#define DIGESTS		";HeaderDigest=CRC32C;DataDigest=CRC32C"
#define CONF		"max-pending-data 1M\n"
#define MID		5		/* the master's id of ti */
#define LBA		16		/* where the write goes */
#define LBA_DONE	128		/* where one went before */
#define WPDU		4096		/* a Data-Out's data */
#define WLEN		(4 * WPDU)	/* the write */
#define WPDU_MAX	(ISCSI_BHS_LEN + 4 + WPDU + 4)

/* The record's format, as worker/iscsi/handoff.c names it. */
#define HO_MAGIC	"SPUBCONN"
#define HO_MAJOR	1
#define HO_TASK		6

#define NAMES		"InitiatorName=" TI_INITIATOR "\0" \
			"SessionType=Normal\0TargetName=" PUBLIC

/* What a worker asked the coordinator. */
struct asked {
	uint32_t	 a_start;	/* SESSION_START */
	uint32_t	 a_end;		/* SESSION_END */
};

/* A connection as the master got it from the old worker. */
struct handed {
	uint32_t	 h_id;
	int		 h_sock;
	int		 h_memfd;	/* its record */
	int		 h_held;	/* its anonymous overlay's lock, or -1 */
};

/* Where the old worker stops: bytes of the second Data-Out it read. */
struct split {
	size_t		 sp_at;
	int		 sp_digests;
};

/* The write in flight. */
struct wstate {
	uint32_t	 w_itt;
	uint32_t	 w_ttt;
	uint32_t	 w_statsn;	/* the next StatSN */
	uint8_t		 w_pdu[WPDU_MAX];	/* the second Data-Out */
	size_t		 w_len;
	size_t		 w_sent;
};

static struct tworker	 twa, twb;	/* the old worker, the new one */
static struct asked	 aska, askb;
static struct tini	 ti;
static uint8_t		 data[WLEN];

static const struct split splits[] = {
	{ 0, 0 },			/* at a PDU boundary */
	{ 20, 0 },			/* in the BHS */
	{ ISCSI_BHS_LEN, 0 },		/* the BHS, none of the data */
	{ ISCSI_BHS_LEN + 1000, 0 },	/* part of the data */
	{ ISCSI_BHS_LEN + WPDU - 1, 0 },	/* all but a byte */
	{ ISCSI_BHS_LEN + 2, 1 },	/* in the header digest */
	{ ISCSI_BHS_LEN + 4 + 1000, 1 },	/* digests, part of the data */
	{ ISCSI_BHS_LEN + 4 + WPDU + 2, 1 },	/* in the data digest */
};

static uint32_t
count_asked(const struct shmq_msg *m, void *arg)
{
	struct asked	*a = arg;

	a->a_start += m->m_type == SHMQ_SESSION_START;
	a->a_end += m->m_type == SHMQ_SESSION_END;
	return 0;
}

/* An image of size bytes of byte b in tw's catalog. */
static void
image_add(struct tworker *tw, const char *name, size_t size, uint8_t b)
{
	char	 p[1024];
	uint8_t	*buf;
	int	 fd;

	snprintf(p, sizeof(p), "%s/images/%s.img", tw->tw_dir, name);
	ck_assert_ptr_nonnull(buf = malloc(size));
	memset(buf, b, size);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

/*
 * Two workers on one state directory, ti connected to the old one; the
 * new one's catalog has image extra too (or not), as after a reload.
 */
static void
setup_with(const char *extra)
{
	size_t	 i;

	ti_worker(&twa, "handoff", CONF);
	if (extra != NULL)
		image_add(&twa, extra, 64 * 1024, 0xaa);
	ck_assert_int_eq(tw_dirs(&twb, twa.tw_dir), 0);
	ti_worker_config(&twb, CONF);
	ck_assert_int_eq(tw_start(&twb, NULL, 0), 0);
	memset(&aska, 0, sizeof(aska));
	memset(&askb, 0, sizeof(askb));
	twa.tw_hook = twb.tw_hook = count_asked;
	twa.tw_arg = &aska;
	twb.tw_arg = &askb;
	ti_open(&ti, &twa, MID);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x80 | (i % 61));
}

static void
setup(void)
{
	setup_with(NULL);
}

/* A reload that adds "aaa", which sorts before every image. */
static void
setup_catalog(void)
{
	setup_with("aaa");
}

static void
teardown(void)
{
	ti_close(&ti);
	ti_worker_done(&twa);
}

/* Whatever unit attention a new session has, reported; then none. */
static void
ua_clear(void)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;

	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);
	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);
	ck_assert_uint_eq(res.r_status, 0);
}

/* The worker runs until it hands a connection over: taken from it. */
static void
take_handed(struct tworker *tw, struct handed *h)
{
	int	 i;

	for (i = 0; i < 300 && tw->tw_nhanded == 0; i++)
		tw_pass(tw, 10);
	ck_assert_msg(tw->tw_nhanded == 1, "%u connections handed over",
	    tw->tw_nhanded);
	ck_assert_int_ge(tw->tw_nhfds, 2);
	h->h_id = tw->tw_handed;
	h->h_sock = tw->tw_hfds[0];
	h->h_memfd = tw->tw_hfds[1];
	h->h_held = tw->tw_nhfds == 3 ? tw->tw_hfds[2] : -1;
	tw->tw_nhfds = 0;
}

/* The worker runs a while, and hands nothing over. */
static void
none_handed(struct tworker *tw)
{
	int	 i;

	for (i = 0; i < 20; i++)
		tw_pass(tw, 5);
	ck_assert_uint_eq(tw->tw_nhanded, 0);
}

/* The new worker takes it; the initiator talks to that one now. */
static void
adopt(const struct handed *h)
{
	handoff_adopt(&twb.tw_w, h->h_sock, h->h_memfd, h->h_held, h->h_id);
	ti.i_tw = &twb;
}

/*
 * On the old worker: a session, a write done (its overlay exists: not
 * a new one, which would have a unit attention anyway), a write of WLEN
 * bytes, its R2T (all of it), the first Data-Out, and sp_at bytes of
 * the second.
 */
static void
write_started(const struct split *sp, struct wstate *ws)
{
	uint8_t		 cdb[16], bhs[ISCSI_BHS_LEN];
	struct tpdu	 p;
	struct tres	 res;

	ti_login_ok(&ti, PUBLIC, sp->sp_digests ? SOLICIT DIGESTS : SOLICIT);
	ck_assert_int_eq(ti.i_hd, sp->sp_digests);
	ua_clear();
	ti_rw10(cdb, 0x2a, LBA_DONE, WPDU / 512);
	ti_scsi(&ti, 0, cdb, data + WLEN - WPDU, WPDU, TI_WRITE, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ti_rw10(cdb, 0x2a, LBA, WLEN / 512);
	ws->w_itt = ti_cmd(&ti, ISCSI_FLAG_FINAL | 0x20 | SCSI_ATTR_SIMPLE, 0,
	    cdb, WLEN, NULL, 0);
	ti_expect(&ti, &p, OP_R2T);
	ck_assert_uint_eq(be32dec(p.p_bhs + 40), 0);
	ck_assert_uint_eq(be32dec(p.p_bhs + 44), WLEN);
	ws->w_ttt = be32dec(p.p_bhs + 20);
	ti_pdu_free(&p);
	ti_dataout(&ti, ws->w_itt, ws->w_ttt, 0, 0, data, WPDU, 0);
	ti_bhs(bhs, OP_DATA_OUT, 0);
	be32enc(bhs + 16, ws->w_itt);
	be32enc(bhs + 20, ws->w_ttt);
	be32enc(bhs + 28, ti.i_expstatsn);
	be32enc(bhs + 36, 1);
	be32enc(bhs + 40, WPDU);
	ws->w_len = ti_pdu(&ti, bhs, data + WPDU, WPDU, ws->w_pdu);
	ck_assert_uint_lt(sp->sp_at, ws->w_len);
	ti_write(&ti, ws->w_pdu, sp->sp_at);
	ws->w_sent = sp->sp_at;
	ck_assert(ti_silent(&ti));
	ws->w_statsn = ti.i_expstatsn;
}

/*
 * On the new worker: the rest of the second Data-Out, the last two;
 * the write is answered GOOD with the StatSN and ExpCmdSN that follow,
 * and reads back as written, without a unit attention, as does the one
 * done before.
 */
static void
write_finished(const struct wstate *ws)
{
	uint8_t		 cdb[16], *buf;
	struct tpdu	 p;
	struct tres	 res;

	ti_write(&ti, ws->w_pdu + ws->w_sent, ws->w_len - ws->w_sent);
	ti_dataout(&ti, ws->w_itt, ws->w_ttt, 2, 2 * WPDU, data + 2 * WPDU,
	    WPDU, 0);
	ti_dataout(&ti, ws->w_itt, ws->w_ttt, 3, 3 * WPDU, data + 3 * WPDU,
	    WPDU, 1);
	ti_expect(&ti, &p, OP_SCSI_RSP);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), ws->w_itt);
	ck_assert_uint_eq(p.p_bhs[3], 0);
	ck_assert_uint_eq(be32dec(p.p_bhs + 24), ws->w_statsn);
	ck_assert_uint_eq(be32dec(p.p_bhs + 28), ti.i_cmdsn);
	ck_assert_int_ge((int32_t)(be32dec(p.p_bhs + 32) - ti.i_cmdsn), 0);
	ti_pdu_free(&p);
	ck_assert_ptr_nonnull(buf = malloc(WLEN));
	ti_rw10(cdb, 0x28, LBA, WLEN / 512);
	ti_scsi(&ti, 0, cdb, buf, WLEN, TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_uint_eq(res.r_din, WLEN);
	ck_assert_msg(memcmp(buf, data, WLEN) == 0, "not the bytes written");
	ck_assert_uint_eq(ti.i_expstatsn, ws->w_statsn + 2);
	ti_rw10(cdb, 0x28, LBA_DONE, WPDU / 512);
	ti_scsi(&ti, 0, cdb, buf, WPDU, TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_msg(memcmp(buf, data + WLEN - WPDU, WPDU) == 0,
	    "the earlier write is lost");
	free(buf);
}

/*
 * The write goes on on the new worker; the old one keeps nothing of the
 * connection and tells neither the master nor the coordinator it ended.
 */
START_TEST(handoff__waiting_write_goes_on)
{
	struct wstate	 ws;
	struct handed	 h;

	write_started(&splits[_i], &ws);
	ck_assert_uint_eq(aska.a_start, 1);
	handoff_start(&twa.tw_w);
	take_handed(&twa, &h);
	ck_assert_uint_eq(h.h_id, MID);
	ck_assert_int_eq(twa.tw_w.w_nconns, 0);
	ck_assert(TAILQ_EMPTY(&twa.tw_w.w_conns));
	adopt(&h);
	ck_assert_int_eq(twb.tw_w.w_nconns, 1);
	write_finished(&ws);
	ck_assert_int_eq(tw_pump(&twa, NULL, NULL), 0);
	ck_assert_uint_eq(twa.tw_nclosed, 0);
	ck_assert_uint_eq(aska.a_end, 0);
	ck_assert_uint_eq(askb.a_start, 1);
	ck_assert_uint_eq(askb.a_end, 0);
	ck_assert_uint_eq(twb.tw_nclosed, 0);
}
END_TEST

/* As the master does it: PROC_TAG_HANDOFF, then PROC_TAG_ADOPT. */
START_TEST(handoff__through_the_control_sockets)
{
	struct fdpass_msg fm = { PROC_TAG_HANDOFF, 0 };
	struct wstate	 ws;
	struct handed	 h;
	int		 fds[3], n;

	write_started(&splits[3], &ws);
	ck_assert_int_eq(fdpass_sendv(twa.tw_ctl, &fm, sizeof(fm), NULL, 0),
	    0);
	take_handed(&twa, &h);
	fds[0] = h.h_sock;
	fds[1] = h.h_memfd;
	fds[2] = h.h_held;
	n = h.h_held != -1 ? 3 : 2;
	fm.fm_tag = PROC_TAG_ADOPT;
	fm.fm_seq = h.h_id;
	ck_assert_int_eq(fdpass_sendv(twb.tw_ctl, &fm, sizeof(fm), fds, n), 0);
	while (n-- > 0)
		close(fds[n]);
	ti.i_tw = &twb;
	write_finished(&ws);
	ck_assert_uint_eq(twa.tw_nclosed + twb.tw_nclosed, 0);
}
END_TEST

/* ---- :multi across a change of the catalog ---- */

#define MULTI		TI_PREFIX ":multi"

/* The first command's unit attention on lun: its ASC/ASCQ, 0 none. */
static uint16_t
lun_ua(int lun)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;

	ti_scsi(&ti, (uint64_t)lun, cdb, NULL, 0, TI_NONE, &res);
	if (res.r_status == 0)
		return 0;
	ck_assert_uint_eq(res.r_status, 2);
	ck_assert_uint_eq(res.r_key, 6);
	return res.r_asc;
}

/* The LU at lun is image name: INQUIRY's product identification. */
static void
lun_is(int lun, const char *name)
{
	uint8_t		 cdb[16] = { 0x12 }, buf[96];
	char		 id[17];
	struct tres	 res;
	size_t		 n;

	be16enc(cdb + 3, sizeof(buf));
	ti_scsi(&ti, (uint64_t)lun, cdb, buf, sizeof(buf), TI_READ, &res);
	ck_assert_msg(res.r_status == 0, "LUN %d: status %u, sense %x/%04x",
	    lun, res.r_status, res.r_key, res.r_asc);
	memcpy(id, buf + 16, 16);
	for (n = 16; n > 0 && id[n - 1] == ' '; n--)
		;
	id[n] = '\0';
	ck_assert_msg(strcmp(id, name) == 0, "LUN %d is %s, not %s", lun, id,
	    name);
}

/* Block 0 of lun: 512 bytes of b? */
static int
lun_holds(int lun, uint8_t b)
{
	uint8_t		 cdb[16], buf[512];
	struct tres	 res;
	size_t		 i;

	ti_rw10(cdb, 0x28, 0, 1);
	ti_scsi(&ti, (uint64_t)lun, cdb, buf, sizeof(buf), TI_READ, &res);
	ck_assert_msg(res.r_status == 0, "LUN %d: status %u, sense %x/%04x",
	    lun, res.r_status, res.r_key, res.r_asc);
	for (i = 0; i < sizeof(buf); i++)
		if (buf[i] != b)
			return 0;
	return 1;
}

static void
lun_mark(int lun, uint8_t b)
{
	uint8_t		 cdb[16], buf[512];
	struct tres	 res;

	memset(buf, b, sizeof(buf));
	ti_rw10(cdb, 0x2a, 0, 1);
	ti_scsi(&ti, (uint64_t)lun, cdb, buf, sizeof(buf), TI_WRITE, &res);
	ck_assert_msg(res.r_status == 0, "LUN %d: status %u, sense %x/%04x",
	    lun, res.r_status, res.r_key, res.r_asc);
}

/* REPORT LUNS: how many. */
static uint32_t
luns_reported(void)
{
	uint8_t		 cdb[16] = { 0xa0 }, buf[64];
	struct tres	 res;

	be32enc(cdb + 6, sizeof(buf));
	ti_scsi(&ti, 0, cdb, buf, sizeof(buf), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	return be32dec(buf) / 8;
}

/*
 * A :multi session (alpha LUN 0, beta LUN 1) writes a mark on each,
 * and is handed to a worker whose catalog has "aaa" first: each LUN
 * keeps its image and its overlay, aaa comes as LUN 2, and the nexus
 * is told REPORTED LUNS DATA HAS CHANGED (3Fh/0Eh), until REPORT LUNS.
 * Dropped and back (a new login of the same nexus), the LUNs follow
 * the catalog (aaa, alpha, beta) and each overlay still its image.
 * Each overlay keeps its identity (VPD 0x83, 0x80) throughout.
 */
START_TEST(handoff__multi_keeps_its_images)
{
	struct handed	 h;
	char		 ida[64], idb[64], id[64];

	ti_login_ok(&ti, MULTI, NULL);
	ck_assert_uint_eq(lun_ua(0), 0);
	lun_is(0, "alpha");
	lun_is(1, "beta");
	lun_mark(0, 0x11);
	lun_mark(1, 0x22);
	ti_identity(&ti, 0, ida, sizeof(ida));
	ti_identity(&ti, 1, idb, sizeof(idb));
	handoff_start(&twa.tw_w);
	take_handed(&twa, &h);
	adopt(&h);
	ck_assert_uint_eq(lun_ua(1), 0x3f0e);
	ck_assert_uint_eq(lun_ua(0), 0x3f0e);
	lun_is(0, "alpha");
	lun_is(1, "beta");
	lun_is(2, "aaa");
	ck_assert_msg(lun_holds(0, 0x11), "alpha lost its mark");
	ck_assert_msg(lun_holds(1, 0x22), "beta lost its mark");
	ck_assert_uint_eq(luns_reported(), 3);
	ck_assert_uint_eq(lun_ua(2), 0);	/* REPORT LUNS cleared it */
	ck_assert(lun_holds(2, 0xaa));
	ti_identity(&ti, 0, id, sizeof(id));	/* each overlay its identity */
	ck_assert_str_eq(id, ida);
	ti_identity(&ti, 1, id, sizeof(id));
	ck_assert_str_eq(id, idb);

	ti_close(&ti);
	ck_assert_int_eq(tw_pump(&twb, NULL, NULL), 0);
	ck_assert_int_eq(twb.tw_w.w_nconns, 0);
	ti_open(&ti, &twb, MID);
	ti_login_ok(&ti, MULTI, NULL);
	ck_assert_uint_eq(lun_ua(0), 0x2900);	/* its overlays are back */
	ck_assert_uint_eq(lun_ua(1), 0x2900);
	ck_assert_uint_eq(lun_ua(2), 0x2900);
	lun_is(0, "aaa");
	lun_is(1, "alpha");
	lun_is(2, "beta");
	ck_assert(lun_holds(0, 0xaa));
	ck_assert_msg(lun_holds(1, 0x11), "alpha lost its mark");
	ck_assert_msg(lun_holds(2, 0x22), "beta lost its mark");
	ti_identity(&ti, 1, id, sizeof(id));	/* at its new LUN */
	ck_assert_str_eq(id, ida);
	ti_identity(&ti, 2, id, sizeof(id));
	ck_assert_str_eq(id, idb);
}
END_TEST

/* ---- Records the new worker must refuse ---- */

/* The bytes of a record (its memfd stays open). */
static uint8_t *
record_read(int fd, size_t *len)
{
	struct stat	 st;
	uint8_t		*b;

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_gt(st.st_size, 0);
	*len = (size_t)st.st_size;
	ck_assert_ptr_nonnull(b = malloc(*len));
	ck_assert_int_eq(pread(fd, b, *len, 0), (ssize_t)*len);
	return b;
}

static int
record_memfd(const uint8_t *b, size_t len)
{
	int	 fd;

	ck_assert_int_ge(fd = memfd_create("check-handoff", MFD_CLOEXEC), 0);
	ck_assert_int_eq(write(fd, b, len), (ssize_t)len);
	return fd;
}

/* Where each section's fields lie in rec: how many sections. */
static int
record_sections(const uint8_t *rec, size_t len, size_t *off, size_t *slen,
    int max)
{
	struct pack	 pk, s;
	uint16_t	 minor, tag;
	int		 n = 0;

	ck_assert_int_eq(unpack_init(&pk, rec, len, HO_MAGIC, HO_MAJOR,
	    &minor), 0);
	while (n < max && unpack_section(&pk, &tag, &s) == 1) {
		off[n] = (size_t)(s.pk_buf - rec);
		slen[n++] = s.pk_len;
	}
	ck_assert_int_eq(pk.pk_err, 0);
	ck_assert_uint_eq(pk.pk_off, len);
	return n;
}

/* rec again, its one task section rewritten by fix (tt_unpack, tt_pack). */
static uint8_t *
record_fix_task(const uint8_t *rec, size_t len, void (*fix)(struct ttask *),
    size_t *newlen)
{
	struct pack	 pk, out, s;
	struct ttask	 t;
	uint16_t	 minor, tag;
	uint8_t		*b;
	size_t		 m;
	int		 tasks = 0;

	ck_assert_int_eq(unpack_init(&pk, rec, len, HO_MAGIC, HO_MAJOR,
	    &minor), 0);
	pack_init(&out, HO_MAGIC, HO_MAJOR, minor);
	while (unpack_section(&pk, &tag, &s) == 1) {
		m = pack_section(&out, tag);
		if (tag == HO_TASK) {
			ck_assert_int_eq(tt_unpack(&s, &t), 0);
			fix(&t);
			tt_pack(&out, &t);
			tasks++;
		} else
			pack_bytes(&out, s.pk_buf, s.pk_len);
		pack_section_end(&out, m);
	}
	ck_assert_int_eq(tasks, 1);
	ck_assert_int_eq(out.pk_err, 0);
	ck_assert_ptr_nonnull(b = malloc(out.pk_len));
	memcpy(b, out.pk_buf, out.pk_len);
	*newlen = out.pk_len;
	pack_free(&out);
	return b;
}

static void
task_as_is(struct ttask *t)
{
	(void)t;
}

static void
r2t_past_buffer(struct ttask *t)
{
	ck_assert_uint_ne(t->tt_r2t[0].r_ttt, 0);
	ck_assert_uint_eq(t->tt_buflen, t->tt_want);
	t->tt_r2t[0].r_off = t->tt_want + 512;
}

/*
 * The new worker given a record it must refuse, on a socket of its own
 * as connection mid: closed without a byte sent, and the master told.
 */
static void
adopt_refused(const uint8_t *rec, size_t len, uint32_t mid, const char *what)
{
	uint32_t	 n = twb.tw_nclosed;
	uint8_t		 c;
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	handoff_adopt(&twb.tw_w, sv[1], record_memfd(rec, len), -1, mid);
	ck_assert_int_eq(tw_pump(&twb, NULL, NULL), 0);
	ck_assert_msg(twb.tw_nclosed == n + 1 && twb.tw_closed == mid,
	    "%s: the master was not told", what);
	ck_assert_msg(twb.tw_w.w_nconns == 0, "%s: adopted", what);
	ck_assert_msg(read(sv[0], &c, 1) == 0, "%s: not closed", what);
	close(sv[0]);
}

/*
 * Records cut short (in the header, in each section's header and in
 * each section), of the next major version, or whose task has an R2T
 * past its buffer: each closed.  Then the record as it came, which
 * none of them disturbed.
 */
START_TEST(handoff__bad_records_close)
{
	struct wstate	 ws;
	struct handed	 h;
	size_t		 len, flen, off[32], slen[32];
	uint8_t		*rec, *bad;
	uint32_t	 mid = 100;
	int		 i, n;

	write_started(&splits[3], &ws);
	handoff_start(&twa.tw_w);
	take_handed(&twa, &h);
	rec = record_read(h.h_memfd, &len);
	n = record_sections(rec, len, off, slen, 32);
	ck_assert_int_ge(n, 4);
	adopt_refused(rec, 4, mid++, "cut in the magic");
	adopt_refused(rec, PACK_MAGIC_LEN + 3, mid++, "cut in the version");
	for (i = 0; i < n; i++) {
		ck_assert_uint_gt(slen[i], 0);
		adopt_refused(rec, off[i] - 3, mid++, "cut in a section header");
		adopt_refused(rec, off[i] + slen[i] / 2, mid++,
		    "cut in a section");
	}
	ck_assert_ptr_nonnull(bad = malloc(len));
	memcpy(bad, rec, len);
	be16enc(bad + PACK_MAGIC_LEN, HO_MAJOR + 1);
	adopt_refused(bad, len, mid++, "another major version");
	free(bad);
	bad = record_fix_task(rec, len, task_as_is, &flen);
	ck_assert_msg(flen == len && memcmp(bad, rec, len) == 0,
	    "taskrec.c does not write what dataout_save writes");
	free(bad);
	bad = record_fix_task(rec, len, r2t_past_buffer, &flen);
	adopt_refused(bad, flen, mid++, "an R2T past the buffer");
	free(bad);
	ck_assert_uint_eq(askb.a_start, 0);
	ck_assert_uint_eq(askb.a_end, 0);
	adopt(&h);
	write_finished(&ws);
	ck_assert_uint_eq(askb.a_start, 1);
	free(rec);
}
END_TEST

/* ---- Connections that stay ---- */

/* An initiator's end of a TLS connection. */
struct tls_ini {
	SSL		*t_ssl;
	uint8_t		 t_rx[16384];
	size_t		 t_rxlen;
};

/* A server context with a throw-away self-signed certificate. */
static SSL_CTX *
tls_server_ctx(void)
{
	SSL_CTX		*ctx;
	EVP_PKEY	*key;
	X509		*x;
	X509_NAME	*name;

	ck_assert_ptr_nonnull(key = EVP_EC_gen("P-256"));
	ck_assert_ptr_nonnull(x = X509_new());
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"check-handoff", -1, -1, 0);
	X509_set_issuer_name(x, name);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	ck_assert_ptr_nonnull(ctx = SSL_CTX_new(TLS_server_method()));
	ck_assert_int_eq(SSL_CTX_use_certificate(ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

/* SSL_* returned r: it waits for the worker, which runs a pass. */
static void
tls_blocked(struct tls_ini *t, int r, int tries)
{
	int	 e = SSL_get_error(t->t_ssl, r);

	ck_assert_msg(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE,
	    "TLS: error %d", e);
	ck_assert_msg(tries < TI_REPLY_MS / 10, "TLS: the worker is silent");
	tw_pass(&twa, 10);
}

/* A TLS connection to the old worker, as connection mid, set up. */
static void
tls_open(struct tls_ini *t, uint32_t mid)
{
	SSL_CTX	*cctx;
	int	 sv[2], i, r;

	twa.tw_w.w_sslctx = tls_server_ctx();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);			/* as the master accepts them */
	conn_accept(&twa.tw_w, sv[1], LISTEN_ISCSI_TLS, mid);
	ck_assert_ptr_nonnull(cctx = SSL_CTX_new(TLS_client_method()));
	ck_assert_ptr_nonnull(t->t_ssl = SSL_new(cctx));
	SSL_CTX_free(cctx);
	ck_assert_int_eq(SSL_set_fd(t->t_ssl, sv[0]), 1);
	t->t_rxlen = 0;
	for (i = 0; (r = SSL_connect(t->t_ssl)) != 1; i++)
		tls_blocked(t, r, i);
}

static void
tls_send(struct tls_ini *t, uint8_t *bhs, const void *d, uint32_t dlen)
{
	struct tini	 plain;		/* ti_pdu: no digests */
	uint8_t		 out[ISCSI_BHS_LEN + 1024];
	size_t		 n, off = 0;
	int		 r, i = 0;

	memset(&plain, 0, sizeof(plain));
	ck_assert_uint_le(dlen, 1000);
	n = ti_pdu(&plain, bhs, d, dlen, out);
	while (off < n) {
		if ((r = SSL_write(t->t_ssl, out + off, (int)(n - off))) > 0)
			off += (size_t)r;
		else
			tls_blocked(t, r, i++);
	}
}

/* The target's next PDU over TLS: its BHS. */
static void
tls_recv(struct tls_ini *t, uint8_t *bhs)
{
	size_t	 need;
	int	 r, i = 0;

	for (;;) {
		if (t->t_rxlen >= ISCSI_BHS_LEN) {
			need = ISCSI_BHS_LEN + t->t_rx[4] * 4U +
			    ((be24dec(t->t_rx + 5) + 3) & ~3U);
			ck_assert_uint_le(need, sizeof(t->t_rx));
			if (t->t_rxlen >= need) {
				memcpy(bhs, t->t_rx, ISCSI_BHS_LEN);
				memmove(t->t_rx, t->t_rx + need,
				    t->t_rxlen - need);
				t->t_rxlen -= need;
				return;
			}
		}
		r = SSL_read(t->t_ssl, t->t_rx + t->t_rxlen,
		    (int)(sizeof(t->t_rx) - t->t_rxlen));
		if (r > 0)
			t->t_rxlen += (size_t)r;
		else
			tls_blocked(t, r, i++);
	}
}

/* A login request in one PDU, straight to full feature phase if final. */
static void
login_bhs(uint8_t *bhs, const uint8_t *isid, int final, uint32_t expstatsn)
{
	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_LOGIN_REQ,
	    final ? 0x80 | 1 << 2 | 3 : 1 << 2);
	memcpy(bhs + 8, isid, 6);
	be32enc(bhs + 16, 0x4242);
	be32enc(bhs + 24, 1);
	be32enc(bhs + 28, expstatsn);
}

/*
 * Of a plain and a TLS session, both in full feature phase, only the
 * plain one is handed over; the TLS one goes on on the old worker.
 */
START_TEST(handoff__tls_stays)
{
	static const uint8_t isid[6] = { 0x80, 0, 0, 0, 0x7, 0x7 };
	struct tls_ini	 t;
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint32_t	 statsn;
	struct handed	 h;
	struct conn	*c;

	ti_login_ok(&ti, PUBLIC, NULL);
	tls_open(&t, 9);
	login_bhs(bhs, isid, 1, 0);
	tls_send(&t, bhs, NAMES, sizeof(NAMES));
	tls_recv(&t, bhs);
	ck_assert_uint_eq(bhs[0] & ISCSI_OP_MASK, OP_LOGIN_RSP);
	ck_assert_uint_eq(be16dec(bhs + 36), LOGIN_STATUS_SUCCESS);
	ck_assert_uint_eq(bhs[1] & 0x83, 0x83);
	statsn = be32dec(bhs + 24);
	ck_assert_int_eq(twa.tw_w.w_nconns, 2);

	handoff_start(&twa.tw_w);
	take_handed(&twa, &h);
	ck_assert_uint_eq(h.h_id, MID);
	ck_assert_int_eq(twa.tw_w.w_nconns, 1);
	c = TAILQ_FIRST(&twa.tw_w.w_conns);
	ck_assert_int_eq(c->c_kind, LISTEN_ISCSI_TLS);
	ck_assert_int_eq(c->c_moving, 0);

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_NOP_OUT, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, 0x77);
	be32enc(bhs + 20, ISCSI_TTT_NONE);
	be32enc(bhs + 24, 1);
	be32enc(bhs + 28, statsn + 1);
	tls_send(&t, bhs, NULL, 0);
	tls_recv(&t, bhs);
	ck_assert_uint_eq(bhs[0] & ISCSI_OP_MASK, OP_NOP_IN);
	ck_assert_uint_eq(be32dec(bhs + 16), 0x77);
	ck_assert_uint_eq(twa.tw_nhanded, 1);
	ck_assert_uint_eq(twa.tw_nclosed, 0);
	SSL_free(t.t_ssl);
}
END_TEST

/*
 * A connection still logging in stays while the worker hands the
 * others over, and goes once its login ends; its answer comes from
 * whichever worker has it.
 */
START_TEST(handoff__login_goes_once_logged_in)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	struct tpdu	 p;
	struct handed	 h;

	login_bhs(bhs, ti.i_isid, 0, 0);
	ti_send(&ti, bhs, NAMES, sizeof(NAMES));
	ti_expect(&ti, &p, OP_LOGIN_RSP);
	ck_assert_uint_eq(be16dec(p.p_bhs + 36), LOGIN_STATUS_SUCCESS);
	ck_assert_uint_eq(p.p_bhs[1] & 0x80, 0);
	ti_pdu_free(&p);

	handoff_start(&twa.tw_w);
	none_handed(&twa);
	ck_assert_int_eq(twa.tw_w.w_nconns, 1);

	login_bhs(bhs, ti.i_isid, 1, ti.i_expstatsn);
	ti_send(&ti, bhs, NULL, 0);
	take_handed(&twa, &h);
	ck_assert_uint_eq(h.h_id, MID);
	ck_assert_int_eq(twa.tw_w.w_nconns, 0);
	adopt(&h);
	ti_expect(&ti, &p, OP_LOGIN_RSP);
	ck_assert_uint_eq(be16dec(p.p_bhs + 36), LOGIN_STATUS_SUCCESS);
	ck_assert_uint_eq(p.p_bhs[1] & 0x83, 0x83);
	ti_pdu_free(&p);
	ua_clear();
	ck_assert_uint_eq(aska.a_end + askb.a_end, 0);
	ck_assert_uint_eq(askb.a_start, 1);
}
END_TEST

/* The NAA designator of LUN 0, from its Device Identification page. */
static void
lun0_naa(uint8_t *naa)
{
	uint8_t		 cdb[16] = { 0x12, 0x01, 0x83, 0, 255 }, b[255];
	struct tres	 res;
	unsigned	 off;

	ti_scsi(&ti, 0, cdb, b, sizeof(b), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	for (off = 4; off + 4 <= 4u + be16dec(b + 2); off += 4 + b[off + 3])
		if ((b[off + 1] & 0x3f) == 0x03 && b[off + 3] == 8) {
			memcpy(naa, b + off + 4, 8);
			return;
		}
	ck_abort_msg("no NAA designator");
}

/*
 * An EXTENDED COPY of two segments, on LUN 0: the first half of the
 * image over the second, a segment (one step each) of 256 KiB at a time.
 */
static uint32_t
xcopy_started(void)
{
	uint8_t		 cdb[16] = { 0x83 }, p[16 + 32 + 2 * 28], *d;
	int		 i;

	memset(p, 0, sizeof(p));
	p[0] = 1;				/* LIST ID */
	be16enc(p + 2, 32);
	be32enc(p + 8, 2 * 28);
	d = p + 16;
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = 8;
	lun0_naa(d + 8);
	be24enc(d + 29, 512);
	for (i = 0; i < 2; i++) {
		d = p + 48 + 28 * i;
		d[0] = 0x02;
		be16enc(d + 2, 24);
		be16enc(d + 10, 512);
		be64enc(d + 12, 512 * (uint64_t)i);
		be64enc(d + 20, 1024 + 512 * (uint64_t)i);
	}
	be32enc(cdb + 10, sizeof(p));
	return ti_cmd(&ti, ISCSI_FLAG_FINAL | 0x20 | 1, 0, cdb, sizeof(p), p,
	    sizeof(p));
}

/*
 * A command running in steps when the worker is told to hand over: the
 * connection stays until its last step ran; its answer comes, then the
 * connection moves, and the copy is all there.
 */
START_TEST(handoff__waits_for_a_command_in_steps)
{
	uint8_t		 cdb[16], *buf;
	struct handed	 h;
	struct tres	 res;
	uint32_t	 itt;

	ti_login_ok(&ti, PUBLIC, NULL);
	ua_clear();
	itt = xcopy_started();
	event_base_loop(twa.tw_w.w_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert(!TAILQ_EMPTY(&twa.tw_w.w_steps));
	handoff_start(&twa.tw_w);
	take_handed(&twa, &h);
	ck_assert(TAILQ_EMPTY(&twa.tw_w.w_steps));
	adopt(&h);
	ti_response(&ti, itt, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_ptr_nonnull(buf = malloc(512 * 1024));
	ti_rw10(cdb, 0x28, 1024, 1024);
	ti_scsi(&ti, 0, cdb, buf, 512 * 1024, TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_uint_eq(buf[512 * 1024 - 1],
	    ti_image_byte("alpha", 512 * 1024 - 1));
	free(buf);
	ck_assert_uint_eq(twa.tw_nclosed, 0);
}
END_TEST

Suite *
handoff_suite(void)
{
	Suite	*s = suite_create("handoff");
	TCase	*tc;

	tc = tcase_create("live");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, handoff__waiting_write_goes_on, 0,
	    sizeof(splits) / sizeof(splits[0]));
	tcase_add_test(tc, handoff__through_the_control_sockets);
	tcase_add_test(tc, handoff__waits_for_a_command_in_steps);
	suite_add_tcase(s, tc);

	tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, setup_catalog, teardown);
	tcase_add_test(tc, handoff__multi_keeps_its_images);
	suite_add_tcase(s, tc);

	tc = tcase_create("refused");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, handoff__bad_records_close);
	suite_add_tcase(s, tc);

	tc = tcase_create("stays");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, handoff__tls_stays);
	tcase_add_test(tc, handoff__login_goes_once_logged_in);
	suite_add_tcase(s, tc);
	return s;
}
