/* guardian's debug server flags, checked at start-up like --bind-ip and --bind-port. */
#include <errno.h>
#include "lib/cli.h"
#include "lib/net.h"
#include "cmd/guardian/debug_flags.h"

int gd_debug_flag(int opt, const char *v, struct gd_config *cfg, struct gdn_err **err)
{
	unsigned char addr[16];
	int family, r;
	uint32_t port;

	switch (opt) {
	case GD_OPT_DEBUG_BIND_IP:
		if (gdn_net_parse_ip(v, &family, addr) < 0)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL,
					    "--debug-bind-ip: '%s' is not an IP address", v);
		cfg->debug_bind_ip = v;
		return 0;
	case GD_OPT_DEBUG_BIND_PORT:
		/* 0, as for --bind-port: the kernel picks one */
		if ((r = gdn_cli_u32("debug-bind-port", v, 65535, &port, err)) < 0)
			return r;
		cfg->debug_bind_port = (uint16_t)port;
		return 0;
	default:
		return gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "unknown debug flag %d", opt);
	}
}
