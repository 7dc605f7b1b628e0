/*
 * Connections of a worker: sockets and TLS through bufferevents, the PDU
 * receive state machine, sending PDUs with digests, keepalives, close.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bufpool.h"
#include "bytes.h"
#include "crc32c.h"
#include "iscsi.h"
#include "log.h"
#include "netaddr.h"
#include "proc.h"
#include "shmq.h"

#define CONN_WBUF_HIGH		(8 * 1024 * 1024)	/* queued output: stop reading */
#define CONN_REF_MIN		(16 * 1024)	/* send by reference from here */
#define CONN_READ_MAX		(256 * 1024)	/* one read from the socket */

static void	conn_writecb(struct bufferevent *, void *);
static void	conn_flush_cb(evutil_socket_t, short, void *);
static void	conn_eventcb(struct bufferevent *, short, void *);
static void	conn_nopin_cb(evutil_socket_t, short, void *);

/* The peer as text (c_peer) and as a key (c_addr), one getpeername. */
static void
conn_peername(struct conn *c)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);

	snprintf(c->c_peer, sizeof(c->c_peer), "?");
	memset(c->c_addr, 0, sizeof(c->c_addr));
	if (getpeername(c->c_fd, (struct sockaddr *)&ss, &sl) == -1)
		return;
	netaddr_key((struct sockaddr *)&ss, sl, 128, c->c_addr);
	netaddr_text((struct sockaddr *)&ss, c->c_peer, sizeof(c->c_peer));
}

/*
 * A PDU's data segment buffer, of len bytes: from the pool, or for an
 * empty segment a buffer of none (never NULL: what reads it need not
 * care).  conn_data_put gives it back.
 */
static uint8_t	 conn_nodata[4];

uint8_t *
conn_data_get(uint32_t len)
{
	return len == 0 ? conn_nodata : buf_get(len);
}

void
conn_data_put(struct conn *c)
{
	if (c->c_data != conn_nodata)
		buf_put(c->c_data);
	c->c_data = NULL;
}

/*
 * Tell the master a connection it handed us is gone: it balances load
 * and counts connections against the limits by it.
 */
void
conn_notify_closed(struct worker *w, uint32_t mid)
{
	worker_tell(w, PROC_CONN_CLOSED, mid);
}

