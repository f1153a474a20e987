/* The image-plugin-shim guardian runs when it is given --image-plugin or
 * --privileged-image-plugin (a daemon of daemon.h, holding the plugins' paths and arguments
 * from guardian's flags), or the one at --image-plugin-shim-socket, started separately (BPM),
 * which guardian only waits for. */
#pragma once

#include "lib/err.h"
#include "cmd/guardian/config.h"

struct gd_server;

/* Starts the shim (if guardian runs its own) and waits until it answers; then learns which
 * plugins it holds (cfg->image_plugin_have) and the unprivileged plugin's capacity
 * (cfg->image_plugin_capacity, 0 when it has none or it failed: logged). Nothing without
 * image plugins. */
int gd_imageplugin_start(struct gd_server *s, struct gd_config *cfg, struct gdn_err **err);
/* SIGTERM and reap (guardian's graceful shutdown). */
void gd_imageplugin_stop(struct gd_server *s);
