/*
 * Tests for common/netaddr.c: addresses as keys, IPv4 mapped, IPv6 cut
 * to its prefix.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include <check.h>

#include "netaddr.h"
#include "suites.h"

static void
key6(const char *text, unsigned bits, uint8_t key[NETADDR_KEY_LEN])
{
	struct sockaddr_in6	 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	ck_assert_int_eq(netaddr_key((struct sockaddr *)&sin6, sizeof(sin6),
	    bits, key), 0);
}

START_TEST(netaddr__ipv4_mapped)
{
	struct sockaddr_in	 sin;
	uint8_t			 k[NETADDR_KEY_LEN], m[NETADDR_KEY_LEN];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	ck_assert_int_eq(netaddr_key((struct sockaddr *)&sin, sizeof(sin), 64,
	    k), 0);
	key6("::ffff:192.0.2.7", 64, m);	/* never cut: an IPv4 host */
	ck_assert_mem_eq(k, m, sizeof(k));
	ck_assert_int_eq(netaddr_key((struct sockaddr *)&sin, 4, 64, k), -1);
}
END_TEST

START_TEST(netaddr__ipv6_prefix)
{
	uint8_t	 a[NETADDR_KEY_LEN], b[NETADDR_KEY_LEN];

	key6("2001:db8:1:2:aaaa::1", 64, a);
	key6("2001:db8:1:2:bbbb::9", 64, b);
	ck_assert_mem_eq(a, b, sizeof(a));		/* one /64 */
	key6("2001:db8:1:3::1", 64, b);
	ck_assert_mem_ne(a, b, sizeof(a));
	key6("2001:db8:1:2:aaaa::1", 128, a);
	key6("2001:db8:1:2:aaaa::2", 128, b);
	ck_assert_mem_ne(a, b, sizeof(a));
	key6("2001:db8:1:2:aaaa::1", 60, a);		/* not on a byte */
	key6("2001:db8:1:f:aaaa::1", 60, b);
	ck_assert_mem_eq(a, b, sizeof(a));
	key6("2001:db8:1:10::1", 60, b);
	ck_assert_mem_ne(a, b, sizeof(a));
}
END_TEST

Suite *
netaddr_suite(void)
{
	Suite	*s = suite_create("netaddr");
	TCase	*tc = tcase_create("keys");

	tcase_add_test(tc, netaddr__ipv4_mapped);
	tcase_add_test(tc, netaddr__ipv6_prefix);
	suite_add_tcase(s, tc);
	return s;
}
