/*
 * Peer addresses as fixed-size keys (netaddr.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
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
