/*
 * scsipubd: the master process.  Reads the configuration, opens the
 * listeners, forks the coordinator and the workers, and hands every
 * accepted iSCSI connection to a worker.  It parses no network input.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "digest.h"
#include "log.h"
#include "shmq.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: scsipubd [-dnv] [-f file]\n");
	exit(1);
}

/*
 * The pidfile, in state-dir, where the children may create files: never
 * through a link one of them left under its name.  Returns -1 if it
 * could not be written.
 */
static int
write_pidfile(const char *path, pid_t pid)
{
	char	 buf[32];
	int	 fd, n;

	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("%s: unlink %s", __func__, path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	if (fd == -1 || write(fd, buf, n) != n) {
		log_warn("%s: %s", __func__, path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Detach from the terminal, unless -d.  The parent writes the pidfile
 * with the new master's pid and only then exits, so that whoever started
 * scsipubd (an init script, systemd's PIDFile=) finds it on our return.
 */
static void
master_detach(struct master *m)
{
	pid_t	 pid;
	int	 fd;

	snprintf(m->m_pidfile, sizeof(m->m_pidfile), "%s/scsipubd.pid",
	    m->m_cfg->c_state_dir);
	if (m->m_debug) {
		if (write_pidfile(m->m_pidfile, getpid()) == -1)
			m->m_pidfile[0] = '\0';
		return;
	}
	if ((pid = fork()) == -1)
		fatal("%s: fork", __func__);
	if (pid > 0) {
		write_pidfile(m->m_pidfile, pid);
		_exit(0);
	}
	if (setsid() == -1)
		fatal("%s: setsid", __func__);
	if (chdir("/") == -1)
		fatal("%s: chdir", __func__);
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("%s: /dev/null", __func__);
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* The configuration and the TLS context, or exit: 0 after -n if good. */
static void
load_config(struct master *m, const char *path, int checkonly)
{
	struct config	*c;
	int		 bad;

	if ((c = config_new()) == NULL) {
		fprintf(stderr, "scsipubd: out of memory\n");
		exit(1);
	}
	bad = config_load(c, path, stderr);
	if (bad == 0)
		m->m_sslctx = tls_load(c, stderr, &bad);
	if (bad != 0) {
		config_free(c);
		exit(1);
	}
	if (checkonly && getenv(UPGRADE_CHECK_ENV) != NULL &&
	    !upgrade_can_take(getenv(UPGRADE_CHECK_ENV))) {
		fprintf(stderr, "scsipubd: cannot take over a running master "
		    "of another version (%s): restart instead\n",
		    getenv(UPGRADE_CHECK_ENV));
		tls_free(m->m_sslctx);
		config_free(c);
		exit(EX_CONFIG);
	}
	if (checkonly) {
		printf("configuration OK\n");
		tls_free(m->m_sslctx);
		config_free(c);
		exit(0);
	}
	m->m_cfg = c;
}

static void
master_init(struct master *m)
{
	int	 i;

	if ((m->m_base = event_base_new()) == NULL)
		fatalx("event_base_new");
	m->m_nslots = MASTER_SLOTS(m->m_cfg);
	if (m->m_nslots > SHMQ_SLOTS_MAX)
		m->m_nslots = SHMQ_SLOTS_MAX;
	if ((m->m_region = shmq_region_create(m->m_nslots)) == NULL)
		fatal("shmq_region_create");
	if ((m->m_workers = calloc(m->m_nslots, sizeof(struct child))) ==
	    NULL)
		fatal("calloc");
	for (i = 0; i < m->m_nslots; i++)
		m->m_workers[i].ch_ctl = -1;
	m->m_coord.ch_ctl = -1;
	if ((m->m_conns = conns_new(m->m_cfg->c_max_conns)) == NULL)
		fatal("conns_new");
}

/*
 * Descriptors: as many as the hard limit allows (every connection is a
 * socket in a worker, and an overlay once written).
 */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("%s: setrlimit", __func__);
}

/*
 * Go on as the master that executed this binary in its place: its
 * listeners, rings and children are ours (daemon/upgrade.c); the
 * configuration is read anew, and listeners follow it as on SIGHUP.
 */
static int
master_takeover(struct master *m, int fd)
{
	log_init(m->m_debug, m->m_verbose || m->m_cfg->c_verbose);
	log_procinit("master");
	setproctitle("master");
	if (upgrade_restore(m, fd) == -1)
		fatalx("cannot take over from the previous binary");
	if (listen_open(m, m->m_cfg, stderr) == -1)
		log_warnx("keeping the previous binary's listeners");
	log_info("scsipubd %s took over from the previous binary, %d "
	    "workers", PACKAGE_VERSION, m->m_cfg->c_workers);
	master_run(m, 1);
	if (m->m_pidfile[0] != '\0')
		unlink(m->m_pidfile);
	log_info("stopped");
	return m->m_exitcode;
}

/*
 * What SIGUSR2 executes: the binary we were started from, by its path
 * (a new file there is the new build), with the same arguments.
 */
static void
keep_exe(struct master *m, int argc, char *argv[])
{
	char	 path[PATH_MAX];
	int	 i;

	if (realpath("/proc/self/exe", path) == NULL ||
	    strlen(path) >= sizeof(m->m_exe))
		snprintf(path, sizeof(path), "%s", argv[0]);
	snprintf(m->m_exe, sizeof(m->m_exe), "%s", path);
	if ((m->m_argv = calloc(argc + 1, sizeof(char *))) == NULL)
		fatal("calloc");
	for (i = 0; i < argc; i++)
		if ((m->m_argv[i] = strdup(argv[i])) == NULL)
			fatal("strdup");
}

/*
 * Started by a master that executed us in its place (SIGUSR2): its
 * state's memfd, or -1.
 */
static int
upgrade_fd(void)
{
	const char	*v = getenv(UPGRADE_ENV);
	char		*ep;
	long		 fd;

	if (v == NULL)
		return -1;
	fd = strtol(v, &ep, 10);
	unsetenv(UPGRADE_ENV);
	return *v != '\0' && *ep == '\0' && fd >= 0 && fd < INT32_MAX ?
	    (int)fd : -1;
}

int
main(int argc, char *argv[], char *envp[])
{
	struct master	 m;
	const char	*path = CFG_DEFAULT_PATH;
	int		 ch, checkonly = 0, up;

	memset(&m, 0, sizeof(m));
	keep_exe(&m, argc, argv);
	up = upgrade_fd();
	setproctitle_init(argc, argv, envp);
	while ((ch = getopt(argc, argv, "df:hnv")) != -1) {
		switch (ch) {
		case 'd': m.m_debug = 1; break;
		case 'f': path = optarg; break;
		case 'n': checkonly = 1; break;
		case 'v': m.m_verbose++; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	m.m_cfgpath = path;
	load_config(&m, path, checkonly);
	/* before any fork: the workers share what OpenSSL set up for them */
	if (digest_init() == -1) {
		fprintf(stderr, "scsipubd: OpenSSL gives no SHA-256 or MD5\n");
		exit(1);
	}
	if (up != -1)
		return master_takeover(&m, up);
	if (priv_state_dir(m.m_cfg, stderr) == -1 ||
	    priv_probe(m.m_cfg, stderr) == -1 ||
	    listen_open(&m, m.m_cfg, stderr) == -1)
		exit(1);
	log_init(m.m_debug, m.m_verbose || m.m_cfg->c_verbose);
	master_detach(&m);
	log_procinit("master");
	setproctitle("master");
	raise_nofile();
	master_init(&m);
	log_info("scsipubd %s starting, %d workers", PACKAGE_VERSION,
	    m.m_cfg->c_workers);
	master_run(&m, 0);
	if (m.m_pidfile[0] != '\0')
		unlink(m.m_pidfile);
	log_info("stopped");
	return m.m_exitcode;
}
