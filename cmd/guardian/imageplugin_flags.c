/* guardian's image plugin flags. Repeatable flags collect into NULL-terminated vectors that
 * live as long as the process. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include "lib/duration.h"
#include "lib/imageplugin.h"
#include "cmd/guardian/imageplugin_flags.h"

#define TIMEOUT_DEFAULT_NS (5ULL * 60 * 1000 * 1000 * 1000)

static const char *args[2][GDN_IMAGEPLUGIN_ARGS_MAX + 1];

static int append(int which, const char *flag, const char *v, struct gdn_err **err)
{
	size_t n = 0;

	while (args[which][n])
		n++;
	if (n == GDN_IMAGEPLUGIN_ARGS_MAX)
		return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG, "at most %d --%s",
				    GDN_IMAGEPLUGIN_ARGS_MAX, flag);
	args[which][n] = v;
	args[which][n + 1] = NULL;
	return 0;
}

int gd_imageplugin_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err)
{
	int64_t ns;

	switch (opt) {
	case GD_OPT_IMAGE_PLUGIN:
		cfg->image_plugin = v;
		return 0;
	case GD_OPT_IMAGE_PLUGIN_EXTRA_ARG:
		return append(GDN_IMAGEPLUGIN_UNPRIVILEGED, "image-plugin-extra-arg", v, err);
	case GD_OPT_PRIV_IMAGE_PLUGIN:
		cfg->privileged_image_plugin = v;
		return 0;
	case GD_OPT_PRIV_IMAGE_PLUGIN_EXTRA_ARG:
		return append(GDN_IMAGEPLUGIN_PRIVILEGED, "privileged-image-plugin-extra-arg", v,
			      err);
	case GD_OPT_NO_IMAGE_PLUGIN:
		cfg->no_image_plugin = true;
		return 0;
	case GD_OPT_IMAGE_PLUGIN_SHIM_BIN:
		cfg->image_plugin_shim_bin = v;
		return 0;
	case GD_OPT_IMAGE_PLUGIN_SHIM_SOCKET:
		cfg->image_plugin_shim_socket = v;
		return 0;
	case GD_OPT_IMAGE_PLUGIN_TIMEOUT:
		if (gdn_parse_duration(v, &ns) < 0 || ns <= 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "--image-plugin-timeout: '%s' is not a positive "
					    "duration (e.g. 30s, 5m)",
					    v);
		cfg->image_plugin_timeout_ns = (uint64_t)ns;
		return 0;
	default:
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown option");
	}
}

int gd_imageplugin_flags_finish(struct gd_config *cfg, struct gdn_err **err)
{
	static char listen[4096 + 32];
	bool plugin = cfg->image_plugin || cfg->privileged_image_plugin;
	char depot[4096];

	cfg->image_plugin_extra_args = args[GDN_IMAGEPLUGIN_UNPRIVILEGED];
	cfg->privileged_image_plugin_extra_args = args[GDN_IMAGEPLUGIN_PRIVILEGED];
	if (!cfg->image_plugin_timeout_ns)
		cfg->image_plugin_timeout_ns = TIMEOUT_DEFAULT_NS;
	if (cfg->no_image_plugin && (plugin || cfg->image_plugin_shim_socket))
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--no-image-plugin excludes --image-plugin, "
				    "--privileged-image-plugin and --image-plugin-shim-socket");
	if (plugin && cfg->image_plugin_shim_socket)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--image-plugin-shim-socket: that shim holds the plugins; give "
				    "--image-plugin and --privileged-image-plugin to it, not to "
				    "guardian");
	if (!cfg->image_plugin && args[GDN_IMAGEPLUGIN_UNPRIVILEGED][0])
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--image-plugin-extra-arg without --image-plugin");
	if (!cfg->privileged_image_plugin && args[GDN_IMAGEPLUGIN_PRIVILEGED][0])
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, EINVAL,
		    "--privileged-image-plugin-extra-arg without --privileged-image-plugin");
	cfg->image_plugins_used = plugin || cfg->image_plugin_shim_socket;
	cfg->image_plugin_have[GDN_IMAGEPLUGIN_UNPRIVILEGED] = cfg->image_plugin != NULL;
	cfg->image_plugin_have[GDN_IMAGEPLUGIN_PRIVILEGED] = cfg->privileged_image_plugin != NULL;
	(void)snprintf(depot, sizeof(depot), "%s", cfg->depot);
	(void)snprintf(listen, sizeof(listen), "%s/image-plugin-shim.sock", dirname(depot));
	cfg->image_plugin_shim_listen =
	    cfg->image_plugin_shim_socket ? cfg->image_plugin_shim_socket : listen;
	return 0;
}
