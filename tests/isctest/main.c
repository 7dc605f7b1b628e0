/*
 * isctest: a small iSCSI initiator of our own, for what libiscsi cannot
 * do: data digests, malformed and hostile PDUs, CHAP edge cases, two
 * initiators fencing each other with persistent reservations.  Each
 * scenario asserts the target's exact answer (RFC 7143 layouts) and,
 * after anything hostile, proves that the daemon still serves a fresh
 * login.  Exit 0: the target behaved; 1: it did not (reason on stderr).
 *
 * This file: the options, the table of scenarios, discovery when no
 * target is given, and the global timeout (isctest.h says where the
 * rest is).
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

struct options opt = {
	.o_initiator = DEFAULT_INITIATOR,
	.o_initiator_b = DEFAULT_INITIATOR_B,
	.o_wait = 5,
	.o_count = 1,
	.o_many = 1,
	.o_timeout = 10,
};

const char	*scenario = "isctest";

static const struct scenario {
	const char	*sc_name;
	void		(*sc_fn)(void);
	int		 sc_waits;	/* -w periods it may take, beyond -T */
} scenarios[] = {
	{ "login",		sc_login,		0 },
	{ "digests",		sc_digests,		0 },
	{ "bad-data-digest",	sc_bad_data_digest,	0 },
	{ "bad-header-digest",	sc_bad_header_digest,	0 },
	{ "oversize-dsl",	sc_oversize_dsl,	0 },
	{ "garbage",		sc_garbage,		0 },
	{ "truncated",		sc_truncated,		0 },
	{ "ffp-before-login",	sc_ffp_before_login,	0 },
	{ "unknown-opcode",	sc_unknown_opcode,	0 },
	{ "ahs",		sc_ahs,			0 },
	{ "cmdsn-window",	sc_cmdsn_window,	0 },
	{ "chap-ok",		sc_chap_ok,		0 },
	{ "chap-bad-secret",	sc_chap_bad_secret,	0 },
	{ "chap-reflect",	sc_chap_reflect,	0 },
	{ "chap-bad-length",	sc_chap_bad_length,	0 },
	{ "chap-bad-hex",	sc_chap_bad_hex,	0 },
	{ "chap-mutual",	sc_chap_mutual,		0 },
	{ "tsih-nonzero",	sc_tsih_nonzero,	0 },
	{ "text-loop",		sc_text_loop,		0 },
	{ "ordered",		sc_ordered,		0 },
	{ "unknown-task-data",	sc_unknown_task_data,	0 },
	{ "sendtargets-hidden",	sc_sendtargets_hidden,	0 },
	{ "nopin",		sc_nopin,		2 },
	{ "nopin-answer",	sc_nopin_answer,	3 },
	{ "reinstate",		sc_reinstate,		0 },
	{ "stranger-reinstate",	sc_stranger_reinstate,	1 },
	{ "hold",		sc_hold,		1 },
	{ "write-residual",	sc_write_residual,	0 },
	{ "dataout-overlap",	sc_dataout_overlap,	0 },
	{ "dataout-overlap-r2t", sc_dataout_overlap_r2t, 0 },
	{ "dataout-bad-ttt",	sc_dataout_bad_ttt,	0 },
	{ "unsol-short",	sc_unsol_short,		0 },
	{ "pending-wait",	sc_pending_wait,	1 },
	{ "stalled-writes",	sc_stalled_writes,	4 },
	{ "quota-race",		sc_quota_race,		1 },
	{ "pr-fence",		sc_pr_fence,		0 },
	{ "pr-check",		sc_pr_check,		0 },
	{ "pr-clear",		sc_pr_clear,		0 },
	{ "xcopy-pr",		sc_xcopy_pr,		0 },
	{ "mode-isolation",	sc_mode_isolation,	0 },
	{ "xcopy-huge",		sc_xcopy_huge,		0 },
	{ "long-verify",	sc_long_verify,		30 },
	{ "cold-reset",		sc_cold_reset,		0 },
	{ "caw-count",		sc_caw_count,		0 },
	{ "caw-value",		sc_caw_value,		0 },
	{ "live",		sc_live,		1 },
	{ "drop-write",		sc_drop_write,		0 },
	{ "adopt-check",	sc_adopt_check,		0 },
	{ "lost-check",		sc_lost_check,		0 },
	{ "multi-reload",	sc_multi_reload,	1 },
	{ "unmap-stripes",	sc_unmap_stripes,	0 },
	{ "unmap-whole",	sc_unmap_whole,		0 },
	{ "churn",		sc_churn,		0 },
};

