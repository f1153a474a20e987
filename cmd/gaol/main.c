/* gaol: a command-line client for a Garden server (modelled on contraband/gaol), for
 * administrators and shell scripts. This file: the command table, argv handling, exit status. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cli.h"
#include "cmd/gaol/gaol.h"

#define TARGET_HELP                                                                                \
	"  -t, --target ADDR   the server: a UNIX socket path (it contains '/') or HOST:PORT\n"    \
	"                      (IPv6 in brackets); default $GAOL_TARGET, else " GL_DEFAULT_TARGET  \
	"\n"                                                                                       \
	"  -h, --help          show this help\n"

static const struct option common_longopts[] = {GL_COMMON_LONGOPTS, {0}};

static const struct option create_longopts[] = {
    {"handle", required_argument, NULL, 'n'},
    {"rootfs", required_argument, NULL, 'r'},
    {"env", required_argument, NULL, 'e'},
    {"grace", required_argument, NULL, 'g'},
    {"privileged", no_argument, NULL, 'p'},
    {"property", required_argument, NULL, 'P'},
    {"bind-mount", required_argument, NULL, 'm'},
    {"memory", required_argument, NULL, GL_OPT_MEMORY},
    {"cpu-shares", required_argument, NULL, GL_OPT_CPU_SHARES},
    {"pids", required_argument, NULL, GL_OPT_PIDS},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option list_longopts[] = {
    {"property", required_argument, NULL, 'p'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option run_longopts[] = {
    {"attach", no_argument, NULL, 'a'},
    {"command", required_argument, NULL, 'c'},
    {"dir", required_argument, NULL, 'd'},
    {"user", required_argument, NULL, 'u'},
    {"env", required_argument, NULL, 'e'},
    {"tty", no_argument, NULL, GL_OPT_TTY},
    {"process-id", required_argument, NULL, 'p'},
    {"image", required_argument, NULL, 'i'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option stream_in_longopts[] = {
    {"destination", required_argument, NULL, 'd'},
    {"user", required_argument, NULL, 'u'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option stream_out_longopts[] = {
    {"source", required_argument, NULL, 's'},
    {"user", required_argument, NULL, 'u'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option attach_longopts[] = {
    {"process-id", required_argument, NULL, 'p'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option shell_longopts[] = {
    {"user", required_argument, NULL, 'u'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option net_in_longopts[] = {
    {"port", required_argument, NULL, 'p'},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option net_out_longopts[] = {
    {"protocol", required_argument, NULL, 'p'},
    {"ip-start", required_argument, NULL, GL_OPT_IP_START},
    {"ip-end", required_argument, NULL, GL_OPT_IP_END},
    {"port-start", required_argument, NULL, GL_OPT_PORT_START},
    {"port-end", required_argument, NULL, GL_OPT_PORT_END},
    GL_COMMON_LONGOPTS,
    {0},
};

static const struct option stop_longopts[] = {
    {"kill", no_argument, NULL, 'k'},
    GL_COMMON_LONGOPTS,
    {0},
};

const struct gl_cmd gl_commands[] = {
    {
	.name = "ping",
	.synopsis = "",
	.summary = "check that the server answers",
	.help = "Checks that the server answers (GET /ping). Prints nothing; the exit status "
		"tells.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_ping,
    },
    {
	.name = "capacity",
	.synopsis = "",
	.summary = "print the server's capacity as JSON",
	.help = "Prints the server's capacity (GET /capacity) as the JSON it returned, e.g.\n"
		"{\"memory_in_bytes\":…,\"disk_in_bytes\":…,\"max_containers\":…}.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_capacity,
    },
    {
	.name = "create",
	.synopsis = "[OPTIONS]",
	.summary = "create a container and print its handle",
	.help = "Creates a container (POST /containers) and prints its handle.\n"
		"\n"
		"Options:\n"
		"  -n, --handle HANDLE        the handle (default: the server makes one up)\n"
		"  -r, --rootfs ROOTFS        rootfs path or image URI (default: the server's)\n"
		"  -e, --env KEY=VALUE        an environment variable (repeatable)\n"
		"  -g, --grace DURATION       destroy the container after DURATION without a\n"
		"                             request for it, a Go duration such as 30s, 5m,\n"
		"                             1h30m or 500ms (default: the server's)\n"
		"  -p, --privileged           a privileged container (no user namespace)\n"
		"  -P, --property KEY=VALUE   a property (repeatable)\n"
		"  -m, --bind-mount SRC:DST[:ro|rw]\n"
		"                             bind-mount host path SRC at DST (default ro;\n"
		"                             repeatable)\n"
		"      --memory BYTES         memory limit; K, M, G or T suffix for KiB, MiB...\n"
		"      --cpu-shares N         CPU shares\n"
		"      --pids N               maximum number of processes\n",
	.shortopts = "n:r:e:g:pP:m:t:h",
	.longopts = create_longopts,
	.run = gl_cmd_create,
    },
    {
	.name = "destroy",
	.synopsis = "HANDLE...",
	.summary = "destroy containers",
	.help = "Destroys each container (DELETE /containers/HANDLE). Goes on after a failure "
		"and\nexits 1 if any failed.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_destroy,
    },
    {
	.name = "list",
	.synopsis = "[-p KEY=VALUE]...",
	.summary = "print the handles of the containers, one a line",
	.help = "Prints the handles of the containers (GET /containers), one a line.\n"
		"\n"
		"Options:\n"
		"  -p, --property KEY=VALUE   only containers with this property (repeatable;\n"
		"                             all must match)\n",
	.shortopts = "p:t:h",
	.longopts = list_longopts,
	.run = gl_cmd_list,
    },
    {
	.name = "info",
	.synopsis = "HANDLE",
	.summary = "print a container's info as JSON",
	.help = "Prints the container's info (GET /containers/HANDLE/info) as indented JSON.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_info,
    },
    {
	.name = "metrics",
	.synopsis = "HANDLE",
	.summary = "print a container's metrics as JSON",
	.help = "Prints the container's metrics (GET /containers/HANDLE/metrics) as indented\n"
		"JSON: MemoryStat, CPUStat, DiskStat, NetworkStat, PidStat, Age (ns) and\n"
		"CPUEntitlement (ns).\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_metrics,
    },
    {
	.name = "properties",
	.synopsis = "HANDLE",
	.summary = "print a container's properties",
	.help = "Prints the container's properties (GET /containers/HANDLE/properties), one\n"
		"KEY<TAB>VALUE line each, sorted by key.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_properties,
    },
    {
	.name = "get-property",
	.synopsis = "HANDLE KEY",
	.summary = "print the value of a property",
	.help = "Prints the value of the container's property KEY.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_get_property,
    },
    {
	.name = "set-property",
	.synopsis = "HANDLE KEY VALUE",
	.summary = "set a property",
	.help = "Sets the container's property KEY to VALUE (creating or replacing it).\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_set_property,
    },
    {
	.name = "remove-property",
	.synopsis = "HANDLE KEY",
	.summary = "remove a property",
	.help = "Removes the container's property KEY (a missing one is not an error).\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_remove_property,
    },
    {
	.name = "set-grace",
	.synopsis = "HANDLE DURATION",
	.summary = "set a container's grace time",
	.help = "Sets the container's grace time to DURATION, a Go duration such as 30s, 5m,\n"
		"1h30m or 500ms, and restarts its countdown.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_set_grace,
    },
    {
	.name = "stop",
	.synopsis = "[-k] HANDLE",
	.summary = "stop a container's processes",
	.help = "Stops every process of the container: SIGTERM, then SIGKILL after 10 s.\n"
		"\n"
		"Options:\n"
		"  -k, --kill                 SIGKILL at once\n",
	.shortopts = "kt:h",
	.longopts = stop_longopts,
	.run = gl_cmd_stop,
    },
    {
	.name = "stream-in",
	.synopsis = "-d DIR [-u USER] HANDLE",
	.summary = "stream a tar archive from stdin into a container",
	.help = "Unpacks the tar archive on standard input into DIR of the container (PUT\n"
		"/containers/HANDLE/files), creating DIR if it is missing; the files belong to\n"
		"USER. Prints nothing; the exit status tells.\n"
		"\n"
		"Options:\n"
		"  -d, --destination DIR      the directory in the container (relative: from\n"
		"                             the user's home)\n"
		"  -u, --user USER            the container user (default: root)\n",
	.shortopts = "d:u:t:h",
	.longopts = stream_in_longopts,
	.run = gl_cmd_stream_in,
    },
    {
	.name = "stream-out",
	.synopsis = "-s PATH [-u USER] HANDLE",
	.summary = "stream a tar archive of a container path to stdout",
	.help = "Writes a tar archive of PATH in the container to standard output (GET\n"
		"/containers/HANDLE/files): one member named after PATH's last element, or,\n"
		"when PATH ends in '/', the directory's contents. Read as USER. An archive\n"
		"that ends early (the server failed midway) is an error.\n"
		"\n"
		"Options:\n"
		"  -s, --source PATH          the file or directory in the container\n"
		"  -u, --user USER            the container user (default: root)\n",
	.shortopts = "s:u:t:h",
	.longopts = stream_out_longopts,
	.run = gl_cmd_stream_out,
    },
    {
	.name = "run",
	.synopsis = "[OPTIONS] HANDLE {-c COMMAND | -- PATH [ARG]...}",
	.summary = "run a process in a container",
	.help = "Runs a process in the container (POST /containers/HANDLE/processes): the shell\n"
		"command line COMMAND (as sh -c COMMAND), or PATH with the ARGs (looked up in\n"
		"the container's PATH). Without -a, prints the process id and exits at once; the\n"
		"process goes on (gaol attach -p ID joins it). With -a, gaol passes its standard\n"
		"input to the process, copies the process's standard output and error to its\n"
		"own, sends SIGTERM to the process on SIGINT or SIGTERM, and exits with the\n"
		"process's exit status (128+N after signal N).\n"
		"\n"
		"Options:\n"
		"  -a, --attach               stay attached until the process exits\n"
		"  -c, --command COMMAND      run sh -c COMMAND\n"
		"  -d, --dir DIR              the working directory (created if missing;\n"
		"                             default: the user's home, else /)\n"
		"  -u, --user USER            a user name or UID:GID (default: root)\n"
		"  -e, --env KEY=VALUE        an environment variable on top of the\n"
		"                             container's (repeatable)\n"
		"      --tty                  a terminal for the process, as big as gaol's (80x24\n"
		"                             if it has none); with -a, gaol's terminal is in raw\n"
		"                             mode and window size changes are passed on\n"
		"  -p, --process-id ID        the process id (default: the server makes one up)\n"
		"  -i, --image URI            run it as a pea: in a rootfs of its own from URI\n"
		"                             (as for create's -r), sharing the container's\n"
		"                             network, IPC, PID and UTS namespaces; its default\n"
		"                             user is root and its default directory /\n",
	.shortopts = "ac:d:u:e:p:i:t:h",
	.longopts = run_longopts,
	.run = gl_cmd_run,
    },
    {
	.name = "attach",
	.synopsis = "-p ID HANDLE",
	.summary = "attach to a running or finished process",
	.help =
	    "Attaches to the process ID of the container (GET /containers/HANDLE/processes/ID)\n"
	    "as run -a does: output from now on (and what the server kept while nobody was\n"
	    "attached), standard input passed on, exit status of the process. A process\n"
	    "that has already exited gives its exit status at once.\n"
	    "\n"
	    "Options:\n"
	    "  -p, --process-id ID        the process (required)\n",
	.shortopts = "p:t:h",
	.longopts = attach_longopts,
	.run = gl_cmd_attach,
    },
    {
	.name = "shell",
	.synopsis = "[-u USER] HANDLE",
	.summary = "an interactive shell in a container",
	.help = "Runs /bin/sh in the container with a terminal as big as gaol's (80x24 if it has\n"
		"none) and $TERM passed on, with gaol's terminal in raw mode until the shell\n"
		"exits; window size changes are passed on. Exits with the shell's status.\n"
		"\n"
		"Options:\n"
		"  -u, --user USER            a user name or UID:GID (default: root)\n",
	.shortopts = "u:t:h",
	.longopts = shell_longopts,
	.run = gl_cmd_shell,
    },
    {
	.name = "limits",
	.synopsis = "HANDLE",
	.summary = "print a container's limits as JSON",
	.help = "Prints the container's current limits as one JSON object\n"
		"{\"memory\":…,\"cpu\":…,\"disk\":…,\"bandwidth\":…}.\n",
	.shortopts = "t:h",
	.longopts = common_longopts,
	.run = gl_cmd_limits,
    },
    {
	.name = "net-in",
	.synopsis = "-p PORT HANDLE",
	.summary = "map a host port to a container port",
	.help = "Maps a host port from the server's port pool to the container's PORT (POST\n"
		"/containers/HANDLE/net/in) and prints where it is reached: HOST:HOSTPORT,\n"
		"HOST being the target's, for a TCP target; the host port alone for a UNIX\n"
		"socket.\n"
		"\n"
		"Options:\n"
		"  -p, --port PORT            the container port (0: the same as the host port)\n",
	.shortopts = "p:t:h",
	.longopts = net_in_longopts,
	.run = gl_cmd_net_in,
    },
    {
	.name = "net-out",
	.synopsis = "-p PROTOCOL --ip-start IP --ip-end IP --port-start N --port-end N HANDLE",
	.summary = "allow a container's traffic to an IP and port range",
	.help = "Allows the container's outbound PROTOCOL traffic to the IPv4 addresses from\n"
		"--ip-start to --ip-end and the ports from --port-start to --port-end, all\n"
		"inclusive (POST /containers/HANDLE/net/out, one NetOutRule). Prints 'applied'.\n"
		"\n"
		"Options:\n"
		"  -p, --protocol PROTOCOL    tcp or udp\n"
		"  --ip-start IP, --ip-end IP the address range\n"
		"  --port-start N, --port-end N  the port range\n",
	.shortopts = "p:t:h",
	.longopts = net_out_longopts,
	.run = gl_cmd_net_out,
    },
};
const size_t gl_n_commands = GDN_ARRAY_SIZE(gl_commands);

static void print_usage(FILE *f)
{
	fputs("Usage: gaol [-t ADDR] COMMAND [OPTIONS] [ARGS]\n"
	      "\n"
	      "A command-line client for a Garden container server.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < gl_n_commands; i++)
		fprintf(f, "  %-17s %s\n", gl_commands[i].name, gl_commands[i].summary);
	fputs("\nOptions (also accepted after the command):\n" TARGET_HELP
	      "  --version           print the version (before the command)\n"
	      "\n"
	      "Run 'gaol COMMAND --help' for a command's options.\n",
	      f);
}

static void print_cmd_help(const struct gl_cmd *cmd)
{
	printf("Usage: gaol %s%s%s\n\n%s\nCommon options:\n" TARGET_HELP, cmd->name,
	       *cmd->synopsis ? " " : "", cmd->synopsis, cmd->help);
}

int gl_getopt(const struct gl_cmd *cmd, int argc, char **argv)
{
	for (;;) {
		int c = getopt_long(argc, argv, cmd->shortopts, cmd->longopts, NULL);

		if (c != 't')
			return c;
		arg_target = optarg;
	}
}

int gl_opt_other(const struct gl_cmd *cmd, int c)
{
	if (c == 'h') {
		print_cmd_help(cmd);
		return GL_EXIT_OK;
	}
	/* getopt_long has said what was wrong. */
	fprintf(stderr, "Try 'gaol %s --help'.\n", cmd->name);
	return GL_EXIT_USAGE;
}

