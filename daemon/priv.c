/*
 * Privileges.  With "user" set the master stays root, to bind listeners
 * and read the TLS key again on HUP, and does no protocol work; the
 * coordinator and every worker give up root right after fork, before
 * they read a byte from the network or open the LMDB environment.
 *
 * The state directory is the one place both sides write: the master
 * keeps it (and its pidfile) root's, group the user's, group-writable
 * and sticky, so the children create their files in it but cannot
 * remove or replace the master's; overlays/ and every file the children
 * write belong to the user.  Files an earlier run left to root are
 * handed over at start, one by one, never through a link.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/capability.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "psess.h"

#define PRIV_DIR_MODE	01770	/* state-dir: root, the user's group */

/* What the children write directly in state-dir (overlays/ is walked). */
static const char *const priv_files[] = {
	"data.mdb", "lock.mdb", PSESS_MIRROR_FILE,
};

/*
 * Give name (in dir) to the user, if it is a directory or a regular file
 * with a single link that is not the user's yet.  Opened with O_PATH and
 * O_NOFOLLOW, so the object changed is the one checked, never what a
 * symbolic or hard link points at.
 */
static int
priv_chown_at(int dir, const char *in, const char *name,
    const struct config *c, FILE *err)
{
	struct stat	 st;
	int		 fd, rv = 0;

	if ((fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1)
		rv = -1;
	else if (!S_ISDIR(st.st_mode) && !(S_ISREG(st.st_mode) &&
	    st.st_nlink == 1))
		fprintf(err, "scsipubd: %s/%s%s left alone (not a directory "
		    "nor a file with one link)\n", c->c_state_dir, in, name);
	else if ((st.st_uid != c->c_uid || st.st_gid != c->c_gid) &&
	    fchownat(fd, "", c->c_uid, c->c_gid, AT_EMPTY_PATH) == -1)
		rv = -1;
	close(fd);
	return rv;
}

/*
 * overlays/: what it holds, then the directory itself.  Without
 * CAP_DAC_READ_SEARCH (under systemd) the master cannot read an
 * overlays/ that is the user's already: an earlier start handed it over.
 */
static int
priv_give_overlays(int dir, const struct config *c, FILE *err)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 fd, rv = 0;

	if ((fd = openat(dir, "overlays", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == EACCES && fstatat(dir, "overlays", &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == c->c_uid)
			return 0;
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while (rv == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			rv = priv_chown_at(dirfd(d), "overlays/", de->d_name,
			    c, err);
	closedir(d);
	return rv == 0 ? priv_chown_at(dir, "", "overlays", c, err) : -1;
}

/* overlays/, then the files the children write in state-dir. */
static int
priv_give_files(int dir, const struct config *c, FILE *err)
{
	size_t	 i;

	if (priv_give_overlays(dir, c, err) == -1)
		return -1;
	for (i = 0; i < sizeof(priv_files) / sizeof(*priv_files); i++)
		if (priv_chown_at(dir, "", priv_files[i], c, err) == -1)
			return -1;
	return 0;
}

/* state-dir itself: the user's group may write, only owners remove. */
static int
priv_give_dir(int dir, const struct config *c)
{
	struct stat	 st;

	if (fstat(dir, &st) == -1)
		return -1;
	if (st.st_uid == c->c_uid)
		return 0;	/* the administrator gave it to the user */
	if (st.st_gid != c->c_gid && fchown(dir, -1, c->c_gid) == -1)
		return -1;
	if ((st.st_mode & PRIV_DIR_MODE) != PRIV_DIR_MODE &&
	    fchmod(dir, (st.st_mode & 07777) | PRIV_DIR_MODE) == -1)
		return -1;
	return 0;
}

/* Can this process create files in dir?  Leaves nothing behind. */
static int
priv_writable(int dir)
{
	int	 fd;

	if ((fd = openat(dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) ==
	    -1)
		return errno == EOPNOTSUPP || errno == EISDIR ? 0 : -1;
	close(fd);
	return 0;
}

/*
 * Create state-dir and state-dir/overlays if missing and check that they
 * are writable; with "user", hand them to that user as described above.
 */
int
priv_state_dir(const struct config *c, FILE *err)
{
	const char	*sd = c->c_state_dir;
	int		 dir, rv = -1;

	if (mkdir(sd, 0750) == -1 && errno != EEXIST) {
		fprintf(err, "scsipubd: state-dir %s: %s\n", sd,
		    strerror(errno));
		return -1;
	}
	if ((dir = open(sd, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    priv_writable(dir) == -1) {
		fprintf(err, "scsipubd: state-dir %s is not writable: %s\n",
		    sd, strerror(errno));
		goto out;
	}
	if (mkdirat(dir, "overlays", 0750) == -1 && errno != EEXIST) {
		fprintf(err, "scsipubd: %s/overlays: %s\n", sd,
		    strerror(errno));
		goto out;
	}
	if (c->c_user[0] != '\0' && (priv_give_dir(dir, c) == -1 ||
	    priv_give_files(dir, c, err) == -1)) {
		fprintf(err, "scsipubd: state-dir %s: cannot give it to user "
		    "%s: %s\n", sd, c->c_user, strerror(errno));
		goto out;
	}
	rv = 0;
out:
	if (dir != -1)
		close(dir);
	return rv;
}

/* Lower the bounding set as far as allowed (not at all without CAP_SETPCAP). */
static void
priv_bounding_set(void)
{
	int	 cap;

	for (cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 &&
		    errno != EPERM)
			break;	/* EINVAL: past the kernel's last one */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

/* Nothing effective, permitted or inheritable is left. */
static int
priv_no_caps(void)
{
	struct __user_cap_header_struct	 hdr;
	struct __user_cap_data_struct	 data[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &hdr, data) == -1)
		return -1;
	if ((data[0].effective | data[1].effective | data[0].permitted |
	    data[1].permitted | data[0].inheritable | data[1].inheritable) !=
	    0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Become the user for good: the steps, then the proofs. */
static int
priv_become(const struct config *c, const char **what)
{
	*what = "initgroups";
	if (initgroups(c->c_user, c->c_gid) == -1)
		return -1;
	*what = "setresgid";
	if (setresgid(c->c_gid, c->c_gid, c->c_gid) == -1)
		return -1;
	*what = "setresuid";
	if (setresuid(c->c_uid, c->c_uid, c->c_uid) == -1)
		return -1;
	*what = "root could be regained";
	if (setuid(0) != -1 || setgid(0) != -1 || getuid() != c->c_uid ||
	    geteuid() != c->c_uid || getgid() != c->c_gid ||
	    getegid() != c->c_gid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * In a child of the master, before any other work: with "user", become
 * that user with its groups, keep no capability, and let nothing (no
 * setuid binary, no file capability) raise privileges again.  Returns
 * -1 with errno set and *what naming the step that failed.
 */
int
priv_drop(const struct config *c, const char **what)
{
	if (c->c_user[0] == '\0')
		return 0;
	if (getuid() != c->c_uid || geteuid() != c->c_uid) {
		*what = "switching to the user needs root";
		if (geteuid() != 0) {
			errno = EPERM;
			return -1;
		}
		priv_bounding_set();
		if (priv_become(c, what) == -1)
			return -1;
	}
	*what = "PR_SET_NO_NEW_PRIVS";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	/* Not traceable, no core dump: siblings cannot read our memory. */
	*what = "PR_SET_DUMPABLE";
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
	*what = "capabilities left";
	return priv_no_caps();
}

/*
 * Before the master detaches: a child drops to the user and checks that
 * it can write state-dir and its overlays and read image-dir, so that a
 * daemon that could not run says so on the terminal.
 */
int
priv_probe(const struct config *c, FILE *err)
{
	char		 path[CFG_PATH_MAX + 16];
	const char	*what = "";
	pid_t		 pid;
	int		 st, fd;

	if (c->c_user[0] == '\0')
		return 0;
	fflush(err);
	if ((pid = fork()) == -1) {
		fprintf(err, "scsipubd: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (priv_drop(c, &what) == -1) {
			fprintf(err, "scsipubd: user %s: %s: %s\n", c->c_user,
			    what, strerror(errno));
			_exit(1);
		}
		snprintf(path, sizeof(path), "%s/overlays", c->c_state_dir);
		if ((fd = open(c->c_state_dir, O_RDONLY | O_DIRECTORY)) ==
		    -1 || priv_writable(fd) == -1 || close(fd) == -1 ||
		    (fd = open(path, O_RDONLY | O_DIRECTORY)) == -1 ||
		    priv_writable(fd) == -1) {
			fprintf(err, "scsipubd: user %s cannot write %s: %s\n",
			    c->c_user, c->c_state_dir, strerror(errno));
			_exit(1);
		}
		if (access(c->c_image_dir, R_OK | X_OK) == -1) {
			fprintf(err, "scsipubd: user %s cannot read image-dir "
			    "%s: %s\n", c->c_user, c->c_image_dir,
			    strerror(errno));
			_exit(1);
		}
		_exit(0);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}
