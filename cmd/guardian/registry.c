#include <stdlib.h>
#include <string.h>

#include "lib/depot.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/guardian/bundle.h"
#include "cmd/guardian/cgroup.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/events.h"
#include "cmd/guardian/registry.h"

struct gd_ctr *gd_registry_find(struct gd_registry *r, const char *handle)
{
	for (struct gd_ctr *c = r->head; c; c = c->next)
		if (strcmp(c->handle, handle) == 0)
			return c;
	return NULL;
}

struct gd_ctr *gd_registry_add(struct gd_registry *r, const char *handle, json_t *props,
			       uint64_t grace_ns)
{
	static uint64_t serial;
	struct gd_ctr *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->handle = strdup(handle);
	c->props = props ? json_deep_copy(props) : json_object();
	if (!c->handle || !c->props) {
		free(c->handle);
		json_decref(c->props);
		free(c);
		return NULL;
	}
	c->state = GD_CTR_CREATING;
	c->grace_ns = grace_ns;
	c->serial = ++serial;
	c->next = r->head;
	r->head = c;
	r->count++;
	return c;
}

static void ctr_free(struct gd_ctr *c)
{
	free(c->handle);
	json_decref(c->props);
	json_decref(c->run_base);
	free(c->oom_file);
	free(c->cg.memory);
	free(c->cg.cpu);
	free(c->cg.pids);
	free(c);
}

void gd_registry_remove(struct gd_registry *r, struct gd_ctr *c)
{
	for (struct gd_ctr **p = &r->head; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			r->count--;
			ctr_free(c);
			return;
		}
	}
}

void gd_registry_free(struct gd_registry *r)
{
	while (r->head) {
		struct gd_ctr *c = r->head;
		r->head = c->next;
		ctr_free(c);
	}
	r->count = 0;
}

int gd_ctr_save(const struct gd_config *cfg, const struct gd_ctr *c, struct gdn_err **err)
{
	_cleanup_free_ char *dir = gd_container_dir(cfg, c->handle);
	json_auto_t *props = json_deep_copy(c->props);

	if (!dir || !props)
		return gdn_err_set(err, ENOMEM, "save properties");
	(void)json_object_del(props, "garden.state");
	if (gd_events_put_oom_kills(props, c->oom_kills) < 0)
		return gdn_err_set(err, ENOMEM, "save properties");
	return gd_props_write(dir, props, err);
}

int gd_ctr_load(const struct gd_config *cfg, struct gd_ctr *c, struct gdn_err **err)
{
	_cleanup_free_ char *dir = gd_container_dir(cfg, c->handle);
	_cleanup_free_ char *pidfile = dir ? gdn_path_join(dir, GDN_DEPOT_PIDFILE) : NULL;
	json_auto_t *config = NULL;
	json_t *base;
	pid_t pid = 0;
	int r;

	if (!pidfile)
		return gdn_err_set(err, ENOMEM, "load '%s'", c->handle);
	if ((r = gdn_pidfile_read(pidfile, &pid, err)) < 0 ||
	    (r = gd_bundle_read(dir, &config, err)) < 0)
		return gdn_err_wrap(err, "load container '%s'", c->handle);
	/* the annotations carry an image's default user and working directory */
	base = json_pack("{s:O, s:O*}", "process", json_object_get(config, "process"),
			 "annotations", json_object_get(config, "annotations"));
	if (!base)
		return gdn_err_set(err, EINVAL, "load container '%s': config.json has no process",
				   c->handle);
	json_decref(c->run_base);
	c->run_base = base;
	c->init_pid = pid;
	c->init_leaf = gd_cgroup_in_init_leaf(pid, c->handle);
	c->privileged = gd_bundle_privileged(config);
	json_t *shares = json_object_get(
	    json_object_get(json_object_get(json_object_get(config, "linux"), "resources"), "cpu"),
	    "shares");
	c->cpu_shares = json_is_integer(shares) && json_integer_value(shares) > 0
			    ? (uint64_t)json_integer_value(shares)
			    : 0;
	return 0;
}

bool gd_prop_reserved(const char *name)
{
	return strcmp(name, "garden.state") == 0 || strncmp(name, "garden.network.", 15) == 0 ||
	       strcmp(name, GD_PROP_OOM_KILLS) == 0;
}

void gd_ctr_pause(struct gd_ctr *c)
{
	c->refs++;
}

void gd_ctr_resume(struct gd_ctr *c)
{
	if (c->refs > 0)
		c->refs--;
	if (c->refs == 0)
		c->deadline_ns = gdn_now_mono_ns() + c->grace_ns;
}

void gd_ctr_set_grace(struct gd_ctr *c, uint64_t grace_ns)
{
	c->grace_ns = grace_ns;
	c->deadline_ns = gdn_now_mono_ns() + grace_ns;
}

uint64_t gd_props_grace(json_t *props)
{
	json_t *v = json_object_get(props, "garden.grace-time");
	uint64_t ns = 0;

	if (!json_is_string(v) || gdn_parse_u64(json_string_value(v), &ns) < 0)
		return 0;
	return ns;
}
