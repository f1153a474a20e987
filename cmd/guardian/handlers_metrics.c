/* Metrics and BulkMetrics routes (protocol §4.9-4.10). The loop gathers what it knows of each
 * container (its init pid, CPU shares, network interface) and a worker reads the figures
 * (metrics.c), so that cgroupfs, the volumizer or an image plugin being slow never holds up
 * other requests. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "lib/fs.h"
#include "lib/http.h"
#include "lib/util.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/metrics.h"
#include "cmd/guardian/routes.h"
#include "cmd/guardian/volume_store.h"

static int cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct gd_metrics_target *)a)->handle,
		      ((const struct gd_metrics_target *)b)->handle);
}

/* The worker: measures, writes the whole response to the client itself (so the loop never
 * parses or re-encodes a body of ~1.3 KiB a container), and returns {"streamed":true} and the
 * image sizes it knows. */
static int metrics_run(const struct gd_config *cfg, void *p, struct gdn_log *log,
		       struct gdn_err **err)
{
	struct gd_metrics_job *j = p;
	json_auto_t *body = NULL;
	_cleanup_free_ char *text = NULL;
	struct gdn_buf out = {0};
	struct gdn_buf bulk = {0};
	size_t len = 0;
	int r;

	if (!j->bulk) {
		if ((r = gd_metrics_of(cfg, &j->targets[0], j->image_sizes, log, &body, err)) < 0)
			return r;
		text = gdn_json_line(body, &len);
	} else {
		qsort(j->targets, j->n, sizeof(*j->targets), cmp_target);
		if (gd_metrics_bulk_body(cfg, j, log, &bulk) >= 0)
			text = gdn_buf_steal(&bulk, &len);
		gdn_buf_free(&bulk);
	}
	if (!text || gdn_http_write_response(&out, 200, "application/json", text, len, false) < 0) {
		gdn_buf_free(&out);
		return gdn_err_set(err, ENOMEM, "metrics");
	}
	r = (int)gdn_fd_write_all(j->sock, out.data, out.len);
	gdn_buf_free(&out);
	if (r < 0)
		gdn_log_info(log, "client-gone", "error", strerror(-r), NULL);
	gd_worker_set_result(
	    json_pack("{s:b, s:O*}", "streamed", true, "image_sizes", j->image_sizes));
	return 0;
}

static void metrics_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	json_t *sizes = json_object_get(w->result, "image_sizes");

	if (json_is_object(sizes) && json_object_size(sizes) <= GD_IMAGE_SIZES_MAX) {
		json_decref(s->image_sizes);
		s->image_sizes = json_incref(sizes);
	}
	if (!w->conn)
		return;
	/* the worker answered (or, killed without a result, may have begun to) */
	if (!w->result || json_is_true(json_object_get(w->result, "streamed"))) {
		gd_conn_close(s, w->conn);
		return;
	}
	if (e) {
		gd_reply_error(s, w->conn, e);
		return;
	}
	gd_conn_close(s, w->conn);
}

/* A formatted string (malloc'd), or NULL when memory ran out. */
static char *__attribute__((format(printf, 1, 2))) fmt(const char *f, ...)
{
	char *out = NULL;
	va_list ap;
	va_start(ap, f);
	if (vasprintf(&out, f, ap) < 0)
		out = NULL;
	va_end(ap);
	return out;
}

