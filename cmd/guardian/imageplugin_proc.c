/* guardian's image-plugin-shim: its command line, start and stop, and what guardian asks it at
 * start-up. */
#include <stdio.h>
#include "lib/util.h"
#include "cmd/guardian/daemon.h"
#include "cmd/guardian/imageplugin.h"
#include "cmd/guardian/imageplugin_proc.h"
#include "cmd/guardian/server.h"

static void add_plugin(struct gd_daemon_argv *a, const char *flag, const char *path,
		       const char *arg_flag, const char **args)
{
	if (!path)
		return;
	a->v[a->n++] = flag;
	a->v[a->n++] = path;
	for (const char **p = args; p && *p && a->n < GD_DAEMON_ARGS_MAX - 8; p++)
		a->v[a->n++] = arg_flag, a->v[a->n++] = *p;
}

static void build_argv(const struct gd_config *c, struct gd_daemon_argv *a)
{
	char *timeout = a->numbers[0];

	(void)snprintf(timeout, sizeof(a->numbers[0]), "%llums",
		       (unsigned long long)(c->image_plugin_timeout_ns / 1000000));
	a->v[a->n++] = "image-plugin-shim";
	a->v[a->n++] = "serve";
	a->v[a->n++] = "--socket";
	a->v[a->n++] = c->image_plugin_shim_listen;
	a->v[a->n++] = "--timeout";
	a->v[a->n++] = timeout;
	a->v[a->n++] = "--log-level";
	a->v[a->n++] = gdn_log_level_name(c->log_level);
	add_plugin(a, "--image-plugin", c->image_plugin, "--image-plugin-extra-arg",
		   c->image_plugin_extra_args);
	add_plugin(a, "--privileged-image-plugin", c->privileged_image_plugin,
		   "--privileged-image-plugin-extra-arg", c->privileged_image_plugin_extra_args);
}

int gd_imageplugin_start(struct gd_server *s, struct gd_config *cfg, struct gdn_err **err)
{
	struct gd_daemon *d = &s->image_shim;
	_cleanup_err_ struct gdn_err *e = NULL;
	char cap[24];
	int r;

	d->name = "image-plugin-shim";
	d->bin = cfg->image_plugin_shim_bin;
	d->missing = "no image-plugin-shim beside guardian: give --image-plugin-shim-bin or "
		     "--image-plugin-shim-socket";
	d->socket = cfg->image_plugin_shim_listen;
	d->ping_v = GDN_IMAGEPLUGIN_VERSION;
	d->build_argv = build_argv;
	gd_daemon_init(s, d);
	if (!cfg->image_plugins_used)
		return 0;
	if ((r = gd_daemon_start(s, d, !cfg->image_plugin_shim_socket, err)) < 0)
		return r;
	if ((r = gd_imageplugin_ping(cfg, cfg->image_plugin_have, err)) < 0)
		return gdn_err_wrap(err, "image-plugin-shim at '%s'", d->socket);
	gdn_log_info(s->log, "image-plugins", "socket", d->socket, "image_plugin",
		     cfg->image_plugin_have[GDN_IMAGEPLUGIN_UNPRIVILEGED] ? "yes" : "no",
		     "privileged_image_plugin",
		     cfg->image_plugin_have[GDN_IMAGEPLUGIN_PRIVILEGED] ? "yes" : "no", NULL);
	if (!cfg->image_plugin_have[GDN_IMAGEPLUGIN_UNPRIVILEGED])
		return 0;
	/* grootfs' capacity is its store's configured size: asked once */
	if (gd_imageplugin_capacity(cfg, &cfg->image_plugin_capacity, s->log, &e) < 0) {
		cfg->image_plugin_capacity = 0;
		gdn_log_error(s->log, "image-plugin-capacity-failed", e, NULL);
		return 0;
	}
	(void)snprintf(cap, sizeof(cap), "%llu", (unsigned long long)cfg->image_plugin_capacity);
	gdn_log_info(s->log, "image-plugin-capacity", "capacity", cap, NULL);
	return 0;
}

void gd_imageplugin_stop(struct gd_server *s)
{
	gd_daemon_stop(s, &s->image_shim);
}
