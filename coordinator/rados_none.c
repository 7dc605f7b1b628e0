/*
 * A build without Ceph (configure found no librados-dev, librbd-dev):
 * the cluster entries of the coordinator do nothing; config.c refuses a
 * "cluster" section, so that c_cluster is never set.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>

#include "coordinator.h"

int
coord_cluster_init(struct coord *c, const struct config *cfg)
{
	(void)c;
	return cfg->c_cluster.cc_on ? EXIT_FAILURE : 0;
}

void
coord_cluster_fini(struct coord *c)
{
	(void)c;
}

void
coord_cluster_work(struct coord *c)
{
	(void)c;
}

int
coord_cluster_pr(struct coord *c, const char *name,
    const struct pr_state *st)
{
	(void)c;
	(void)name;
	(void)st;
	return 0;
}

int
coord_cluster_psess_put(struct coord *c, const struct psess_rec *r)
{
	(void)c;
	(void)r;
	return 0;
}

void
coord_cluster_psess_gone(struct coord *c, const struct psess_rec *r)
{
	(void)c;
	(void)r;
}

int
coord_cluster_psess_elsewhere(struct coord *c, const struct psess_rec *r)
{
	(void)c;
	(void)r;
	return 0;
}

void
coord_cluster_register(struct coord *c, uint64_t id, const char *name)
{
	(void)c;
	(void)id;
	(void)name;
}

void
coord_cluster_charge(struct coord *c, uint64_t lu, uint32_t count, int set)
{
	(void)c;
	(void)lu;
	(void)count;
	(void)set;
}