static void
discover(void)
{
	struct login_opts	lo = { .lo_target = NULL };
	static const char	st[] = "SendTargets=All";
	static char		name[256];
	struct conn		c;
	struct pdu		p;
	uint8_t			h[ISCSI_BHS_LEN];
	const char		*v;

	login_ok(&c, &lo);
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_TEXT_REQ, ISCSI_FLAG_FINAL);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 20, ISCSI_TTT_NONE);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	if (pdu_send(&c, h, NULL, 0, st, sizeof(st), 0) == -1)
		fail("send: %s", strerror(errno));
	reply_wait(&c, &p, "Text Response");
	if (pdu_op(&p) != OP_TEXT_RSP || (v = kv_get(&p, "TargetName")) ==
	    NULL)
		fail("SendTargets: %s without TargetName", pdu_describe(&p));
	snprintf(name, sizeof(name), "%s", v);
	opt.o_target = name;
	step("discovered %s", name);
	pdu_free(&p);
	conn_close(&c);
}

static void
on_alarm(int sig)
{
	static const char	pre[] = "isctest: ";
	static const char	post[] = ": FAIL: global timeout (-T)\n";
	ssize_t			r;

	(void)sig;
	r = write(2, pre, sizeof(pre) - 1);
	r = write(2, scenario, strlen(scenario));
	r = write(2, post, sizeof(post) - 1);
	(void)r;
	_exit(1);
}

static void __attribute__((noreturn))
usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: isctest -p HOST:PORT [-P B_HOST:PORT] "
	    "[-t TARGET_IQN] [-i INITIATOR_IQN] [-I INITIATOR2_IQN] "
	    "[-u CHAPUSER -s CHAPSECRET]\n"
	    "\t[-U TUSER -S TSECRET] [-D] [-l LUN] [-v] [-w SECONDS] "
	    "[-n COUNT] [-N COMMANDS] [-T SECONDS]\n"
	    "\t[-b STRANGER_ADDR] [-B SOURCE_ADDR] SCENARIO\n"
	    "scenarios:");
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(stderr, " %s", scenarios[i].sc_name);
	fputc('\n', stderr);
	exit(1);
}

static void
parse_portal(char *s, const char **host, const char **port)
{
	char	*colon = strrchr(s, ':');

	if (colon == NULL || colon[1] == '\0')
		usage();
	*colon = '\0';
	*port = colon + 1;
	if (s[0] == '[' && colon > s + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		s++;
	}
	*host = s;
}

static int
num_arg(const char *s, int min)
{
	char	*ep;
	long	 v = strtol(s, &ep, 10);

	if (*s == '\0' || *ep != '\0' || v < min || v > 16383)
		usage();
	return (int)v;
}

static const struct scenario *
parse_args(int argc, char **argv)
{
	int	ch;
	size_t	i;

	while ((ch = getopt(argc, argv, "B:b:p:P:t:i:I:u:s:U:S:Dl:vw:n:N:T:")) !=
	    -1) {
		switch (ch) {
		case 'B': opt.o_bind_all = optarg; break;
		case 'b': opt.o_bind = optarg; break;
		case 'p': parse_portal(optarg, &opt.o_host, &opt.o_port); break;
		case 'P':
			parse_portal(optarg, &opt.o_host_b, &opt.o_port_b);
			break;
		case 't': opt.o_target = optarg; break;
		case 'i': opt.o_initiator = optarg; break;
		case 'I': opt.o_initiator_b = optarg; break;
		case 'u': opt.o_user = optarg; break;
		case 's': opt.o_secret = optarg; break;
		case 'U': opt.o_tuser = optarg; break;
		case 'S': opt.o_tsecret = optarg; break;
		case 'D': opt.o_digests = 1; break;
		case 'v': opt.o_verbose = 1; break;
		case 'l': opt.o_lun = num_arg(optarg, 0); break;
		case 'w': opt.o_wait = num_arg(optarg, 1); break;
		case 'n': opt.o_count = num_arg(optarg, 1); break;
		case 'N': opt.o_many = num_arg(optarg, 1); break;
		case 'T': opt.o_timeout = num_arg(optarg, 1); break;
		default: usage();
		}
	}
	if (opt.o_host == NULL || optind != argc - 1 ||
	    (opt.o_user == NULL) != (opt.o_secret == NULL))
		usage();
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].sc_name, argv[optind]) == 0)
			return &scenarios[i];
	usage();
}

int
main(int argc, char **argv)
{
	const struct scenario	*sc = parse_args(argc, argv);
	struct sigaction	 sa;
	int			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)opt.o_timeout);
	if (opt.o_target == NULL)
		discover();
	scenario = sc->sc_name;
	for (i = 1; i <= opt.o_count; i++) {
		alarm((unsigned)(opt.o_timeout + sc->sc_waits * opt.o_wait));
		sc->sc_fn();
		alarm(0);
		step("PASS (%d/%d)", i, opt.o_count);
	}
	return 0;
}
