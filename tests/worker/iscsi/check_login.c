/*
 * Tests for worker/iscsi/login.c: stages and transit, BHS fields, key
 * negotiation, text spanning several PDUs both ways, status codes and
 * the CHAP exchange end to end.  The CHAP arithmetic on the initiator
 * side is done here with OpenSSL directly, not with
 * worker/iscsi/chap.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>

#include "bytes.h"
#include "login.h"

#define INI		"iqn.1994-05.com.example:host1"
#define TGT_OPEN	"iqn.2025-01.pub.scsipub:open"
#define TGT_CHAP	"iqn.2025-01.pub.scsipub:chap"
#define TGT_MUTUAL	"iqn.2025-01.pub.scsipub:mutual"
#define CHAP_USER	"alice"
#define CHAP_SECRET	"alice-secret-0123"
#define MCHAP_USER	"scsipub-target"
#define MCHAP_SECRET	"target-secret-4567"

#define F_T		0x80
#define F_C		0x40
#define TEST_ITT	0x11223344u
#define TEST_CMDSN	0x1000u
#define TEST_TSIH	7
#define TEST_STATSN	100u

static const uint8_t test_isid[6] = { 0x80, 0x12, 0x34, 0x56, 0x00, 0x01 };

struct req {
	uint8_t	 hdr[48];
	size_t	 dlen;
};

struct rsp {
	uint8_t			 hdr[48];
	uint8_t			*data;
	size_t			 dlen;
	enum login_result	 res;
};

static struct login	 L;
static struct rsp	 R;
static char		 req_data[LOGIN_TEXT_MAX + 16384];

static int
test_lookup(void *arg, const char *ini, const char *tgt,
    struct login_target *lt)
{
	(void)arg;
	(void)ini;
	if (tgt == NULL) {		/* discovery: no authentication */
		lt->lt_exists = 1;
		return 0;
	}
	if (strcmp(tgt, TGT_OPEN) != 0 && strcmp(tgt, TGT_CHAP) != 0 &&
	    strcmp(tgt, TGT_MUTUAL) != 0)
		return 0;
	lt->lt_exists = 1;
	lt->lt_tpgt = 1;
	if (strcmp(tgt, TGT_OPEN) == 0)
		return 0;
	lt->lt_chap = 1;
	strcpy(lt->lt_chap_user, CHAP_USER);
	strcpy(lt->lt_chap_secret, CHAP_SECRET);
	if (strcmp(tgt, TGT_MUTUAL) == 0) {
		strcpy(lt->lt_mchap_user, MCHAP_USER);
		strcpy(lt->lt_mchap_secret, MCHAP_SECRET);
	}
	return 0;
}

static void
setup(void)
{
	login_init(&L);
	L.l_lookup = test_lookup;
	L.l_tsih_next = TEST_TSIH;
	L.l_statsn = TEST_STATSN;
	L.l_our_mrdsl = 65536;
	memset(&R, 0, sizeof(R));
}

static void
teardown(void)
{
	free(R.data);
	R.data = NULL;
	login_free(&L);
}

static void
req_new(struct req *r, uint8_t flags, int csg, int nsg)
{
	memset(r, 0, sizeof(*r));
	r->hdr[0] = 0x40 | 0x03;
	r->hdr[1] = (uint8_t)(flags | csg << 2 | nsg);
	memcpy(r->hdr + 8, test_isid, sizeof(test_isid));
	be32enc(r->hdr + 16, TEST_ITT);
	be16enc(r->hdr + 20, 1);
	be32enc(r->hdr + 24, TEST_CMDSN);
}

static void
req_kv(struct req *r, const char *kv)
{
	size_t	n = strlen(kv) + 1;

	ck_assert_uint_le(r->dlen + n, sizeof(req_data));
	memcpy(req_data + r->dlen, kv, n);
	r->dlen += n;
}

static void
req_names(struct req *r, const char *target)
{
	req_kv(r, "InitiatorName=" INI);
	req_kv(r, "SessionType=Normal");
	if (target != NULL) {
		char	buf[256];

		snprintf(buf, sizeof(buf), "TargetName=%s", target);
		req_kv(r, buf);
	}
}

/* Send r (data from req_data + off) and keep the answer in R. */
static enum login_result
xfer_at(struct req *r, size_t off)
{
	free(R.data);
	R.data = NULL;
	be24enc(r->hdr + 5, (uint32_t)r->dlen);
	R.res = login_pdu(&L, r->hdr,
	    r->dlen > 0 ? (const uint8_t *)req_data + off : NULL, r->dlen,
	    R.hdr, &R.data, &R.dlen);
	return R.res;
}

static enum login_result
xfer(struct req *r)
{
	return xfer_at(r, 0);
}

static uint16_t
rsp_status(void)
{
	return be16dec(R.hdr + 36);
}

/* Value of key in a response text, or NULL. */
static const char *
text_val(const uint8_t *data, size_t len, const char *key)
{
	size_t		 klen = strlen(key), off = 0, n;
	const char	*p;

	while (off < len) {
		p = (const char *)data + off;
		n = strnlen(p, len - off);
		ck_assert_uint_lt(off + n, len);	/* every pair ends in NUL */
		if (n > klen && memcmp(p, key, klen) == 0 && p[klen] == '=')
			return p + klen + 1;
		off += n + 1;
	}
	return NULL;
}

static const char *
rsp_val(const char *key)
{
	return text_val(R.data, R.dlen, key);
}

