/* Container lifecycle routes: create, destroy, stop (in workers), list, info, bulk_info. */
#include <string.h>

#include "lib/errwire.h"
#include "lib/gojson.h"
#include "lib/http.h"
#include "lib/util.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/events.h"
#include "cmd/guardian/files.h"
#include "cmd/guardian/oom.h"
#include "cmd/guardian/routes.h"
#include "cmd/guardian/spec.h"

struct gd_ctr *gd_lookup(struct gd_server *s, struct gd_conn *c, const char *handle)
{
	struct gd_ctr *ctr = handle ? gd_registry_find(&s->reg, handle) : NULL;

	if (!ctr) {
		_cleanup_err_ struct gdn_err *e = NULL;
		gdn_err_not_found(&e, handle ? handle : "");
		gd_reply_error(s, c, e);
		return NULL;
	}
	if (!c->paused) {
		gd_ctr_pause(ctr);
		c->paused = ctr;
	}
	return ctr;
}

struct gd_ctr *gd_lookup_active(struct gd_server *s, struct gd_conn *c, const char *handle)
{
	struct gd_ctr *ctr = gd_lookup(s, c, handle);

	if (ctr && ctr->state != GD_CTR_ACTIVE) {
		_cleanup_err_ struct gdn_err *e = NULL;
		gdn_err_kind(&e, GDN_ERR_GENERIC, EBUSY, "container '%s' is being %s", ctr->handle,
			     ctr->state == GD_CTR_CREATING ? "created" : "destroyed");
		gd_reply_error(s, c, e);
		return NULL;
	}
	return ctr;
}

/* --- create ---------------------------------------------------------------------------------- */

struct create_job {
	struct gd_create_spec spec;
	uint64_t started; /* gdn_log_clock() when the request came (its duration in the log) */
};

/* A destroy's argument: the handle, and when it was asked for (its duration in the log). */
struct destroy_job {
	uint64_t started;
	char handle[];
};

static struct destroy_job *destroy_job_new(const char *handle, uint64_t started)
{
	size_t n = strlen(handle) + 1;
	struct destroy_job *j = malloc(sizeof(*j) + n);

	if (!j)
		return NULL;
	j->started = started;
	memcpy(j->handle, handle, n);
	return j;
}

static void create_job_free(void *p)
{
	struct create_job *j = p;
	gd_spec_free(&j->spec);
	free(j);
}

static int create_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
		      struct gdn_err **err)
{
	struct create_job *j = arg;
	json_auto_t *props = NULL;
	int r = gd_container_create(cfg, &j->spec, &props, log, err);

	if (r >= 0 && props)
		gd_worker_set_result(json_pack("{s:O}", "properties", props));
	return r;
}

static int destroy_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
		       struct gdn_err **err)
{
	struct destroy_job *j = arg;

	return gd_container_destroy(cfg, j->handle, log, err);
}

/* The undo of a create that did not report: the entry goes once destroy has removed
 * everything. If that fails too, the container stays registered (hidden from the default List,
 * garden.state=all shows it) so that a client's Destroy can retry instead of the handle being
 * "already in use" until a restart. */
static void undo_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	struct gd_ctr *ctr = gd_registry_find(&s->reg, w->handle);
	struct destroy_job *j = w->data;
	char d[GDN_LOG_DURATION_MAX];

	(void)gdn_log_duration(j->started, d);
	if (e && e->kind != GDN_ERR_CONTAINER_NOT_FOUND) {
		gdn_log_error(s->log, "create.undo-failed", e, "handle", w->handle,
			      GDN_LOG_DURATION, d, NULL);
		if (ctr)
			ctr->state = GD_CTR_ACTIVE;
		return;
	}
	gdn_log_info(s->log, "create.undone", "handle", w->handle, GDN_LOG_DURATION, d, NULL);
	if (ctr)
		gd_registry_remove(&s->reg, ctr);
}

/* A create worker that died without a result (killed, crashed) left whatever it had made:
 * destroy it in a new worker, as start-up would. */
