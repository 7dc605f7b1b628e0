/*
 * Logging: stderr in the foreground (-d), syslog otherwise.  Every
 * process names itself with log_procinit(); messages carry __func__.
 */
#ifndef SCSIPUB_LOG_H
#define SCSIPUB_LOG_H

#include <stdarg.h>

/* common/log.c */
void	log_init(int, int);
void	log_procinit(const char *);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_reopen(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* SCSIPUB_LOG_H */
