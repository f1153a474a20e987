/* kawasaki: `kawasaki serve [OPTIONS]` runs the networker daemon, `setup` prepares the host for
 * one; `list`, `rules HANDLE`, `cleanup [--depot DIR | --keep HANDLE...]` and `capacity` ask a
 * running one (kawasaki(8)). Every command takes --config FILE (its [kawasaki] section). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "lib/cli.h"
#include "lib/config.h"
#include "lib/ipc.h"
#include "lib/util.h"
#include "cmd/kawasaki/kawasaki.h"

#define CLIENT_TIMEOUT_MS 60000

enum {
	OPT_SOCKET = 256,
	OPT_SOCKET_MODE,
	OPT_STATE_DIR,
	OPT_NETWORK_POOL,
	OPT_PORT_POOL_START,
	OPT_PORT_POOL_SIZE,
	OPT_DENY_NETWORK,
	OPT_DNS_SERVER,
	OPT_ALLOW_HOST_ACCESS,
	OPT_EXTERNAL_IP,
	OPT_MTU,
	OPT_TAG,
	OPT_DEPOT,
	OPT_KEEP,
	OPT_JSON,
};

static const struct option options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"network-pool", required_argument, NULL, OPT_NETWORK_POOL},
    {"port-pool-start", required_argument, NULL, OPT_PORT_POOL_START},
    {"port-pool-size", required_argument, NULL, OPT_PORT_POOL_SIZE},
    {"deny-network", required_argument, NULL, OPT_DENY_NETWORK},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"allow-host-access", no_argument, NULL, OPT_ALLOW_HOST_ACCESS},
    {"external-ip", required_argument, NULL, OPT_EXTERNAL_IP},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"tag", required_argument, NULL, OPT_TAG},
    {"depot", required_argument, NULL, OPT_DEPOT},
    {"keep", required_argument, NULL, OPT_KEEP},
    {"json", no_argument, NULL, OPT_JSON},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* keys a config file may not hold: what is not configuration */
static const char *const refused_in_config[] = {"help", "version", "config", "json", "keep", NULL};

static const char usage[] =
    "Usage: kawasaki [--config FILE] serve [OPTIONS]\n"
    "       kawasaki [--config FILE] setup [OPTIONS]\n"
    "       kawasaki [--socket PATH] list [--json]\n"
    "       kawasaki [--socket PATH] rules HANDLE\n"
    "       kawasaki [--socket PATH] cleanup [--depot DIR | --keep HANDLE...]\n"
    "       kawasaki [--socket PATH] capacity\n"
    "       kawasaki [--tag T] [--socket PATH] teardown\n"
    "       kawasaki --help | --version\n"
    "\n"
    "The networker of garden-c: container subnets, veth pairs, bridges and iptables\n"
    "chains, served over a UNIX socket. guardian starts one; see kawasaki(8).\n"
    "setup sets up the host's global chains and forwarding as serve does, and exits.\n"
    "\n"
    "Options of every command:\n"
    "  --config FILE          an INI file whose [kawasaki] section's keys are these\n"
    "                         flags' names (repeated for lists; true/false for\n"
    "                         switches); flags given here override it\n"
    "  --socket PATH          the daemon's socket (default " KW_DEFAULT_SOCKET ")\n"
    "Options of serve and setup:\n"
    "  --state-dir DIR        allocation records (default " KW_DEFAULT_STATE_DIR ")\n"
    "  --socket-mode MODE     octal mode of the socket (default 0600)\n"
    "  --network-pool CIDR    dynamic subnet pool, a /30 per container (default\n"
    "                         10.254.0.0/22)\n"
    "  --port-pool-start N    first NetIn host port (default 61001)\n"
    "  --port-pool-size N     number of NetIn host ports (default 4534)\n"
    "  --deny-network CIDR    a network containers may not reach unless NetOut allows it\n"
    "                         (repeatable; default 0.0.0.0/0; an empty value: none)\n"
    "  --dns-server IP        accepted from containers in the input chain (repeatable)\n"
    "  --allow-host-access    let containers reach the host\n"
    "  --external-ip IP       NetIn address (default: the default route's source)\n"
    "  --mtu N                container MTU (default: that of the external interface; at\n"
    "                         most 1500)\n"
    "  --tag T                one character namespacing chains and "
    "interfaces\n" GDN_CLI_HELP_LOG_LEVEL "Options of cleanup:\n"
    "  --depot DIR            keep the containers that have a directory in DIR\n"
    "  --keep HANDLE          keep this container (repeatable)\n"
    "                         (neither: keep those whose host veth still exists)\n"
    "teardown removes every chain, hook and link of the tag (the daemon must be stopped).\n"
    "Options of list:\n"
    "  --json                 one JSON object per container\n" GDN_CLI_HELP_HELP_VERSION;

