/* Small routes answered inline: ping, capacity, properties, grace time, limits getters. */
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>

#include "lib/gojson.h"
#include "lib/util.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/routes.h"

static void reply_empty(struct gd_server *s, struct gd_conn *c)
{
	json_auto_t *body = json_object();
	gd_reply_json(s, c, 200, body);
}

void gd_h_ping(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	(void)p;
	reply_empty(s, c);
}

void gd_h_capacity(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	json_auto_t *body = json_object();
	struct sysinfo si;
	struct statvfs sv;
	uint64_t max = gd_network_capacity(s->cfg);

	(void)p;
	if (s->cfg->max_containers > 0 && (max == 0 || s->cfg->max_containers < max))
		max = s->cfg->max_containers;
	/* omitempty: zero values are left out, as Go's encoder does. */
	if (sysinfo(&si) == 0 && si.totalram > 0)
		json_object_set_new(
		    body, "memory_in_bytes",
		    json_integer((json_int_t)((uint64_t)si.totalram * si.mem_unit)));
	/* The store holds what containers write (their volumes), as grootfs's store does: its
	 * size is what Garden reports (grootfs's `capacity` is its store's size). */
	if (statvfs(s->cfg->store, &sv) == 0 && sv.f_blocks > 0) {
		json_int_t disk = (json_int_t)((uint64_t)sv.f_blocks * sv.f_frsize);
		json_object_set_new(body, "disk_in_bytes", json_integer(disk));
		json_object_set_new(body, "schedulable_disk_in_bytes", json_integer(disk));
	}
	/* the image plugin's capacity (asked at start-up: grootfs' is its store's configured
	 * size), as Garden's schedulable disk */
	if (s->cfg->image_plugin_capacity > 0)
		json_object_set_new(body, "schedulable_disk_in_bytes",
				    gdn_json_u64(s->cfg->image_plugin_capacity));
	if (max > 0)
		json_object_set_new(body, "max_containers", gdn_json_u64(max));
	gd_reply_json(s, c, 200, body);
}

void gd_h_properties(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	struct gd_ctr *ctr = gd_lookup(s, c, p->handle);
	json_auto_t *body = NULL;

	if (!ctr)
		return;
	body = gd_props_sorted(ctr->props);
	gd_reply_json(s, c, 200, body);
}

void gd_h_property_get(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	struct gd_ctr *ctr = gd_lookup(s, c, p->handle);
	json_auto_t *body = NULL;
	json_t *v;

	if (!ctr)
		return;
	v = json_object_get(ctr->props, p->second);
	if (!v) {
		_cleanup_err_ struct gdn_err *e = NULL;
		gdn_err_kind(&e, GDN_ERR_GENERIC, ENOENT, "property does not exist: %s", p->second);
		gd_reply_error(s, c, e);
		return;
	}
	body = json_pack("{s:O}", "value", v);
	gd_reply_json(s, c, 200, body);
}

/* Applies a property change durably: the old map comes back if the depot write fails. true
 * when it was saved. Replies either way. */
static bool save_or_revert(struct gd_server *s, struct gd_conn *c, struct gd_ctr *ctr, json_t *old)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (gd_ctr_save(s->cfg, ctr, &e) < 0) {
		json_decref(ctr->props);
		ctr->props = json_incref(old);
		gd_reply_error(s, c, e);
		return false;
	}
	reply_empty(s, c);
	return true;
}

/* garden.state and garden.network.* are guardian's: a client changing them could hide a running
 * container from List or fake its network facts. Refused (not accepted without effect) so that a
 * client that tries learns at once that its write did nothing. */
static bool refuse_reserved(struct gd_server *s, struct gd_conn *c, const char *name)
{
	_cleanup_err_ struct gdn_err *e = NULL;

	if (!gd_prop_reserved(name))
		return false;
	gdn_err_kind(&e, GDN_ERR_GENERIC, EPERM,
		     "property '%s' is reserved: it is set by guardian and cannot be changed",
		     name);
	gd_reply_error(s, c, e);
	return true;
}