static struct bufferevent *
conn_bev(struct worker *w, int fd, enum listen_kind kind)
{
	SSL	*ssl;

	if (kind != LISTEN_ISCSI_TLS)
		return bufferevent_socket_new(w->w_base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if (w->w_sslctx == NULL || (ssl = SSL_new(w->w_sslctx)) == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(w->w_base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
}

/*
 * A connection on socket fd (the master's id mid), reading and writing
 * through a bufferevent, in no phase yet; NULL (fd closed, the master
 * told) when it cannot be set up.
 */
struct conn *
conn_new(struct worker *w, int fd, enum listen_kind kind, uint32_t mid)
{
	struct conn	*c;

	/* TCP_NODELAY: set on the listener, the accepted socket has it */
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->c_bev = conn_bev(w, fd, kind)) == NULL ||
	    (c->c_nopin = evtimer_new(w->w_base, conn_nopin_cb, c)) == NULL) {
		log_warnx("%s: cannot set up connection", __func__);
		if (c != NULL && c->c_bev != NULL)
			bufferevent_free(c->c_bev);
		else
			close(fd);
		free(c);
		conn_notify_closed(w, mid);
		return NULL;
	}
	c->c_w = w;
	c->c_fd = fd;
	c->c_mid = mid;
	c->c_kind = kind;
	c->c_id = ++w->w_nextid;
	TAILQ_INIT(&c->c_tasks);
	TAILQ_INIT(&c->c_defers);
	conn_peername(c);
	TAILQ_INSERT_TAIL(&w->w_conns, c, c_entry);
	w->w_nconns++;
	bufferevent_setcb(c->c_bev, conn_readcb, conn_writecb, conn_eventcb, c);
	/*
	 * Plain TCP: what the pass queued is written once the pass is done
	 * (c_flushev), and libevent watches for writability only while the
	 * socket is full; TLS leaves writing to the OpenSSL bufferevent.
	 */
	if (kind != LISTEN_ISCSI_TLS &&
	    (c->c_flushev = event_new(w->w_base, -1, 0, conn_flush_cb,
	    c)) != NULL) {
		/* writing is on from birth: off, flushes write */
		bufferevent_disable(c->c_bev, EV_WRITE);
		bufferevent_enable(c->c_bev, EV_READ);
		/*
		 * Read what the socket holds in one go (libevent's default
		 * is 16 KiB): a queue of small commands is one read, one
		 * pass, one writev of their answers.
		 */
		bufferevent_set_max_single_read(c->c_bev, CONN_READ_MAX);
	} else
		bufferevent_enable(c->c_bev, EV_READ | EV_WRITE);
	return c;
}

/* A connection the master accepted: its login begins. */
void
conn_accept(struct worker *w, int fd, enum listen_kind kind, uint32_t mid)
{
	struct conn	*c;
	struct timeval	 tv = { (time_t)w->w_cfg->c_login_timeout, 0 };

	if ((c = conn_new(w, fd, kind, mid)) == NULL)
		return;
	c->c_state = CONN_LOGIN;
	iscsi_params_default(&c->c_p);
	login_init(&c->c_login);
	c->c_login.l_lookup = target_lookup;
	c->c_login.l_lookup_arg = c;
	c->c_login.l_our_mrdsl = ISCSI_OUR_MRDSL;
	c->c_login.l_max_burst_cap = ISCSI_MAX_BURST;
	evtimer_add(c->c_nopin, &tv);	/* first, the login must end in time */
	log_debug("connection %llu from %s (%s)", (unsigned long long)c->c_id,
	    c->c_peer, kind == LISTEN_ISCSI_TLS ? "iscsi-tls" : "iscsi");
}

/*
 * Free a connection.  One that went to another worker (moved) keeps
 * what it leaves behind: its session stays registered, its anonymous
 * overlay and its reservations stay, and the master, which moved its
 * record, is not told of a close.
 */
void
conn_release(struct conn *c, int moved)
{
	struct worker	*w = c->c_w;

	iscsi_conn_free_tasks(c);
	if (moved && c->c_nexus != NULL)
		c->c_nexus->n_moving = 1;
	target_detach(c, moved);
	login_free(&c->c_login);
	if (c->c_nopin != NULL)
		event_free(c->c_nopin);
	if (c->c_flushev != NULL)
		event_free(c->c_flushev);
	bufferevent_free(c->c_bev);
	conn_data_put(c);
	TAILQ_REMOVE(&w->w_conns, c, c_entry);
	w->w_nconns--;
	if (!moved)
		conn_notify_closed(w, c->c_mid);
	free(c);
	if (w->w_draining && w->w_nconns == 0)
		event_base_loopexit(w->w_base, NULL);
}

static void
conn_free(struct conn *c)
{
	conn_release(c, 0);
}

void
conn_close(struct conn *c, const char *why)
{
	/* a logout or a cold reset has left CONN_FFP by now */
	if (c->c_registered)
		conn_register(c, SHMQ_SESSION_END);
	if (c->c_state == CONN_FFP && c->c_type == LOGIN_SESSION_NORMAL)
		log_info("session end: target %s initiator %s from %s tier %s: "
		    "%s; read %llu bytes, wrote %llu bytes", c->c_login.l_target,
		    c->c_login.l_initiator, c->c_peer,
		    c->c_target != NULL && c->c_target->tg_tier != NULL ?
		    c->c_target->tg_tier->ct_name : "-", why,
		    (unsigned long long)c->c_rbytes,
		    (unsigned long long)c->c_wbytes);
	else
		log_info("connection %llu from %s closed: %s",
		    (unsigned long long)c->c_id, c->c_peer, why);
	conn_free(c);
}

/* Close once everything queued has been written (logout, login failure). */
static void
conn_close_after_flush(struct conn *c)
{
	c->c_state = CONN_CLOSING;
	bufferevent_disable(c->c_bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->c_bev)) == 0)
		conn_close(c, "logged out");
}