static const char *prop(json_t *props, const char *key)
{
	json_t *v = json_object_get(props, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static char *dup_or_null(const char *p, bool *failed)
{
	char *d = p ? strdup(p) : NULL;
	if (p && !d)
		*failed = true;
	return d;
}

/* Finds ctr's cgroup directories (once; `mounts` is read for the first container of the
 * request that needs it) and its created time. */
static void ctr_find(struct gd_ctr *ctr, const struct gd_config *cfg, struct gd_mounts *mounts)
{
	if (!ctr->created_ns)
		ctr->created_ns = gd_metrics_created_ns(cfg, ctr->handle);
	if (ctr->cg_found || ctr->init_pid <= 0)
		return;
	if (!mounts->v && gd_mountinfo_read(NULL, mounts, NULL) < 0)
		return;
	struct gd_cgroup_dirs d = {0};
	if (gd_cgroup_dirs_of(mounts, ctr->init_pid, &d, NULL) >= 0 && d.memory &&
	    gd_cgroup_is_container(d.memory, ctr->handle)) {
		gd_cgroup_dirs_free(&ctr->cg);
		ctr->cg = d;
		ctr->cg_found = true;
		return;
	}
	gd_cgroup_dirs_free(&d);
}

/* A target for ctr, from what the loop knows (its load from the depot, done when create
 * completed or at restore, is retried here if it failed then). */
static int target_of(struct gd_server *s, struct gd_ctr *ctr, struct gd_mounts *mounts,
		     struct gd_metrics_target *t)
{
	bool failed = false;

	_cleanup_err_ struct gdn_err *e = NULL;
	const char *iface = prop(ctr->props, "garden.network.interface");
	const char *healthcheck = prop(ctr->props, "network.healthcheck");

	t->handle = strdup(ctr->handle);
	if (!t->handle)
		return -ENOMEM;
	if (ctr->state != GD_CTR_ACTIVE) {
		t->error = fmt("container '%s' is being %s", ctr->handle,
			       ctr->state == GD_CTR_CREATING ? "created" : "destroyed");
		return t->error ? 0 : -ENOMEM;
	}
	if (!ctr->run_base && gd_ctr_load(s->cfg, ctr, &e) < 0) {
		t->error = strdup(gdn_err_str(e));
		return t->error ? 0 : -ENOMEM;
	}
	ctr_find(ctr, s->cfg, mounts);
	t->init_pid = ctr->init_pid;
	t->cpu_shares = ctr->cpu_shares;
	t->created_ns = ctr->created_ns;
	if (ctr->cg_found) {
		t->cg.memory = dup_or_null(ctr->cg.memory, &failed);
		t->cg.cpu = dup_or_null(ctr->cg.cpu, &failed);
		t->cg.pids = dup_or_null(ctr->cg.pids, &failed);
		t->cg.memory_v2 = ctr->cg.memory_v2;
		t->cg.cpu_v2 = ctr->cg.cpu_v2;
		if (failed)
			return -ENOMEM;
	}
	/* Garden: only with the flag, an interface a plugin named, and not a healthcheck's */
	if (s->cfg->network_metrics && iface && *iface &&
	    !(healthcheck && strcmp(healthcheck, "true") == 0)) {
		t->net_iface = strdup(iface);
		if (!t->net_iface)
			return -ENOMEM;
	}
	return 0;
}

static void start(struct gd_server *s, struct gd_conn *c, struct gd_metrics_job *j,
		  const char *handle)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	/* the worker writes the response, which says Connection: close */
	c->keep_alive = false;
	j->sock = fcntl(c->fd, F_DUPFD_CLOEXEC, 3);
	if (j->sock < 0) {
		gdn_err_set(&e, errno, "metrics");
		gd_metrics_job_free(j);
		gd_reply_error(s, c, e);
		return;
	}
	if (gd_worker_start(s, c, handle, metrics_run, j, gd_metrics_job_free, metrics_done, &e) <
	    0) {
		gd_reply_error(s, c, e);
		return;
	}
	/* the worker has its copy; ours would keep the client from seeing EOF while later
	 * workers (which inherit it) run */
	(void)close(j->sock);
	j->sock = -1;
}

static struct gd_metrics_job *job_new(struct gd_server *s, bool bulk, size_t n)
{
	struct gd_metrics_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->bulk = bulk;
	j->sock = -1;
	j->image_sizes = s->image_sizes;
	j->targets = calloc(n ? n : 1, sizeof(*j->targets));
	if (!j->targets) {
		free(j);
		return NULL;
	}
	return j;
}

static void reply_oom(struct gd_server *s, struct gd_conn *c)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	gdn_err_set(&e, ENOMEM, "metrics");
	gd_reply_error(s, c, e);
}

void gd_h_metrics(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	struct gd_ctr *ctr = gd_lookup_active(s, c, p->handle);
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	struct gd_metrics_job *j;

	if (!ctr)
		return;
	j = job_new(s, false, 1);
	if (!j) {
		reply_oom(s, c);
		return;
	}
	j->n = 1;
	if (target_of(s, ctr, &mounts, &j->targets[0]) < 0) {
		gd_metrics_job_free(j);
		reply_oom(s, c);
		return;
	}
	if (j->targets[0].error) {
		_cleanup_err_ struct gdn_err *e = NULL;
		gdn_err_kind(&e, GDN_ERR_GENERIC, EIO, "%s", j->targets[0].error);
		gd_metrics_job_free(j);
		gd_reply_error(s, c, e);
		return;
	}
	start(s, c, j, ctr->handle);
}

void gd_h_bulk_metrics(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_free_ char *handles = NULL;
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	struct gd_metrics_job *j;
	size_t n = 1;
	char *save = NULL;

	(void)p;
	/* Garden: a missing or empty parameter is an empty list, answered {} */
	if (gdn_http_query_get(c->req.query, "handles", &handles) <= 0 || !*handles) {
		json_auto_t *empty = json_object();
		gd_reply_json(s, c, 200, empty);
		return;
	}
	for (const char *q = handles; *q; q++)
		n += *q == ',';
	j = job_new(s, true, n);
	if (!j) {
		reply_oom(s, c);
		return;
	}
	for (char *h = strtok_r(handles, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		struct gd_ctr *ctr = gd_registry_find(&s->reg, h);
		struct gd_metrics_target *t = &j->targets[j->n++];
		int r;

		if (ctr) {
			r = target_of(s, ctr, &mounts, t);
		} else {
			t->handle = strdup(h);
			t->error = fmt("unknown handle: %s", h);
			r = t->handle && t->error ? 0 : -ENOMEM;
		}
		if (r < 0) {
			gd_metrics_job_free(j);
			reply_oom(s, c);
			return;
		}
	}
	start(s, c, j, NULL);
}
