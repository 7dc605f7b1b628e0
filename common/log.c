/*
 * Logging for every scsipub process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int	 log_stderr = 1;
static int	 log_verbose;
static char	 log_proc[32] = "scsipubd";
static pid_t	 log_pid;	/* this process's, from log_procinit */

void
log_init(int to_stderr, int verbose)
{
	log_stderr = to_stderr;
	log_verbose = verbose;
	if (!log_stderr)
		openlog("scsipubd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_procinit(const char *name)
{
	snprintf(log_proc, sizeof(log_proc), "%s", name);
	log_pid = getpid();
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

void
log_reopen(void)
{
	if (log_stderr)
		return;
	closelog();
	openlog("scsipubd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void
log_emit(int pri, int with_errno, const char *fmt, va_list ap)
{
	int	 saved = errno;
	char	 msg[1024];
	int	 n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	if (log_stderr)
		fprintf(stderr, "%s[%d]: %s\n", log_proc,
		    (int)(log_pid != 0 ? log_pid : getpid()), msg);
	else
		syslog(pri, "%s: %s", log_proc, msg);
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