/*
 * Queue one PDU: bhs gets its data segment length filled in, digests are
 * appended when negotiated (never during login).
 */
void
conn_send(struct conn *c, uint8_t *bhs, const void *data, uint32_t dlen)
{
	conn_send_buf(c, bhs, data, dlen, NULL);
}

/*
 * As conn_send, data lying in the pool buffer buf (or NULL): a big
 * segment is queued by reference, not copied, and holds a reference to
 * buf until libevent has sent it.
 */
void
conn_send_buf(struct conn *c, uint8_t *bhs, const void *data, uint32_t dlen,
    void *buf)
{
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);
	static const uint8_t zero[4];
	uint8_t		 dig[4];
	uint32_t	 pad = (4 - (dlen & 3)) & 3, crc;

	be24enc(bhs + 5, dlen);
	evbuffer_add(out, bhs, ISCSI_BHS_LEN);
	if (c->c_state == CONN_FFP && c->c_p.ip_header_digest) {
		crc32c_le_enc(dig, crc32c(0, bhs, ISCSI_BHS_LEN));
		evbuffer_add(out, dig, 4);
	}
	if (dlen == 0)
		goto queued;
	if (buf == NULL || dlen < CONN_REF_MIN)
		evbuffer_add(out, data, dlen);
	else if (evbuffer_add_reference(out, data, dlen, buf_unref_cb,
	    buf_ref(buf)) == -1) {
		buf_put(buf);		/* the reference not taken */
		evbuffer_add(out, data, dlen);
	}
	if (pad)
		evbuffer_add(out, zero, pad);
	if (c->c_state == CONN_FFP && c->c_p.ip_data_digest) {
		crc = crc32c(0, data, dlen);
		if (pad)
			crc = crc32c(crc, zero, pad);
		crc32c_le_enc(dig, crc);
		evbuffer_add(out, dig, 4);
	}
queued:
	if (c->c_flushev != NULL)
		event_active(c->c_flushev, 0, 0);
}

/* Digest bytes after the header and after the data, as negotiated. */
static void
conn_digests(const struct conn *c, int *hd, int *dd)
{
	*hd = c->c_state == CONN_FFP && c->c_p.ip_header_digest ? 4 : 0;
	*dd = c->c_state == CONN_FFP && c->c_p.ip_data_digest ? 4 : 0;
}

/*
 * Header complete (BHS, AHS, header digest): check the digest and the
 * lengths before anything is allocated.  The AHS is skipped.
 */
static int
conn_rx_header(struct conn *c, struct evbuffer *in)
{
	uint8_t		 ahs[255 * 4], dig[4];
	uint32_t	 limit, crc;
	int		 hd, dd;

	conn_digests(c, &hd, &dd);
	if (evbuffer_get_length(in) < ISCSI_BHS_LEN)
		return 0;
	evbuffer_copyout(in, c->c_bhs, ISCSI_BHS_LEN);
	c->c_ahslen = (uint32_t)c->c_bhs[4] * 4;
	if (evbuffer_get_length(in) < ISCSI_BHS_LEN + c->c_ahslen + hd)
		return 0;
	evbuffer_drain(in, ISCSI_BHS_LEN);
	evbuffer_remove(in, ahs, c->c_ahslen);
	if (hd) {
		evbuffer_remove(in, dig, 4);
		crc = crc32c(0, c->c_bhs, ISCSI_BHS_LEN);
		if (c->c_ahslen > 0)
			crc = crc32c(crc, ahs, c->c_ahslen);
		if (crc != le32dec(dig))
			return -1;
	}
	c->c_dlen = be24dec(c->c_bhs + 5);
	c->c_dpad = (c->c_dlen + 3) & ~3U;
	limit = c->c_state == CONN_FFP ? c->c_p.ip_mrdsl_tgt : ISCSI_OUR_MRDSL;
	if (c->c_dlen > limit) {
		log_warnx("%s: %s: data segment %u over limit %u", __func__,
		    c->c_peer, c->c_dlen, limit);
		return -1;
	}
	/* from the pool, for this PDU only: an idle connection holds none */
	if ((c->c_data = conn_data_get(c->c_dpad)) == NULL)
		return -1;
	c->c_rxstate = RX_REST;
	c->c_dgot = 0;
	return 1;
}

