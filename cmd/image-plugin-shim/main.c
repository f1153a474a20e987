/* image-plugin-shim: runs guardian's image plugins in a daemon (image-plugin-shim(8)).
 *   image-plugin-shim serve --socket PATH [--image-plugin BIN [--image-plugin-extra-arg A]...]
 *                     [--privileged-image-plugin BIN [--privileged-image-plugin-extra-arg A]...]
 *                     [--socket-mode M] [--timeout D] [--log-level L]
 *   image-plugin-shim --socket PATH [--privileged] [--timeout D] ping | capacity |
 *                     stats HANDLE | delete HANDLE | create [--disk-limit-size-bytes N
 *                     [--exclude-image-from-quota]] ROOTFS HANDLE */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "lib/duration.h"
#include "lib/proc.h"
#include "lib/util.h"
#include "cmd/image-plugin-shim/ips.h"

#define PROG "image-plugin-shim"
#define SERVE_TIMEOUT_DEFAULT "5m"
/* longer than the server's default, so that its timeout error is what arrives */
#define CLIENT_TIMEOUT_DEFAULT "5m10s"
#define SOCKET_MODE_DEFAULT 0600

enum {
	OPT_SOCKET = 256,
	OPT_SOCKET_MODE,
	OPT_TIMEOUT,
	OPT_PLUGIN,
	OPT_PLUGIN_ARG,
	OPT_PRIV_PLUGIN,
	OPT_PRIV_PLUGIN_ARG,
	OPT_PRIVILEGED,
	OPT_DISK_LIMIT,
	OPT_EXCLUDE_IMAGE,
};

static const struct option serve_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"image-plugin", required_argument, NULL, OPT_PLUGIN},
    {"image-plugin-extra-arg", required_argument, NULL, OPT_PLUGIN_ARG},
    {"privileged-image-plugin", required_argument, NULL, OPT_PRIV_PLUGIN},
    {"privileged-image-plugin-extra-arg", required_argument, NULL, OPT_PRIV_PLUGIN_ARG},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const struct option client_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"privileged", no_argument, NULL, OPT_PRIVILEGED},
    {"disk-limit-size-bytes", required_argument, NULL, OPT_DISK_LIMIT},
    {"exclude-image-from-quota", no_argument, NULL, OPT_EXCLUDE_IMAGE},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char usage[] =
    "Usage: image-plugin-shim serve --socket PATH [--image-plugin BIN]\n"
    "                         [--privileged-image-plugin BIN] [OPTIONS]\n"
    "       image-plugin-shim --socket PATH [--privileged] COMMAND [ARGS]\n"
    "       image-plugin-shim --help | --version\n"
    "\n"
    "Runs guardian's image plugins (grootfs' command line) in a daemon. 'serve'\n"
    "listens on PATH; each request names the plugin (unprivileged or privileged)\n"
    "and one of create, delete, stats or capacity, and the shim runs\n"
    "'BIN [ARG...] SUBCOMMAND ...' with the plugin's configured arguments.\n"
    "Without 'serve' it sends one request: COMMAND is ping, capacity, stats HANDLE,\n"
    "delete HANDLE or create ROOTFS HANDLE. See image-plugin-shim(8).\n"
    "\n"
    "Options of serve:\n"
    "  --socket PATH                    the socket to listen on (SOCK_SEQPACKET)\n"
    "  --image-plugin BIN               the plugin of unprivileged containers\n"
    "  --image-plugin-extra-arg ARG     an argument before its subcommand (repeatable)\n"
    "  --privileged-image-plugin BIN    the plugin of privileged containers\n"
    "  --privileged-image-plugin-extra-arg ARG  likewise (repeatable)\n"
    "  --socket-mode MODE               the socket's mode, octal (default 0600)\n"
    "  --timeout D                      deadline of each plugin run (default 5m)\n"
    "\n"
    "Options of the commands:\n"
    "  --socket PATH                    the shim's socket\n"
    "  --privileged                     ask the privileged plugin\n"
    "  --disk-limit-size-bytes N        create: the disk limit to pass\n"
    "  --exclude-image-from-quota       create: with it\n"
    "  --timeout D                      how long to wait for the reply (default 5m10s)\n"
    "\n"
    "Common options:\n" GDN_CLI_HELP_LOG_LEVEL GDN_CLI_HELP_HELP_VERSION;