static void
assert_failed(uint16_t status)
{
	ck_assert_int_eq(R.res, LOGIN_FAIL);
	ck_assert_uint_eq(rsp_status(), status);
	ck_assert_ptr_null(R.data);
	ck_assert_uint_eq(R.dlen, 0);
	ck_assert_uint_eq(R.hdr[0], 0x23);
	ck_assert_uint_eq(be24dec(R.hdr + 5), 0);
	ck_assert_uint_eq(R.hdr[1] & (F_T | F_C), 0);
}

/* One-PDU login to the open target with extra keys; expects success. */
static void
login_open_with(const char *const *kvs, size_t n)
{
	struct req	r;
	size_t		i;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	for (i = 0; i < n; i++)
		req_kv(&r, kvs[i]);
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(rsp_status(), 0);
}

/*
 * Stages and BHS fields.
 */

START_TEST(login__none_straight_to_ffp)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(R.hdr[0], 0x23);
	ck_assert_uint_eq(R.hdr[1], F_T | 1 << 2 | 3);
	ck_assert_uint_eq(R.hdr[2], 0);
	ck_assert_uint_eq(R.hdr[3], 0);
	ck_assert_uint_eq(be24dec(R.hdr + 5), R.dlen);
	ck_assert_mem_eq(R.hdr + 8, test_isid, 6);
	ck_assert_uint_eq(be16dec(R.hdr + 14), TEST_TSIH);
	ck_assert_uint_eq(be32dec(R.hdr + 16), TEST_ITT);
	ck_assert_uint_eq(be32dec(R.hdr + 24), TEST_STATSN);
	ck_assert_uint_eq(be32dec(R.hdr + 28), TEST_CMDSN);
	ck_assert_uint_eq(be32dec(R.hdr + 32), TEST_CMDSN + 31);
	ck_assert_uint_eq(rsp_status(), 0);
	ck_assert_str_eq(rsp_val("TargetPortalGroupTag"), "1");
	ck_assert_str_eq(rsp_val("MaxRecvDataSegmentLength"), "65536");
	ck_assert_uint_eq(L.l_tsih, TEST_TSIH);
	ck_assert_uint_eq(L.l_statsn, TEST_STATSN + 1);
	ck_assert_uint_eq(L.l_expcmdsn, TEST_CMDSN);
	ck_assert_str_eq(L.l_initiator, INI);
	ck_assert_str_eq(L.l_target, TGT_OPEN);
	ck_assert_int_eq(L.l_type, LOGIN_SESSION_NORMAL);
	ck_assert_uint_eq(L.l_cid, 1);
	ck_assert_mem_eq(L.l_isid, test_isid, 6);
	/* Defaults apply to what was not negotiated. */
	ck_assert_uint_eq(L.l_params.ip_mrdsl_ini, 8192);
	ck_assert_uint_eq(L.l_params.ip_mrdsl_tgt, 65536);
	ck_assert_uint_eq(L.l_params.ip_max_burst, 262144);
	ck_assert_uint_eq(L.l_params.ip_first_burst, 65536);
	ck_assert_uint_eq(L.l_params.ip_max_r2t, 1);
	ck_assert_uint_eq(L.l_params.ip_time2wait, 2);
	ck_assert_uint_eq(L.l_params.ip_time2retain, 20);
	ck_assert_int_eq(L.l_params.ip_initial_r2t, 1);
	ck_assert_int_eq(L.l_params.ip_immediate_data, 1);
	ck_assert_int_eq(L.l_params.ip_header_digest, 0);
	ck_assert_int_eq(L.l_params.ip_data_digest, 0);
	ck_assert_int_eq(L.l_params.ip_erl, 0);
	ck_assert_int_eq(L.l_params.ip_data_pdu_in_order, 1);
	ck_assert_int_eq(L.l_params.ip_data_seq_in_order, 1);
}
END_TEST

START_TEST(login__two_stage)
{
	struct req	r;

	req_new(&r, F_T, 0, 1);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "AuthMethod=CHAP,None");
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_uint_eq(R.hdr[1], F_T | 0 << 2 | 1);
	ck_assert_str_eq(rsp_val("AuthMethod"), "None");
	ck_assert_str_eq(rsp_val("TargetPortalGroupTag"), "1");
	ck_assert_ptr_null(rsp_val("MaxRecvDataSegmentLength"));
	ck_assert_uint_eq(be16dec(R.hdr + 14), 0);	/* TSIH only at the end */
	ck_assert_uint_eq(be32dec(R.hdr + 24), TEST_STATSN);

	req_new(&r, F_T, 1, 3);
	req_kv(&r, "InitiatorName=" INI);	/* libiscsi says it again */
	req_kv(&r, "HeaderDigest=CRC32C,None");
	req_kv(&r, "MaxRecvDataSegmentLength=262144");
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(R.hdr[1], F_T | 1 << 2 | 3);
	ck_assert_str_eq(rsp_val("HeaderDigest"), "CRC32C");
	ck_assert_str_eq(rsp_val("MaxRecvDataSegmentLength"), "65536");
	ck_assert_ptr_null(rsp_val("TargetPortalGroupTag"));
	ck_assert_uint_eq(be16dec(R.hdr + 14), TEST_TSIH);
	ck_assert_uint_eq(be32dec(R.hdr + 24), TEST_STATSN + 1);
	ck_assert_uint_eq(L.l_params.ip_mrdsl_ini, 262144);
	ck_assert_int_eq(L.l_params.ip_header_digest, 1);
}
END_TEST