static void undo_interrupted(struct gd_server *s, struct gd_worker *w, struct gd_ctr *ctr)
{
	_cleanup_err_ struct gdn_err *e = NULL, *ue = NULL;
	const struct create_job *cj = w->data;
	struct destroy_job *j = destroy_job_new(ctr->handle, cj->started);
	char d[GDN_LOG_DURATION_MAX];

	gdn_err_set(&e, 0,
		    "create '%s' was interrupted: its worker (pid %d) died without a result "
		    "(wait status %d); what it made is being destroyed",
		    ctr->handle, (int)w->pid, w->status);
	gdn_log_error(s->log, "create.worker-died", e, "handle", ctr->handle, GDN_LOG_DURATION,
		      gdn_log_duration(cj->started, d), NULL);
	ctr->state = GD_CTR_DESTROYING;
	ctr->state_before_destroy = GD_CTR_ACTIVE;
	if (!j || gd_worker_start(s, NULL, ctr->handle, destroy_run, j, free, undo_done, &ue) < 0) {
		if (!j)
			gdn_err_set(&ue, ENOMEM, "undo");
		gdn_log_error(s->log, "create.undo-failed", ue, "handle", ctr->handle,
			      GDN_LOG_DURATION, d, NULL);
		ctr->state = GD_CTR_ACTIVE; /* destroyable by the client */
	}
	if (w->conn)
		gd_reply_error(s, w->conn, e);
}

static void create_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	struct gd_ctr *ctr = gd_registry_find(&s->reg, w->handle);
	const struct create_job *j = w->data;
	_cleanup_err_ struct gdn_err *load_err = NULL;
	json_auto_t *body = NULL;
	char d[GDN_LOG_DURATION_MAX];

	if (!ctr)
		return;
	if (e && !w->result) {
		undo_interrupted(s, w, ctr);
		return;
	}
	if (e) {
		/* the worker undid what it had made; the reply logs "create.failed" (with the
		 * handle, gd_h_create put it in the session, and the duration) */
		gd_registry_remove(&s->reg, ctr);
		if (w->conn)
			gd_reply_error(s, w->conn, e);
		else
			gdn_log_error(s->log, "create.failed", e, "handle", w->handle,
				      GDN_LOG_DURATION, gdn_log_duration(j->started, d), NULL);
		return;
	}
	/* The worker wrote the created marker as its last step; what Run needs is read once. */
	if (gd_ctr_load(s->cfg, ctr, &load_err) < 0)
		gdn_log_error(s->log, "create.load-failed", load_err, "handle", ctr->handle, NULL);
	/* the network's properties, which the worker also wrote to properties.json */
	json_t *net = json_object_get(w->result, "properties");
	if (json_is_object(net))
		(void)json_object_update(ctr->props, net);
	json_object_set_new(ctr->props, "garden.state", json_string("created"));
	ctr->state = GD_CTR_ACTIVE;
	gd_ctr_set_grace(ctr, ctr->grace_ns);
	/* finds the OOM counter while the init is surely alive (an OOM may kill it later) */
	(void)gd_oom_update(s->cfg, ctr, s->log);
	gdn_log_info(s->log, "create.created", "handle", ctr->handle, GDN_LOG_DURATION,
		     gdn_log_duration(j->started, d), NULL);
	if (!w->conn)
		return;
	body = json_pack("{s:s}", "Handle", ctr->handle);
	gd_reply_json(s, w->conn, 200, body);
}

/* A spec that was refused: its "failed" line names the handle it asked for, if it is JSON
 * with one (the parser gives nothing back on an error). */
static void log_spec_handle(struct gd_conn *c)
{
	json_auto_t *body = json_loadb(c->body.data, c->body.len, 0, NULL);
	const char *handle = json_string_value(gdn_json_get(body, "handle"));

	if (handle && *handle)
		gdn_log_set(c->log, "handle", handle);
}

