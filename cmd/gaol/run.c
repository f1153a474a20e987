/* gaol run, attach and shell: start or join a process in a container (protocol §5). With
 * --attach (always for attach and shell) gaol stays until the process exits, carrying its stdin,
 * stdout and stderr, and exits with its exit status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cmd/gaol/gaol.h"
#include "lib/util.h"

/* Blocks SIGINT/SIGTERM (and SIGWINCH for a TTY) and returns a signalfd for them, or -errno. */
static int signal_fd(bool tty)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (tty)
		sigaddset(&mask, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* Waits for an opened process with gaol's stdin, stdout and stderr; the exit status of gaol. */
static int wait_attached(struct gl_process *p, const char *handle, bool tty)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_close_ int sigfd = -1;
	struct gl_io io = {.in = STDIN_FILENO, .out = STDOUT_FILENO, .err = STDERR_FILENO};
	int r;

	sigfd = signal_fd(tty);
	if (sigfd < 0) {
		gdn_err_set(&err, -sigfd, "signalfd");
		return gl_fail(err);
	}
	io.sigfd = sigfd;
	io.tty_fd = tty ? gl_tty_find() : -1;
	/* Keys go to the remote terminal as typed (^C included) while the process runs. */
	if (tty && isatty(STDIN_FILENO)) {
		r = gl_tty_raw(STDIN_FILENO);
		if (r < 0) {
			gdn_err_set(&err, -r, "set the terminal to raw mode");
			return gl_fail(err);
		}
	}
	r = gl_process_wait(p, handle, &io, &err);
	gl_tty_restore();
	if (r < 0)
		return gl_fail(err);
	return r;
}

/* POST /containers/<handle>/processes; then prints the id (detached) or waits (attached). */
static int run_process(const char *handle, const struct gl_process_opts *o, bool attach)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_(gl_process_close) struct gl_process p = {.control = -1};
	_cleanup_free_ char *path = gl_container_path(handle, "/processes");
	json_auto_t *spec = gl_process_spec(o);

	if (!path || !spec)
		return gl_fail(NULL);
	if (gl_process_open(&p, "POST", path, spec, &err) < 0)
		return gl_fail(err);
	if (!attach) {
		/* The process goes on; its output waits for an attach (up to the server's buffer).
		 */
		printf("%s\n", p.id);
		return GL_EXIT_OK;
	}
	return wait_attached(&p, handle, o->tty);
}

int gl_cmd_run(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_free_ const char **env = calloc((size_t)argc + 1, sizeof(*env));
	struct gl_process_opts o = {.env = env};
	const char *command = NULL;
	const char *sh_args[2];
	const char *handle;
	bool attach = false;
	int c, npos;

	if (!env)
		return gl_fail(NULL);
	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'a':
			attach = true;
			break;
		case 'c':
			command = optarg;
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'e':
			if (!gl_key_value_ok(cmd, "environment variable", optarg))
				return GL_EXIT_USAGE;
			env[o.n_env++] = optarg;
			break;
		case 'p':
			if (!*optarg)
				return gl_usage_error(cmd, "empty process id");
			o.id = optarg;
			break;
		case GL_OPT_TTY:
			o.tty = true;
			break;
		case 'i':
			if (!*optarg)
				return gl_usage_error(cmd, "empty image URI");
			o.image = optarg;
			break;
		default:
			return gl_opt_other(cmd, c);
		}
	}
	npos = argc - optind;
	if (npos < 1)
		return gl_usage_error(cmd, "missing handle");
	handle = argv[optind];
	if (!*handle)
		return gl_usage_error(cmd, "empty handle");
	if (command && npos > 1)
		return gl_usage_error(cmd, "give either -c COMMAND or -- PATH [ARG]..., not both");
	if (!command && npos < 2)
		return gl_usage_error(cmd, "missing command: give -c COMMAND or -- PATH [ARG]...");

	if (command) {
		/* sh -c COMMAND, as Go's gaol runs a command line. */
		sh_args[0] = "-c";
		sh_args[1] = command;
		o.path = "sh";
		o.args = sh_args;
		o.n_args = 2;
	} else {
		if (!*argv[optind + 1])
			return gl_usage_error(cmd, "empty path");
		o.path = argv[optind + 1];
		o.args = (const char *const *)&argv[optind + 2];
		o.n_args = (size_t)(npos - 2);
	}
	if (o.tty)
		gl_tty_size(gl_tty_find(), &o.columns, &o.rows);
	return run_process(handle, &o, attach);
}

int gl_cmd_attach(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_(gl_process_close) struct gl_process p = {.control = -1};
	_cleanup_free_ char *esc = NULL;
	_cleanup_free_ char *suffix = NULL;
	_cleanup_free_ char *path = NULL;
	const char *id = NULL;
	int c;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		if (c != 'p')
			return gl_opt_other(cmd, c);
		id = optarg;
	}
	if (!gl_nargs_ok(cmd, argc, argv, 1, 1))
		return GL_EXIT_USAGE;
	if (!id)
		return gl_usage_error(cmd, "missing -p PROCESS-ID");
	if (!*id)
		return gl_usage_error(cmd, "empty process id");
	if (!*argv[optind])
		return gl_usage_error(cmd, "empty handle");

	esc = gdn_url_path_escape(id);
	if (!esc || asprintf(&suffix, "/processes/%s", esc) < 0)
		return gl_fail(NULL);
	path = gl_container_path(argv[optind], suffix);
	if (!path)
		return gl_fail(NULL);
	/* An unknown id is a ProcessNotFoundError: "unknown process: ID". */
	if (gl_process_open(&p, "GET", path, NULL, &err) < 0)
		return gl_fail(err);
	return wait_attached(&p, argv[optind], false);
}

int gl_cmd_shell(const struct gl_cmd *cmd, int argc, char **argv)
{
	_cleanup_free_ char *term_env = NULL;
	struct gl_process_opts o = {.path = "/bin/sh", .tty = true};
	const char *term = getenv("TERM");
	const char *env[1];
	int c;

	while ((c = gl_getopt(cmd, argc, argv)) != -1) {
		if (c != 'u')
			return gl_opt_other(cmd, c);
		o.user = optarg;
	}
	if (!gl_nargs_ok(cmd, argc, argv, 1, 1))
		return GL_EXIT_USAGE;
	if (!*argv[optind])
		return gl_usage_error(cmd, "empty handle");

	/* The remote terminal is as big as ours and of the same type. */
	gl_tty_size(gl_tty_find(), &o.columns, &o.rows);
	if (term && *term) {
		if (asprintf(&term_env, "TERM=%s", term) < 0)
			return gl_fail(NULL);
		env[0] = term_env;
		o.env = env;
		o.n_env = 1;
	}
	return run_process(argv[optind], &o, true);
}