START_TEST(login__security_straight_to_ffp)
{
	struct req	r;

	req_new(&r, F_T, 0, 3);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "AuthMethod=None");
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(R.hdr[1], F_T | 0 << 2 | 3);
	ck_assert_str_eq(rsp_val("AuthMethod"), "None");
	ck_assert_str_eq(rsp_val("MaxRecvDataSegmentLength"), "65536");
}
END_TEST

START_TEST(login__stays_in_stage_without_t)
{
	struct req	r;

	req_new(&r, 0, 1, 0);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_uint_eq(R.hdr[1], 1 << 2);
	req_new(&r, F_T, 1, 3);
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(R.hdr[1], F_T | 1 << 2 | 3);
}
END_TEST

START_TEST(login__adopts_expstatsn)
{
	struct req	r;

	req_new(&r, 0, 0, 0);
	be32enc(r.hdr + 28, 5000);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_uint_eq(be32dec(R.hdr + 24), 5000);
	req_new(&r, F_T, 0, 3);
	be32enc(r.hdr + 28, 5001);
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(be32dec(R.hdr + 24), 5001);
	ck_assert_uint_eq(L.l_statsn, 5002);
}
END_TEST

START_TEST(login__closes_after_done)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_int_eq(xfer(&r), LOGIN_CLOSE);
	ck_assert_ptr_null(R.data);
}
END_TEST

START_TEST(login__discovery_session)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_kv(&r, "InitiatorName=" INI);
	req_kv(&r, "SessionType=Discovery");
	req_kv(&r, "MaxBurstLength=65536");
	req_kv(&r, "InitialR2T=No");
	req_kv(&r, "HeaderDigest=None");
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_int_eq(L.l_type, LOGIN_SESSION_DISCOVERY);
	ck_assert_str_eq(rsp_val("MaxBurstLength"), "Irrelevant");
	ck_assert_str_eq(rsp_val("InitialR2T"), "Irrelevant");
	ck_assert_str_eq(rsp_val("HeaderDigest"), "None");
	ck_assert_ptr_null(rsp_val("TargetPortalGroupTag"));
	ck_assert_uint_eq(be16dec(R.hdr + 14), TEST_TSIH);
}
END_TEST

/*
 * Failures and their status codes.
 */

START_TEST(login__rejects_unknown_target)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, "iqn.2025-01.pub.scsipub:nosuch");
	xfer(&r);
	assert_failed(LOGIN_STATUS_NOT_FOUND);
	ck_assert_int_eq(xfer(&r), LOGIN_CLOSE);
}
END_TEST

START_TEST(login__rejects_tsih_nonzero)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	be16enc(r.hdr + 14, 42);
	req_names(&r, TGT_OPEN);
	xfer(&r);
	assert_failed(LOGIN_STATUS_NO_SESSION);
	ck_assert_uint_eq(be16dec(R.hdr + 14), 42);
}
END_TEST

START_TEST(login__requires_initiator_name)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_kv(&r, "TargetName=" TGT_OPEN);
	xfer(&r);
	assert_failed(LOGIN_STATUS_MISSING_PARAM);
}
END_TEST

START_TEST(login__requires_target_name)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, NULL);
	xfer(&r);
	assert_failed(LOGIN_STATUS_MISSING_PARAM);
}
END_TEST

START_TEST(login__rejects_bad_version)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	r.hdr[2] = 2;
	r.hdr[3] = 1;
	req_names(&r, TGT_OPEN);
	xfer(&r);
	assert_failed(LOGIN_STATUS_BAD_VERSION);
	ck_assert_uint_eq(R.hdr[2], 0);
	ck_assert_uint_eq(R.hdr[3], 0);
}
END_TEST

START_TEST(login__rejects_bad_session_type)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_kv(&r, "InitiatorName=" INI);
	req_kv(&r, "SessionType=Weird");
	xfer(&r);
	assert_failed(LOGIN_STATUS_NO_SESSION_TYPE);
}
END_TEST

START_TEST(login__rejects_non_login_opcode)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	r.hdr[0] = 0x04;		/* Text Request */
	xfer(&r);
	assert_failed(LOGIN_STATUS_INVALID_REQUEST);
}
END_TEST

static const struct {
	uint8_t		 flags;
	int		 csg, nsg;
} bad_stages[] = {
	{ F_T | F_C, 1, 3 },		/* T and C together */
	{ F_T, 1, 2 },			/* NSG 2 is reserved */
	{ F_T, 1, 1 },			/* no transit backwards or in place */
	{ F_T, 1, 0 },
	{ F_T, 3, 3 },			/* CSG cannot be the FFP */
	{ 0, 2, 0 },
};

