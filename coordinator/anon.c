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
 *
 * What it costs follows what changes, not how many directories there
 * are: an index of the directories that have something due (a group
 * nobody holds, a tombstone), ordered by when, read from the disk once
 * at start (and again when a worker died: its sessions ended without
 * saying so).  Then a directory is read only when a session of its
 * identity ended (coord_anon_ended) or when its next deadline comes;
 * one whose groups are all held leaves the index until a session ends.
 * Each second's reads stop after ANON_TICK_MS, the rest wait.
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
#include "digest.h"
#include "hash.h"
#include "log.h"
#include "shmq.h"

#define ANON_SETTLE_SECS 1		/* a session ended: read its dir then */
#define ANON_TICK_MS	10		/* reading directories, per second */
#define ANON_LOST_SECS	(24 * 3600)	/* how long a tombstone stays */
#define ANON_DIR_MAX	(PATH_MAX + 64)		/* .../overlays/anon-KEY */
#define ANON_FILE_MAX	(ANON_DIR_MAX + 320)	/* and a name in it */
#define ANON_GROUP_MAX	24		/* "I-" and an ISID's 12 digits */

/* A group of a directory that nobody held when last looked at. */
struct anon_group {
	char		 ag_name[ANON_GROUP_MAX];
	time_t		 ag_since;	/* first seen unheld */
};

/* A directory with something due: in the table by name, in the heap. */
struct anon_dir {
	struct anon_dir	*ad_next;	/* its hash chain */
	time_t		 ad_due;	/* read it again then */
	size_t		 ad_heap;	/* its place in ca_heap */
	struct anon_group *ad_groups;
	size_t		 ad_ngroups;
	char		 ad_name[DIGEST_ANON_DIR_LEN + 1];
};

static int
anon_is_dir_name(const char *name)
{
	size_t	 i;

	if (strncmp(name, "anon-", 5) != 0 ||
	    strlen(name) != DIGEST_ANON_DIR_LEN)
		return 0;
	for (i = 5; i < DIGEST_ANON_DIR_LEN; i++)
		if (strchr("0123456789abcdef", name[i]) == NULL)
			return 0;
	return 1;
}

/* ---- The index: a hash table by name, a binary heap by ad_due ---- */

/* Seeded: the names' digests are of what strangers choose. */
static size_t
anon_hash(const struct coord_anon *ca, const char *name, size_t size)
{
	return fnv1a(FNV1A_INIT ^ ca->ca_seed, name, strlen(name)) &
	    (size - 1);
}

static struct anon_dir **
anon_bucket(struct coord_anon *ca, const char *name)
{
	return &ca->ca_tab[anon_hash(ca, name, ca->ca_tabsz)];
}

static struct anon_dir *
anon_lookup(struct coord_anon *ca, const char *name)
{
	struct anon_dir	*ad;

	if (ca->ca_tab == NULL)
		return NULL;
	for (ad = *anon_bucket(ca, name); ad != NULL; ad = ad->ad_next)
		if (strcmp(ad->ad_name, name) == 0)
			return ad;
	return NULL;
}

static void
anon_heap_set(struct coord_anon *ca, size_t i, struct anon_dir *ad)
{
	ca->ca_heap[i] = ad;
	ad->ad_heap = i;
}

