/*
 * Connections counted in all and per source address (netaddr.h keys),
 * each with an id that says it is gone: the master's count of the iSCSI
 * connections it hands to workers, and each worker's count of its API
 * connections.
 */
#ifndef SCSIPUB_CONNS_H
#define SCSIPUB_CONNS_H

#include <stdint.h>

struct conns;
struct pack;

/* common/conns.c */
struct conns	*conns_new(uint64_t);
int		 conns_grow(struct conns *, uint64_t);
void		 conns_free(struct conns *);
uint32_t	 conns_count(const struct conns *);
int64_t		 conns_add(struct conns *, const uint8_t *, int, uint64_t,
		    uint64_t, const char **);
void		 conns_closed(struct conns *, int, uint32_t);
int		 conns_moved(struct conns *, int, int, uint32_t);
void		 conns_save(const struct conns *, struct pack *, uint16_t);
int		 conns_load(struct conns *, struct pack *, int);
void		 conns_slot_gone(struct conns *, int);

#endif /* SCSIPUB_CONNS_H */