START_TEST(login__rejects_bad_stage_bits)
{
	struct req	r;

	req_new(&r, bad_stages[_i].flags, bad_stages[_i].csg,
	    bad_stages[_i].nsg);
	req_names(&r, TGT_OPEN);
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_stage_mismatch)
{
	struct req	r;

	req_new(&r, 0, 0, 0);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	req_new(&r, F_T, 1, 3);		/* we never agreed to leave stage 0 */
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_changed_isid)
{
	struct req	r;

	req_new(&r, 0, 0, 0);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	req_new(&r, F_T, 0, 1);
	r.hdr[13] ^= 1;
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_repeated_key)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "MaxBurstLength=65536");
	req_kv(&r, "MaxBurstLength=65536");
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_key_renegotiated_later)
{
	struct req	r;

	req_new(&r, 0, 1, 0);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "ImmediateData=Yes");
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	req_new(&r, F_T, 1, 3);
	req_kv(&r, "ImmediateData=No");
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_changed_initiator_name)
{
	struct req	r;

	req_new(&r, 0, 1, 0);
	req_names(&r, TGT_OPEN);
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	req_new(&r, F_T, 1, 3);
	req_kv(&r, "InitiatorName=iqn.1994-05.com.example:other");
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_malformed_text)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "NoEqualsSign");
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_overlong_names)
{
	struct req	r;
	char		buf[400];

	req_new(&r, F_T, 1, 3);
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "InitiatorName=", 14);
	req_kv(&r, buf);
	req_kv(&r, "TargetName=" TGT_OPEN);
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_security_keys_in_operational_stage)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "AuthMethod=None");
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

/*
 * Key negotiation.
 */

START_TEST(login__not_understood_unknown_and_x_keys)
{
	static const char *const kvs[] = {
		"X-com.example.Flavour=vanilla", "X#org.example=1",
		"FooBar=2", "iSCSIProtocolLevel=1",
	};

	login_open_with(kvs, sizeof(kvs) / sizeof(kvs[0]));
	ck_assert_str_eq(rsp_val("X-com.example.Flavour"), "NotUnderstood");
	ck_assert_str_eq(rsp_val("X#org.example"), "NotUnderstood");
	ck_assert_str_eq(rsp_val("FooBar"), "NotUnderstood");
	ck_assert_str_eq(rsp_val("iSCSIProtocolLevel"), "NotUnderstood");
}
END_TEST

static const char *const reject_vectors[] = {
	"MaxBurstLength=100", "MaxBurstLength=16777216",
	"FirstBurstLength=-1", "MaxConnections=0", "ErrorRecoveryLevel=3",
	"DefaultTime2Wait=3601", "MaxOutstandingR2T=abc",
	"MaxOutstandingR2T=", "InitialR2T=yes", "ImmediateData=1",
	"MaxRecvDataSegmentLength=511", "HeaderDigest=MD5",
	"DataDigest=", "DefaultTime2Retain=0x", "MaxBurstLength=65536 ",
	"MaxBurstLength=123456789012345678901234",
};

START_TEST(login__rejects_out_of_range)
{
	const char	*kv = reject_vectors[_i];
	char		 key[64];
	size_t		 n = strcspn(kv, "=");

	memcpy(key, kv, n);
	key[n] = '\0';
	login_open_with(&kv, 1);
	ck_assert_str_eq(rsp_val(key), "Reject");
	/* A rejected offer leaves the default in force. */
	ck_assert_uint_eq(L.l_params.ip_max_burst, 262144);
	ck_assert_uint_eq(L.l_params.ip_mrdsl_ini, 8192);
	ck_assert_int_eq(L.l_params.ip_initial_r2t, 1);
	ck_assert_int_eq(L.l_params.ip_header_digest, 0);
}
END_TEST

START_TEST(login__numeric_combine)
{
	static const char *const kvs[] = {
		"MaxBurstLength=1048576", "FirstBurstLength=1048576",
		"DefaultTime2Wait=0", "DefaultTime2Retain=60",
		"MaxOutstandingR2T=64", "MaxConnections=4",
		"ErrorRecoveryLevel=2", "InitialR2T=No", "ImmediateData=No",
		"DataPDUInOrder=No", "DataSequenceInOrder=No", "IFMarker=Yes",
		"OFMarker=No", "IFMarkInt=2048", "OFMarkInt=2048~4096",
		"MaxRecvDataSegmentLength=0x20000",
	};

	L.l_max_burst_cap = 524288;
	login_open_with(kvs, sizeof(kvs) / sizeof(kvs[0]));
	ck_assert_str_eq(rsp_val("MaxBurstLength"), "524288");
	ck_assert_str_eq(rsp_val("FirstBurstLength"), "262144");
	ck_assert_str_eq(rsp_val("DefaultTime2Wait"), "2");
	ck_assert_str_eq(rsp_val("DefaultTime2Retain"), "20");
	ck_assert_str_eq(rsp_val("MaxOutstandingR2T"), "16");
	ck_assert_str_eq(rsp_val("MaxConnections"), "1");
	ck_assert_str_eq(rsp_val("ErrorRecoveryLevel"), "0");
	ck_assert_str_eq(rsp_val("InitialR2T"), "No");
	ck_assert_str_eq(rsp_val("ImmediateData"), "No");
	ck_assert_str_eq(rsp_val("DataPDUInOrder"), "Yes");
	ck_assert_str_eq(rsp_val("DataSequenceInOrder"), "Yes");
	ck_assert_str_eq(rsp_val("IFMarker"), "No");
	ck_assert_str_eq(rsp_val("OFMarker"), "No");
	ck_assert_str_eq(rsp_val("IFMarkInt"), "Irrelevant");
	ck_assert_str_eq(rsp_val("OFMarkInt"), "Irrelevant");
	/* Declarative: no answer, only our own declaration. */
	ck_assert_str_eq(rsp_val("MaxRecvDataSegmentLength"), "65536");
	ck_assert_uint_eq(L.l_params.ip_mrdsl_ini, 131072);
	ck_assert_uint_eq(L.l_params.ip_max_burst, 524288);
	ck_assert_uint_eq(L.l_params.ip_first_burst, 262144);
	ck_assert_uint_eq(L.l_params.ip_time2wait, 2);
	ck_assert_uint_eq(L.l_params.ip_time2retain, 20);
	ck_assert_uint_eq(L.l_params.ip_max_r2t, 16);
	ck_assert_int_eq(L.l_params.ip_initial_r2t, 0);
	ck_assert_int_eq(L.l_params.ip_immediate_data, 0);
	ck_assert_int_eq(L.l_params.ip_erl, 0);
}
END_TEST

