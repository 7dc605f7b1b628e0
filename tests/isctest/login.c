/*
 * isctest's login: the security stage (None, or CHAP one-way and mutual,
 * with the deliberate mistakes of the chap-* scenarios), operational
 * negotiation, logins that must fail, logout, and the two initiators A
 * and B of the scenarios that need two.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "isctest.h"

static void
chap_md5(uint8_t id, const char *secret, const uint8_t *chal, size_t clen,
    uint8_t out[16])
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len = 0;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fail("EVP_MD_CTX_new failed");
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestUpdate(ctx, chal, clen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		fail("MD5 failed");
}

static void __attribute__((format(printf, 3, 4)))
kv_add(struct kv *kv, const char *key, const char *fmt, ...)
{
	size_t	room = sizeof(kv->k_buf) - kv->k_len;
	va_list	ap;
	int	n, m;

	n = snprintf(kv->k_buf + kv->k_len, room, "%s=", key);
	va_start(ap, fmt);
	m = vsnprintf(kv->k_buf + kv->k_len + n, room - n, fmt, ap);
	va_end(ap);
	if (n < 0 || m < 0 || (size_t)(n + m) + 1 > room)
		fail("login text too long");
	kv->k_len += (size_t)(n + m) + 1;
}

const char *
kv_get(const struct pdu *p, const char *key)
{
	size_t		 klen = strlen(key), off = 0, len;
	const char	*s;

	while (off < p->p_dlen) {
		s = (const char *)p->p_data + off;
		len = strnlen(s, p->p_dlen - off);
		if (len > klen && strncmp(s, key, klen) == 0 && s[klen] == '=')
			return s + klen + 1;
		off += len + 1;
	}
	return NULL;
}

void
login_bhs(struct conn *c, uint8_t *h, uint8_t flags)
{
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_LOGIN_REQ, flags);
	memcpy(h + 8, c->c_isid, 6);
	be16enc(h + 14, c->c_tsih);
	be32enc(h + 16, c->c_login_itt);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
}

static void
login_recv(struct conn *c, struct pdu *rsp)
{
	reply_wait(c, rsp, "Login Response");
	if (pdu_op(rsp) != OP_LOGIN_RSP)
		fail("during login the target sent %s", pdu_describe(rsp));
}

/* One login request and its response; continuations (C bit) followed. */
static uint16_t
login_rt(struct conn *c, uint8_t flags, const struct kv *kv, struct pdu *rsp)
{
	uint8_t		h[ISCSI_BHS_LEN];
	struct pdu	more;

	login_bhs(c, h, flags);
	if (pdu_send(c, h, NULL, 0, kv->k_buf, kv->k_len, 0) == -1)
		fail("sending Login Request: %s", strerror(errno));
	login_recv(c, rsp);
	while ((rsp->p_bhs[1] & LF_C) && be16dec(rsp->p_bhs + 36) == 0) {
		login_bhs(c, h, flags & (LF_CSG(3)));
		if (pdu_send(c, h, NULL, 0, NULL, 0, 0) == -1)
			fail("sending Login Request: %s", strerror(errno));
		login_recv(c, &more);
		rsp->p_data = realloc(rsp->p_data, rsp->p_dlen + more.p_dlen +
		    1);
		if (rsp->p_data == NULL)
			fail("out of memory");
		memcpy(rsp->p_data + rsp->p_dlen, more.p_data, more.p_dlen);
		rsp->p_dlen += more.p_dlen;
		rsp->p_data[rsp->p_dlen] = '\0';
		memcpy(rsp->p_bhs, more.p_bhs, ISCSI_BHS_LEN);
		pdu_free(&more);
	}
	return be16dec(rsp->p_bhs + 36);
}

static int
login_transit(const struct pdu *rsp, int nsg)
{
	return (rsp->p_bhs[1] & LF_T) && (rsp->p_bhs[1] & 3) == nsg;
}