int gl_usage_error(const struct gl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gaol %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: gaol %s%s%s\nTry 'gaol %s --help'.\n", cmd->name,
		*cmd->synopsis ? " " : "", cmd->synopsis, cmd->name);
	return GL_EXIT_USAGE;
}

bool gl_key_value_ok(const struct gl_cmd *cmd, const char *what, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (eq && eq != arg)
		return true;
	gl_usage_error(cmd, "invalid %s '%s': expected KEY=VALUE", what, arg);
	return false;
}

bool gl_nargs_ok(const struct gl_cmd *cmd, int argc, char **argv, int min, int max)
{
	int n = argc - optind;

	if (n < min) {
		gl_usage_error(cmd, "missing argument");
		return false;
	}
	if (max >= 0 && n > max) {
		gl_usage_error(cmd, "unexpected argument '%s'", argv[optind + max]);
		return false;
	}
	return true;
}

static const struct gl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < gl_n_commands; i++)
		if (strcmp(gl_commands[i].name, name) == 0)
			return &gl_commands[i];
	return NULL;
}

/* Flushes stdout; a write error (other than a closed pipe, which SIGPIPE handles) fails. */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "gaol: write standard output: %s\n", strerror(errno));
		return GL_EXIT_FAIL;
	}
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    GL_COMMON_LONGOPTS, {"version", no_argument, NULL, GDN_CLI_OPT_VERSION}, {0}};
	const struct gl_cmd *cmd;
	_cleanup_free_ char *argv0 = NULL;
	int c;

	/* "+": stop at the command; its own parser (which permutes) takes the rest. */
	while ((c = getopt_long(argc, argv, "+t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			arg_target = optarg;
			break;
		case 'h':
			print_usage(stdout);
			return finish(GL_EXIT_OK);
		case GDN_CLI_OPT_VERSION:
			return finish(gdn_cli_version("gaol"));
		default:
			/* getopt_long has said what was wrong */
			return gdn_cli_usage_error("gaol", NULL);
		}
	}
	if (optind >= argc) {
		fputs("gaol: missing command\n\n", stderr);
		print_usage(stderr);
		return GL_EXIT_USAGE;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "gaol: unknown command '%s'\n\n", argv[optind]);
		print_usage(stderr);
		return GL_EXIT_USAGE;
	}

	/* The command sees argv[0] = "gaol NAME", so getopt's messages name it. */
	if (asprintf(&argv0, "gaol %s", cmd->name) < 0) {
		fputs("gaol: out of memory\n", stderr);
		return GL_EXIT_FAIL;
	}
	argv += optind;
	argc -= optind;
	argv[0] = argv0;
	optind = 0; /* full re-initialisation of getopt */
	return finish(cmd->run(cmd, argc, argv));
}
