/*
 * Runs every unit-test suite and reports in TAP for automake's
 * tap-driver.sh.  CK_RUN_SUITE=name runs one suite.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "suites.h"

/* Remove dir and everything under it (a test's scratch directory). */
void
test_rm_tree(const char *dir)
{
	char		 path[PATH_MAX + 256];
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) == -1 && errno == EISDIR)
			test_rm_tree(path);
	}
	closedir(d);
	rmdir(dir);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(NULL);
#define SCSIPUB_SUITE_ADD(name)	srunner_add_suite(sr, name##_suite());
	SCSIPUB_SUITES(SCSIPUB_SUITE_ADD)
#undef SCSIPUB_SUITE_ADD
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
