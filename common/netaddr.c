/*
 * Peer addresses as fixed-size keys, and socket addresses as text
 * (netaddr.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

/*
 * The key of sa: IPv4 mapped into IPv6, IPv6 cut to v6bits (128: all of
 * it).  -1 for any other family.
 */
int
netaddr_key(const struct sockaddr *sa, socklen_t len, unsigned v6bits,
    uint8_t key[NETADDR_KEY_LEN])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	unsigned			 i;

	memset(key, 0, NETADDR_KEY_LEN);
	if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6 || len < sizeof(*sin6))
		return -1;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	memcpy(key, &sin6->sin6_addr, NETADDR_KEY_LEN);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) || v6bits >= 128)
		return 0;
	for (i = 0; i < NETADDR_KEY_LEN; i++) {
		if (v6bits >= 8 * (i + 1))
			continue;
		key[i] &= v6bits > 8 * i ?
		    (uint8_t)(0xff << (8 - (v6bits - 8 * i))) : 0;
	}
	return 0;
}

/* The key of a connected socket's peer. */
int
netaddr_peer_key(int fd, unsigned v6bits, uint8_t key[NETADDR_KEY_LEN])
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1) {
		memset(key, 0, NETADDR_KEY_LEN);
		return -1;
	}
	return netaddr_key((struct sockaddr *)&ss, sl, v6bits, key);
}

/* sa as ADDR:PORT, or [ADDR6]:PORT for IPv6; -1 for another family. */
int
netaddr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	char				 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
	snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	return 0;
}

/* Is sa the wildcard address of its family (0.0.0.0, ::)? */
int
netaddr_wildcard(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/*
 * The address a listen socket bound to listen gave a connection whose
 * local end is local: listen itself, or a wildcard's with local's
 * address (and listen's port).  -1: a wildcard of the other family
 * than local's (or local unknown), whose address here is unknown.
 */
int
netaddr_portal(const struct sockaddr_storage *listen,
    const struct sockaddr_storage *local, struct sockaddr_storage *out)
{
	*out = *listen;
	if (!netaddr_wildcard((const struct sockaddr *)listen))
		return 0;
	if (local == NULL || local->ss_family != listen->ss_family)
		return -1;
	*out = *local;
	if (out->ss_family == AF_INET)
		((struct sockaddr_in *)out)->sin_port =
		    ((const struct sockaddr_in *)listen)->sin_port;
	else
		((struct sockaddr_in6 *)out)->sin6_port =
		    ((const struct sockaddr_in6 *)listen)->sin6_port;
	return 0;
}