/* CHAP_R (and for mutual CHAP, CHAP_I/CHAP_C) as the mode asks. */
static void
chap_answer(struct kv *kv, enum chap_mode mode, uint8_t id,
    const uint8_t *chal, size_t clen, const char *chal_text,
    uint8_t mine[17])
{
	char	hex[2 + 2 * 16 + 1];
	uint8_t	md[16];

	chap_md5(id, mode == CHAP_BAD_SECRET ? "not-the-secret" : opt.o_secret,
	    chal, clen, md);
	hex_enc(md, mode == CHAP_SHORT_R ? 15 : 16, hex);
	if (mode == CHAP_BAD_HEX) {
		memset(hex + 2, 'Z', 32);
		hex[34] = '\0';
	}
	kv_add(kv, "CHAP_N", "%s", opt.o_user);
	kv_add(kv, "CHAP_R", "%s", hex);
	if (mode == CHAP_REFLECT) {
		kv_add(kv, "CHAP_I", "%u", id);
		kv_add(kv, "CHAP_C", "%s", chal_text);
	} else if (mode == CHAP_MUTUAL) {
		random_bytes(mine, 17);
		hex_enc(mine + 1, 16, hex);
		kv_add(kv, "CHAP_I", "%u", mine[0]);
		kv_add(kv, "CHAP_C", "%s", hex);
	}
}

/* Mutual CHAP: the target must prove it knows -S. */
static void
chap_check_target(const struct pdu *rsp, const uint8_t mine[17])
{
	const char	*n = kv_get(rsp, "CHAP_N"), *r = kv_get(rsp, "CHAP_R");
	uint8_t		 want[16], got[16];
	size_t		 len;

	if (n == NULL || r == NULL)
		fail("mutual CHAP: target sent no CHAP_N/CHAP_R");
	if (strcmp(n, opt.o_tuser) != 0)
		fail("mutual CHAP: target says CHAP_N=%s, expected %s", n,
		    opt.o_tuser);
	chap_md5(mine[0], opt.o_tsecret, mine + 1, 16, want);
	if (hex_dec(r, got, sizeof(got), &len) == -1 || len != 16 ||
	    memcmp(got, want, 16) != 0)
		fail("mutual CHAP: target's CHAP_R=%s is wrong", r);
	step("mutual CHAP: target proved its secret (CHAP_N=%s)", n);
}

static uint16_t
login_chap(struct conn *c, enum chap_mode mode, struct pdu *rsp)
{
	struct kv	 kv = { .k_len = 0 };
	const char	*a, *i, *ch;
	uint8_t		 chal[1024], mine[17];
	size_t		 clen;
	uint16_t	 status;
	char		 chal_text[2100];

	kv_add(&kv, "CHAP_A", "5");
	pdu_free(rsp);
	if ((status = login_rt(c, LF_CSG(0), &kv, rsp)) != 0)
		return status;
	a = kv_get(rsp, "CHAP_A");
	i = kv_get(rsp, "CHAP_I");
	ch = kv_get(rsp, "CHAP_C");
	if (a == NULL || strcmp(a, "5") != 0 || i == NULL || ch == NULL)
		fail("CHAP: target answered CHAP_A=%s CHAP_I=%s CHAP_C=%s",
		    a ? a : "-", i ? i : "-", ch ? ch : "-");
	if (hex_dec(ch, chal, sizeof(chal), &clen) == -1 || atoi(i) < 0 ||
	    atoi(i) > 255)
		fail("CHAP: malformed CHAP_I=%s or CHAP_C=%s", i, ch);
	snprintf(chal_text, sizeof(chal_text), "%s", ch);
	step("CHAP: target challenge CHAP_I=%s, %zu bytes", i, clen);
	kv.k_len = 0;
	chap_answer(&kv, mode, (uint8_t)atoi(i), chal, clen, chal_text, mine);
	pdu_free(rsp);
	status = login_rt(c, LF_T | LF_CSG(0) | LF_NSG(1), &kv, rsp);
	if (status == 0 && mode == CHAP_MUTUAL)
		chap_check_target(rsp, mine);
	return status;
}

static uint16_t
login_security(struct conn *c, const struct login_opts *lo, struct pdu *rsp)
{
	struct kv	 kv = { .k_len = 0 };
	const char	*am;
	uint16_t	 status;

	kv_add(&kv, "InitiatorName", "%s", lo->lo_initiator != NULL ?
	    lo->lo_initiator : opt.o_initiator);
	if (lo->lo_target == NULL)
		kv_add(&kv, "SessionType", "Discovery");
	else {
		kv_add(&kv, "SessionType", "Normal");
		kv_add(&kv, "TargetName", "%s", lo->lo_target);
	}
	if (lo->lo_chap == CHAP_OFF) {
		kv_add(&kv, "AuthMethod", "None");
		return login_rt(c, LF_T | LF_CSG(0) | LF_NSG(1), &kv, rsp);
	}
	kv_add(&kv, "AuthMethod", "CHAP");
	if ((status = login_rt(c, LF_CSG(0), &kv, rsp)) != 0)
		return status;
	if ((am = kv_get(rsp, "AuthMethod")) == NULL || strcmp(am, "CHAP"))
		fail("CHAP: target answered AuthMethod=%s", am ? am : "-");
	return login_chap(c, lo->lo_chap, rsp);
}

