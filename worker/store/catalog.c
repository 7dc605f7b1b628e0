/*
 * The catalog of a worker: the base images of image-dir, opened
 * read-only (nothing ever writes them), sorted by name.  Only regular
 * files, and symbolic links that stay in image-dir unless
 * image-follow-symlinks says otherwise.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "lu.h"
#include "store.h"

static int
image_cmp(const void *a, const void *b)
{
	const struct image *const *x = a, *const *y = b;

	return strcmp((*x)->im_name, (*y)->im_name);
}

/*
 * An image's file, opened where it is: a regular file of image-dir, or
 * a symbolic link there that resolves within image-dir (the kernel
 * checks it as it opens, RESOLVE_BENEATH: no window between the check
 * and the open); one that leaves image-dir is refused unless
 * image-follow-symlinks allows it.  Never blocks (a FIFO is not read).
 */
static int
image_openat(int dfd, const char *dir, const char *file, int follow)
{
	struct open_how	 how;
	int		 flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK, fd;

	if ((fd = openat(dfd, file, flags | O_NOFOLLOW)) != -1 ||
	    errno != ELOOP)
		return fd;
	if (follow)				/* a link, wherever it goes */
		return openat(dfd, file, flags);
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)flags;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	if ((fd = (int)syscall(SYS_openat2, dfd, file, &how,
	    sizeof(how))) == -1 && (errno == EXDEV || errno == ELOOP ||
	    errno == ENOSYS))
		log_warnx("%s/%s: a symbolic link out of image-dir: not "
		    "published (image-follow-symlinks)", dir, file);
	return fd;
}

static struct image *
image_open(struct worker *w, int dfd, const char *file)
{
	const char	*dir = w->w_cfg->c_image_dir;
	struct image	*im;
	struct stat	 st;
	size_t		 n = strlen(file) - 4;

	if ((im = calloc(1, sizeof(*im))) == NULL)
		return NULL;
	snprintf(im->im_name, sizeof(im->im_name), "%.*s", (int)n, file);
	snprintf(im->im_path, sizeof(im->im_path), "%s/%s", dir, file);
	im->im_fd = image_openat(dfd, dir, file, w->w_cfg->c_image_symlinks);
	if (im->im_fd == -1 || fstat(im->im_fd, &st) == -1 ||
	    !S_ISREG(st.st_mode) || st.st_size < 512 ||
	    fcntl(im->im_fd, F_SETFL, 0) == -1) {
		log_warnx("%s: %s: not a usable image", __func__, im->im_path);
		if (im->im_fd != -1)
			close(im->im_fd);
		free(im);
		return NULL;
	}
	im->im_size = (uint64_t)st.st_size & ~511ULL;
	return im;
}

static int
catalog_scan(struct worker *w)
{
	DIR		*d;
	struct dirent	*de;
	struct image	*im, **v;
	size_t		 n;
	char		 name[256];

	if ((d = opendir(w->w_cfg->c_image_dir)) == NULL) {
		log_warn("%s: %s", __func__, w->w_cfg->c_image_dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 4 || n - 4 >= sizeof(im->im_name) ||
		    strcmp(de->d_name + n - 4, ".img") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 4), de->d_name);
		if (!config_image_name_ok(name) ||
		    (im = image_open(w, dirfd(d), de->d_name)) == NULL)
			continue;
		v = reallocarray(w->w_images, w->w_nimages + 1, sizeof(*v));
		if (v == NULL) {
			close(im->im_fd);
			free(im);
			break;
		}
		w->w_images = v;
		w->w_images[w->w_nimages++] = im;
	}
	closedir(d);
	qsort(w->w_images, w->w_nimages, sizeof(*w->w_images), image_cmp);
	return 0;
}

/* The catalog image called name (the catalog is sorted), or NULL. */
struct image *
catalog_image(struct worker *w, const char *name)
{
	int	 lo = 0, hi = w->w_nimages - 1, mid, c;

	while (lo <= hi) {
		mid = (lo + hi) / 2;
		c = strcmp(w->w_images[mid]->im_name, name);
		if (c == 0)
			return w->w_images[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/*
 * The catalog: every NAME.img of image-dir (in a cluster: the pool's
 * base images), opened read-only, by name; and where private overlays
 * go.
 */
int
catalog_load(struct worker *w)
{
	snprintf(w->w_ovldir, sizeof(w->w_ovldir), "%s/overlays",
	    w->w_cfg->c_state_dir);
	if (w->w_cfg->c_cluster.cc_on)		/* RBD images: rbd.c */
		return rbd_catalog_load(w);
	return catalog_scan(w);
}
