/* Metrics and BulkMetrics routes (protocol §4.9-4.10). The loop gathers what it knows of each
 * container (its init pid, CPU shares, network interface) and a worker reads the figures
 * (metrics.c), so that cgroupfs, the volumizer or an image plugin being slow never holds up
 * other requests. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/http.h"
#include "cmd/guardian/metrics.h"
#include "cmd/guardian/routes.h"
#include "cmd/guardian/volume_store.h"

/* The worker: {"body": <the response body>} as its result. */
static int metrics_run(const struct gd_config *cfg, void *p, struct gdn_log *log,
		       struct gdn_err **err)
{
	struct gd_metrics_job *j = p;
	_cleanup_mounts_ struct gd_mounts mounts = {0};
	json_t *body = NULL;
	int r = gd_mountinfo_read(NULL, &mounts, err);

	if (r < 0)
		return r;
	if (!j->bulk) {
		if ((r = gd_metrics_of(cfg, &mounts, &j->targets[0], j->image_sizes, log, &body,
				       err)) < 0)
			return r;
	} else {
		body = json_object();
		for (size_t i = 0; body && i < j->n; i++)
			json_object_set_new(
			    body, j->targets[i].handle,
			    gd_metrics_entry(cfg, &mounts, &j->targets[i], j->image_sizes, log));
	}
	if (!body)
		return gdn_err_set(err, ENOMEM, "metrics");
	gd_worker_set_result(json_pack("{s:o, s:O*}", "body", body, "image_sizes", j->image_sizes));
	return 0;
}

static void metrics_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	struct gd_metrics_job *j = w->data;
	json_t *body = json_object_get(w->result, "body");
	json_auto_t *sorted = NULL;

	json_t *sizes = json_object_get(w->result, "image_sizes");

	if (json_is_object(sizes) && json_object_size(sizes) <= GD_IMAGE_SIZES_MAX) {
		json_decref(s->image_sizes);
		s->image_sizes = json_incref(sizes);
	}
	if (!w->conn)
		return;
	if (e || !body) {
		_cleanup_err_ struct gdn_err *none = NULL;
		if (!e)
			gdn_err_set(&none, EIO, "metrics: the worker gave no answer");
		gd_reply_error(s, w->conn, e ? e : none);
		return;
	}
	/* Go encodes a map with sorted keys; a Metrics object keeps its fields' order */
	if (j->bulk)
		sorted = gd_props_sorted(body);
	gd_reply_json(s, w->conn, 200, sorted ? sorted : body);
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

/* A target for ctr, from what the loop knows (its load from the depot, done when create
 * completed or at restore, is retried here if it failed then). */
static int target_of(struct gd_server *s, struct gd_ctr *ctr, struct gd_metrics_target *t)
{
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
	t->init_pid = ctr->init_pid;
	t->cpu_shares = ctr->cpu_shares;
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

	if (gd_worker_start(s, c, handle, metrics_run, j, gd_metrics_job_free, metrics_done, &e) <
	    0)
		gd_reply_error(s, c, e);
}

static struct gd_metrics_job *job_new(struct gd_server *s, bool bulk, size_t n)
{
	struct gd_metrics_job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->bulk = bulk;
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
	struct gd_metrics_job *j;

	if (!ctr)
		return;
	j = job_new(s, false, 1);
	if (!j) {
		reply_oom(s, c);
		return;
	}
	j->n = 1;
	if (target_of(s, ctr, &j->targets[0]) < 0) {
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
			r = target_of(s, ctr, t);
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
