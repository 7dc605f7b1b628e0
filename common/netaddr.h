/*
 * Peer addresses as keys: what the connection limits, the anonymous
 * session limits and the session registry count and compare.  IPv4
 * addresses are mapped into IPv6 (::ffff:a.b.c.d); an IPv6 address may
 * be cut to its first bits (a /64 is one site: one "address").  And
 * addresses as text, and the portal a wildcard listen stands for.
 */
#ifndef SCSIPUB_NETADDR_H
#define SCSIPUB_NETADDR_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define NETADDR_KEY_LEN	16

/* common/netaddr.c */
int	netaddr_key(const struct sockaddr *, socklen_t, unsigned,
	    uint8_t [NETADDR_KEY_LEN]);
int	netaddr_peer_key(int, unsigned, uint8_t [NETADDR_KEY_LEN]);
int	netaddr_text(const struct sockaddr *, char *, size_t);
int	netaddr_wildcard(const struct sockaddr *);
int	netaddr_portal(const struct sockaddr_storage *,
	    const struct sockaddr_storage *, struct sockaddr_storage *);

#endif /* SCSIPUB_NETADDR_H */