START_TEST(login__numeric_combine_small_offers)
{
	static const char *const kvs[] = {
		"FirstBurstLength=262144", "DefaultTime2Wait=5",
		"DefaultTime2Retain=0", "MaxOutstandingR2T=2",
		"MaxBurstLength=65536", "InitialR2T=Yes",
	};

	login_open_with(kvs, sizeof(kvs) / sizeof(kvs[0]));
	ck_assert_str_eq(rsp_val("MaxBurstLength"), "65536");
	/* FirstBurstLength never exceeds MaxBurstLength, whatever order. */
	ck_assert_str_eq(rsp_val("FirstBurstLength"), "65536");
	ck_assert_str_eq(rsp_val("DefaultTime2Wait"), "5");
	ck_assert_str_eq(rsp_val("DefaultTime2Retain"), "0");
	ck_assert_str_eq(rsp_val("MaxOutstandingR2T"), "2");
	ck_assert_str_eq(rsp_val("InitialR2T"), "Yes");
	ck_assert_uint_eq(L.l_params.ip_first_burst, 65536);
	ck_assert_uint_eq(L.l_params.ip_time2retain, 0);
}
END_TEST

static const struct {
	const char	*offer;
	const char	*answer;
	int		 crc;
} digest_vectors[] = {
	{ "CRC32C,None", "CRC32C", 1 },
	{ "None,CRC32C", "None", 0 },
	{ "CRC32C", "CRC32C", 1 },
	{ "None", "None", 0 },
	{ "X-com.example.Sum,CRC32C,None", "CRC32C", 1 },
	{ "crc32c,None", "None", 0 },
	{ "MD5,SHA1", "Reject", 0 },
};

START_TEST(login__digest_selection)
{
	char		 h[64], d[64];
	const char	*kvs[2] = { h, d };

	snprintf(h, sizeof(h), "HeaderDigest=%s", digest_vectors[_i].offer);
	snprintf(d, sizeof(d), "DataDigest=%s", digest_vectors[_i].offer);
	login_open_with(kvs, 2);
	ck_assert_str_eq(rsp_val("HeaderDigest"), digest_vectors[_i].answer);
	ck_assert_str_eq(rsp_val("DataDigest"), digest_vectors[_i].answer);
	ck_assert_int_eq(L.l_params.ip_header_digest, digest_vectors[_i].crc);
	ck_assert_int_eq(L.l_params.ip_data_digest, digest_vectors[_i].crc);
}
END_TEST

START_TEST(login__operational_keys_in_security_stage)
{
	struct req	r;

	req_new(&r, F_T, 0, 3);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "AuthMethod=None");
	req_kv(&r, "HeaderDigest=CRC32C");
	req_kv(&r, "MaxRecvDataSegmentLength=16384");
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_str_eq(rsp_val("HeaderDigest"), "CRC32C");
	ck_assert_uint_eq(L.l_params.ip_mrdsl_ini, 16384);
}
END_TEST

/*
 * Text over several PDUs.
 */

START_TEST(login__multi_pdu_request)
{
	struct req	r;
	size_t		total, cut;

	req_new(&r, 0, 1, 0);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "MaxBurstLength=65536");
	total = r.dlen;
	cut = 20;			/* in the middle of InitiatorName */

	req_new(&r, F_C, 1, 3);
	r.dlen = cut;
	ck_assert_int_eq(xfer_at(&r, 0), LOGIN_CONTINUE);
	ck_assert_uint_eq(rsp_status(), 0);
	ck_assert_uint_eq(R.dlen, 0);
	ck_assert_uint_eq(R.hdr[1], 1 << 2);	/* C=0, T=0 */
	ck_assert_uint_eq(be32dec(R.hdr + 24), TEST_STATSN);

	req_new(&r, F_T, 1, 3);
	r.dlen = total - cut;
	ck_assert_int_eq(xfer_at(&r, cut), LOGIN_DONE);
	ck_assert_str_eq(rsp_val("MaxBurstLength"), "65536");
	ck_assert_str_eq(L.l_initiator, INI);
	ck_assert_uint_eq(be32dec(R.hdr + 24), TEST_STATSN + 1);
}
END_TEST

#define PAD_KEYS	200

