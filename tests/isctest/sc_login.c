/*
 * isctest scenarios on login and CHAP: a good exchange, a wrong secret,
 * a reflected challenge, a short and a malformed CHAP_R, mutual CHAP; a
 * login with a TSIH of nobody's session; a CHAP target hidden from
 * SendTargets.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isctest.h"

static void
chap_scenario(enum chap_mode mode)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	need_chap();
	lo.lo_chap = mode;
	switch (mode) {
	case CHAP_GOOD:
	case CHAP_MUTUAL:
		login_ok(&c, &lo);
		do_tur(&c);
		logout(&c);
		return;
	case CHAP_BAD_HEX:
		login_fails(&lo, LOGIN_STATUS_AUTH_FAILED,
		    LOGIN_STATUS_INITIATOR_ERROR);
		break;
	default:
		login_fails(&lo, LOGIN_STATUS_AUTH_FAILED,
		    LOGIN_STATUS_AUTH_FAILED);
		break;
	}
	check_serves();
}

void
sc_chap_ok(void)
{
	chap_scenario(CHAP_GOOD);
}

void
sc_chap_bad_secret(void)
{
	chap_scenario(CHAP_BAD_SECRET);
}

void
sc_chap_reflect(void)
{
	chap_scenario(CHAP_REFLECT);
}

void
sc_chap_bad_length(void)
{
	chap_scenario(CHAP_SHORT_R);
}

void
sc_chap_bad_hex(void)
{
	chap_scenario(CHAP_BAD_HEX);
}

void
sc_chap_mutual(void)
{
	if (opt.o_tuser == NULL || opt.o_tsecret == NULL)
		fail("chap-mutual needs -U TUSER -S TSECRET");
	chap_scenario(CHAP_MUTUAL);
}

void
sc_tsih_nonzero(void)
{
	struct login_opts	lo = login_defaults();

	lo.lo_tsih = 5;
	step("leading login with TSIH 0x0005");
	login_fails(&lo, LOGIN_STATUS_NO_SESSION, LOGIN_STATUS_NO_SESSION);
	check_serves();
}

/*
 * A discovery session asks SendTargets=<-t>, a CHAP target hidden from
 * discovery: nothing about it comes back (its name must stay unknown
 * to strangers, and so must its portals).
 */
void
sc_sendtargets_hidden(void)
{
	struct login_opts	lo = { .lo_target = NULL };
	char			st[300];
	struct conn		c;
	struct pdu		p;
	uint8_t			h[ISCSI_BHS_LEN];
	int			n;

	n = snprintf(st, sizeof(st), "SendTargets=%s", opt.o_target);
	login_ok(&c, &lo);
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_TEXT_REQ, ISCSI_FLAG_FINAL);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 20, ISCSI_TTT_NONE);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	if (pdu_send(&c, h, NULL, 0, st, (size_t)n + 1, 0) == -1)
		fail("send: %s", strerror(errno));
	reply_wait(&c, &p, "Text Response");
	if (pdu_op(&p) != OP_TEXT_RSP)
		fail("SendTargets: %s", pdu_describe(&p));
	if (kv_get(&p, "TargetName") != NULL ||
	    kv_get(&p, "TargetAddress") != NULL)
		fail("SendTargets=%s listed it: %.*s", opt.o_target,
		    (int)p.p_dlen, p.p_data);
	step("SendTargets=%s -> nothing", opt.o_target);
	pdu_free(&p);
	conn_close(&c);
}
