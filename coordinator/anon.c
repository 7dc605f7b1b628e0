/*
 * Anonymous overlays nobody came back for.  A public target's session
 * keeps its overlay in files that outlive the worker serving it
 * (worker/iscsi/target.c, worker/store/lu.c): state-dir/overlays/
 * anon-KEY/ holds, for each session of one initiator name, target and
 * source address, a group I-ISID: its quota counter I-ISID.quota and
 * its written LUNs' I-ISID-LUN.ovl and .map.  A process serving the
 * session holds a shared lock on the counter.  Here a group nobody has
 * held for anonymous-retain is deleted, under an exclusive lock, and a
 * tombstone anon-KEY/lost left, so that a later login of that identity
 * is told its disk changed rather than silently served a pristine one.
 * Tombstones go after a day, and the emptied directory with them.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator.h"
#include "log.h"

#define ANON_SCAN_SECS	2		/* how often the directories are read */
#define ANON_LOST_SECS	(24 * 3600)	/* how long a tombstone stays */
#define ANON_DIR_MAX	(PATH_MAX + 64)		/* .../overlays/anon-KEY */
#define ANON_FILE_MAX	(ANON_DIR_MAX + 320)	/* and a name in it */

static int
anon_is_dir_name(const char *name)
{
	size_t	 i;

	if (strncmp(name, "anon-", 5) != 0 || strlen(name) != 5 + 32)
		return 0;
	for (i = 5; i < 5 + 32; i++)
		if (strchr("0123456789abcdef", name[i]) == NULL)
			return 0;
	return 1;
}

static struct anon_seen *
anon_find(struct coord_anon *ca, const char *name)
{
	size_t	 i;

	for (i = 0; i < ca->ca_n; i++)
		if (strcmp(ca->ca_seen[i].as_name, name) == 0)
			return &ca->ca_seen[i];
	return NULL;
}

static void
anon_forget(struct coord_anon *ca, const char *name)
{
	struct anon_seen *as = anon_find(ca, name);

	if (as == NULL)
		return;
	free(as->as_name);
	*as = ca->ca_seen[--ca->ca_n];
}

/* When was name first seen unheld (now, if only now)? */
static time_t
anon_since(struct coord_anon *ca, const char *name, time_t now)
{
	struct anon_seen *as, *v;
	size_t		 n;

	char		*copy;

	if ((as = anon_find(ca, name)) != NULL)
		return as->as_since;
	if (ca->ca_n == ca->ca_cap) {
		n = ca->ca_cap ? ca->ca_cap * 2 : 64;
		if ((v = reallocarray(ca->ca_seen, n, sizeof(*v))) == NULL)
			return now;
		ca->ca_seen = v;
		ca->ca_cap = n;
	}
	if ((copy = strdup(name)) == NULL)
		return now;
	as = &ca->ca_seen[ca->ca_n++];
	as->as_name = copy;
	as->as_since = now;
	return now;
}

/* Is nobody holding the counter at path?  Then *fd holds it. */
static int
anon_unheld(const char *path, int *fd)
{
	struct flock	 fl;

	if ((*fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_len = 1;
	return fcntl(*fd, F_OFD_SETLK, &fl) == 0;
}

/* Delete group's files in dir (its counter last; we hold its lock). */
static void
anon_delete_group(const char *dir, const char *group)
{
	char		 p[ANON_FILE_MAX];
	struct dirent	*de;
	size_t		 n = strlen(group);
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, group, n) == 0 &&
		    de->d_name[n] == '-') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	snprintf(p, sizeof(p), "%s/%s.quota", dir, group);
	unlink(p);
}

/*
 * One group (file: I-ISID.quota): nobody held it for anonymous-retain?
 * Deleted, and 1 said.
 */
static int
anon_group(struct coord *c, const char *dir, const char *file, time_t now)
{
	struct coord_anon *ca = &c->c_anon;
	char		 p[ANON_FILE_MAX], group[64];
	int		 fd, gone = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	snprintf(group, sizeof(group), "%.*s", (int)(strlen(file) - 6), file);
	if (!anon_unheld(p, &fd))
		anon_forget(ca, p);
	else if ((uint64_t)(now - anon_since(ca, p, now)) >= ca->ca_retain) {
		anon_delete_group(dir, group);
		anon_forget(ca, p);
		gone = 1;
	}
	if (fd != -1)
		close(fd);
	return gone;
}

static void
anon_lost(struct coord *c, const char *dir)
{
	char	 p[ANON_FILE_MAX];
	int	 fd;

	snprintf(p, sizeof(p), "%s/lost", dir);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) != -1)
		close(fd);
	log_info("anonymous session %s: nobody came back for it within %llu "
	    "s, its overlay is deleted", strrchr(dir, '/') + 1,
	    (unsigned long long)c->c_anon.ca_retain);
}

/* One anon-KEY directory: its groups, its tombstone, itself once empty. */
static void
anon_dir(struct coord *c, const char *dir, time_t now, time_t wall)
{
	char		 p[ANON_FILE_MAX];
	struct dirent	*de;
	struct stat	 sb;
	size_t		 n;
	DIR		*d;
	int		 groups = 0, gone = 0, other = 0;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		if (strncmp(de->d_name, "I-", 2) == 0 && n > 6 &&
		    strcmp(de->d_name + n - 6, ".quota") == 0) {
			groups++;
			gone += anon_group(c, dir, de->d_name, now);
		} else if (strcmp(de->d_name, "lost") == 0) {
			snprintf(p, sizeof(p), "%s/lost", dir);
			if (stat(p, &sb) == 0 &&
			    wall - sb.st_mtime >= ANON_LOST_SECS)
				unlink(p);
			else
				other++;
		} else
			other++;
	}
	closedir(d);
	if (gone > 0 && gone == groups)
		anon_lost(c, dir);
	else if (groups == 0 && other == 0)
		(void)rmdir(dir);
}

static void
anon_scan(struct coord *c, time_t now)
{
	char		 p[ANON_DIR_MAX];
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(c->c_ovldir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!anon_is_dir_name(de->d_name))
			continue;
		snprintf(p, sizeof(p), "%s/%s", c->c_ovldir, de->d_name);
		anon_dir(c, p, now, time(NULL));
	}
	closedir(d);
}

/* Every ANON_SCAN_SECS, from the coordinator's periodic work. */
void
coord_anon_periodic(struct coord *c)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - c->c_anon.ca_last < ANON_SCAN_SECS)
		return;
	c->c_anon.ca_last = now.tv_sec;
	anon_scan(c, now.tv_sec);
}

void
coord_anon_free(struct coord *c)
{
	size_t	 i;

	for (i = 0; i < c->c_anon.ca_n; i++)
		free(c->c_anon.ca_seen[i].as_name);
	free(c->c_anon.ca_seen);
	c->c_anon.ca_seen = NULL;
	c->c_anon.ca_n = c->c_anon.ca_cap = 0;
}