/*
 * The data segment, into c_data: what the bufferevent has read already,
 * then, on a plain TCP connection, the rest straight from the socket
 * into the buffer (no copy through libevent's).  1 once all of it is
 * there, 0 for more (the bufferevent reads on when the socket has it).
 */
static int
conn_rx_data(struct conn *c, struct evbuffer *in)
{
	ssize_t	 n;

	n = evbuffer_remove(in, c->c_data + c->c_dgot, c->c_dpad - c->c_dgot);
	if (n > 0)
		c->c_dgot += (uint32_t)n;
	while (c->c_dgot < c->c_dpad && c->c_kind == LISTEN_ISCSI &&
	    evbuffer_get_length(in) == 0) {
		n = read(c->c_fd, c->c_data + c->c_dgot, c->c_dpad - c->c_dgot);
		if (n > 0)
			c->c_dgot += (uint32_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else
			break;	/* EAGAIN, or EOF and errors: the bev's */
	}
	return c->c_dgot == c->c_dpad;
}

/* Returns 1 when a whole PDU is in c_bhs/c_data, 0 for more, -1 error. */
static int
conn_rx_rest(struct conn *c, struct evbuffer *in)
{
	uint8_t		 dig[4];
	uint32_t	 crc;
	int		 hd, dd;

	conn_digests(c, &hd, &dd);
	if (c->c_dlen == 0)
		dd = 0;
	if (c->c_dgot < c->c_dpad && conn_rx_data(c, in) == 0)
		return 0;
	if (evbuffer_get_length(in) < (size_t)dd)
		return 0;
	c->c_rxstate = RX_BHS;
	if (dd == 0)
		return 1;
	evbuffer_remove(in, dig, 4);
	crc = crc32c(0, c->c_data, c->c_dpad);
	if (crc != le32dec(dig)) {
		log_warnx("%s: %s: data digest error, opcode 0x%02x",
		    __func__, c->c_peer, c->c_bhs[0] & 0x3f);
		iscsi_reject(c, REJECT_DIGEST_ERROR, c->c_bhs);
		return -2;
	}
	return 1;
}

void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	int		 r;

	/* one that is being handed over stops at this PDU boundary */
	while (c->c_state != CONN_CLOSING && !c->c_moving) {
		if (c->c_rxstate == RX_BHS &&
		    (r = conn_rx_header(c, in)) <= 0) {
			if (r < 0)
				conn_close(c, "header digest or length error");
			return;
		}
		if ((r = conn_rx_rest(c, in)) <= 0) {
			if (r < 0) {
				c->c_state = CONN_CLOSING;
				conn_close_after_flush(c);
			}
			return;
		}
		c->c_nopin_ttt = 0;
		gettimeofday(&c->c_last_rx, NULL);
		r = iscsi_pdu(c);
		conn_data_put(c);	/* whatever it kept, it copied */
		if (r == CONN_CLOSE) {
			if (evbuffer_get_length(bufferevent_get_output(bev)))
				conn_close_after_flush(c);
			else
				conn_close(c, "closed");
			return;
		}
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    CONN_WBUF_HIGH) {
			bufferevent_disable(bev, EV_READ);
			return;
		}
	}
}

/* Everything queued went out: close after a logout, or read again. */
static void
conn_drained(struct conn *c)
{
	struct bufferevent *bev = c->c_bev;

	if (c->c_state == CONN_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_close(c, "logged out");
		return;
	}
	if (!c->c_moving && !(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		conn_readcb(bev, c);
	}
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->c_flushev != NULL)	/* drained: back to writing directly */
		bufferevent_disable(bev, EV_WRITE);
	conn_drained(c);
}

#define CONN_HOLD_US	50	/* answers wait this long for a batch */

/* A whole BHS is in the socket and this pass will read it. */
static int
conn_input_waiting(struct conn *c)
{
	int	 n;

	return c->c_state == CONN_FFP && !c->c_moving &&
	    (bufferevent_get_enabled(c->c_bev) & EV_READ) &&
	    ioctl(c->c_fd, FIONREAD, &n) == 0 && n >= ISCSI_BHS_LEN;
}

