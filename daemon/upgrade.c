/*
 * Replacing the running binary (SIGUSR2) without a restart, nginx-style
 * but in place: the master executes the binary it was started from
 * again (now perhaps a new build), keeping its pid, its listeners, the
 * coordinator's rings and its children.  The new master replaces the
 * coordinator and rolls the workers over to new ones, which take every
 * connection live (worker/iscsi/handoff.c): the whole daemon runs the
 * new code and no initiator sees it.
 *
 * What the master is goes to its successor as a versioned record
 * (common/pack.h) in a memfd whose number is in SCSIPUB_UPGRADE: the
 * listeners, the ring region (a memfd too) and its eventfds, the
 * children (pids, slots, control sockets, states) and the connection
 * records, every descriptor kept open across the exec.  First the new
 * binary is asked whether it takes this record and the configuration
 * (scsipubd -n, SCSIPUB_UPGRADE_CHECK set): if not, or if the exec
 * fails, this binary stays and only the workers are replaced.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "pack.h"
#include "shmq.h"

#define UPGRADE_MAGIC	"SPUBMSTR"
#define UPGRADE_MAJOR	1
#define UPGRADE_MINOR	1	/* 1: the rolls (m_gen, ch_gen) */
#define UPGRADE_MAX_RECORD	(256UL * 1024 * 1024)

/* The sections of the record; numbers never reused. */
enum upgrade_tag {
	UP_MASTER = 1,	/* the ring region, slots, pidfile */
	UP_LISTEN,	/* one listener */
	UP_CHILD,	/* one child: the coordinator or a worker */
	UP_CONN,	/* one connection record (conns_save) */
};

/* ---- The old master ---- */

/*
 * May the new binary take over?  It checks the configuration and that
 * it reads this record and these rings (scsipubd -n, SCSIPUB_UPGRADE_
 * CHECK); 0 when it says so.
 */
static int
upgrade_check(struct master *m)
{
	char	 ver[32];
	pid_t	 pid;
	int	 status, fd;

	snprintf(ver, sizeof(ver), "%d.%d", UPGRADE_MAJOR, SHMQ_LAYOUT);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1)
			dup2(fd, STDOUT_FILENO);
		setenv(UPGRADE_CHECK_ENV, ver, 1);
		execl(m->m_exe, m->m_exe, "-n", "-f", m->m_cfgpath,
		    (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_warnx("%s: %s -n -f %s: %s %d", __func__, m->m_exe,
	    m->m_cfgpath, WIFEXITED(status) ? "exit status" : "signal",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -1;
}

static void
upgrade_save_child(struct pack *pk, const struct child *ch)
{
	size_t	 s = pack_section(pk, UP_CHILD);

	pack_u32(pk, (uint32_t)ch->ch_kind);
	pack_u32(pk, (uint32_t)ch->ch_slot);
	pack_u32(pk, (uint32_t)ch->ch_state);
	pack_u32(pk, (uint32_t)ch->ch_pid);
	pack_u32(pk, (uint32_t)ch->ch_index);
	pack_u32(pk, (uint32_t)ch->ch_ctl);
	pack_u32(pk, (uint32_t)ch->ch_conns);
	pack_u32(pk, (uint32_t)ch->ch_ready);
	pack_u32(pk, (uint32_t)ch->ch_deaths);
	pack_u32(pk, (uint32_t)ch->ch_backoff_ms);
	pack_u64(pk, (uint64_t)ch->ch_started);
	pack_u32(pk, (uint32_t)ch->ch_handoff);
	pack_u32(pk, ch->ch_gen);
	pack_section_end(pk, s);
}

static void
upgrade_save(struct master *m, struct pack *pk)
{
	size_t	 s;
	int	 i;

	pack_init(pk, UPGRADE_MAGIC, UPGRADE_MAJOR, UPGRADE_MINOR);
	s = pack_section(pk, UP_MASTER);
	pack_u32(pk, (uint32_t)m->m_nslots);
	pack_u32(pk, (uint32_t)shmq_region_fd(m->m_region));
	pack_str(pk, m->m_pidfile);
	pack_u32(pk, m->m_gen);
	pack_section_end(pk, s);
	for (i = 0; i < m->m_nlisten; i++) {
		s = pack_section(pk, UP_LISTEN);
		pack_u32(pk, (uint32_t)m->m_listen[i].l_fd);
		pack_u32(pk, (uint32_t)m->m_listen[i].l_kind);
		pack_str(pk, m->m_listen[i].l_text);
		pack_section_end(pk, s);
	}
	upgrade_save_child(pk, &m->m_coord);
	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_state != CHILD_IDLE)
			upgrade_save_child(pk, &m->m_workers[i]);
	conns_save(m->m_conns, pk, UP_CONN);
}

/* Every descriptor the new master needs, kept open across exec (on). */
static int
upgrade_inherit(struct master *m, int on)
{
	int	 i, rv = 0, fl = on ? 0 : FD_CLOEXEC;

	rv |= shmq_region_inherit(m->m_region, on);
	for (i = 0; i < m->m_nlisten; i++)
		rv |= fcntl(m->m_listen[i].l_fd, F_SETFD, fl);
	if (m->m_coord.ch_ctl != -1)
		rv |= fcntl(m->m_coord.ch_ctl, F_SETFD, fl);
	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_ctl != -1)
			rv |= fcntl(m->m_workers[i].ch_ctl, F_SETFD, fl);
	return rv == 0 ? 0 : -1;
}