static struct kw_config cfg = {
    .socket = KW_DEFAULT_SOCKET,
    .socket_mode = 0600,
    .state_dir = KW_DEFAULT_STATE_DIR,
    .port_start = 61001,
    .port_size = 4534,
    .log_level = GDN_LOG_INFO,
};
static bool deny_given;
static const char *arg_depot;
static const char *arg_keep[KW_MAX_NAMES];
static size_t n_keep;
static bool arg_json;

#define usage_error(fmt, v) gdn_cli_usage_error("kawasaki", fmt, v)

static int parse_number(const char *name, const char *v, uint32_t max, uint32_t *ret)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	if (gdn_cli_u32(name, v, max, ret, &err) < 0)
		return usage_error("%s", gdn_err_str(err));
	return 0;
}

static int parse_option(int c, const char *v)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	uint32_t n;

	switch (c) {
	case OPT_SOCKET:
		cfg.socket = v;
		return 0;
	case OPT_SOCKET_MODE:
		if (gdn_cli_mode("socket-mode", v, &cfg.socket_mode, &err) < 0)
			return usage_error("%s", gdn_err_str(err));
		return 0;
	case OPT_STATE_DIR:
		cfg.state_dir = v;
		return 0;
	case OPT_NETWORK_POOL:
		if (gdn_net_parse_cidr(v, &cfg.pool, &err) < 0 || cfg.pool.prefix > 30)
			return usage_error("--network-pool: '%s' is not a CIDR holding a /30", v);
		cfg.pool.ip = cfg.pool.network;
		return 0;
	case OPT_PORT_POOL_START:
		if (parse_number("port-pool-start", v, 65535, &n))
			return GDN_CLI_EXIT_USAGE;
		if (n == 0)
			return usage_error("--port-pool-start: '%s' is not a port", v);
		cfg.port_start = (uint16_t)n;
		return 0;
	case OPT_PORT_POOL_SIZE:
		if (parse_number("port-pool-size", v, 65535, &n))
			return GDN_CLI_EXIT_USAGE;
		cfg.port_size = n;
		return 0;
	case OPT_DENY_NETWORK:
		if (!deny_given)
			cfg.n_deny = 0;
		deny_given = true;
		if (!*v)
			return 0;
		if (cfg.n_deny == KW_MAX_NAMES)
			return usage_error("too many --deny-network: at most %s", "64");
		if (gdn_net_parse_cidr(v, &cfg.deny[cfg.n_deny], &err) < 0)
			return usage_error("--deny-network: '%s' is not a CIDR", v);
		cfg.n_deny++;
		return 0;
	case OPT_DNS_SERVER:
		if (cfg.n_dns == KW_MAX_NAMES)
			return usage_error("too many --dns-server: at most %s", "64");
		if (gdn_net_parse_ipv4(v, &cfg.dns[cfg.n_dns]) < 0)
			return usage_error("--dns-server: '%s' is not an IPv4 address", v);
		cfg.n_dns++;
		return 0;
	case OPT_ALLOW_HOST_ACCESS:
		cfg.allow_host_access = true;
		return 0;
	case OPT_EXTERNAL_IP:
		if (gdn_net_parse_ipv4(v, &cfg.external_ip) < 0 || !cfg.external_ip)
			return usage_error("--external-ip: '%s' is not an IPv4 address", v);
		return 0;
	case OPT_MTU:
		if (parse_number("mtu", v, 65535, &n))
			return GDN_CLI_EXIT_USAGE;
		cfg.mtu = n;
		return 0;
	case OPT_TAG:
		/* w<tag><11-char id>-0 must fit IFNAMSIZ (15 characters) */
		if (strlen(v) > 1 || (*v && !strchr("abcdefghijklmnopqrstuvwxyz0123456789", *v)))
			return usage_error("--tag: '%s' must be one letter or digit (interface "
					   "names have at most 15 characters)",
					   v);
		(void)snprintf(cfg.tag, sizeof(cfg.tag), "%s", v);
		return 0;
	case OPT_DEPOT:
		arg_depot = v;
		return 0;
	case OPT_KEEP:
		if (n_keep == KW_MAX_NAMES)
			return usage_error("too many --keep: at most %s (use --depot)", "64");
		arg_keep[n_keep++] = v;
		return 0;
	case OPT_JSON:
		arg_json = true;
		return 0;
	case GDN_CLI_OPT_LOG_LEVEL:
		if (gdn_cli_log_level(v, &cfg.log_level, &err) < 0)
			return usage_error("%s", gdn_err_str(err));
		return 0;
	default:
		return gdn_cli_usage_error("kawasaki", NULL);
	}
}

