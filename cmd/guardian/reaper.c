/* Grace-time reaping (protocol §10) and start-up restore from the depot. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/container.h"
#include "cmd/guardian/events.h"
#include "cmd/guardian/oom.h"
#include "cmd/guardian/pea.h"
#include "cmd/guardian/server.h"

static bool armed(const struct gd_ctr *c)
{
	return c->state == GD_CTR_ACTIVE && c->grace_ns > 0 && c->refs == 0;
}

uint64_t gd_reaper_next(struct gd_server *s)
{
	uint64_t next = UINT64_MAX;

	for (struct gd_ctr *c = s->reg.head; c; c = c->next)
		if (armed(c) && c->deadline_ns < next)
			next = c->deadline_ns;
	return next;
}

void gd_reaper_fire(struct gd_server *s)
{
	uint64_t now = gdn_now_mono_ns();

	for (struct gd_ctr *c = s->reg.head; c; c = c->next) {
		_cleanup_err_ struct gdn_err *e = NULL;

		if (!armed(c) || c->deadline_ns > now)
			continue;
		gdn_log_info(s->log, "reaper.reaping", "handle", c->handle, NULL);
		if (gd_destroy_start(s, NULL, c, &e) < 0) {
			gdn_log_error(s->log, "reaper.failed", e, "handle", c->handle, NULL);
			/* Try again after another grace period rather than spinning. */
			c->deadline_ns = now + c->grace_ns;
		}
	}
}

static int load_props(const char *dir, json_t **ret)
{
	_cleanup_free_ char *path = gdn_path_join(dir, GDN_DEPOT_PROPERTIES);
	_cleanup_free_ char *text = NULL;
	size_t len;
	json_t *v;

	if (!path || gdn_fs_read_file(path, 1 << 20, &text, &len, NULL) < 0)
		return -ENOENT;
	v = json_loadb(text, len, 0, NULL);
	if (!json_is_object(v)) {
		json_decref(v);
		return -EBADMSG;
	}
	*ret = v;
	return 0;
}

/* Destroys what start-up must not restore. If that fails, the container is registered anyway
 * (without garden.state, so only List with garden.state=all shows it) so that a client can
 * destroy it again instead of its handle being "already in use" until the next restart. */
static int destroy_now(struct gd_server *s, const char *handle, const char *why)
{
	_cleanup_err_ struct gdn_err *e = NULL;
	_cleanup_log_ struct gdn_log *log =
	    gdn_log_session(s->log, "restore", "handle", handle, NULL);
	struct gd_ctr *c;

	gdn_log_info(log, GDN_DEPOT_DESTROYING, "reason", why, NULL);
	if (gd_container_destroy(s->cfg, handle, log, &e) >= 0 ||
	    e->kind == GDN_ERR_CONTAINER_NOT_FOUND)
		return 0;
	gdn_log_error(log, "destroy-failed", e, NULL);
	c = gd_registry_add(&s->reg, handle, NULL, 0);
	if (!c)
		return -ENOMEM;
	c->state = GD_CTR_ACTIVE;
	return 0;
}

/* Whether create completed: the marker, or (an old depot's only record) garden.state=created in
 * properties.json, which is then migrated to the marker. */
static bool was_created(struct gd_server *s, const char *dir, const char *handle, json_t *props)
{
	_cleanup_free_ char *marker = gdn_path_join(dir, GDN_DEPOT_CREATED);
	_cleanup_err_ struct gdn_err *e = NULL;
	json_t *state = json_object_get(props, "garden.state");

	if (!marker)
		return false;
	if (access(marker, F_OK) == 0)
		return true;
	if (!json_is_string(state) || strcmp(json_string_value(state), "created") != 0)
		return false;
	if (gdn_fs_write_atomic(marker, "", 0, 0644, &e) < 0)
		gdn_log_error(s->log, "restore.migrate-failed", e, "handle", handle, NULL);
	return true;
}

int gd_server_restore(struct gd_server *s, struct gdn_err **err)
{
	_cleanup_closedir_ DIR *d = opendir(s->cfg->depot);
	struct dirent *de;

	if (!d)
		return gdn_err_set(err, errno, "open depot '%s'", s->cfg->depot);
	while ((de = readdir(d))) {
		_cleanup_free_ char *dir = NULL, *marker = NULL;
		_cleanup_err_ struct gdn_err *le = NULL;
		json_auto_t *props = NULL;
		struct gd_ctr *c;
		uint64_t oom_kills;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		dir = gdn_path_join(s->cfg->depot, de->d_name);
		marker = dir ? gdn_path_join(dir, GDN_DEPOT_DESTROYING) : NULL;
		if (!marker)
			return gdn_err_set(err, ENOMEM, "restore");
		if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
		    gdn_name_validate("handle", de->d_name, NULL) < 0) {
			gdn_log_info(s->log, "restore.ignoring-stray-entry", "name", de->d_name,
				     NULL);
			continue;
		}
		if (s->cfg->destroy_on_startup) {
			if (destroy_now(s, de->d_name, "--destroy-containers-on-startup") < 0)
				return gdn_err_set(err, ENOMEM, "restore");
			continue;
		}
		if (access(marker, F_OK) == 0) {
			if (destroy_now(s, de->d_name, "interrupted destroy") < 0)
				return gdn_err_set(err, ENOMEM, "restore");
			continue;
		}
		if (load_props(dir, &props) < 0)
			props = json_object();
		if (!props || !was_created(s, dir, de->d_name, props)) {
			if (destroy_now(s, de->d_name, "interrupted create") < 0)
				return gdn_err_set(err, ENOMEM, "restore");
			continue;
		}
		/* reported by guardian, whatever properties.json says */
		json_object_set_new(props, "garden.state", json_string("created"));
		oom_kills = gd_events_take_oom_kills(props);
		c = gd_registry_add(&s->reg, de->d_name, props, gd_props_grace(props));
		if (!c)
			return gdn_err_set(err, ENOMEM, "restore");
		c->state = GD_CTR_ACTIVE;
		c->oom_kills = oom_kills;
		/* After a restart every timer restarts from the full grace time. */
		gd_ctr_set_grace(c, c->grace_ns);
		if (gd_ctr_load(s->cfg, c, &le) < 0)
			gdn_log_error(s->log, "restore.load-failed", le, "handle", c->handle, NULL);
		/* the OOMs of while guardian was down, while the cgroup is still there */
		(void)gd_oom_update(s->cfg, c, s->log);
		gd_pea_restore(s, c->handle);
		gdn_log_info(s->log, "restore.restored", "handle", c->handle, NULL);
	}
	return 0;
}