static void
login_params(struct conn *c, const struct pdu *rsp)
{
	const char	*v;

	if ((v = kv_get(rsp, "HeaderDigest")) != NULL)
		c->c_neg_hd = strcmp(v, "CRC32C") == 0;
	if ((v = kv_get(rsp, "DataDigest")) != NULL)
		c->c_neg_dd = strcmp(v, "CRC32C") == 0;
	if ((v = kv_get(rsp, "MaxRecvDataSegmentLength")) != NULL)
		c->c_mrdsl = (uint32_t)strtoul(v, NULL, 10);
	if ((v = kv_get(rsp, "ImmediateData")) != NULL)
		c->c_immediate = strcmp(v, "Yes") == 0;
	if ((v = kv_get(rsp, "InitialR2T")) != NULL)
		c->c_initial_r2t = strcmp(v, "Yes") == 0;
	if ((v = kv_get(rsp, "FirstBurstLength")) != NULL)
		c->c_first_burst = (uint32_t)strtoul(v, NULL, 10);
	if ((v = kv_get(rsp, "MaxBurstLength")) != NULL)
		c->c_max_burst = (uint32_t)strtoul(v, NULL, 10);
	if (c->c_mrdsl < 512 || c->c_mrdsl > 0xffffff)
		fail("target declared MaxRecvDataSegmentLength=%u", c->c_mrdsl);
	if (c->c_first_burst < 512 || c->c_max_burst < 512)
		fail("target negotiated FirstBurstLength=%u MaxBurstLength=%u",
		    c->c_first_burst, c->c_max_burst);
}

static uint16_t
login_operational(struct conn *c, const struct login_opts *lo,
    struct pdu *rsp)
{
	struct kv	 kv = { .k_len = 0 };
	const char	*dig = lo->lo_digests ? "CRC32C,None" : "None";
	uint16_t	 status;
	int		 i;

	kv_add(&kv, "HeaderDigest", "%s", dig);
	kv_add(&kv, "DataDigest", "%s", dig);
	kv_add(&kv, "MaxRecvDataSegmentLength", "%d", OUR_MRDSL);
	if (lo->lo_target != NULL) {
		kv_add(&kv, "ImmediateData", lo->lo_solicit ? "No" : "Yes");
		kv_add(&kv, "InitialR2T", lo->lo_solicit ? "Yes" : "No");
		kv_add(&kv, "MaxBurstLength", "%d", OUR_MAX_BURST);
		kv_add(&kv, "FirstBurstLength", "%d", OUR_FIRST_BURST);
		kv_add(&kv, "MaxOutstandingR2T", "1");
		kv_add(&kv, "DataPDUInOrder", "Yes");
		kv_add(&kv, "DataSequenceInOrder", "Yes");
	}
	kv_add(&kv, "ErrorRecoveryLevel", "0");
	kv_add(&kv, "DefaultTime2Wait", "0");
	kv_add(&kv, "DefaultTime2Retain", "0");
	c->c_mrdsl = 8192;	/* RFC 7143 defaults until the target says */
	c->c_first_burst = 65536;
	c->c_max_burst = 262144;
	c->c_immediate = c->c_initial_r2t = 1;
	for (i = 0; i < 4; i++) {
		pdu_free(rsp);
		status = login_rt(c, LF_T | LF_CSG(1) | LF_NSG(3), &kv, rsp);
		if (status != 0)
			return status;
		login_params(c, rsp);
		if (login_transit(rsp, 3))
			return 0;
		kv.k_len = 0;
	}
	fail("target never completed the operational stage");
}