/* ---- the admin commands ------------------------------------------------------------------- */

static int call(json_t *req, json_t **ret_reply)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_close_ int fd = gdn_ipc_connect(cfg.socket, SOCK_SEQPACKET, 0, &err);

	if (fd < 0 || gdn_ipc_call(fd, req, NULL, 0, CLIENT_TIMEOUT_MS, ret_reply, &err) < 0) {
		(void)fprintf(stderr, "kawasaki: %s\n", gdn_err_str(err));
		return 1;
	}
	return 0;
}

static int cmd_list(void)
{
	json_auto_t *req = gdn_ipc_request_new("list", KW_PROTOCOL_VERSION);
	json_auto_t *reply = NULL;
	size_t i;
	json_t *c;

	if (!req || call(req, &reply))
		return 1;
	json_array_foreach (json_object_get(reply, "containers"), i, c) {
		if (arg_json) {
			_cleanup_free_ char *line = gdn_json_line(c, NULL);
			(void)fputs(line ? line : "", stdout);
			continue;
		}
		(void)printf("%s %s %s %s %s", json_string_value(json_object_get(c, "handle")),
			     json_string_value(json_object_get(c, "subnet")),
			     json_string_value(json_object_get(c, "ip")),
			     json_string_value(json_object_get(c, "bridge")),
			     json_string_value(json_object_get(c, "host_if")));
		size_t j;
		json_t *p;
		json_array_foreach (json_object_get(c, "ports"), j, p) {
			(void)printf(
			    " %lld:%lld", (long long)json_integer_value(json_object_get(p, "host")),
			    (long long)json_integer_value(json_object_get(p, "container")));
		}
		(void)printf("\n");
	}
	return 0;
}

static int cmd_rules(const char *handle)
{
	json_auto_t *req = gdn_ipc_request_new("rules", KW_PROTOCOL_VERSION);
	json_auto_t *reply = NULL;

	if (!req || json_object_set_new(req, "handle", json_string(handle)) < 0 ||
	    call(req, &reply))
		return 1;
	(void)printf("*filter\n%s*nat\n%s", json_string_value(json_object_get(reply, "filter")),
		     json_string_value(json_object_get(reply, "nat")));
	return 0;
}