START_TEST(login__multi_pdu_request_and_response)
{
	struct req	 r;
	char		 kv[80], *all;
	size_t		 total, alllen = 0, i, count = 0, off;

	req_new(&r, 0, 1, 0);
	req_names(&r, TGT_OPEN);
	for (i = 0; i < PAD_KEYS; i++) {
		snprintf(kv, sizeof(kv), "X-com.example.padding.%03zu."
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=v", i);
		req_kv(&r, kv);
	}
	total = r.dlen;
	ck_assert_uint_gt(total, 8192);

	req_new(&r, F_C, 1, 3);
	r.dlen = 8192;
	ck_assert_int_eq(xfer_at(&r, 0), LOGIN_CONTINUE);
	ck_assert_uint_eq(R.dlen, 0);
	req_new(&r, F_T, 1, 3);
	r.dlen = total - 8192;
	ck_assert_int_eq(xfer_at(&r, 8192), LOGIN_CONTINUE);
	ck_assert_uint_eq(R.dlen, 8192);
	ck_assert_uint_eq(R.hdr[1], F_C | 1 << 2);	/* more to come, T=0 */
	ck_assert_uint_eq(be16dec(R.hdr + 14), 0);

	all = malloc(LOGIN_TEXT_MAX);
	ck_assert_ptr_nonnull(all);
	memcpy(all, R.data, R.dlen);
	alllen = R.dlen;

	req_new(&r, F_T, 1, 3);		/* empty: send me the rest */
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_gt(R.dlen, 0);
	ck_assert_uint_le(R.dlen, 8192);
	ck_assert_uint_eq(R.hdr[1], F_T | 1 << 2 | 3);
	ck_assert_uint_eq(be16dec(R.hdr + 14), TEST_TSIH);
	memcpy(all + alllen, R.data, R.dlen);
	alllen += R.dlen;

	for (off = 0; off < alllen; off += strlen(all + off) + 1)
		if (strstr(all + off, "=NotUnderstood") != NULL)
			count++;
	ck_assert_uint_eq(count, PAD_KEYS);
	ck_assert_str_eq(text_val((uint8_t *)all, alllen,
	    "TargetPortalGroupTag"), "1");
	free(all);
}
END_TEST

START_TEST(login__rejects_data_while_sending_continuation)
{
	struct req	 r;
	char		 kv[80];
	size_t		 i;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_OPEN);
	for (i = 0; i < PAD_KEYS; i++) {
		snprintf(kv, sizeof(kv), "X-com.example.padding.%03zu."
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=v", i);
		req_kv(&r, kv);
	}
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_uint_eq(R.hdr[1] & F_C, F_C);
	r.dlen = 10;			/* must be empty now */
	xfer(&r);
	assert_failed(LOGIN_STATUS_INITIATOR_ERROR);
}
END_TEST

START_TEST(login__rejects_oversized_text)
{
	struct req	r;
	size_t		sent = 0;

	memset(req_data, 'x', 8192);
	while (sent <= LOGIN_TEXT_MAX) {
		req_new(&r, F_C, 1, 3);
		r.dlen = 8192;
		xfer(&r);
		sent += 8192;
		if (R.res != LOGIN_CONTINUE)
			break;
	}
	ck_assert_uint_gt(sent, LOGIN_TEXT_MAX);
	assert_failed(LOGIN_STATUS_NO_RESOURCES);
}
END_TEST

/*
 * CHAP, end to end.  The initiator side is computed here.
 */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t
unhex(const char *s, uint8_t *out, size_t max)
{
	size_t	n = 0;

	ck_assert(s[0] == '0' && (s[1] == 'x' || s[1] == 'X'));
	for (s += 2; s[0] != '\0' && n < max; s += 2) {
		ck_assert_int_ge(hexval(s[0]), 0);
		ck_assert_int_ge(hexval(s[1]), 0);
		out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
	}
	return n;
}

static void
md5_hex(uint8_t id, const char *secret, const uint8_t *c, size_t clen,
    char out[35])
{
	uint8_t		d[16];
	unsigned int	len = 0;
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	int		i;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DigestInit_ex(ctx, EVP_md5(), NULL), 1);
	EVP_DigestUpdate(ctx, &id, 1);
	EVP_DigestUpdate(ctx, secret, strlen(secret));
	EVP_DigestUpdate(ctx, c, clen);
	EVP_DigestFinal_ex(ctx, d, &len);
	EVP_MD_CTX_free(ctx);
	ck_assert_uint_eq(len, 16);
	strcpy(out, "0x");
	for (i = 0; i < 16; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", d[i]);
}

struct chal {
	uint8_t	id;
	uint8_t	c[16];
	char	c_text[64];
};

/* AuthMethod and CHAP_A legs, as libiscsi sends them. */
static void
chap_to_challenge(const char *target, struct chal *ch)
{
	struct req	 r;
	const char	*v;

	req_new(&r, F_T, 0, 1);
	req_names(&r, target);
	req_kv(&r, "AuthMethod=CHAP,None");
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_str_eq(rsp_val("AuthMethod"), "CHAP");
	ck_assert_uint_eq(R.hdr[1] & F_T, 0);

	req_new(&r, 0, 0, 1);
	req_kv(&r, "CHAP_A=7,5");
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_uint_eq(R.hdr[1] & F_T, 0);
	ck_assert_str_eq(rsp_val("CHAP_A"), "5");
	ck_assert_ptr_nonnull(v = rsp_val("CHAP_I"));
	ch->id = (uint8_t)atoi(v);
	ck_assert_int_le(atoi(v), 255);
	ck_assert_ptr_nonnull(v = rsp_val("CHAP_C"));
	ck_assert_uint_eq(strlen(v), 34);
	snprintf(ch->c_text, sizeof(ch->c_text), "%s", v);
	ck_assert_uint_eq(unhex(v, ch->c, sizeof(ch->c)), 16);
}

/* The CHAP_N/CHAP_R leg, with optional extra keys. */
static enum login_result
chap_answer(const char *user, const char *resp, const char *const *extra,
    size_t n)
{
	struct req	r;
	char		buf[300];
	size_t		i;

	req_new(&r, F_T, 0, 1);
	snprintf(buf, sizeof(buf), "CHAP_N=%s", user);
	req_kv(&r, buf);
	snprintf(buf, sizeof(buf), "CHAP_R=%s", resp);
	req_kv(&r, buf);
	for (i = 0; i < n; i++)
		req_kv(&r, extra[i]);
	return xfer(&r);
}

static void
finish_operational(void)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	ck_assert_int_eq(xfer(&r), LOGIN_DONE);
	ck_assert_uint_eq(be16dec(R.hdr + 14), TEST_TSIH);
	ck_assert_str_eq(rsp_val("MaxRecvDataSegmentLength"), "65536");
}

