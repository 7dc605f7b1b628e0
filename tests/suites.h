/* Every Check suite of scsipub; tests/check_main.c runs them all. */
#ifndef SCSIPUB_SUITES_H
#define SCSIPUB_SUITES_H

#include <check.h>

/* tests/check_main.c */
void	 test_rm_tree(const char *);

/* tests/common */
Suite	*config_suite(void);
Suite	*crc32c_suite(void);
Suite	*fdpass_suite(void);
Suite	*shmq_suite(void);
Suite	*psess_suite(void);
/* tests/coordinator */
Suite	*coordinator_suite(void);
Suite	*coord_psess_suite(void);
Suite	*coord_prmirror_suite(void);
/* tests/worker */
Suite	*api_suite(void);
Suite	*bufpool_suite(void);
Suite	*chap_suite(void);
Suite	*login_suite(void);
Suite	*lu_suite(void);
Suite	*pr_suite(void);
Suite	*sbc_suite(void);
Suite	*scsi_suite(void);
Suite	*spc_suite(void);

#endif /* SCSIPUB_SUITES_H */