static json_t *depot_handles(const char *depot)
{
	DIR *d = opendir(depot);
	json_t *keep = json_array();

	if (!d) {
		(void)fprintf(stderr, "kawasaki: open '%s': %s\n", depot, strerror(errno));
		json_decref(keep);
		return NULL;
	}
	for (struct dirent *e; keep && (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			json_array_append_new(keep, json_string(e->d_name));
	(void)closedir(d);
	return keep;
}

static int cmd_cleanup(void)
{
	json_auto_t *req = gdn_ipc_request_new("cleanup", KW_PROTOCOL_VERSION);
	json_auto_t *reply = NULL;
	json_t *keep = NULL;
	static const char *const kinds[] = {"containers", "chains", "links"};

	if (arg_depot) {
		keep = depot_handles(arg_depot);
		if (!keep)
			return 1;
	} else if (n_keep) {
		keep = json_array();
		for (size_t i = 0; keep && i < n_keep; i++)
			json_array_append_new(keep, json_string(arg_keep[i]));
	}
	if (!req || (keep && json_object_set_new(req, "keep", keep) < 0) || call(req, &reply))
		return 1;
	for (size_t k = 0; k < GDN_ARRAY_SIZE(kinds); k++) {
		size_t i;
		json_t *v;
		json_array_foreach (json_object_get(reply, kinds[k]), i, v) {
			(void)printf("removed %.*s %s\n", (int)strlen(kinds[k]) - 1, kinds[k],
				     json_string_value(v));
		}
	}
	return 0;
}

static int cmd_capacity(void)
{
	json_auto_t *req = gdn_ipc_request_new("capacity", KW_PROTOCOL_VERSION);
	json_auto_t *reply = NULL;

	if (!req || call(req, &reply))
		return 1;
	(void)printf("max_containers %lld\nallocated %lld\n",
		     (long long)json_integer_value(json_object_get(reply, "max_containers")),
		     (long long)json_integer_value(json_object_get(reply, "allocated")));
	return 0;
}

static int cmd_teardown(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct kw_names names = {0};
	struct kw_nl *nl = NULL;
	int fd = gdn_ipc_connect(cfg.socket, SOCK_SEQPACKET, 0, NULL);

	if (fd >= 0) {
		(void)close(fd);
		(void)fprintf(stderr, "kawasaki: a kawasaki serves on '%s': stop it first\n",
			      cfg.socket);
		return 1;
	}
	kw_names_init(&names, cfg.tag);
	int r = kw_nl_open(&nl, &err);
	if (r >= 0)
		r = kw_teardown_host(&names, nl, &err);
	kw_nl_close(nl);
	if (r < 0) {
		(void)fprintf(stderr, "kawasaki: teardown: %s\n", gdn_err_str(err));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int c;

	(void)gdn_net_parse_cidr("10.254.0.0/22", &cfg.pool, NULL);
	(void)gdn_net_parse_cidr("0.0.0.0/0", &cfg.deny[0], NULL);
	cfg.n_deny = 1;
	if (gdn_config_apply(NULL, "kawasaki", options, refused_in_config, &argc, &argv, &err) < 0)
		return gdn_cli_usage_error("kawasaki", "%s", gdn_err_str(err));
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == GDN_CLI_OPT_HELP)
			return gdn_cli_help(usage);
		if (c == GDN_CLI_OPT_VERSION)
			return gdn_cli_version("kawasaki");
		if (parse_option(c, optarg))
			return GDN_CLI_EXIT_USAGE;
	}
	const char *cmd = optind < argc ? argv[optind] : NULL;
	int nargs = argc - optind - 1;
	gdn_log_init("kawasaki", cfg.log_level, STDERR_FILENO);
	if (!cmd)
		return gdn_cli_usage_error("kawasaki",
					   "expected a command: serve, setup, list, rules, "
					   "cleanup or capacity");
	if (strcmp(cmd, "rules") == 0)
		return nargs == 1 ? cmd_rules(argv[optind + 1])
				  : gdn_cli_usage_error("kawasaki", "rules takes one HANDLE");
	if (nargs != 0)
		return gdn_cli_usage_error("kawasaki", "%s takes no arguments", cmd);
	if (strcmp(cmd, "list") == 0)
		return cmd_list();
	if (strcmp(cmd, "cleanup") == 0)
		return cmd_cleanup();
	if (strcmp(cmd, "capacity") == 0)
		return cmd_capacity();
	if (strcmp(cmd, "teardown") == 0)
		return cmd_teardown();
	if (strcmp(cmd, "setup") == 0) {
		if (kw_setup_only(&cfg, &err) < 0) {
			gdn_log_fatal(gdn_log_root(), "setup-failed", err, NULL);
			return 1;
		}
		gdn_log_info(gdn_log_root(), "setup.finished", NULL);
		return 0;
	}
	if (strcmp(cmd, "serve") != 0)
		return gdn_cli_usage_error("kawasaki", "unknown command '%s'", cmd);
	if ((uint32_t)cfg.port_start + cfg.port_size > 65536)
		return gdn_cli_usage_error("kawasaki", "the port pool ends past port 65535");
	if (kw_serve(&cfg, &err) < 0) {
		gdn_log_fatal(gdn_log_root(), "serve-failed", err, NULL);
		return 1;
	}
	return 0;
}