struct args {
	bool serve;
	const char *socket;
	const char *socket_mode;
	const char *timeout;
	const char *plugin[2];
	const char *plugin_args[2][GDN_IMAGEPLUGIN_ARGS_MAX + 1];
	size_t n_plugin_args[2];
	bool privileged;
	const char *disk_limit;
	bool exclude_image;
	char **operands;
	int n_operands;
	enum gdn_log_level log_level;
};

static int add_arg(struct args *a, int which, const char *v)
{
	if (a->n_plugin_args[which] == GDN_IMAGEPLUGIN_ARGS_MAX) {
		(void)gdn_cli_usage_error(PROG, "at most %d arguments per plugin",
					  GDN_IMAGEPLUGIN_ARGS_MAX);
		return -1;
	}
	a->plugin_args[which][a->n_plugin_args[which]++] = v;
	return 0;
}

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
		case OPT_SOCKET_MODE:
			a->socket_mode = optarg;
			break;
		case OPT_TIMEOUT:
			a->timeout = optarg;
			break;
		case OPT_PLUGIN:
			a->plugin[GDN_IMAGEPLUGIN_UNPRIVILEGED] = optarg;
			break;
		case OPT_PRIV_PLUGIN:
			a->plugin[GDN_IMAGEPLUGIN_PRIVILEGED] = optarg;
			break;
		case OPT_PLUGIN_ARG:
			if (add_arg(a, GDN_IMAGEPLUGIN_UNPRIVILEGED, optarg) < 0)
				return -1;
			break;
		case OPT_PRIV_PLUGIN_ARG:
			if (add_arg(a, GDN_IMAGEPLUGIN_PRIVILEGED, optarg) < 0)
				return -1;
			break;
		case OPT_PRIVILEGED:
			a->privileged = true;
			break;
		case OPT_DISK_LIMIT:
			a->disk_limit = optarg;
			break;
		case OPT_EXCLUDE_IMAGE:
			a->exclude_image = true;
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
	a->operands = argv + optind;
	a->n_operands = argc - optind;
	if (!a->socket) {
		(void)gdn_cli_usage_error(PROG, "--socket is required");
		return -1;
	}
	if (a->serve && a->n_operands > 0) {
		(void)gdn_cli_usage_error(PROG, "unexpected argument '%s'", a->operands[0]);
		return -1;
	}
	if (a->serve && !a->plugin[0] && !a->plugin[1]) {
		(void)gdn_cli_usage_error(
		    PROG, "serve: give --image-plugin, --privileged-image-plugin or both");
		return -1;
	}
	for (int p = 0; a->serve && p < 2; p++) {
		if (!a->plugin[p] && a->n_plugin_args[p] > 0) {
			(void)gdn_cli_usage_error(PROG,
						  "serve: --%simage-plugin-extra-arg without "
						  "--%simage-plugin",
						  p ? "privileged-" : "", p ? "privileged-" : "");
			return -1;
		}
	}
	return 0;
}

