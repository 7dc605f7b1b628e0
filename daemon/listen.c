/*
 * Listening sockets of the master.  iSCSI listeners are accepted here and
 * handed to workers; API listeners are inherited by the workers, which
 * accept on them themselves (libevent's HTTP server wants a listener).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static int
listen_socket(const struct cfg_listen *cl, FILE *err)
{
	int	 fd, on = 1;

	fd = socket(cl->cl_ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		fprintf(err, "%s: socket: %s\n", cl->cl_text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* accepted sockets inherit it: no setsockopt per connection */
	if (cl->cl_kind != LISTEN_API)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (cl->cl_ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)&cl->cl_ss, cl->cl_sslen) == -1 ||
	    listen(fd, 512) == -1) {
		fprintf(err, "cannot listen on %s: %s\n", cl->cl_text,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A socket m already listens on for this address: reused on reload. */
static int
listen_existing(struct master *m, const struct cfg_listen *cl)
{
	int	 i;

	for (i = 0; i < m->m_nlisten; i++)
		if (m->m_listen[i].l_kind == cl->cl_kind &&
		    strcmp(m->m_listen[i].l_text, cl->cl_text) == 0)
			return fcntl(m->m_listen[i].l_fd, F_DUPFD_CLOEXEC, 0);
	return -1;
}

/*
 * Open every listener of cfg into m.  All or nothing: on failure the
 * sockets opened so far are closed and m is left as it was.
 */
int
listen_open(struct master *m, const struct config *cfg, FILE *err)
{
	struct listener	 nl[CFG_MAX_LISTEN];
	int		 i, j;

	memset(nl, 0, sizeof(nl));
	for (i = 0; i < cfg->c_nlisten; i++) {
		nl[i].l_kind = cfg->c_listen[i].cl_kind;
		snprintf(nl[i].l_text, sizeof(nl[i].l_text), "%s",
		    cfg->c_listen[i].cl_text);
		nl[i].l_fd = listen_existing(m, &cfg->c_listen[i]);
		if (nl[i].l_fd == -1)
			nl[i].l_fd = listen_socket(&cfg->c_listen[i], err);
		if (nl[i].l_fd == -1) {
			for (j = 0; j < i; j++)
				close(nl[j].l_fd);
			return -1;
		}
	}
	listen_close(m);
	memcpy(m->m_listen, nl, sizeof(nl));
	m->m_nlisten = cfg->c_nlisten;
	return 0;
}

void
listen_close(struct master *m)
{
	int	 i;

	for (i = 0; i < m->m_nlisten; i++) {
		if (m->m_listen[i].l_ev != NULL)
			event_free(m->m_listen[i].l_ev);
		close(m->m_listen[i].l_fd);
	}
	m->m_nlisten = 0;
}

static void
listen_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct master	*m = arg;

	(void)fd;
	(void)ev;
	if (!m->m_stopping)
		listen_enable(m);
}

/*
 * accept() out of descriptors (or memory): stop watching the listeners
 * for a while, longer each time in a row, instead of spinning on a
 * connection that stays in the backlog; say so once.
 */
static void
listen_backoff(struct master *m, const struct listener *l)
{
	struct timeval	 tv;

	if (m->m_backoff_ms == 0)
		log_warn("accept on %s; pausing accepts", l->l_text);
	m->m_backoff_ms = m->m_backoff_ms == 0 ? LISTEN_BACKOFF_MIN_MS :
	    m->m_backoff_ms * 2;
	if (m->m_backoff_ms > LISTEN_BACKOFF_MAX_MS)
		m->m_backoff_ms = LISTEN_BACKOFF_MAX_MS;
	listen_disable(m);
	if (m->m_resume == NULL &&
	    (m->m_resume = evtimer_new(m->m_base, listen_resume, m)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	tv.tv_sec = m->m_backoff_ms / 1000;
	tv.tv_usec = (m->m_backoff_ms % 1000) * 1000;
	evtimer_add(m->m_resume, &tv);
}

static void
listen_accept(evutil_socket_t fd, short ev, void *arg)
{
	struct listener		*l = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	int			 s, n;

	(void)ev;
	for (n = 0; n < 64 && master_accepting(l->l_master); n++) {
		sl = sizeof(ss);
		s = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (s == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				listen_backoff(l->l_master, l);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				log_warn("%s: accept on %s", __func__,
				    l->l_text);
			return;
		}
		l->l_master->m_backoff_ms = 0;
		master_handoff(l->l_master, s, l->l_kind,
		    (struct sockaddr *)&ss, sl);
	}
}

/* Start accepting on the iSCSI listeners (API ones belong to workers). */
void
listen_enable(struct master *m)
{
	struct listener	*l;
	int		 i;

	for (i = 0; i < m->m_nlisten; i++) {
		l = &m->m_listen[i];
		l->l_master = m;
		if (l->l_kind == LISTEN_API || l->l_ev != NULL)
			continue;
		l->l_ev = event_new(m->m_base, l->l_fd, EV_READ | EV_PERSIST,
		    listen_accept, l);
		if (l->l_ev == NULL || event_add(l->l_ev, NULL) == -1)
			fatalx("%s: event_add", __func__);
	}
}

/* Stop accepting (graceful stop): the sockets stay open, unwatched. */
void
listen_disable(struct master *m)
{
	int	 i;

	for (i = 0; i < m->m_nlisten; i++)
		if (m->m_listen[i].l_ev != NULL) {
			event_free(m->m_listen[i].l_ev);
			m->m_listen[i].l_ev = NULL;
		}
}
