/*
 * Provisioned sessions as a worker reaches them: the coordinator's
 * mirror of them (read, never written here), what their overlays hold,
 * and the requests that create and delete them.  worker/iscsi/ptarget.c
 * serves their targets; worker/api/api.c takes the HTTP requests.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "psess.h"
#include "shmq.h"
#include "store.h"

static struct psess_mirror	*sessions_m;

/* The coordinator's mirror, mapped at first use. */
struct psess_mirror *
psess_mirror(struct worker *w)
{
	char	 path[CFG_PATH_MAX + 32];

	if (sessions_m != NULL)
		return sessions_m;
	snprintf(path, sizeof(path), "%s/%s", w->w_cfg->c_state_dir,
	    PSESS_MIRROR_FILE);
	if ((sessions_m = psess_mirror_open(path, 0)) == NULL)
		log_debug("%s: %s: %s", __func__, path, strerror(errno));
	return sessions_m;
}

/* A session's file in state-dir/overlays: psess-ID and a suffix. */
void
psess_path(struct worker *w, uint64_t id, const char *suffix, char *buf,
    size_t len)
{
	char	 ids[PSESS_IDSTR];

	psess_id_fmt(id, ids);
	snprintf(buf, len, "%s/overlays/psess-%s%s", w->w_cfg->c_state_dir,
	    ids, suffix);
}

/* Bytes the session's LUs hold in their overlays, as the quota counts. */
uint64_t
psess_used_bytes(struct worker *w, uint64_t id)
{
	char	 path[CFG_PATH_MAX + 64];
	uint64_t used = 0;
	int	 fd;

	psess_path(w, id, ".quota", path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (pread(fd, &used, sizeof(used), 0) != (ssize_t)sizeof(used))
		used = 0;
	close(fd);
	return used;
}

/* Random characters from alphabet (rejection sampling: no bias). */
static int
psess_random(char *out, size_t n, const char *alphabet)
{
	size_t		 alen = strlen(alphabet), i = 0, j;
	unsigned	 lim = 256 - 256 % alen;
	uint8_t		 b[64];

	while (i < n) {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -1;
		for (j = 0; j < sizeof(b) && i < n; j++)
			if (b[j] < lim)
				out[i++] = alphabet[b[j] % alen];
	}
	out[n] = '\0';
	return 0;
}

/* Fresh random identity: id, IQN suffix, CHAP user and secret. */
int
psess_identity(struct psess_rec *r)
{
	static const char hex[] = "0123456789abcdef";
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";

	do {
		if (RAND_bytes((unsigned char *)&r->ps_id,
		    sizeof(r->ps_id)) != 1)
			return -1;
	} while (r->ps_id == 0);
	memcpy(r->ps_iqn, "p-", 2);
	memcpy(r->ps_user, "u-", 2);
	if (psess_random(r->ps_iqn + 2, 24, hex) != 0 ||
	    psess_random(r->ps_user + 2, 16, hex) != 0 ||
	    psess_random(r->ps_secret, 24, alnum) != 0)
		return -1;
	return 0;
}

/* Stage the LUNs, then create: cb gets the CREATE's answer. */
int
psess_create(struct worker *w, const struct psess_rec *r,
    const struct psess_limits *pl, ipc_cb cb, void *arg)
{
	struct shmq_msg	 m;
	int		 lun = 0;

	while (lun < r->ps_nluns) {
		lun = psess_msg_luns(&m, r, lun);
		if (ipc_request(w, &m, NULL, NULL) != 0)
			return -1;
	}
	psess_msg_create(&m, r, pl);
	return ipc_request(w, &m, cb, arg);
}

int
psess_delete(struct worker *w, uint64_t id, ipc_cb cb, void *arg)
{
	struct shmq_msg	 m;

	psess_msg_id(&m, SHMQ_PSESS_DELETE, id);
	return ipc_request(w, &m, cb, arg);
}