/*
 * Plain TCP, at the end of the pass that queued PDUs: write them (now,
 * or once after a hold, below), one writev, and ask libevent to watch
 * for writability only if the socket took less than all of it.
 */
static void
conn_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(c->c_bev);
	struct timeval	 tv = { 0, CONN_HOLD_US };
	int		 n;

	(void)fd;
	(void)ev;
	if (bufferevent_get_enabled(c->c_bev) & EV_WRITE)
		return;			/* libevent is on it */
	/*
	 * A command that came in while this pass ran: its answer goes out
	 * with these (one writev, and the initiator reads them at once),
	 * after the loop's next pass or CONN_HOLD_US at most.  Once: the
	 * flush after a hold writes.
	 */
	if (!c->c_flush_held && conn_input_waiting(c)) {
		c->c_flush_held = 1;
		evtimer_add(c->c_flushev, &tv);
		return;
	}
	c->c_flush_held = 0;
	while (evbuffer_get_length(out) > 0) {
		/* the socket bufferevent keeps its output's front frozen */
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write(out, c->c_fd);
		evbuffer_freeze(out, 1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				conn_close(c, "transport error");
				return;
			}
		}
		if (evbuffer_get_length(out) > 0) {
			bufferevent_enable(c->c_bev, EV_WRITE);
			return;
		}
	}
	conn_drained(c);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	unsigned long	 e;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		conn_close(c, c->c_state == CONN_CLOSING ? "logged out" :
		    "initiator closed the connection");
	else if (what & BEV_EVENT_ERROR) {
		e = bufferevent_get_openssl_error(bev);
		if (e != 0)
			log_warnx("%s: %s: TLS: %s", __func__, c->c_peer,
			    ERR_reason_error_string(e));
		conn_close(c, "transport error");
	}
}

/* Arm the keepalive after login. */
void
conn_nopin_arm(struct conn *c)
{
	struct timeval	 tv;

	evtimer_del(c->c_nopin);	/* the login timeout */
	if (c->c_w->w_nopin_interval == 0)
		return;
	gettimeofday(&c->c_last_rx, NULL);
	tv.tv_sec = c->c_w->w_nopin_interval;
	tv.tv_usec = 0;
	evtimer_add(c->c_nopin, &tv);
}

static void
conn_nopin_send(struct conn *c, const struct timeval *now)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_NOP_IN;
	bhs[1] = 0x80;
	be32enc(bhs + 16, 0xffffffff);
	c->c_nopin_ttt = iscsi_next_ttt(c);
	be32enc(bhs + 20, c->c_nopin_ttt);
	be32enc(bhs + 24, c->c_statsn);
	be32enc(bhs + 28, c->c_expcmdsn);
	be32enc(bhs + 32, iscsi_maxcmdsn(c));
	conn_send(c, bhs, NULL, 0);
	c->c_nopin_sent = *now;
}

/*
 * Keepalive: after nopin-interval without a PDU from the initiator, send
 * a NOP-In; any PDU answers it; none within nopin-timeout closes the
 * connection as a transport error.  Before that, the same timer closes a
 * connection whose login has not ended within login-timeout.
 */
static void
conn_nopin_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;
	struct worker	*w = c->c_w;
	struct timeval	 now, tv = { 1, 0 };
	uint64_t	 idle;

	(void)fd;
	(void)ev;
	if (c->c_state == CONN_LOGIN) {
		log_warnx("%s: login not complete after %llu s", c->c_peer,
		    (unsigned long long)w->w_cfg->c_login_timeout);
		conn_close(c, "login timeout");
		return;
	}
	if (c->c_state != CONN_FFP)
		return;
	gettimeofday(&now, NULL);
	if (c->c_nopin_ttt != 0) {
		if ((uint64_t)(now.tv_sec - c->c_nopin_sent.tv_sec) >=
		    w->w_nopin_timeout) {
			log_warnx("transport error: %s (%s) did not answer "
			    "NOP-In for %llu s", c->c_peer,
			    c->c_login.l_initiator,
			    (unsigned long long)w->w_nopin_timeout);
			conn_close(c, "NOP-In timeout");
			return;
		}
	} else {
		idle = (uint64_t)(now.tv_sec - c->c_last_rx.tv_sec);
		if (idle >= w->w_nopin_interval)
			conn_nopin_send(c, &now);
		else
			tv.tv_sec = (time_t)(w->w_nopin_interval - idle);
	}
	evtimer_add(c->c_nopin, &tv);
}

