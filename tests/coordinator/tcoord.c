/*
 * The coordinator process forked for the coordinator's tests (tcoord.h).
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "coordinator.h"
#include "proc.h"
#include "shmq.h"
#include "tcoord.h"

/* coordinator_main() on state directory dir and region rg, as a child. */
static int
tcoord_main(const char *dir, struct shmq_region *rg, size_t mapsize)
{
	struct proc_env	 env;
	struct config	*cfg;

	if ((cfg = config_new()) == NULL ||
	    strlen(dir) >= sizeof(cfg->c_state_dir))
		return EXIT_FAILURE;
	memcpy(cfg->c_state_dir, dir, strlen(dir) + 1);
	cfg->c_map_size = mapsize;
	memset(&env, 0, sizeof(env));
	env.pe_cfg = cfg;
	env.pe_region = rg;
	env.pe_slot = env.pe_ctl = -1;
	return coordinator_main(&env);
}

/* A coordinator with an LMDB map of mapsize bytes: its pid. */
pid_t
tcoord_fork(const char *dir, struct shmq_region *rg, size_t mapsize)
{
	pid_t	 pid;

	if ((pid = fork()) == 0)
		_exit(tcoord_main(dir, rg, mapsize));
	ck_assert_int_ne(pid, -1);
	return pid;
}

/* Signal the coordinator *pid (none when 0), wait for it; *pid 0. */
void
tcoord_stop(pid_t *pid, int sig)
{
	int	 st;

	if (*pid > 0) {
		kill(*pid, sig);
		ck_assert_int_eq(waitpid(*pid, &st, 0), *pid);
	}
	*pid = 0;
}