/*
 * The master's state as upgrade_restore() reads it, in a memfd an exec
 * leaves open: its descriptor, or -1.
 */
int
upgrade_record(struct master *m)
{
	struct pack	 pk;
	int		 fd;

	upgrade_save(m, &pk);
	fd = pack_memfd(&pk, "scsipub-master", 0);
	pack_free(&pk);
	return fd;
}

/*
 * Execute the binary on disk in place of this master.  Returns only if
 * that cannot be done (it said why); the caller replaces the workers.
 * The master's signals are blocked across the exec, so that none
 * arriving before the new master handles it kills it; the new master
 * unblocks them (upgrade_resumed).
 */
void
upgrade_exec(struct master *m)
{
	sigset_t	 all, old;
	char		 num[16];
	int		 fd, saved;

	if (upgrade_check(m) == -1) {
		log_warnx("%s: %s cannot take over: keeping this binary",
		    __func__, m->m_exe);
		return;
	}
	fd = upgrade_record(m);
	if (fd == -1 || upgrade_inherit(m, 1) == -1) {
		log_warn("%s: cannot hand the master's state over", __func__);
		if (fd != -1)
			close(fd);
		upgrade_inherit(m, 0);
		return;
	}
	snprintf(num, sizeof(num), "%d", fd);
	setenv(UPGRADE_ENV, num, 1);
	log_info("executing %s", m->m_exe);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	execv(m->m_exe, m->m_argv);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	unsetenv(UPGRADE_ENV);
	close(fd);
	upgrade_inherit(m, 0);
	errno = saved;
	log_warn("%s: execv %s: keeping this binary", __func__, m->m_exe);
}

/* ---- The new master ---- */

/*
 * scsipubd -n with SCSIPUB_UPGRADE_CHECK set: does this build read the
 * record and the rings the running master has (its "MAJOR.LAYOUT")?
 */
int
upgrade_can_take(const char *ver)
{
	char	 ours[32];

	snprintf(ours, sizeof(ours), "%d.%d", UPGRADE_MAJOR, SHMQ_LAYOUT);
	return strcmp(ver, ours) == 0;
}