START_TEST(login__chap_one_way_ok)
{
	struct chal	ch;
	char		resp[35];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	ck_assert_int_eq(chap_answer(CHAP_USER, resp, NULL, 0),
	    LOGIN_CONTINUE);
	ck_assert_uint_eq(rsp_status(), 0);
	ck_assert_uint_eq(R.hdr[1], F_T | 0 << 2 | 1);
	ck_assert_ptr_null(rsp_val("CHAP_R"));
	finish_operational();
	/* Nothing secret is left behind. */
	ck_assert_ptr_null(L.l_chap);
	ck_assert_ptr_null(L.l_tgt);
}
END_TEST

START_TEST(login__chap_base64_ok)
{
	struct chal	 ch;
	char		 hex[35], b64[40];
	uint8_t		 d[16];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, hex);
	unhex(hex, d, sizeof(d));
	strcpy(b64, "0b");
	ck_assert_int_eq(EVP_EncodeBlock((unsigned char *)b64 + 2, d, 16), 24);
	ck_assert_int_eq(chap_answer(CHAP_USER, b64, NULL, 0), LOGIN_CONTINUE);
	finish_operational();
}
END_TEST

START_TEST(login__chap_wrong_secret)
{
	struct chal	ch;
	char		resp[35];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex(ch.id, "not-the-secret", ch.c, 16, resp);
	chap_answer(CHAP_USER, resp, NULL, 0);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
	ck_assert_ptr_null(L.l_chap);
}
END_TEST

