/* StreamIn (PUT /containers/:handle/files?destination=D&user=U) and StreamOut (GET ...?source=S
 * &user=U), protocol §4.11-4.12. The server routes a StreamIn as soon as its head is in (see
 * gd_files_streams_body); the body is read by the worker, never buffered whole. Each stream is a
 * worker (files_stream.c) holding a duplicate of the connection; the connection waits in the
 * loop meanwhile (so the container's grace timer stays paused) and is answered, or for a
 * StreamOut that has started its body simply closed, when the worker is done. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "lib/http.h"
#include "cmd/guardian/files.h"
#include "cmd/guardian/routes.h"

static const char files_suffix[] = "/files";

bool gd_files_streams_body(const struct gd_conn *c)
{
	const char *path = c->req.path;
	size_t n = strlen(path), sfx = sizeof(files_suffix) - 1;

	/* /containers/<one segment>/files */
	if (strcmp(c->req.method, "PUT") != 0 || strncmp(path, "/containers/", 12) != 0 ||
	    n <= 12 + sfx || strcmp(path + n - sfx, files_suffix) != 0)
		return false;
	return memchr(path + 12, '/', n - 12 - sfx) == NULL;
}

static void files_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e);

void gd_files_cancel(struct gd_server *s, const char *handle)
{
	for (struct gd_worker *w = s->workers; w; w = w->next) {
		if (w->done != files_done || w->exited || !w->handle || strcmp(w->handle, handle))
			continue;
		gdn_log_info(s->log, "stream-cancelled", "handle", handle, NULL);
		/* nstar ends with it: its pipe closes (and its parent-death signal is armed) */
		(void)kill(w->pid, SIGKILL);
	}
}

static void files_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	struct gd_files_job *j = w->data;
	json_auto_t *body = NULL;

	if (!w->conn)
		return;
	/* the worker wrote the response (or, killed without a result, may have begun it): the
	 * connection has nothing more to say */
	if (!j->in && (!w->result || json_is_true(json_object_get(w->result, "streamed")))) {
		gd_conn_close(s, w->conn);
		return;
	}
	if (e) {
		gd_reply_error(s, w->conn, e);
		return;
	}
	body = json_object();
	gd_reply_json(s, w->conn, 200, body);
}

/* The query's value of key ("" if absent), or NULL after answering a bad escape. */
static char *query_param(struct gd_server *s, struct gd_conn *c, const char *key)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	char *v = NULL;
	int r = gdn_http_query_get(c->req.query ? c->req.query : "", key, &v);

	if (r < 0) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EINVAL, "invalid query parameter '%s'", key);
		e->http_status = 400;
		gd_reply_error(s, c, e);
		return NULL;
	}
	return r == 0 ? strdup("") : v;
}

static void files_start(struct gd_server *s, struct gd_conn *c, struct gd_params *p, bool in)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct gd_files_job *j;
	struct gd_ctr *ctr;

	/* the body (StreamIn) is the worker's to read: this connection ends with the answer */
	c->keep_alive = false;
	ctr = gd_lookup_active(s, c, p->handle);
	if (!ctr)
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		gdn_err_set(&e, ENOMEM, "stream");
		gd_reply_error(s, c, e);
		return;
	}
	j->sock = -1;
	j->in = in;
	j->privileged = ctr->privileged;
	j->handle = strdup(ctr->handle);
	j->user = query_param(s, c, "user");
	if (!j->user) {
		gd_files_job_free(j);
		return;
	}
	j->path = query_param(s, c, in ? "destination" : "source");
	if (!j->path) {
		gd_files_job_free(j);
		return;
	}
	j->chunked = c->req.chunked;
	j->length = c->req.has_length ? c->req.content_length : 0;
	j->sock = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
	if (!j->handle || j->sock < 0 ||
	    (in && gdn_buf_append(&j->pending, c->in.data, c->in.len) < 0)) {
		gd_files_job_free(j);
		gdn_err_set(&e, errno ? errno : ENOMEM, "stream");
		gd_reply_error(s, c, e);
		return;
	}
	if (in)
		gdn_buf_reset(&c->in);
	if (gd_worker_start(s, c, ctr->handle, gd_files_run, j, gd_files_job_free, files_done, &e) <
	    0) {
		gd_reply_error(s, c, e);
		return;
	}
	/* the worker has its copy; ours would keep the client from seeing EOF while later
	 * workers (which inherit it) run */
	(void)close(j->sock);
	j->sock = -1;
}

void gd_h_stream_in(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	files_start(s, c, p, true);
}

void gd_h_stream_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	files_start(s, c, p, false);
}