/* A descriptor the old master left open: closed on exec again. */
static int
upgrade_fd_ok(uint32_t fd)
{
	if (fd > INT32_MAX || fcntl((int)fd, F_GETFD) == -1 ||
	    fcntl((int)fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return (int)fd;
}

static int
upgrade_fd(struct pack *s)
{
	uint32_t	 fd = unpack_u32(s);

	return s->pk_short ? -1 : upgrade_fd_ok(fd);
}

static int
upgrade_load_master(struct master *m, struct pack *s)
{
	int	 rfd, i;

	m->m_nslots = (int)unpack_u32(s);
	if (m->m_nslots < 1 || m->m_nslots > SHMQ_SLOTS_MAX ||
	    (rfd = upgrade_fd(s)) == -1)
		return -1;
	unpack_str(s, m->m_pidfile, sizeof(m->m_pidfile));
	m->m_gen = unpack_u32(s);	/* since 1.1; 0 before */
	if (s->pk_err || (m->m_region = shmq_region_attach(rfd)) == NULL ||
	    shmq_region_nslots(m->m_region) != m->m_nslots ||
	    shmq_region_inherit(m->m_region, 0) == -1 ||
	    (m->m_workers = calloc(m->m_nslots, sizeof(struct child))) ==
	    NULL)
		return -1;
	for (i = 0; i < m->m_nslots; i++)
		m->m_workers[i].ch_ctl = -1;
	return 0;
}

static int
upgrade_load_listen(struct master *m, struct pack *s)
{
	struct listener	*l;

	if (m->m_nlisten >= CFG_MAX_LISTEN)
		return -1;
	l = &m->m_listen[m->m_nlisten];
	memset(l, 0, sizeof(*l));
	if ((l->l_fd = upgrade_fd(s)) == -1)
		return -1;
	l->l_kind = (enum listen_kind)unpack_u32(s);
	unpack_str(s, l->l_text, sizeof(l->l_text));
	if (s->pk_err)
		return -1;
	m->m_nlisten++;
	return 0;
}

static int
upgrade_load_child(struct master *m, struct pack *s)
{
	struct child	 ch;
	uint32_t	 ctl;

	memset(&ch, 0, sizeof(ch));
	ch.ch_kind = (enum child_kind)unpack_u32(s);
	ch.ch_slot = (int)unpack_u32(s);
	ch.ch_state = (enum child_state)unpack_u32(s);
	ch.ch_pid = (pid_t)unpack_u32(s);
	ch.ch_index = (int)unpack_u32(s);
	ctl = unpack_u32(s);
	ch.ch_conns = (int)unpack_u32(s);
	ch.ch_ready = (int)unpack_u32(s);
	ch.ch_deaths = (int)unpack_u32(s);
	ch.ch_backoff_ms = (int)unpack_u32(s);
	ch.ch_started = (time_t)unpack_u64(s);
	ch.ch_handoff = (int)unpack_u32(s);
	ch.ch_ctl = -1;
	if (s->pk_short || ch.ch_kind >= CHILD_KINDS)
		return -1;
	ch.ch_gen = unpack_u32(s);	/* since 1.1; 0 before */
	if (ctl != UINT32_MAX && (ch.ch_ctl = upgrade_fd_ok(ctl)) == -1)
		return -1;
	/* a respawn's timer did not come across: respawned now */
	if (ch.ch_state == CHILD_WAITING || ch.ch_pid <= 0)
		ch.ch_state = CHILD_IDLE;
	ch.ch_master = m;
	if (ch.ch_kind == CHILD_COORDINATOR) {
		m->m_coord = ch;
		return 0;
	}
	if (ch.ch_slot < 0 || ch.ch_slot >= m->m_nslots ||
	    m->m_workers[ch.ch_slot].ch_state != CHILD_IDLE)
		return -1;
	m->m_workers[ch.ch_slot] = ch;
	return 0;
}

/*
 * The record the previous master left in memfd fd: m becomes it (the
 * configuration is loaded already).  0, or -1 with nothing to go on.
 */
int
upgrade_restore(struct master *m, int fd)
{
	struct pack	 pk, s;
	uint16_t	 minor, tag;
	const uint8_t	*rec;
	size_t		 len = 0;
	int		 r, rv = -1;

	m->m_coord.ch_ctl = -1;
	rec = unpack_map(fd, UPGRADE_MAX_RECORD, &len);
	close(fd);
	if (rec == NULL)
		return -1;
	if ((m->m_base = event_base_new()) == NULL ||
	    (m->m_conns = conns_new(m->m_cfg->c_max_conns)) == NULL ||
	    unpack_init(&pk, rec, len, UPGRADE_MAGIC,
	    UPGRADE_MAJOR, &minor) == -1 ||
	    unpack_section(&pk, &tag, &s) != 1 || tag != UP_MASTER ||
	    upgrade_load_master(m, &s) == -1)
		goto out;
	while ((r = unpack_section(&pk, &tag, &s)) == 1) {
		switch (tag) {
		case UP_LISTEN:
			r = upgrade_load_listen(m, &s);
			break;
		case UP_CHILD:
			r = upgrade_load_child(m, &s);
			break;
		case UP_CONN:
			if (conns_load(m->m_conns, &s, m->m_nslots) == -1)
				log_warnx("%s: a connection record dropped",
				    __func__);
			r = 0;
			break;
		default:
			r = 0;
			break;
		}
		if (r == -1)
			goto out;
	}
	rv = r;
out:
	if (rv == -1)
		log_warnx("%s: the previous master's state is unreadable",
		    __func__);
	munmap((void *)(uintptr_t)rec, len);
	return rv;
}
