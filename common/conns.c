/*
 * Connections counted in all and per source address (IPv6 per
 * ipv6-prefix).  The master counts the iSCSI connections it hands to
 * workers, so that max-connections and max-connections-per-address hold
 * before a worker allocates anything for a new one; a worker counts its
 * API connections the same way (worker/api/apiconn.c, slot 0).
 *
 * Each connection has a record; its number goes to the worker with the
 * socket (fdpass_msg fm_seq) and comes back when the worker closes it
 * (PROC_CONN_CLOSED); one handed over to another worker moves with it
 * (PROC_HANDOFF_CONN).  A worker that dies takes its records with it.
 * Addresses are counted in an open-addressed table of twice the
 * records, so that it never fills.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "hash.h"
#include "log.h"
#include "netaddr.h"
#include "pack.h"

#define CONN_ID_BITS	22		/* record number; the rest: generation */
#define CONN_ID_MASK	((1u << CONN_ID_BITS) - 1)

struct mconn {
	uint8_t		 mc_addr[NETADDR_KEY_LEN];
	int		 mc_slot;	/* worker slot, -1: free */
	uint32_t	 mc_gen;
};

struct maddr {
	uint8_t		 ma_addr[NETADDR_KEY_LEN];
	uint32_t	 ma_count;	/* 0: free */
};

struct conns {
	struct mconn	*cn_rec;
	uint32_t	 cn_cap;	/* records */
	uint32_t	 cn_used;
	uint32_t	*cn_free;	/* stack of free record numbers */
	uint32_t	 cn_nfree;
	struct maddr	*cn_addr;
	uint32_t	 cn_amask;	/* address table size - 1 */
	uint64_t	 cn_seed;
};

static uint32_t
conns_bucket(const struct conns *cn, const uint8_t *addr)
{
	return (uint32_t)fnv1a(FNV1A_INIT ^ cn->cn_seed, addr,
	    NETADDR_KEY_LEN) & cn->cn_amask;
}

static struct maddr *
conns_addr(struct conns *cn, const uint8_t *addr, int insert)
{
	uint32_t	 i, b = conns_bucket(cn, addr);
	struct maddr	*ma;

	for (i = 0; i <= cn->cn_amask; i++) {
		ma = &cn->cn_addr[(b + i) & cn->cn_amask];
		if (ma->ma_count == 0) {
			if (!insert)
				return NULL;
			memcpy(ma->ma_addr, addr, NETADDR_KEY_LEN);
			return ma;
		}
		if (memcmp(ma->ma_addr, addr, NETADDR_KEY_LEN) == 0)
			return ma;
	}
	return NULL;
}

/* One fewer from addr; an emptied entry leaves by backward shift. */
static void
conns_addr_drop(struct conns *cn, const uint8_t *addr)
{
	struct maddr	*ma = conns_addr(cn, addr, 0);
	uint32_t	 i, j, h;

	if (ma == NULL || --ma->ma_count > 0)
		return;
	i = j = (uint32_t)(ma - cn->cn_addr);
	for (;;) {
		j = (j + 1) & cn->cn_amask;
		if (cn->cn_addr[j].ma_count == 0)
			return;
		h = conns_bucket(cn, cn->cn_addr[j].ma_addr);
		if (((j - h) & cn->cn_amask) >= ((j - i) & cn->cn_amask)) {
			cn->cn_addr[i] = cn->cn_addr[j];
			cn->cn_addr[j].ma_count = 0;
			i = j;
		}
	}
}

struct conns *
conns_new(uint64_t max)
{
	struct conns	*cn;
	uint32_t	 i, asize = 2;

	if (max == 0 || max > CONN_ID_MASK)
		return NULL;
	while (asize < 2 * max)
		asize <<= 1;
	if ((cn = calloc(1, sizeof(*cn))) == NULL ||
	    (cn->cn_rec = calloc(max, sizeof(*cn->cn_rec))) == NULL ||
	    (cn->cn_free = calloc(max, sizeof(*cn->cn_free))) == NULL ||
	    (cn->cn_addr = calloc(asize, sizeof(*cn->cn_addr))) == NULL) {
		conns_free(cn);
		return NULL;
	}
	cn->cn_cap = (uint32_t)max;
	cn->cn_amask = asize - 1;
	cn->cn_seed = (uint64_t)arc4random() << 32 | arc4random();
	for (i = 0; i < cn->cn_cap; i++) {
		cn->cn_rec[i].mc_slot = -1;
		cn->cn_free[cn->cn_nfree++] = cn->cn_cap - 1 - i;
	}
	return cn;
}

/*
 * Room for max records (a reload raised max-connections): the records
 * keep their numbers, so the ids workers hold stay good.
 */
int
conns_grow(struct conns *cn, uint64_t max)
{
	struct conns	*nc;
	uint32_t	 n;

	if (max <= cn->cn_cap)
		return 0;
	if ((nc = conns_new(max)) == NULL)
		return -1;
	nc->cn_nfree = 0;
	for (n = (uint32_t)max; n-- > 0; )
		if (n >= cn->cn_cap || cn->cn_rec[n].mc_slot == -1)
			nc->cn_free[nc->cn_nfree++] = n;
	for (n = 0; n < cn->cn_cap; n++) {
		nc->cn_rec[n] = cn->cn_rec[n];
		if (cn->cn_rec[n].mc_slot != -1)
			conns_addr(nc, cn->cn_rec[n].mc_addr, 1)->ma_count++;
	}
	nc->cn_used = cn->cn_used;
	free(cn->cn_rec);
	free(cn->cn_free);
	free(cn->cn_addr);
	*cn = *nc;
	free(nc);
	return 0;
}

