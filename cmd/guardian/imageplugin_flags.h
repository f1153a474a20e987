/* guardian's image plugin flags (gdn's names, internals §1.2, plus the shim's). */
#pragma once

#include <getopt.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"

enum {
	GD_OPT_IMG_FIRST = 640,
	GD_OPT_IMAGE_PLUGIN = GD_OPT_IMG_FIRST,
	GD_OPT_IMAGE_PLUGIN_EXTRA_ARG,
	GD_OPT_PRIV_IMAGE_PLUGIN,
	GD_OPT_PRIV_IMAGE_PLUGIN_EXTRA_ARG,
	GD_OPT_NO_IMAGE_PLUGIN,
	GD_OPT_IMAGE_PLUGIN_SHIM_BIN,
	GD_OPT_IMAGE_PLUGIN_SHIM_SOCKET,
	GD_OPT_IMAGE_PLUGIN_TIMEOUT,
	GD_OPT_IMG_LAST,
};

#define GD_IMAGEPLUGIN_OPTIONS                                                                     \
	{"image-plugin", required_argument, NULL, GD_OPT_IMAGE_PLUGIN},                            \
	    {"image-plugin-extra-arg", required_argument, NULL, GD_OPT_IMAGE_PLUGIN_EXTRA_ARG},    \
	    {"privileged-image-plugin", required_argument, NULL, GD_OPT_PRIV_IMAGE_PLUGIN},        \
	    {"privileged-image-plugin-extra-arg", required_argument, NULL,                         \
	     GD_OPT_PRIV_IMAGE_PLUGIN_EXTRA_ARG},                                                  \
	    {"no-image-plugin", no_argument, NULL, GD_OPT_NO_IMAGE_PLUGIN},                        \
	    {"image-plugin-shim-bin", required_argument, NULL, GD_OPT_IMAGE_PLUGIN_SHIM_BIN},      \
	    {"image-plugin-shim-socket", required_argument, NULL,                                  \
	     GD_OPT_IMAGE_PLUGIN_SHIM_SOCKET},                                                     \
	{                                                                                          \
		"image-plugin-timeout", required_argument, NULL, GD_OPT_IMAGE_PLUGIN_TIMEOUT       \
	}

#define GD_IMAGEPLUGIN_USAGE                                                                       \
	"Image plugins (grootfs' command line, run through image-plugin-shim):\n"                  \
	"  --image-plugin PATH           the plugin of unprivileged containers\n"                  \
	"  --image-plugin-extra-arg A    an argument before its subcommand (repeatable)\n"         \
	"  --privileged-image-plugin PATH  the plugin of privileged containers\n"                  \
	"  --privileged-image-plugin-extra-arg A  likewise (repeatable)\n"                         \
	"  --no-image-plugin             the built-in volumizer only (the default without\n"       \
	"                                plugins)\n"                                               \
	"  --image-plugin-shim-bin PATH  the shim guardian starts (default: beside guardian)\n"    \
	"  --image-plugin-shim-socket P  use the image-plugin-shim serving there (holding the\n"   \
	"                                plugins); start none\n"                                   \
	"  --image-plugin-timeout D      deadline of each plugin run (default 5m)\n"

/* Handles one of the GD_OPT_IMG_* options. */
int gd_imageplugin_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err);
/* Checks the combination and sets the defaults that depend on other flags. */
int gd_imageplugin_flags_finish(struct gd_config *cfg, struct gdn_err **err);
