/* guardian's networking flags. Repeatable flags collect into NULL-terminated vectors that live
 * as long as the process. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/cli.h"
#include "lib/net.h"
#include "lib/path.h"
#include "lib/util.h"
#include "cmd/guardian/network_flags.h"

#define MAX_REPEATED 64

static const char *deny[MAX_REPEATED + 1] = {"0.0.0.0/0"};
static const char *dns[MAX_REPEATED + 1];
static const char *add_dns[MAX_REPEATED + 1];
static const char *host_entries[MAX_REPEATED + 1];
static const char *plugin_args[MAX_REPEATED + 1];
static bool deny_given;

static int append(const char **v, const char *flag, const char *value, struct gdn_err **err)
{
	size_t n = 0;

	while (v[n])
		n++;
	if (n == MAX_REPEATED)
		return gdn_err_kind(err, GDN_ERR_GENERIC, E2BIG, "at most %d --%s", MAX_REPEATED,
				    flag);
	v[n] = value;
	v[n + 1] = NULL;
	return 0;
}

static int ipv4_flag(const char *flag, const char *v, struct gdn_err **err)
{
	uint32_t ip;
	if (gdn_net_parse_ipv4(v, &ip) < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--%s: '%s' is not an IPv4 address", flag, v);
	return 0;
}

int gd_network_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err)
{
	struct gdn_cidr c;

	cfg->deny_networks = deny;
	cfg->dns_servers = dns;
	cfg->additional_dns_servers = add_dns;
	cfg->additional_host_entries = host_entries;
	cfg->network_plugin_extra_args = plugin_args;
	switch (opt) {
	case GD_OPT_KAWASAKI_BIN:
		cfg->kawasaki_bin = v;
		return 0;
	case GD_OPT_KAWASAKI_SOCKET:
		cfg->kawasaki_socket = v;
		return 0;
	case GD_OPT_KAWASAKI_STATE_DIR:
		cfg->kawasaki_state_dir = v;
		return 0;
	case GD_OPT_DENY_NETWORK:
		if (!deny_given)
			deny[0] = NULL;
		deny_given = true;
		if (!*v)
			return 0;
		if (gdn_net_parse_cidr(v, &c, err) < 0)
			return gdn_err_wrap(err, "--deny-network");
		return append(deny, "deny-network", v, err);
	case GD_OPT_ALLOW_HOST_ACCESS:
		cfg->allow_host_access = true;
		return 0;
	case GD_OPT_DNS_SERVER:
		return ipv4_flag("dns-server", v, err) < 0 ? -EINVAL
							   : append(dns, "dns-server", v, err);
	case GD_OPT_ADDITIONAL_DNS_SERVER:
		return ipv4_flag("additional-dns-server", v, err) < 0
			   ? -EINVAL
			   : append(add_dns, "additional-dns-server", v, err);
	case GD_OPT_ADDITIONAL_HOST_ENTRY:
		if (strchr(v, '\n'))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "--additional-host-entry: one line only");
		return append(host_entries, "additional-host-entry", v, err);
	case GD_OPT_RESOLV_CONF:
		cfg->resolv_conf = v;
		return 0;
	case GD_OPT_EXTERNAL_IP:
		if (ipv4_flag("external-ip", v, err) < 0)
			return -EINVAL;
		cfg->external_ip = v;
		return 0;
	case GD_OPT_PORT_POOL_START:
		return gdn_cli_u32("port-pool-start", v, 65535, &cfg->port_pool_start, err);
	case GD_OPT_PORT_POOL_SIZE:
		return gdn_cli_u32("port-pool-size", v, 65535, &cfg->port_pool_size, err);
	case GD_OPT_PORT_POOL_PROPERTIES_PATH:
		return 0;
	case GD_OPT_MTU:
		return gdn_cli_u32("mtu", v, 65535, &cfg->mtu, err);
	case GD_OPT_TAG:
		if (strlen(v) > 1 || (*v && !strchr("abcdefghijklmnopqrstuvwxyz0123456789", *v)))
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "--tag: '%s' must be one letter or digit (interface "
					    "names have at most 15 characters)",
					    v);
		cfg->tag = v;
		return 0;
	case GD_OPT_NETWORK_PLUGIN:
		cfg->network_plugin = v;
		return 0;
	case GD_OPT_NO_NETWORKING:
		cfg->no_networking = true;
		return 0;
	case GD_OPT_NETWORK_PLUGIN_EXTRA_ARG:
		return append(plugin_args, "network-plugin-extra-arg", v, err);
	default:
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown option");
	}
}

int gd_network_flags_finish(struct gd_config *cfg, struct gdn_err **err)
{
	static char state_dir[4096], listen[4096 + 16];

	cfg->deny_networks = deny;
	cfg->dns_servers = dns;
	cfg->additional_dns_servers = add_dns;
	cfg->additional_host_entries = host_entries;
	cfg->network_plugin_extra_args = plugin_args;
	if (cfg->no_networking && cfg->network_plugin)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
				    "--no-networking and --network-plugin exclude each other");
	if (!cfg->resolv_conf)
		cfg->resolv_conf = "/etc/resolv.conf";
	if (cfg->port_pool_start == 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "--port-pool-start: must be > 0");
	if ((uint64_t)cfg->port_pool_start + cfg->port_pool_size > 65536)
		return gdn_err_kind(
		    err, GDN_ERR_GENERIC, EINVAL,
		    "the port pool (--port-pool-start %u, --port-pool-size %u) ends "
		    "past port 65535",
		    (unsigned)cfg->port_pool_start, (unsigned)cfg->port_pool_size);
	if (!cfg->kawasaki_state_dir) {
		char depot[4096];
		(void)snprintf(depot, sizeof(depot), "%s", cfg->depot);
		(void)snprintf(state_dir, sizeof(state_dir), "%s/kawasaki", dirname(depot));
		cfg->kawasaki_state_dir = state_dir;
	}
	(void)snprintf(listen, sizeof(listen), "%s/kawasaki.sock", cfg->kawasaki_state_dir);
	cfg->kawasaki_listen = cfg->kawasaki_socket ? cfg->kawasaki_socket : listen;
	return 0;
}