static void
anon_heap_up(struct coord_anon *ca, size_t i)
{
	struct anon_dir	*ad = ca->ca_heap[i];

	while (i > 0 && ca->ca_heap[(i - 1) / 2]->ad_due > ad->ad_due) {
		anon_heap_set(ca, i, ca->ca_heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	anon_heap_set(ca, i, ad);
}

static void
anon_heap_down(struct coord_anon *ca, size_t i)
{
	struct anon_dir	*ad = ca->ca_heap[i];
	size_t		 k;

	while ((k = 2 * i + 1) < ca->ca_n) {
		if (k + 1 < ca->ca_n &&
		    ca->ca_heap[k + 1]->ad_due < ca->ca_heap[k]->ad_due)
			k++;
		if (ca->ca_heap[k]->ad_due >= ad->ad_due)
			break;
		anon_heap_set(ca, i, ca->ca_heap[k]);
		i = k;
	}
	anon_heap_set(ca, i, ad);
}

/* Room for one more directory: the heap, and the table twice as big. */
static int
anon_grow(struct coord_anon *ca)
{
	struct anon_dir	**heap, **tab, *ad, *next;
	size_t		  n, i, h;

	if (ca->ca_n < ca->ca_tabsz)
		return 0;
	n = ca->ca_tabsz ? ca->ca_tabsz * 2 : 256;
	if ((heap = reallocarray(ca->ca_heap, n, sizeof(*heap))) == NULL)
		return -1;
	ca->ca_heap = heap;
	if ((tab = calloc(n, sizeof(*tab))) == NULL)
		return -1;
	if (ca->ca_seed == 0)
		ca->ca_seed = ((uint64_t)arc4random() << 32 | arc4random()) | 1;
	for (i = 0; i < ca->ca_tabsz; i++)
		for (ad = ca->ca_tab[i]; ad != NULL; ad = next) {
			next = ad->ad_next;
			h = anon_hash(ca, ad->ad_name, n);
			ad->ad_next = tab[h];
			tab[h] = ad;
		}
	free(ca->ca_tab);
	ca->ca_tab = tab;
	ca->ca_tabsz = n;
	return 0;
}

/* Directory name is due at when, or earlier if it already was. */
static void
anon_due(struct coord_anon *ca, const char *name, time_t when)
{
	struct anon_dir	*ad, **b;

	if ((ad = anon_lookup(ca, name)) != NULL) {
		if (when < ad->ad_due) {
			ad->ad_due = when;
			anon_heap_up(ca, ad->ad_heap);
		}
		return;
	}
	if (anon_grow(ca) == -1 || (ad = calloc(1, sizeof(*ad))) == NULL) {
		log_warn("%s: %s", __func__, name);
		return;
	}
	snprintf(ad->ad_name, sizeof(ad->ad_name), "%s", name);
	ad->ad_due = when;
	b = anon_bucket(ca, name);
	ad->ad_next = *b;
	*b = ad;
	ca->ca_heap[ca->ca_n++] = ad;
	anon_heap_up(ca, ca->ca_n - 1);
}

/* Out of the index: nothing due in it. */
static void
anon_remove(struct coord_anon *ca, struct anon_dir *ad)
{
	struct anon_dir	**b, *last;
	size_t		  i = ad->ad_heap;

	for (b = anon_bucket(ca, ad->ad_name); *b != ad; b = &(*b)->ad_next)
		continue;
	*b = ad->ad_next;
	last = ca->ca_heap[--ca->ca_n];
	if (last != ad) {
		anon_heap_set(ca, i, last);
		anon_heap_up(ca, i);
		anon_heap_down(ca, last->ad_heap);
	}
	free(ad->ad_groups);
	free(ad);
}

/* ---- One directory, read ---- */

static struct anon_group *
anon_group_find(struct anon_dir *ad, const char *name)
{
	size_t	 i;

	for (i = 0; i < ad->ad_ngroups; i++)
		if (strcmp(ad->ad_groups[i].ag_name, name) == 0)
			return &ad->ad_groups[i];
	return NULL;
}

static void
anon_group_forget(struct anon_dir *ad, const char *name)
{
	struct anon_group *ag = anon_group_find(ad, name);

	if (ag != NULL)
		*ag = ad->ad_groups[--ad->ad_ngroups];
}

/* When was group first seen unheld (now, if only now)? */
static time_t
anon_since(struct anon_dir *ad, const char *name, time_t now)
{
	struct anon_group *ag, *v;

	if ((ag = anon_group_find(ad, name)) != NULL)
		return ag->ag_since;
	if ((v = reallocarray(ad->ad_groups, ad->ad_ngroups + 1,
	    sizeof(*v))) == NULL)
		return now;
	ad->ad_groups = v;
	ag = &v[ad->ad_ngroups++];
	snprintf(ag->ag_name, sizeof(ag->ag_name), "%s", name);
	ag->ag_since = now;
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

/* What a read of one directory found. */
struct anon_read {
	time_t		 ar_now;
	time_t		 ar_wall;
	time_t		 ar_next;	/* its next deadline, 0: none */
	int		 ar_groups;
	int		 ar_gone;
	int		 ar_other;
};

static void
anon_next(struct anon_read *ar, time_t when)
{
	if (ar->ar_next == 0 || when < ar->ar_next)
		ar->ar_next = when;
}

/*
 * One group (file: I-ISID.quota): nobody held it for anonymous-retain?
 * Deleted.  Held: forgotten, until a session of it ends.
 */
static void
anon_group(struct coord *c, struct anon_dir *ad, const char *dir,
    const char *file, struct anon_read *ar)
{
	char		 p[ANON_FILE_MAX], group[ANON_GROUP_MAX];
	time_t		 since;
	int		 fd;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	snprintf(group, sizeof(group), "%.*s", (int)(strlen(file) - 6), file);
	ar->ar_groups++;
	if (!anon_unheld(p, &fd))
		anon_group_forget(ad, group);
	else if ((uint64_t)(ar->ar_now - (since = anon_since(ad, group,
	    ar->ar_now))) >= c->c_anon.ca_retain) {
		anon_delete_group(dir, group);
		anon_group_forget(ad, group);
		ar->ar_gone++;
	} else
		anon_next(ar, since + (time_t)c->c_anon.ca_retain);
	if (fd != -1)
		close(fd);
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

/* The tombstone: gone after a day, else due then. */
static void
anon_tombstone(const char *dir, struct anon_read *ar)
{
	char		 p[ANON_FILE_MAX];
	struct stat	 sb;
	time_t		 age;

	snprintf(p, sizeof(p), "%s/lost", dir);
	if (stat(p, &sb) == -1)
		return;
	age = ar->ar_wall - sb.st_mtime;
	if (age >= ANON_LOST_SECS) {
		unlink(p);
		return;
	}
	ar->ar_other++;
	anon_next(ar, ar->ar_now + ANON_LOST_SECS - (age > 0 ? age : 0));
}

/*
 * One anon-KEY directory: its groups, its tombstone, itself once empty.
 * Its next deadline, 0 when nothing in it is due.
 */
static time_t
anon_read_dir(struct coord *c, struct anon_dir *ad, time_t now, time_t wall)
{
	char		 dir[ANON_DIR_MAX];
	struct anon_read ar = { now, wall, 0, 0, 0, 0 };
	struct dirent	*de;
	size_t		 n;
	DIR		*d;

	snprintf(dir, sizeof(dir), "%s/%s", c->c_ovldir, ad->ad_name);
	c->c_anon.ca_reads++;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		if (strncmp(de->d_name, "I-", 2) == 0 && n > 6 &&
		    n - 6 < ANON_GROUP_MAX &&
		    strcmp(de->d_name + n - 6, ".quota") == 0)
			anon_group(c, ad, dir, de->d_name, &ar);
		else if (strcmp(de->d_name, "lost") == 0)
			anon_tombstone(dir, &ar);
		else
			ar.ar_other++;
	}
	closedir(d);
	if (ar.ar_gone > 0 && ar.ar_gone == ar.ar_groups) {
		anon_lost(c, dir);
		anon_next(&ar, now + ANON_LOST_SECS);
	} else if (ar.ar_groups == 0 && ar.ar_other == 0)
		(void)rmdir(dir);
	return ar.ar_next;
}

/* ---- The index, built and kept ---- */

/* Every anon-KEY directory on the disk, due now: at start, or anew. */
static void
anon_build(struct coord *c, time_t now)
{
	struct dirent	*de;
	DIR		*d;

	c->c_anon.ca_built = 1;
	if ((d = opendir(c->c_ovldir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (anon_is_dir_name(de->d_name))
			anon_due(&c->c_anon, de->d_name, now);
	closedir(d);
}

/*
 * The directories due by now (monotonic seconds; wall: time(NULL), for
 * the tombstones' ages), read for ANON_TICK_MS at most.
 */
void
coord_anon_tick(struct coord *c, time_t now, time_t wall)
{
	struct coord_anon *ca = &c->c_anon;
	struct anon_dir	*ad;
	uint64_t	 t0 = coord_now_ns() / 1000000, budget;
	time_t		 next;

	ca->ca_now = now;
	if (!ca->ca_built)
		anon_build(c, now);
	budget = ca->ca_tick_ms != 0 ? ca->ca_tick_ms : ANON_TICK_MS;
	while (ca->ca_n > 0 && (ad = ca->ca_heap[0])->ad_due <= now &&
	    coord_now_ns() / 1000000 - t0 < budget) {
		if ((next = anon_read_dir(c, ad, now, wall)) == 0) {
			anon_remove(ca, ad);
			continue;
		}
		ad->ad_due = next > now ? next : now + 1;
		anon_heap_down(ca, 0);
	}
}

/*
 * A session ended (coordinator/session.c): if it was anonymous, its
 * directory is read once its files are let go.  A target that
 * authenticates somebody keeps no anonymous directory.
 */
void
coord_anon_ended(struct coord *c, const struct shmq_session *id)
{
	char	 name[DIGEST_ANON_DIR_LEN + 1];

	if (!id->ss_byaddr || digest_anon_dir(id->ss_initiator,
	    id->ss_target, id->ss_addr, name) == -1)
		return;
	anon_due(&c->c_anon, name, c->c_anon.ca_now + ANON_SETTLE_SECS);
}

/*
 * A worker that died ended its sessions without a word: the index is
 * read from the disk again.
 */
static void
anon_watch_slots(struct coord *c)
{
	struct coord_anon *ca = &c->c_anon;
	uint32_t	 gen;
	int		 i;

	if (c->c_region == NULL || c->c_nslots == 0)
		return;
	if (ca->ca_gens == NULL &&
	    (ca->ca_gens = calloc(c->c_nslots, sizeof(*ca->ca_gens))) == NULL)
		return;
	for (i = 0; i < c->c_nslots; i++) {
		gen = shmq_slot_gen(c->c_region, i);
		if (ca->ca_gens[i] != gen && ca->ca_built)
			ca->ca_built = 0;
		ca->ca_gens[i] = gen;
	}
}

/* Once a second, from the coordinator's periodic work. */
void
coord_anon_periodic(struct coord *c)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	anon_watch_slots(c);
	coord_anon_tick(c, now.tv_sec, time(NULL));
}

void
coord_anon_free(struct coord *c)
{
	struct coord_anon *ca = &c->c_anon;

	while (ca->ca_n > 0)
		anon_remove(ca, ca->ca_heap[0]);
	free(ca->ca_heap);
	free(ca->ca_tab);
	free(ca->ca_gens);
	ca->ca_heap = NULL;
	ca->ca_tab = NULL;
	ca->ca_gens = NULL;
	ca->ca_tabsz = 0;
	ca->ca_built = 0;
}
