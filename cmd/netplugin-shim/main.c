/* netplugin-shim: runs guardian's external network plugin in a root daemon (netplugin-shim(8)).
 *   netplugin-shim serve --socket PATH --plugin-path BIN [--plugin-arg ARG]... [--socket-mode M]
 *                        [--timeout D] [--log-level L]
 *   netplugin-shim --socket PATH --action A --handle H [--timeout D] [--log-level L] */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "lib/duration.h"
#include "lib/proc.h"
#include "cmd/netplugin-shim/nps.h"

#define PROG "netplugin-shim"
#define PLUGIN_ARGS_MAX 64
#define SERVE_TIMEOUT_DEFAULT "60s"
/* longer than the server's default, so that its timeout error is what arrives */
#define CLIENT_TIMEOUT_DEFAULT "70s"
#define SOCKET_MODE_DEFAULT 0600

enum {
	OPT_SOCKET = 256,
	OPT_ACTION,
	OPT_HANDLE,
	OPT_TIMEOUT,
	OPT_PLUGIN_PATH,
	OPT_PLUGIN_ARG,
	OPT_SOCKET_MODE,
};

static const struct option client_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"action", required_argument, NULL, OPT_ACTION},
    {"handle", required_argument, NULL, OPT_HANDLE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const struct option serve_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
    {"plugin-arg", required_argument, NULL, OPT_PLUGIN_ARG},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char usage[] =
    "Usage: netplugin-shim serve --socket PATH --plugin-path BIN [OPTIONS]\n"
    "       netplugin-shim --socket PATH --action ACTION --handle HANDLE [OPTIONS]\n"
    "       netplugin-shim --help | --version\n"
    "\n"
    "Runs guardian's external network plugin in a root daemon. 'serve' listens on\n"
    "PATH and runs 'BIN [ARG...] --action ACTION --handle HANDLE' for each request,\n"
    "with the container's network namespace as fd 3. Without 'serve' it is the client\n"
    "that guardian runs as its --network-plugin: it reads the plugin's stdin, sends\n"
    "the request and writes the plugin's stdout. See netplugin-shim(8).\n"
    "\n"
    "Options of serve:\n"
    "  --socket PATH        the socket to listen on (SOCK_SEQPACKET)\n"
    "  --plugin-path BIN    the network plugin\n"
    "  --plugin-arg ARG     an argument for the plugin, before --action (repeatable)\n"
    "  --socket-mode MODE   the socket's mode, octal (default 0600)\n"
    "  --timeout D          deadline of each plugin run (Go duration, default 60s)\n"
    "\n"
    "Options of the client:\n"
    "  --socket PATH        the server's socket\n"
    "  --action ACTION      up, down, net-in, net-out or bulk-net-out\n"
    "  --handle HANDLE      the container\n"
    "  --timeout D          how long to wait for the reply (default 70s)\n"
    "\n"
    "Common options:\n" GDN_CLI_HELP_LOG_LEVEL GDN_CLI_HELP_HELP_VERSION;

struct args {
	bool serve;
	const char *socket;
	const char *action;
	const char *handle;
	const char *timeout;
	const char *plugin_path;
	const char *plugin_args[PLUGIN_ARGS_MAX + 1];
	size_t n_plugin_args;
	const char *socket_mode;
	enum gdn_log_level log_level;
};

/* 0 to go on, 1 to exit successfully, -1 on a usage error (already reported). */
static int parse_args(int argc, char **argv, struct args *a)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int c;

	a->serve = argc > 1 && strcmp(argv[1], "serve") == 0;
	if (a->serve) {
		argv++;
		argc--;
	}
	while ((c = getopt_long(argc, argv, "h", a->serve ? serve_options : client_options,
				NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			a->socket = optarg;
			break;
		case OPT_ACTION:
			a->action = optarg;
			break;
		case OPT_HANDLE:
			a->handle = optarg;
			break;
		case OPT_TIMEOUT:
			a->timeout = optarg;
			break;
		case OPT_PLUGIN_PATH:
			a->plugin_path = optarg;
			break;
		case OPT_PLUGIN_ARG:
			if (a->n_plugin_args == PLUGIN_ARGS_MAX) {
				(void)gdn_cli_usage_error(PROG, "at most %d --plugin-arg",
							  PLUGIN_ARGS_MAX);
				return -1;
			}
			a->plugin_args[a->n_plugin_args++] = optarg;
			break;
		case OPT_SOCKET_MODE:
			a->socket_mode = optarg;
			break;
		case GDN_CLI_OPT_LOG_LEVEL:
			if (gdn_cli_log_level(optarg, &a->log_level, &err) < 0) {
				(void)gdn_cli_usage_error(PROG, "%s", gdn_err_str(err));
				return -1;
			}
			break;
		case GDN_CLI_OPT_HELP:
			(void)gdn_cli_help(usage);
			return 1;
		case GDN_CLI_OPT_VERSION:
			(void)gdn_cli_version(PROG);
			return 1;
		default:
			/* getopt_long has said what was wrong */
			(void)gdn_cli_usage_error(PROG, NULL);
			return -1;
		}
	}
	if (optind < argc) {
		(void)gdn_cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!a->socket) {
		(void)gdn_cli_usage_error(PROG, "--socket is required");
		return -1;
	}
	if (a->serve && !a->plugin_path) {
		(void)gdn_cli_usage_error(PROG, "serve: --plugin-path is required");
		return -1;
	}
	if (!a->serve && (!a->action || !a->handle)) {
		(void)gdn_cli_usage_error(PROG, "--action and --handle are required");
		return -1;
	}
	return 0;
}

static int serve(struct args *a)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *plugin = NULL;
	struct nps_serve_opts o = {
	    .socket_path = a->socket,
	    .socket_mode = SOCKET_MODE_DEFAULT,
	    .plugin_args = a->plugin_args,
	    .timeout_text = a->timeout ? a->timeout : SERVE_TIMEOUT_DEFAULT,
	};

	if (gdn_cli_duration("timeout", o.timeout_text, &o.timeout_ns, &err) < 0 ||
	    (a->socket_mode &&
	     gdn_cli_mode("socket-mode", a->socket_mode, &o.socket_mode, &err) < 0))
		return gdn_cli_usage_error(PROG, "%s", gdn_err_str(err));
	gdn_log_init(PROG, a->log_level, STDERR_FILENO);
	/* a plugin that is not there is an operator's error to report now, not per request */
	if (gdn_which(a->plugin_path, &plugin, &err) < 0) {
		gdn_log_fatal(gdn_log_root(), "plugin-not-found", err, "plugin", a->plugin_path,
			      NULL);
		return 1;
	}
	o.plugin_path = plugin;
	if (nps_serve(&o, &err) < 0) {
		gdn_log_fatal(gdn_log_root(), "serve-failed", err, NULL);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct args a = {.log_level = GDN_LOG_INFO};
	struct nps_client_opts c;
	int r = parse_args(argc, argv, &a);

	if (r != 0)
		return r > 0 ? GDN_CLI_EXIT_OK : GDN_CLI_EXIT_USAGE;
	if (a.serve)
		return serve(&a);
	c = (struct nps_client_opts){
	    .socket_path = a.socket, .action = a.action, .handle = a.handle};
	if (gdn_cli_duration("timeout", a.timeout ? a.timeout : CLIENT_TIMEOUT_DEFAULT,
			     &c.timeout_ns, &err) < 0)
		return gdn_cli_usage_error(PROG, "%s", gdn_err_str(err));
	gdn_log_init(PROG, a.log_level, STDERR_FILENO);
	return nps_client(&c);
}
