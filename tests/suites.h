/*
 * Every Check suite of scsipub, in the order tests/check_main.c runs
 * them: the one list (a suite NAME is the function NAME_suite() in
 * tests/DIR/check_*.c; Makefile.am lists those files).
 */
#ifndef SCSIPUB_SUITES_H
#define SCSIPUB_SUITES_H

#include <check.h>

#define SCSIPUB_SUITES(X)	\
	X(config)		\
	X(cluster)		\
	X(crc32c)		\
	X(digest)		\
	X(fdpass)		\
	X(netaddr)		\
	X(pack)			\
	X(shmq)			\
	X(psess)		\
	X(prstate)		\
	X(coordinator)		\
	X(coord_store)		\
	X(coord_mirror)		\
	X(coord_psess)		\
	X(coord_prmirror)	\
	X(coord_anon)		\
	X(session)		\
	X(conns)		\
	X(listen)		\
	X(upgrade)		\
	X(scsipubctl)		\
	X(api)			\
	X(apiconn)		\
	X(bufpool)		\
	X(ipc)			\
	X(chap)			\
	X(login)		\
	X(conn)			\
	X(iscsi)		\
	X(dataout)		\
	X(handoff)		\
	X(target)		\
	X(lu)			\
	X(pr)			\
	X(scsi)			\
	X(spc)			\
	X(sbc)

#define SCSIPUB_SUITE_DECL(name)	Suite *name##_suite(void);
SCSIPUB_SUITES(SCSIPUB_SUITE_DECL)
#undef SCSIPUB_SUITE_DECL

/* tests/check_main.c */
void	 test_rm_tree(const char *);

#endif /* SCSIPUB_SUITES_H */
