/* NetIn, NetOut and BulkNetOut (protocol §4.14-4.16): each runs in a worker, which asks the
 * networker (kawasaki or the plugin); the loop then stores the properties that changed
 * (garden.network.mapped-ports) before answering. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "lib/gojson.h"
#include "lib/util.h"
#include "cmd/guardian/network.h"
#include "cmd/guardian/routes.h"
#include "cmd/guardian/server.h"

struct net_job {
	char *handle;
	json_t *props; /* a snapshot: the plugin needs the container IP */
	json_t *rules; /* NetOut: an object; BulkNetOut: an array */
	bool bulk;
	uint32_t host_port, container_port;
};

static void net_job_free(void *p)
{
	struct net_job *j = p;
	free(j->handle);
	json_decref(j->props);
	json_decref(j->rules);
	free(j);
}

static int net_in_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
		      struct gdn_err **err)
{
	struct net_job *j = arg;
	uint32_t host = 0, container = 0;
	json_auto_t *props = NULL;
	int r = gd_network_net_in(cfg, j->handle, j->props, j->host_port, j->container_port, &host,
				  &container, &props, log, err);

	if (r >= 0)
		gd_worker_set_result(json_pack("{s:I,s:I,s:O}", "host_port", (json_int_t)host,
					       "container_port", (json_int_t)container,
					       "properties", props));
	return r;
}

static int net_out_run(const struct gd_config *cfg, void *arg, struct gdn_log *log,
		       struct gdn_err **err)
{
	struct net_job *j = arg;
	return gd_network_net_out(cfg, j->handle, j->props, j->rules, j->bulk, log, err);
}

static void net_done(struct gd_server *s, struct gd_worker *w, struct gdn_err *e)
{
	_cleanup_err_ struct gdn_err *save_err = NULL;
	struct gd_ctr *ctr = gd_registry_find(&s->reg, w->handle);
	json_t *props = json_object_get(w->result, "properties");
	json_auto_t *body = NULL;

	if (!e && ctr && json_is_object(props)) {
		(void)json_object_update(ctr->props, props);
		if (gd_ctr_save(s->cfg, ctr, &save_err) < 0)
			e = save_err;
	}
	if (!w->conn)
		return;
	if (e) {
		gd_reply_error(s, w->conn, e);
		return;
	}
	if (json_object_get(w->result, "host_port")) {
		json_t *h = json_object_get(w->result, "host_port");
		json_t *c = json_object_get(w->result, "container_port");
		/* NetInResponse: both omitempty */
		body = json_object();
		if (json_integer_value(h))
			json_object_set(body, "host_port", h);
		if (json_integer_value(c))
			json_object_set(body, "container_port", c);
	} else {
		body = json_object();
	}
	gd_reply_json(s, w->conn, 200, body);
}

static void start(struct gd_server *s, struct gd_conn *c, struct gd_ctr *ctr, struct net_job *j,
		  gd_worker_fn fn)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	j->handle = strdup(ctr->handle);
	j->props = json_deep_copy(ctr->props);
	if (!j->handle || !j->props) {
		net_job_free(j);
		gdn_err_set(&e, ENOMEM, "network");
		gd_reply_error(s, c, e);
		return;
	}
	if (gd_worker_start(s, c, ctr->handle, fn, j, net_job_free, net_done, &e) < 0)
		gd_reply_error(s, c, e);
}

void gd_h_net_in(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *req = NULL;
	uint32_t host = 0, container = 0;

	if (gdn_gojson_decode(c->body.data, c->body.len, &req, &e) < 0 ||
	    (req->kind != GDN_GOJSON_OBJECT &&
	     gdn_gojson_value_err(&e, req, "transport.NetInRequest") < 0) ||
	    gdn_gojson_get_u32(req, "NetInRequest", "host_port", &host, &e) < 0 ||
	    gdn_gojson_get_u32(req, "NetInRequest", "container_port", &container, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	struct gd_ctr *ctr = gd_lookup_active(s, c, p->handle);
	if (!ctr)
		return;
	struct net_job *j = calloc(1, sizeof(*j));
	if (!j) {
		gdn_err_set(&e, ENOMEM, "net-in");
		gd_reply_error(s, c, e);
		return;
	}
	j->host_port = host;
	j->container_port = container;
	start(s, c, ctr, j, net_in_run);
}

static void net_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p, bool bulk)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	/* syntax as Go's decoder reports it; the rules themselves are the networker's to check */
	_cleanup_gojson_ struct gdn_gojson *req = NULL;

	if (gdn_gojson_decode(c->body.data, c->body.len, &req, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	if (bulk ? req->kind != GDN_GOJSON_ARRAY && req->kind != GDN_GOJSON_NULL
		 : req->kind != GDN_GOJSON_OBJECT && req->kind != GDN_GOJSON_NULL) {
		gdn_gojson_value_err(&e, req, bulk ? "[]garden.NetOutRule" : "garden.NetOutRule");
		gd_reply_error(s, c, e);
		return;
	}
	json_t *rules = req->kind == GDN_GOJSON_NULL ? (bulk ? json_array() : json_object())
						     : gdn_gojson_to_json(req);
	struct gd_ctr *ctr = gd_lookup_active(s, c, p->handle);
	struct net_job *j = ctr ? calloc(1, sizeof(*j)) : NULL;
	if (!j) {
		json_decref(rules);
		if (ctr) {
			gdn_err_set(&e, ENOMEM, "net-out");
			gd_reply_error(s, c, e);
		}
		return;
	}
	j->rules = rules;
	j->bulk = bulk;
	start(s, c, ctr, j, net_out_run);
}

void gd_h_net_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	net_out(s, c, p, false);
}

void gd_h_bulk_net_out(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	net_out(s, c, p, true);
}