START_TEST(login__chap_wrong_user)
{
	struct chal	ch;
	char		resp[35];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	chap_answer("mallory", resp, NULL, 0);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_wrong_id)
{
	struct chal	ch;
	char		resp[35];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex((uint8_t)(ch.id + 1), CHAP_SECRET, ch.c, 16, resp);
	chap_answer(CHAP_USER, resp, NULL, 0);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_r_wrong_length)
{
	struct chal	ch;
	char		resp[40];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	strcat(resp, "00");		/* 17 bytes */
	chap_answer(CHAP_USER, resp, NULL, 0);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_bad_hex)
{
	struct chal	ch;
	char		resp[35];

	chap_to_challenge(TGT_CHAP, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	resp[10] = 'g';
	chap_answer(CHAP_USER, resp, NULL, 0);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_mutual_ok)
{
	static const uint8_t	 ic[4] = { 0xde, 0xad, 0xbe, 0xef };
	const char		*extra[] = { "CHAP_I=77", "CHAP_C=0xdeadbeef" };
	struct chal		 ch;
	char			 resp[35], want[35];

	chap_to_challenge(TGT_MUTUAL, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	ck_assert_int_eq(chap_answer(CHAP_USER, resp, extra, 2),
	    LOGIN_CONTINUE);
	ck_assert_uint_eq(R.hdr[1], F_T | 0 << 2 | 1);
	ck_assert_str_eq(rsp_val("CHAP_N"), MCHAP_USER);
	md5_hex(77, MCHAP_SECRET, ic, sizeof(ic), want);
	ck_assert_str_eq(rsp_val("CHAP_R"), want);
	finish_operational();
}
END_TEST

START_TEST(login__chap_mutual_without_target_secret)
{
	const char	*extra[] = { "CHAP_I=77", "CHAP_C=0xdeadbeef" };
	struct chal	 ch;
	char		 resp[35];

	chap_to_challenge(TGT_CHAP, &ch);	/* no target credentials */
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	chap_answer(CHAP_USER, resp, extra, 2);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_mutual_needs_both_keys)
{
	const char	*extra[] = { "CHAP_I=77" };
	struct chal	 ch;
	char		 resp[35];

	chap_to_challenge(TGT_MUTUAL, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	chap_answer(CHAP_USER, resp, extra, 1);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_reflection_refused)
{
	struct chal	 ch;
	char		 resp[35], i[16], c[80];
	const char	*extra[] = { i, c };

	chap_to_challenge(TGT_MUTUAL, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	snprintf(i, sizeof(i), "CHAP_I=%u", ch.id);
	snprintf(c, sizeof(c), "CHAP_C=%s", ch.c_text);
	chap_answer(CHAP_USER, resp, extra, 2);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_i_out_of_range)
{
	const char	*extra[] = { "CHAP_I=256", "CHAP_C=0xdeadbeef" };
	struct chal	 ch;
	char		 resp[35];

	chap_to_challenge(TGT_MUTUAL, &ch);
	md5_hex(ch.id, CHAP_SECRET, ch.c, 16, resp);
	chap_answer(CHAP_USER, resp, extra, 2);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_required_but_none_offered)
{
	struct req	r;

	req_new(&r, F_T, 0, 1);
	req_names(&r, TGT_CHAP);
	req_kv(&r, "AuthMethod=None");
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_required_cannot_skip_security)
{
	struct req	r;

	req_new(&r, F_T, 1, 3);
	req_names(&r, TGT_CHAP);
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_required_cannot_transit_without_auth)
{
	struct req	r;

	req_new(&r, F_T, 0, 3);
	req_names(&r, TGT_CHAP);
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_unsupported_algorithm)
{
	struct req	r;

	req_new(&r, F_T, 0, 1);
	req_names(&r, TGT_CHAP);
	req_kv(&r, "AuthMethod=CHAP");
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	req_new(&r, 0, 0, 1);
	req_kv(&r, "CHAP_A=6,7");
	ck_assert_int_eq(xfer(&r), LOGIN_CONTINUE);
	ck_assert_str_eq(rsp_val("CHAP_A"), "Reject");
	ck_assert_ptr_null(rsp_val("CHAP_C"));
	req_new(&r, F_T, 0, 1);
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_stalled_exchange_fails)
{
	struct req	r;
	struct chal	ch;

	chap_to_challenge(TGT_CHAP, &ch);
	req_new(&r, F_T, 0, 1);		/* no CHAP_N/CHAP_R */
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_response_before_challenge)
{
	struct req	r;

	req_new(&r, 0, 0, 1);
	req_names(&r, TGT_CHAP);
	req_kv(&r, "CHAP_N=" CHAP_USER);
	req_kv(&r, "CHAP_R=0x00112233445566778899aabbccddeeff");
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

START_TEST(login__chap_keys_on_open_target)
{
	struct req	r;

	req_new(&r, 0, 0, 1);
	req_names(&r, TGT_OPEN);
	req_kv(&r, "CHAP_A=5");
	xfer(&r);
	assert_failed(LOGIN_STATUS_AUTH_FAILED);
}
END_TEST

Suite *
login_suite(void)
{
	Suite	*s = suite_create("login");
	TCase	*tc;

	tc = tcase_create("stages");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, login__none_straight_to_ffp);
	tcase_add_test(tc, login__two_stage);
	tcase_add_test(tc, login__security_straight_to_ffp);
	tcase_add_test(tc, login__stays_in_stage_without_t);
	tcase_add_test(tc, login__adopts_expstatsn);
	tcase_add_test(tc, login__closes_after_done);
	tcase_add_test(tc, login__discovery_session);
	suite_add_tcase(s, tc);

	tc = tcase_create("failures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, login__rejects_unknown_target);
	tcase_add_test(tc, login__rejects_tsih_nonzero);
	tcase_add_test(tc, login__requires_initiator_name);
	tcase_add_test(tc, login__requires_target_name);
	tcase_add_test(tc, login__rejects_bad_version);
	tcase_add_test(tc, login__rejects_bad_session_type);
	tcase_add_test(tc, login__rejects_non_login_opcode);
	tcase_add_loop_test(tc, login__rejects_bad_stage_bits, 0,
	    sizeof(bad_stages) / sizeof(bad_stages[0]));
	tcase_add_test(tc, login__rejects_stage_mismatch);
	tcase_add_test(tc, login__rejects_changed_isid);
	tcase_add_test(tc, login__rejects_repeated_key);
	tcase_add_test(tc, login__rejects_key_renegotiated_later);
	tcase_add_test(tc, login__rejects_changed_initiator_name);
	tcase_add_test(tc, login__rejects_malformed_text);
	tcase_add_test(tc, login__rejects_overlong_names);
	tcase_add_test(tc, login__rejects_security_keys_in_operational_stage);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, login__not_understood_unknown_and_x_keys);
	tcase_add_loop_test(tc, login__rejects_out_of_range, 0,
	    sizeof(reject_vectors) / sizeof(reject_vectors[0]));
	tcase_add_test(tc, login__numeric_combine);
	tcase_add_test(tc, login__numeric_combine_small_offers);
	tcase_add_loop_test(tc, login__digest_selection, 0,
	    sizeof(digest_vectors) / sizeof(digest_vectors[0]));
	tcase_add_test(tc, login__operational_keys_in_security_stage);
	suite_add_tcase(s, tc);

	tc = tcase_create("continuation");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, login__multi_pdu_request);
	tcase_add_test(tc, login__multi_pdu_request_and_response);
	tcase_add_test(tc, login__rejects_data_while_sending_continuation);
	tcase_add_test(tc, login__rejects_oversized_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("chap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, login__chap_one_way_ok);
	tcase_add_test(tc, login__chap_base64_ok);
	tcase_add_test(tc, login__chap_wrong_secret);
	tcase_add_test(tc, login__chap_wrong_user);
	tcase_add_test(tc, login__chap_wrong_id);
	tcase_add_test(tc, login__chap_r_wrong_length);
	tcase_add_test(tc, login__chap_bad_hex);
	tcase_add_test(tc, login__chap_mutual_ok);
	tcase_add_test(tc, login__chap_mutual_without_target_secret);
	tcase_add_test(tc, login__chap_mutual_needs_both_keys);
	tcase_add_test(tc, login__chap_reflection_refused);
	tcase_add_test(tc, login__chap_i_out_of_range);
	tcase_add_test(tc, login__chap_required_but_none_offered);
	tcase_add_test(tc, login__chap_required_cannot_skip_security);
	tcase_add_test(tc, login__chap_required_cannot_transit_without_auth);
	tcase_add_test(tc, login__chap_unsupported_algorithm);
	tcase_add_test(tc, login__chap_stalled_exchange_fails);
	tcase_add_test(tc, login__chap_response_before_challenge);
	tcase_add_test(tc, login__chap_keys_on_open_target);
	suite_add_tcase(s, tc);
	return s;
}
