/*
 * Shared parts of the fuzzing harnesses (fuzzenv.h): invariant checks
 * that SCSIPUB_FUZZ_SKIP can switch off, the opcode families whose data
 * the alphabets follow, and scratch files.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzenv.h"

/*
 * Every malloc'd buffer starts as FZ_POISON (ASan fills them; the
 * worker's buffer pool keeps nothing under ASan, so each pool buffer is
 * a fresh malloc): data that no one wrote shows up in a read.
 */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "malloc_fill_byte=238:max_malloc_fill_size=268435456";
}

/*
 * Is the invariant check name on?  SCSIPUB_FUZZ_SKIP lists the ones
 * that are off, comma separated, or "all".
 */
int
fz_check(const char *name)
{
	const char	*skip = getenv("SCSIPUB_FUZZ_SKIP"), *p, *end;
	size_t		 n = strlen(name);

	if (skip == NULL || *skip == '\0')
		return 1;
	if (strcmp(skip, "all") == 0)
		return 0;
	for (p = skip; p != NULL; p = end != NULL ? end + 1 : NULL) {
		end = strchr(p, ',');
		if ((end != NULL ? (size_t)(end - p) : strlen(p)) == n &&
		    strncmp(p, name, n) == 0)
			return 0;
	}
	return 1;
}

/* An invariant does not hold: say which, and let the fuzzer keep the input. */
void
fz_fail(const char *check, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "\n==scsipub-fuzz== invariant \"%s\" broken: ", check);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n==scsipub-fuzz== (SCSIPUB_FUZZ_SKIP=%s runs "
	    "without this check)\n", check);
	abort();
}

/* Offset of the first byte outside the alphabets, or len. */
size_t
fz_bad_byte(const uint8_t *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!fz_byte_ok(p[i]))
			return i;
	return len;
}

/* Commands whose Data-Out lands on the medium (mapped to 0x80-0x9f). */
int
fz_write_op(uint8_t op)
{
	switch (op) {
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:	/* WRITE */
	case 0x2e: case 0xae: case 0x8e:		/* WRITE AND VERIFY */
	case 0x8b:					/* ORWRITE */
	case 0x41: case 0x93:				/* WRITE SAME */
	case 0x89:				/* COMPARE AND WRITE */
		return 1;
	}
	return 0;
}

/* Commands whose Data-In is the medium's bytes. */
int
fz_read_op(uint8_t op)
{
	return op == 0x08 || op == 0x28 || op == 0xa8 || op == 0x88;
}

static char	 fz_root[256];

static void
fz_scratch_gone(void)
{
	if (fz_root[0] != '\0')
		fz_rmtree(fz_root);
}

/*
 * A scratch directory for one harness process, removed at exit: under
 * $TMPDIR, else /dev/shm (tmpfs is fast), else /tmp.
 */
const char *
fz_scratch(const char *tag)
{
	const char	*base = getenv("TMPDIR");
	struct stat	 st;

	if (base == NULL || *base == '\0')
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
		    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fz_root, sizeof(fz_root), "%s/scsipub-fuzz-%s.XXXXXX", base,
	    tag);
	if (mkdtemp(fz_root) == NULL) {
		perror(fz_root);
		abort();
	}
	atexit(fz_scratch_gone);
	return fz_root;
}

void
fz_mkdir(const char *dir, const char *name)
{
	char	 p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (mkdir(p, 0700) == -1 && errno != EEXIST) {
		perror(p);
		abort();
	}
}

/* An image of size bytes of the base alphabet. */
void
fz_image(const char *dir, const char *name, size_t size, unsigned seed)
{
	char		 p[1024];
	uint8_t		*b;
	size_t		 i;
	int		 fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((b = malloc(size)) == NULL)
		abort();
	for (i = 0; i < size; i++)
		b[i] = fz_base_byte(i, seed);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, b, size) != (ssize_t)size || close(fd) == -1) {
		perror(p);
		abort();
	}
	free(b);
}

static int
fz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
fz_rmtree(const char *dir)
{
	nftw(dir, fz_rm, 16, FTW_DEPTH | FTW_PHYS);
}