/* garden.grace-time set as a property is the grace time, as in Garden (which reads the property
 * when it reaps). 0 when the value is not a number of nanoseconds: never reaped. */
static void apply_grace_prop(struct gd_ctr *ctr, const char *name)
{
	if (strcmp(name, "garden.grace-time") == 0)
		gd_ctr_set_grace(ctr, gd_props_grace(ctr->props));
}

void gd_h_property_set(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *req = NULL;
	json_auto_t *old = NULL;
	struct gd_ctr *ctr;
	const char *v;

	if (gdn_gojson_decode(c->body.data, c->body.len, &req, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	if (req->kind != GDN_GOJSON_OBJECT) {
		gdn_gojson_type_err(&e, "SetPropertyRequest", "value", req, "string");
		gd_reply_error(s, c, e);
		return;
	}
	if (gdn_gojson_get_str(req, "SetPropertyRequest", "value", &v, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	ctr = gd_lookup(s, c, p->handle);
	if (!ctr || refuse_reserved(s, c, p->second))
		return;
	old = json_deep_copy(ctr->props);
	json_object_set_new(ctr->props, p->second, json_string(v));
	if (save_or_revert(s, c, ctr, old))
		apply_grace_prop(ctr, p->second);
}

void gd_h_property_remove(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	struct gd_ctr *ctr = gd_lookup(s, c, p->handle);
	json_auto_t *old = NULL;

	if (!ctr || refuse_reserved(s, c, p->second))
		return;
	if (!json_object_get(ctr->props, p->second)) {
		reply_empty(s, c);
		return;
	}
	old = json_deep_copy(ctr->props);
	json_object_del(ctr->props, p->second);
	if (save_or_revert(s, c, ctr, old))
		apply_grace_prop(ctr, p->second);
}

void gd_h_grace_time(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_gojson_ struct gdn_gojson *req = NULL;
	json_auto_t *old = NULL;
	struct gd_ctr *ctr;
	int64_t grace = 0;
	char buf[32];
	bool integer;

	if (gdn_gojson_decode(c->body.data, c->body.len, &req, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	integer = gdn_gojson_i64(req, &grace) == 0;
	if (!integer || grace < 0) {
		gdn_err_kind(&e, GDN_ERR_GENERIC, EINVAL,
			     "json: cannot unmarshal %s into Go value of type time.Duration",
			     integer ? "negative number" : "non-integer");
		gd_reply_error(s, c, e);
		return;
	}
	ctr = gd_lookup(s, c, p->handle);
	if (!ctr)
		return;
	old = json_deep_copy(ctr->props);
	(void)snprintf(buf, sizeof(buf), "%lld", (long long)grace);
	json_object_set_new(ctr->props, "garden.grace-time", json_string(buf));
	ctr->grace_ns = (uint64_t)grace;
	(void)save_or_revert(s, c, ctr, old);
}

static void reply_limit(struct gd_server *s, struct gd_conn *c, struct gd_params *p,
			const char *key, bool memory)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	struct gd_ctr *ctr = gd_lookup(s, c, p->handle);
	json_auto_t *body = NULL;
	struct gd_limits l = {0};
	uint64_t v;

	if (!ctr)
		return;
	if (gd_container_limits(s->cfg, ctr->handle, &l, &e) < 0) {
		gd_reply_error(s, c, e);
		return;
	}
	v = memory ? l.memory_bytes : l.cpu_shares;
	body = json_object();
	if (v > 0)
		json_object_set_new(body, key, gdn_json_u64(v));
	gd_reply_json(s, c, 200, body);
}

void gd_h_limits_memory(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	reply_limit(s, c, p, "limit_in_bytes", true);
}

void gd_h_limits_cpu(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	reply_limit(s, c, p, "limit_in_shares", false);
}

void gd_h_limits_empty(struct gd_server *s, struct gd_conn *c, struct gd_params *p)
{
	if (gd_lookup(s, c, p->handle))
		reply_empty(s, c);
}