/* Connect and log in; returns the final Login Response status. */
static uint16_t
login(struct conn *c, const struct login_opts *lo)
{
	struct pdu	rsp = { .p_data = NULL };
	uint16_t	status;

	conn_open(c);
	if (lo->lo_isid != NULL)
		memcpy(c->c_isid, lo->lo_isid, 6);
	c->c_tsih = lo->lo_tsih;
	c->c_login_itt = c->c_itt++;
	status = login_security(c, lo, &rsp);
	if (status == 0 && !login_transit(&rsp, 1))
		fail("security stage: target did not transit to stage 1 "
		    "(flags 0x%02x)", rsp.p_bhs[1]);
	if (status == 0)
		status = login_operational(c, lo, &rsp);
	if (status == 0) {
		c->c_tsih = be16dec(rsp.p_bhs + 14);
		c->c_hd = c->c_neg_hd;
		c->c_dd = c->c_neg_dd;
	}
	pdu_free(&rsp);
	return status;
}

struct login_opts
login_defaults(void)
{
	struct login_opts	lo = {
		.lo_target = opt.o_target,
		.lo_digests = opt.o_digests,
		.lo_chap = opt.o_user != NULL ? CHAP_GOOD : CHAP_OFF,
	};

	return lo;
}

void
login_ok(struct conn *c, const struct login_opts *lo)
{
	uint16_t	status;

	if ((status = login(c, lo)) != 0)
		fail("login to %s failed: status 0x%04x", lo->lo_target,
		    status);
	step("logged in to %s: TSIH 0x%04x, HeaderDigest=%s DataDigest=%s, "
	    "MaxRecvDataSegmentLength=%u", lo->lo_target ? lo->lo_target :
	    "discovery", c->c_tsih, c->c_hd ? "CRC32C" : "None",
	    c->c_dd ? "CRC32C" : "None", c->c_mrdsl);
}

/* A login that must fail with status want (0 in detail: any of class). */
void
login_fails(const struct login_opts *lo, uint16_t want, uint16_t also)
{
	struct conn	c;
	uint16_t	status;

	if ((status = login(&c, lo)) != want && status != also)
		fail("login answered status 0x%04x, expected 0x%04x",
		    status, want);
	step("login refused with status 0x%04x, as required", status);
	expect_close(&c, CLOSE_MS, OP_NONE);
}

void
logout(struct conn *c)
{
	uint8_t		h[ISCSI_BHS_LEN];
	struct pdu	p;
	uint32_t	itt = c->c_itt++;

	/* reason 0: close the session */
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_LOGOUT_REQ, ISCSI_FLAG_FINAL);
	be32enc(h + 16, itt);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	if (pdu_send(c, h, NULL, 0, NULL, 0, 0) == -1)
		fail("sending Logout Request: %s", strerror(errno));
	reply_wait(c, &p, "Logout Response");
	if (pdu_op(&p) != OP_LOGOUT_RSP || be32dec(p.p_bhs + 16) != itt ||
	    p.p_bhs[2] != 0)
		fail("logout answered with %s, response %u", pdu_describe(&p),
		    p.p_bhs[2]);
	pdu_free(&p);
	step("logout -> response 0 (closed successfully)");
	conn_close(c);
}

void
need_chap(void)
{
	if (opt.o_user == NULL || opt.o_secret == NULL)
		fail("this scenario needs -u CHAPUSER -s CHAPSECRET");
}

void
need_digests(const struct conn *c, int hd, int dd)
{
	if ((hd && !c->c_hd) || (dd && !c->c_dd))
		fail("target did not accept CRC32C (HeaderDigest=%s "
		    "DataDigest=%s)", c->c_hd ? "CRC32C" : "None",
		    c->c_dd ? "CRC32C" : "None");
}

const uint8_t pr_isid_a[6] = { 0x80, 0x00, 0x00, 0x00, 0x50, 0x0a };

const uint8_t pr_isid_b[6] = { 0x80, 0x00, 0x00, 0x00, 0x50, 0x0b };

/*
 * Log in as initiator with isid, for the reservation scenarios: B's
 * connection goes to -P's portal when one is given (another node of a
 * cluster), A's to -p's.
 */
void
pr_login(struct conn *c, const char *initiator, const uint8_t *isid)
{
	struct login_opts	lo = login_defaults();
	const char		*host = opt.o_host, *port = opt.o_port;

	lo.lo_initiator = initiator;
	lo.lo_isid = isid;
	if (isid == pr_isid_b && opt.o_host_b != NULL) {
		opt.o_host = opt.o_host_b;
		opt.o_port = opt.o_port_b;
	}
	login_ok(c, &lo);
	opt.o_host = host;
	opt.o_port = port;
	do_tur(c);
	do_readcap(c);
}