void gd_h_create(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct create_job *j;
	struct gd_ctr *ctr;
	uint64_t grace = 0;

	(void)p;
	j = calloc(1, sizeof(*j));
	if (!j) {
		gdn_err_set(&e, ENOMEM, "create");
		gd_reply_error(s, c, e);
		return;
	}
	j->started = gdn_log_started(c->log);
	if (gd_spec_parse(s->cfg, c->body.data, c->body.len, &j->spec, &grace, &e) < 0) {
		log_spec_handle(c);
		create_job_free(j);
		gd_reply_error(s, c, e);
		return;
	}
	/* every later line of the request (its "failed" too) names the container */
	gdn_log_set(c->log, "handle", j->spec.handle);
	/* Garden overwrites guardian's own properties after applying the spec's; here they are
	 * never taken from a client at all (gd_prop_reserved). */
	{
		const char *k;
		void *tmp;
		json_t *v;

		json_object_foreach_safe(j->spec.properties, tmp, k, v)
		{
			if (gd_prop_reserved(k))
				(void)json_object_del(j->spec.properties, k);
		}
	}
	if (gd_registry_find(&s->reg, j->spec.handle)) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EEXIST, "Handle '%s' already in use",
			     j->spec.handle);
		create_job_free(j);
		gd_reply_error(s, c, e);
		return;
	}
	if (s->cfg->max_containers > 0 && s->reg.count >= s->cfg->max_containers) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EAGAIN, "max containers reached");
		create_job_free(j);
		gd_reply_error(s, c, e);
		return;
	}
	ctr = gd_registry_add(&s->reg, j->spec.handle, j->spec.properties, grace);
	if (!ctr) {
		gdn_err_set(&e, ENOMEM, "create");
		create_job_free(j);
		gd_reply_error(s, c, e);
		return;
	}
	gdn_log_info(c->log, "starting", "handle", ctr->handle, NULL);
	if (gd_worker_start(s, c, ctr->handle, create_run, j, create_job_free, create_done, &e) <
	    0) {
		gd_registry_remove(&s->reg, ctr);
		gd_reply_error(s, c, e);
	}
}

/* --- destroy --------------------------------------------------------------------------------- */

static void destroy_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	struct gd_ctr *ctr = gd_registry_find(&s->reg, w->handle);
	const struct destroy_job *j = w->data;
	json_auto_t *body = NULL;
	char d[GDN_LOG_DURATION_MAX];

	(void)gdn_log_duration(j->started, d);
	if (e && e->kind != GDN_ERR_CONTAINER_NOT_FOUND) {
		/* Kept so that the client can retry (Garden's rule). */
		if (ctr) {
			ctr->state = ctr->state_before_destroy;
			gd_ctr_set_grace(ctr, ctr->grace_ns);
		}
		if (w->conn)
			gd_reply_error(s, w->conn, e);
		else
			gdn_log_error(s->log, "destroy.failed", e, "handle", w->handle,
				      GDN_LOG_DURATION, d, NULL);
		return;
	}
	if (ctr)
		gd_registry_remove(&s->reg, ctr);
	gdn_log_info(s->log, "destroy.destroyed", "handle", w->handle, GDN_LOG_DURATION, d, NULL);
	if (!w->conn)
		return;
	body = json_object();
	gd_reply_json(s, w->conn, 200, body);
}

int gd_destroy_start(struct gd_server *s, struct gd_conn *conn, struct gd_ctr *ctr,
		     struct gdn_err **err)
{
	/* a client's destroy: since its request came; the reaper's: from now */
	struct destroy_job *j = destroy_job_new(
	    ctr->handle, conn && conn->log ? gdn_log_started(conn->log) : gdn_log_clock());

	if (!j)
		return gdn_err_set(err, ENOMEM, "destroy");
	ctr->state_before_destroy = ctr->state;
	ctr->state = GD_CTR_DESTROYING;
	gd_files_cancel(s, ctr->handle);
	if (gd_worker_start(s, conn, ctr->handle, destroy_run, j, free, destroy_done, err) < 0) {
		ctr->state = ctr->state_before_destroy;
		return gdn_err_code(*err);
	}
	return 0;
}

