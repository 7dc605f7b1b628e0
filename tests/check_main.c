/*
 * Runs every unit-test suite and reports in TAP for automake's
 * tap-driver.sh.  CK_RUN_SUITE=name runs one suite.
 */
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_suite());
	srunner_add_suite(sr, crc32c_suite());
	srunner_add_suite(sr, fdpass_suite());
	srunner_add_suite(sr, shmq_suite());
	srunner_add_suite(sr, psess_suite());
	srunner_add_suite(sr, coordinator_suite());
	srunner_add_suite(sr, coord_psess_suite());
	srunner_add_suite(sr, coord_prmirror_suite());
	srunner_add_suite(sr, api_suite());
	srunner_add_suite(sr, chap_suite());
	srunner_add_suite(sr, login_suite());
	srunner_add_suite(sr, lu_suite());
	srunner_add_suite(sr, pr_suite());
	srunner_add_suite(sr, scsi_suite());
	srunner_add_suite(sr, spc_suite());
	srunner_add_suite(sr, sbc_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
