/*
 * The log module of the fuzzing harnesses, in place of common/log.c:
 * the same interface, quiet unless SCSIPUB_FUZZ_LOG is set in the
 * environment (a fuzzer that formats a warning for every refused PDU
 * spends its time in vsnprintf).  fatal() and fatalx() abort, so that
 * the fuzzer keeps the input that reached one: fatal is for our own
 * broken invariants, and no network input may ever reach it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int	 log_on = -1;
static int	 log_verbose;

static int
log_wanted(void)
{
	if (log_on == -1)
		log_on = getenv("SCSIPUB_FUZZ_LOG") != NULL;
	return log_on;
}

static void
log_emit(const char *what, int with_errno, const char *fmt, va_list ap)
{
	int	 saved = errno;

	fprintf(stderr, "%s: ", what);
	vfprintf(stderr, fmt, ap);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
}

void
log_init(int to_stderr, int verbose)
{
	(void)to_stderr;
	log_verbose = verbose;
}

void
log_procinit(const char *name)
{
	(void)name;
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
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_wanted())
		return;
	va_start(ap, fmt);
	log_emit("warn", 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_wanted())
		return;
	va_start(ap, fmt);
	log_emit("warn", 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_wanted())
		return;
	va_start(ap, fmt);
	log_emit("info", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_wanted() || !log_verbose)
		return;
	va_start(ap, fmt);
	log_emit("debug", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("fatal", 1, fmt, ap);
	va_end(ap);
	abort();
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit("fatal", 0, fmt, ap);
	va_end(ap);
	abort();
}