/* Worker drain: ask every initiator to log out. */
void
conn_drain_all(struct worker *w)
{
	struct conn	*c, *next;

	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next) {
		if (c->c_state == CONN_FFP)
			iscsi_async_logout(c, 5);
		else
			conn_close(c, "worker draining");
	}
}

/*
 * What the coordinator sends unasked: SESSION_KICK, a newer login
 * reinstated a session of ours, or a cold reset of its target ended it;
 * COORD_HELLO, a new coordinator knows none of our sessions yet.
 */
void
conn_unasked(struct worker *w, const struct shmq_msg *m, void *arg)
{
	struct conn	*c;
	uint64_t	 id;
	int		 why, n = 0;

	(void)arg;
	if (m->m_type == SHMQ_COORD_HELLO) {
		TAILQ_FOREACH(c, &w->w_conns, c_entry)
			if (c->c_registered) {
				conn_register(c, SHMQ_SESSION_START);
				n++;
			}
		log_debug("%s: %d sessions registered again", __func__, n);
		return;
	}
	if (m->m_type != SHMQ_SESSION_KICK || shmq_kick_dec(m, &id, &why) != 0)
		return;
	conn_kick(w, id, why == SHMQ_KICK_TARGET_RESET ?
	    "target cold reset by another session" :
	    "session reinstated by a new login");
}

/* The coordinator says a newer login reinstated this session. */
void
conn_kick(struct worker *w, uint64_t id, const char *why)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &w->w_conns, c_entry)
		if (c->c_id == id) {
			conn_close(c, why);
			return;
		}
}

/*
 * A target that authenticates nobody: its sessions are told apart by
 * source address too, so that a stranger's login with someone else's
 * names never reinstates (ends) their session.
 */
static int
conn_byaddr(const struct conn *c)
{
	const struct target *t = c->c_target;

	return t == NULL || t->tg_cfg == NULL ||
	    t->tg_cfg->tg_chap_user[0] == '\0';
}

/*
 * Tell the coordinator a session started (reinstating any twin) or
 * ended (SHMQ_SESSION_START or _END), or that it asked for a TARGET COLD
 * RESET (SHMQ_TARGET_RESET).
 */
void
conn_register(struct conn *c, uint32_t type)
{
	const struct login *l = &c->c_login;
	struct shmq_session ss;
	struct shmq_msg	 m;

	memset(&ss, 0, sizeof(ss));
	ss.ss_conn = c->c_id;
	ss.ss_since = c->c_login_ns;
	ss.ss_slot = (uint32_t)c->c_w->w_slot;
	ss.ss_byaddr = (uint8_t)conn_byaddr(c);
	memcpy(ss.ss_isid, l->l_isid, sizeof(ss.ss_isid));
	memcpy(ss.ss_addr, c->c_addr, sizeof(ss.ss_addr));
	snprintf(ss.ss_initiator, sizeof(ss.ss_initiator), "%s",
	    l->l_initiator);
	/* the target's own spelling: its anonymous directory's (digest.h) */
	snprintf(ss.ss_target, sizeof(ss.ss_target), "%s",
	    c->c_target != NULL ? c->c_target->tg_iqn : l->l_target);
	memset(&m, 0, sizeof(m));
	/* a start or an end is posted: nothing waits for it */
	if (shmq_session_enc(&m, type, &ss) != 0 ||
	    (type == SHMQ_TARGET_RESET ? ipc_request(c->c_w, &m, NULL,
	    NULL) : ipc_post(c->c_w, &m)) != 0)
		log_warnx("%s: cannot reach the coordinator", __func__);
}