void gd_h_destroy(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct gd_ctr *ctr = p->handle ? gd_registry_find(&s->reg, p->handle) : NULL;

	if (!ctr) {
		gdn_err_not_found(&e, p->handle ? p->handle : "");
		gd_reply_error(s, c, e);
		return;
	}
	if (ctr->state == GD_CTR_DESTROYING) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EBUSY, "container already being destroyed");
		gd_reply_error(s, c, e);
		return;
	}
	if (ctr->state == GD_CTR_CREATING) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EBUSY,
			     "container '%s' is still being created; destroy it once create "
			     "has returned",
			     ctr->handle);
		gd_reply_error(s, c, e);
		return;
	}
	if (gd_destroy_start(s, c, ctr, &e) < 0)
		gd_reply_error(s, c, e);
}

/* --- stop ------------------------------------------------------------------------------------ */

struct stop_job {
	char *handle;
	bool kill;
};

static void stop_job_free(void *p)
{
	struct stop_job *j = p;
	free(j->handle);
	free(j);
}

static int stop_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
		    struct gdn_err **err)
{
	struct stop_job *j = arg;
	return gd_container_stop(cfg, j->handle, j->kill, log, err);
}

static void stop_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	_cleanup_err_ struct gdn_err *save_err = NULL;
	struct gd_ctr *ctr = gd_registry_find(&s->reg, w->handle);
	json_auto_t *body = NULL;

	if (!e && ctr) {
		json_object_set_new(ctr->props, "rundmc.state", json_string("stopped"));
		if (gd_ctr_save(s->cfg, ctr, &save_err) < 0)
			e = save_err;
	}
	if (!w->conn)
		return;
	if (e) {
		gd_reply_error(s, w->conn, e);
		return;
	}
	body = json_object();
	gd_reply_json(s, w->conn, 200, body);
}