static int serve(struct args *a)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *bin0 = NULL, *bin1 = NULL;
	char **bins[2] = {&bin0, &bin1};
	struct ips_serve_opts o = {
	    .socket_path = a->socket,
	    .socket_mode = SOCKET_MODE_DEFAULT,
	    .timeout_text = a->timeout ? a->timeout : SERVE_TIMEOUT_DEFAULT,
	};

	if (gdn_cli_duration("timeout", o.timeout_text, &o.timeout_ns, &err) < 0 ||
	    (a->socket_mode &&
	     gdn_cli_mode("socket-mode", a->socket_mode, &o.socket_mode, &err) < 0))
		return gdn_cli_usage_error(PROG, "%s", gdn_err_str(err));
	gdn_log_init(PROG, a->log_level, STDERR_FILENO);
	for (int p = 0; p < 2; p++) {
		if (!a->plugin[p])
			continue;
		/* a plugin that is not there is an operator's error to report now, not per
		 * request */
		if (gdn_which(a->plugin[p], bins[p], &err) < 0) {
			gdn_log_fatal(gdn_log_root(), "plugin-not-found", err, "plugin",
				      a->plugin[p], NULL);
			return 1;
		}
		o.plugins[p] = (struct gdn_imageplugin_conf){
		    .path = *bins[p], .args = a->plugin_args[p], .n_args = a->n_plugin_args[p]};
	}
	if (ips_serve(&o, &err) < 0) {
		gdn_log_fatal(gdn_log_root(), "serve-failed", err, NULL);
		return 1;
	}
	return 0;
}

static int command(struct args *a)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct ips_client_opts o = {.socket_path = a->socket};
	struct gdn_imageplugin_request req = {
	    .plugin = a->privileged ? GDN_IMAGEPLUGIN_PRIVILEGED : GDN_IMAGEPLUGIN_UNPRIVILEGED};
	static const struct {
		const char *name;
		enum gdn_imageplugin_op op;
		int operands;
	} cmds[] = {
	    {"ping", GDN_IMAGEPLUGIN_PING, 0},	   {"capacity", GDN_IMAGEPLUGIN_CAPACITY, 0},
	    {"stats", GDN_IMAGEPLUGIN_STATS, 1},   {"delete", GDN_IMAGEPLUGIN_DELETE, 1},
	    {"create", GDN_IMAGEPLUGIN_CREATE, 2},
	};
	size_t i;

	if (a->n_operands == 0) {
		(void)gdn_cli_usage_error(PROG, "a command (ping, capacity, stats, delete, create) "
						"or 'serve' is required");
		return GDN_CLI_EXIT_USAGE;
	}
	for (i = 0; i < GDN_ARRAY_SIZE(cmds) && strcmp(cmds[i].name, a->operands[0]) != 0; i++)
		;
	if (i == GDN_ARRAY_SIZE(cmds)) {
		(void)gdn_cli_usage_error(PROG, "unknown command '%s'", a->operands[0]);
		return GDN_CLI_EXIT_USAGE;
	}
	if (a->n_operands - 1 != cmds[i].operands) {
		(void)gdn_cli_usage_error(PROG, "%s takes %d operand%s", cmds[i].name,
					  cmds[i].operands, cmds[i].operands == 1 ? "" : "s");
		return GDN_CLI_EXIT_USAGE;
	}
	req.op = cmds[i].op;
	if (req.op == GDN_IMAGEPLUGIN_CREATE) {
		req.rootfs = a->operands[1];
		req.handle = a->operands[2];
	} else if (cmds[i].operands == 1) {
		req.handle = a->operands[1];
	}
	if (a->disk_limit && gdn_parse_u64(a->disk_limit, &req.disk_limit) < 0) {
		(void)gdn_cli_usage_error(PROG, "--disk-limit-size-bytes: '%s' is not a number",
					  a->disk_limit);
		return GDN_CLI_EXIT_USAGE;
	}
	req.exclude_image = a->exclude_image;
	if (gdn_cli_duration("timeout", a->timeout ? a->timeout : CLIENT_TIMEOUT_DEFAULT,
			     &o.timeout_ns, &err) < 0)
		return gdn_cli_usage_error(PROG, "%s", gdn_err_str(err));
	gdn_log_init(PROG, a->log_level, STDERR_FILENO);
	return ips_client(&o, &req);
}

int main(int argc, char **argv)
{
	struct args a = {.log_level = GDN_LOG_INFO};
	int r = parse_args(argc, argv, &a);

	if (r != 0)
		return r > 0 ? GDN_CLI_EXIT_OK : GDN_CLI_EXIT_USAGE;
	return a.serve ? serve(&a) : command(&a);
}
