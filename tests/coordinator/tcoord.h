/*
 * The coordinator as the master runs it, forked for the coordinator's
 * tests: on a state directory and a ring region the test made, with a
 * configuration that has nothing else.  The test is the workers.
 */
#ifndef SCSIPUB_TCOORD_H
#define SCSIPUB_TCOORD_H

#include <sys/types.h>

#include <stddef.h>

struct shmq_region;

pid_t	tcoord_fork(const char *, struct shmq_region *, size_t);
void	tcoord_stop(pid_t *, int);

#endif /* SCSIPUB_TCOORD_H */