void gd_h_stop(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *req = NULL;
	struct stop_job *j;
	struct gd_ctr *ctr;
	bool kill;

	if (gdn_gojson_decode(c->body.data, c->body.len, &req, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	if (req->kind != GDN_GOJSON_OBJECT) {
		gdn_gojson_type_err(&e, "StopRequest", "kill", req, "bool");
		gd_reply_error(s, c, e);
		return;
	}
	if (gdn_gojson_get_bool(req, "StopRequest", "kill", &kill, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	ctr = gd_lookup_active(s, c, p->handle);
	if (!ctr)
		return;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->handle = strdup(ctr->handle))) {
		free(j);
		gdn_err_set(&e, ENOMEM, "stop");
		gd_reply_error(s, c, e);
		return;
	}
	j->kill = kill;
	if (gd_worker_start(s, c, ctr->handle, stop_run, j, stop_job_free, stop_done, &e) < 0)
		gd_reply_error(s, c, e);
}

/* --- list / info ----------------------------------------------------------------------------- */

struct filter_ctx {
	json_t *filters;
};

static int collect_filter(const char *key, const char *value, void *ud)
{
	struct filter_ctx *f = ud;

	/* First value per key wins (Go's url.Values.Get). */
	if (!json_object_get(f->filters, key))
		json_object_set_new(f->filters, key, json_string(value));
	return 0;
}

static bool matches(struct gd_ctr *ctr, json_t *filters)
{
	const char *k;
	json_t *v;

	json_object_foreach (filters, k, v) {
		json_t *have = json_object_get(ctr->props, k);
		if (!json_is_string(have) || !json_equal(have, v))
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void gd_h_list(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	json_auto_t *filters = json_object();
	json_auto_t *body = NULL;
	struct filter_ctx f = {filters};
	_cleanup_free_ const char **handles = NULL;
	json_t *state;
	size_t n = 0;

	(void)p;
	(void)gdn_http_query_foreach(c->req.query, collect_filter, &f);
	state = json_object_get(filters, "garden.state");
	if (!state)
		json_object_set_new(filters, "garden.state", json_string("created"));
	else if (strcmp(json_string_value(state), "all") == 0)
		json_object_del(filters, "garden.state");
	handles = calloc(s->reg.count + 1, sizeof(*handles));
	body = json_pack("{s:[]}", "Handles");
	if (!handles || !body) {
		gd_reply_text(s, c, 500, "out of memory\n", NULL);
		return;
	}
	for (struct gd_ctr *ctr = s->reg.head; ctr; ctr = ctr->next)
		if (matches(ctr, filters))
			handles[n++] = ctr->handle;
	qsort(handles, n, sizeof(*handles), cmp_str);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(json_object_get(body, "Handles"), json_string(handles[i]));
	gd_reply_json(s, c, 200, body);
}

static json_t *sorted_props(json_t *props)
{
	const char *k;
	json_t *v;
	size_t n = json_object_size(props), i = 0;
	_cleanup_free_ const char **keys = calloc(n + 1, sizeof(*keys));
	json_t *out = json_object();

	if (!keys || !out) {
		json_decref(out);
		return NULL;
	}
	json_object_foreach (props, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(props, keys[i]));
	return out;
}

json_t *gd_props_sorted(json_t *props)
{
	return sorted_props(props);
}

static json_t *mapped_ports(json_t *props)
{
	json_t *v = json_object_get(props, "garden.network.mapped-ports");
	json_t *ports = NULL;

	if (json_is_string(v))
		ports = json_loads(json_string_value(v), 0, NULL);
	if (!json_is_array(ports)) {
		json_decref(ports);
		ports = json_array();
	}
	return ports;
}

static const char *prop(json_t *props, const char *key)
{
	json_t *v = json_object_get(props, key);
	return json_is_string(v) ? json_string_value(v) : "";
}

json_t *gd_info_json(struct gd_server *s, struct gd_ctr *ctr)
{
	_cleanup_free_ char *path = gd_container_dir(s->cfg, ctr->handle);
	const char *state =
	    strcmp(prop(ctr->props, "rundmc.state"), "stopped") == 0 ? "stopped" : "active";
	json_t *events;

	/* before the properties are read: it may add to rundmc.events */
	(void)gd_oom_update(s->cfg, ctr, s->log);
	events = gd_events_to_json(ctr->props);
	return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:n, s:o, s:o}", "State", state,
			 "Events", events, "HostIP", prop(ctr->props, "garden.network.host-ip"),
			 "ContainerIP", prop(ctr->props, "garden.network.container-ip"),
			 "ContainerIPv6", prop(ctr->props, "garden.network.container-ipv6"),
			 "ExternalIP", prop(ctr->props, "garden.network.external-ip"),
			 "ContainerPath", path ? path : "", "ProcessIDs", "Properties",
			 sorted_props(ctr->props), "MappedPorts", mapped_ports(ctr->props));
}

void gd_h_info(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	struct gd_ctr *ctr = gd_lookup(s, c, p->handle);
	json_auto_t *body = NULL;

	if (!ctr)
		return;
	body = gd_info_json(s, ctr);
	gd_reply_json(s, c, 200, body);
}

static json_t *empty_info(void)
{
	return json_pack("{s:s, s:n, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n}", "State", "",
			 "Events", "HostIP", "", "ContainerIP", "", "ContainerIPv6", "",
			 "ExternalIP", "", "ContainerPath", "", "ProcessIDs", "Properties",
			 "MappedPorts");
}

void gd_h_bulk_info(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	json_auto_t *body = json_object();
	json_auto_t *sorted = NULL;
	_cleanup_free_ char *handles = NULL;
	char *save = NULL;

	(void)p;
	if (gdn_http_query_get(c->req.query, "handles", &handles) <= 0 || !body) {
		gd_reply_json(s, c, 200, body);
		return;
	}
	for (char *h = strtok_r(handles, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
		struct gd_ctr *ctr = gd_registry_find(&s->reg, h);
		json_t *entry;

		if (ctr) {
			entry = json_pack("{s:o, s:n}", "Info", gd_info_json(s, ctr), "Err");
		} else {
			_cleanup_err_ struct gdn_err *e = NULL;
			json_t *ej;
			/* Garden converts per-handle errors to untyped ones: a plain error with
			 * the ContainerNotFoundError's text. */
			gdn_err_kind(&e, GDN_ERR_GENERIC, ENOENT, "unknown handle: %s", h);
			ej = gdn_err_to_garden_json(e);
			entry = json_pack("{s:o, s:o}", "Info", empty_info(), "Err", ej);
		}
		json_object_set_new(body, h, entry);
	}
	/* Go encodes maps with sorted keys. */
	sorted = sorted_props(body);
	gd_reply_json(s, c, 200, sorted ? sorted : body);
}
