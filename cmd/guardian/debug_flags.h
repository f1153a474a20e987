/* guardian's debug server flags (gdn's --debug-bind-ip and --debug-bind-port, internals §1.2):
 * the server that answers GET /debug/vars (debug_vars.h) is off unless --debug-bind-ip is
 * given. */
#pragma once

#include <getopt.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"

/* gdn's default --debug-bind-port */
#define GD_DEBUG_PORT_DEFAULT 17013

enum {
	GD_OPT_DEBUG_FIRST = 896,
	GD_OPT_DEBUG_BIND_IP = GD_OPT_DEBUG_FIRST,
	GD_OPT_DEBUG_BIND_PORT,
	GD_OPT_DEBUG_LAST,
};

#define GD_DEBUG_OPTIONS                                                                           \
	{"debug-bind-ip", required_argument, NULL, GD_OPT_DEBUG_BIND_IP},                          \
	{                                                                                          \
		"debug-bind-port", required_argument, NULL, GD_OPT_DEBUG_BIND_PORT                 \
	}

#define GD_DEBUG_USAGE                                                                             \
	"Debug server:\n"                                                                          \
	"  --debug-bind-ip IP            serve GET /debug/vars (expvar JSON) on TCP IP:PORT\n"     \
	"                                (default: no debug server)\n"                             \
	"  --debug-bind-port PORT        its port (default 17013)\n"

/* Handles one of the GD_OPT_DEBUG_* options. */
int gd_debug_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err);