void
conns_free(struct conns *cn)
{
	if (cn == NULL)
		return;
	free(cn->cn_rec);
	free(cn->cn_free);
	free(cn->cn_addr);
	free(cn);
}

uint32_t
conns_count(const struct conns *cn)
{
	return cn->cn_used;
}

/*
 * Room for a connection from addr on worker slot, within max in all and
 * peraddr from its address?  Its id for the worker, or -1 (*why says
 * which limit).
 */
int64_t
conns_add(struct conns *cn, const uint8_t *addr, int slot, uint64_t max,
    uint64_t peraddr, const char **why)
{
	struct maddr	*ma;
	struct mconn	*mc;
	uint32_t	 n;

	if (cn->cn_used >= max || cn->cn_nfree == 0) {
		*why = "max-connections";
		return -1;
	}
	if ((ma = conns_addr(cn, addr, 1)) == NULL || ma->ma_count >= peraddr) {
		*why = "max-connections-per-address";
		return -1;
	}
	ma->ma_count++;
	n = cn->cn_free[--cn->cn_nfree];
	mc = &cn->cn_rec[n];
	memcpy(mc->mc_addr, addr, NETADDR_KEY_LEN);
	mc->mc_slot = slot;
	mc->mc_gen = (mc->mc_gen + 1) & (0xffffffffu >> CONN_ID_BITS);
	cn->cn_used++;
	return (int64_t)(mc->mc_gen << CONN_ID_BITS | n);
}

static void
conns_release(struct conns *cn, uint32_t n)
{
	struct mconn	*mc = &cn->cn_rec[n];

	conns_addr_drop(cn, mc->mc_addr);
	mc->mc_slot = -1;
	cn->cn_free[cn->cn_nfree++] = n;
	cn->cn_used--;
}

/* The worker on slot closed connection id (a stale id is ignored). */
void
conns_closed(struct conns *cn, int slot, uint32_t id)
{
	uint32_t	 n = id & CONN_ID_MASK;

	if (n >= cn->cn_cap || cn->cn_rec[n].mc_slot != slot ||
	    cn->cn_rec[n].mc_gen != id >> CONN_ID_BITS)
		return;
	conns_release(cn, n);
}

/*
 * A connection handed live from the worker in slot from to the one in
 * slot to: its record follows it.  0, or -1 when the id is not from's.
 */
int
conns_moved(struct conns *cn, int from, int to, uint32_t id)
{
	uint32_t	 n = id & CONN_ID_MASK;

	if (n >= cn->cn_cap || cn->cn_rec[n].mc_slot != from ||
	    cn->cn_rec[n].mc_gen != id >> CONN_ID_BITS)
		return -1;
	cn->cn_rec[n].mc_slot = to;
	return 0;
}

/* A worker is gone: so are its connections. */
void
conns_slot_gone(struct conns *cn, int slot)
{
	uint32_t	 n;

	for (n = 0; n < cn->cn_cap; n++)
		if (cn->cn_rec[n].mc_slot == slot)
			conns_release(cn, n);
}

/*
 * The records in use, each one section tagged tag, for the master that
 * a binary replacement executes next (daemon/upgrade.c).
 */
void
conns_save(const struct conns *cn, struct pack *pk, uint16_t tag)
{
	const struct mconn *mc;
	uint32_t	 n;
	size_t		 m;

	for (n = 0; n < cn->cn_cap; n++) {
		mc = &cn->cn_rec[n];
		if (mc->mc_slot == -1)
			continue;
		m = pack_section(pk, tag);
		pack_u32(pk, n);
		pack_u32(pk, mc->mc_gen);
		pack_u32(pk, (uint32_t)mc->mc_slot);
		pack_bytes(pk, mc->mc_addr, NETADDR_KEY_LEN);
		pack_section_end(pk, m);
	}
}

/*
 * One record conns_save wrote, back under its number (the id a worker
 * holds): 0, or -1 when it does not fit (a number past the records, one
 * in use, a bad slot) or is cut short.
 */
int
conns_load(struct conns *cn, struct pack *sec, int nslots)
{
	struct maddr	*ma;
	struct mconn	*mc;
	uint8_t		 addr[NETADDR_KEY_LEN];
	uint32_t	 n, gen, slot, i;

	n = unpack_u32(sec);
	gen = unpack_u32(sec);
	slot = unpack_u32(sec);
	unpack_bytes(sec, addr, sizeof(addr));
	if (sec->pk_short || n >= cn->cn_cap || slot >= (uint32_t)nslots ||
	    cn->cn_rec[n].mc_slot != -1 ||
	    (ma = conns_addr(cn, addr, 1)) == NULL)
		return -1;
	mc = &cn->cn_rec[n];
	memcpy(mc->mc_addr, addr, NETADDR_KEY_LEN);
	ma->ma_count++;
	mc->mc_slot = (int)slot;
	mc->mc_gen = gen & (0xffffffffu >> CONN_ID_BITS);
	cn->cn_used++;
	for (i = 0; i < cn->cn_nfree; i++)	/* off the free stack */
		if (cn->cn_free[i] == n) {
			cn->cn_free[i] = cn->cn_free[--cn->cn_nfree];
			break;
		}
	return 0;
}
