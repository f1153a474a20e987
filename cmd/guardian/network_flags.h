/* guardian's networking flags (gdn's names, internals §1.2): parsed here so main.c's table
 * stays one line per flag. */
#pragma once

#include <getopt.h>
#include "lib/err.h"
#include "cmd/guardian/config.h"

enum {
	GD_OPT_NET_FIRST = 512,
	GD_OPT_KAWASAKI_BIN = GD_OPT_NET_FIRST,
	GD_OPT_KAWASAKI_SOCKET,
	GD_OPT_KAWASAKI_STATE_DIR,
	GD_OPT_DENY_NETWORK,
	GD_OPT_ALLOW_HOST_ACCESS,
	GD_OPT_DNS_SERVER,
	GD_OPT_ADDITIONAL_DNS_SERVER,
	GD_OPT_ADDITIONAL_HOST_ENTRY,
	GD_OPT_RESOLV_CONF,
	GD_OPT_EXTERNAL_IP,
	GD_OPT_PORT_POOL_START,
	GD_OPT_PORT_POOL_SIZE,
	GD_OPT_PORT_POOL_PROPERTIES_PATH,
	GD_OPT_MTU,
	GD_OPT_TAG,
	GD_OPT_NETWORK_PLUGIN,
	GD_OPT_NETWORK_PLUGIN_EXTRA_ARG,
	GD_OPT_NO_NETWORKING,
	GD_OPT_NET_LAST,
};

#define GD_NETWORK_OPTIONS                                                                         \
	{"kawasaki-bin", required_argument, NULL, GD_OPT_KAWASAKI_BIN},                            \
	    {"kawasaki-socket", required_argument, NULL, GD_OPT_KAWASAKI_SOCKET},                  \
	    {"kawasaki-state-dir", required_argument, NULL, GD_OPT_KAWASAKI_STATE_DIR},            \
	    {"deny-network", required_argument, NULL, GD_OPT_DENY_NETWORK},                        \
	    {"allow-host-access", no_argument, NULL, GD_OPT_ALLOW_HOST_ACCESS},                    \
	    {"dns-server", required_argument, NULL, GD_OPT_DNS_SERVER},                            \
	    {"additional-dns-server", required_argument, NULL, GD_OPT_ADDITIONAL_DNS_SERVER},      \
	    {"additional-host-entry", required_argument, NULL, GD_OPT_ADDITIONAL_HOST_ENTRY},      \
	    {"resolv-conf", required_argument, NULL, GD_OPT_RESOLV_CONF},                          \
	    {"external-ip", required_argument, NULL, GD_OPT_EXTERNAL_IP},                          \
	    {"port-pool-start", required_argument, NULL, GD_OPT_PORT_POOL_START},                  \
	    {"port-pool-size", required_argument, NULL, GD_OPT_PORT_POOL_SIZE},                    \
	    {"port-pool-properties-path", required_argument, NULL,                                 \
	     GD_OPT_PORT_POOL_PROPERTIES_PATH},                                                    \
	    {"mtu", required_argument, NULL, GD_OPT_MTU},                                          \
	    {"tag", required_argument, NULL, GD_OPT_TAG},                                          \
	    {"network-plugin", required_argument, NULL, GD_OPT_NETWORK_PLUGIN},                    \
	    {"no-networking", no_argument, NULL, GD_OPT_NO_NETWORKING},                            \
	{                                                                                          \
		"network-plugin-extra-arg", required_argument, NULL,                               \
		    GD_OPT_NETWORK_PLUGIN_EXTRA_ARG                                                \
	}

#define GD_NETWORK_USAGE                                                                           \
	"Networking (kawasaki, or --network-plugin):\n"                                            \
	"  --network-pool CIDR           container subnet pool, an IPv4 CIDR with a prefix of\n"   \
	"                                at most 30 (default 10.254.0.0/22)\n"                     \
	"  --deny-network CIDR           a network containers may not reach unless NetOut\n"       \
	"                                allows it (repeatable; default 0.0.0.0/0: nothing\n"      \
	"                                beyond the host; an empty value: none)\n"                 \
	"  --allow-host-access           let containers reach the host itself\n"                   \
	"  --dns-server IP               containers' nameserver instead of the host's\n"           \
	"                                (repeatable)\n"                                           \
	"  --additional-dns-server IP    a nameserver added to containers' (repeatable)\n"         \
	"  --additional-host-entry LINE  a line added to containers' /etc/hosts (repeatable)\n"    \
	"  --resolv-conf PATH            the host resolv.conf containers' is derived from\n"       \
	"                                (default /etc/resolv.conf)\n"                             \
	"  --external-ip IP              NetIn address and ExternalIP (default: the source\n"      \
	"                                address of the default route)\n"                          \
	"  --port-pool-start N           first NetIn host port (default 61001)\n"                  \
	"  --port-pool-size N            NetIn host ports (default 4534)\n"                        \
	"  --port-pool-properties-path P accepted for gdn; kawasaki keeps the pool's state\n"      \
	"  --mtu N                       container MTU (default: the external interface's,\n"      \
	"                                at most 1500)\n"                                          \
	"  --tag T                       one character naming this guardian's chains and links\n"  \
	"  --kawasaki-bin PATH           the networker (default: kawasaki beside guardian)\n"      \
	"  --kawasaki-socket PATH        use the kawasaki serving there; start none\n"             \
	"  --kawasaki-state-dir DIR      state of the kawasaki guardian starts (default\n"         \
	"                                <depot>/../kawasaki)\n"                                   \
	"  --network-plugin PATH         an external network plugin instead of kawasaki\n"         \
	"  --network-plugin-extra-arg A  an argument for it (repeatable)\n"                        \
	"  --no-networking               containers get an empty network namespace (no\n"          \
	"                                kawasaki; NetIn and NetOut fail)\n"

/* Handles one of the GD_OPT_NET_* options. */
int gd_network_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err);
/* Defaults that depend on other flags (the state dir beside the depot). */
int gd_network_flags_finish(struct gd_config *cfg, struct gdn_err **err);
