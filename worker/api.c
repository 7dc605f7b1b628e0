/*
 * The HTTP API of a worker, on the api-listen sockets it inherited from
 * the master (libevent's HTTP server accepts on them itself).
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "iscsi.h"
#include "log.h"

#define API_BODY_MAX	(64 * 1024)

static time_t	 api_started;

static void
api_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s = json_dumps(j, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (b != NULL && s != NULL) {
		evbuffer_add_printf(b, "%s\n", s);
		evhttp_send_reply(req, code, NULL, b);
	} else
		evhttp_send_error(req, 500, NULL);
	free(s);
	if (b != NULL)
		evbuffer_free(b);
	json_decref(j);
}

static void
api_error(struct evhttp_request *req, int code, const char *msg)
{
	api_json(req, code, json_pack("{s:s}", "error", msg));
}

static void
api_status(struct evhttp_request *req, struct worker *w)
{
	json_t	*j;

	j = json_pack("{s:s, s:I, s:{s:i, s:i}, s:i}",
	    "version", PACKAGE_VERSION,
	    "uptime", (json_int_t)(time(NULL) - api_started),
	    "worker", "pid", (int)getpid(), "connections", w->w_nconns,
	    "images", w->w_nimages);
	api_json(req, 200, j);
}

static void
api_images(struct evhttp_request *req, struct worker *w)
{
	json_t		*a = json_array();
	struct target	*t;

	TAILQ_FOREACH(t, &w->w_targets, tg_entry) {
		if (t->tg_kind != TARGET_PUBLIC)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:I, s:s}",
		    "name", t->tg_images[0]->im_name,
		    "size", (json_int_t)t->tg_images[0]->im_size,
		    "iqn", t->tg_iqn));
	}
	api_json(req, 200, json_pack("{s:o}", "images", a));
}

static void
api_dispatch(struct evhttp_request *req, void *arg)
{
	struct worker	*w = arg;
	const char	*path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(
	    req));
	int		 get = evhttp_request_get_command(req) == EVHTTP_REQ_GET;

	if (path == NULL)
		path = "/";
	if (strcmp(path, "/status") == 0 || strcmp(path, "/api/status") == 0) {
		if (!get)
			api_error(req, 405, "method not allowed");
		else
			api_status(req, w);
	} else if (strcmp(path, "/api/images") == 0) {
		if (!get)
			api_error(req, 405, "method not allowed");
		else
			api_images(req, w);
	} else
		api_error(req, 404, "no such resource");
}

int
api_start(struct worker *w, const int *fds, int n)
{
	struct evhttp	*h;
	int		 i;

	api_started = time(NULL);
	if (n == 0)
		return 0;
	if ((h = evhttp_new(w->w_base)) == NULL)
		return -1;
	evhttp_set_max_body_size(h, API_BODY_MAX);
	evhttp_set_gencb(h, api_dispatch, w);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	for (i = 0; i < n; i++)
		if (evhttp_accept_socket_with_handle(h, fds[i]) == NULL) {
			log_warnx("%s: cannot serve the API", __func__);
			evhttp_free(h);
			return -1;
		}
	w->w_api = h;
	return 0;
}

void
api_stop(struct worker *w)
{
	if (w->w_api != NULL) {
		evhttp_free(w->w_api);
		w->w_api = NULL;
	}
}
