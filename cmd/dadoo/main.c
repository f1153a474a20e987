/* dadoo: runs one process of a container and stays with it (docs/PROCESSES.md, dadoo(8)).
 * `dadoo --runtime PATH [--runtime-root DIR] [--runtime-arg A]... [--tty] [--log-level L]
 *  <process-dir> <handle>`, or with --standby instead of the last three: started ahead of time,
 * it is told them over fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "lib/depot.h"
#include "lib/cli.h"
#include "lib/duration.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/runtime.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

#define RESULT_FD 3

enum {
	OPT_RUNTIME = 256,
	OPT_RUNTIME_ROOT,
	OPT_RUNTIME_ARG,
	OPT_RUNTIME_TIMEOUT,
	OPT_STANDBY,
	OPT_CLEANUP_ON_WAIT,
	OPT_TTY,
	OPT_CGROUP,
};

static const struct option options[] = {
    {"runtime", required_argument, NULL, OPT_RUNTIME},
    {"runtime-root", required_argument, NULL, OPT_RUNTIME_ROOT},
    {"runtime-arg", required_argument, NULL, OPT_RUNTIME_ARG},
    {"runtime-timeout", required_argument, NULL, OPT_RUNTIME_TIMEOUT},
    {"standby", no_argument, NULL, OPT_STANDBY},
    {"cleanup-on-wait", no_argument, NULL, OPT_CLEANUP_ON_WAIT},
    {"tty", no_argument, NULL, OPT_TTY},
    {"cgroup", required_argument, NULL, OPT_CGROUP},
    {"log-level", required_argument, NULL, GDN_CLI_OPT_LOG_LEVEL},
    {"help", no_argument, NULL, GDN_CLI_OPT_HELP},
    {"version", no_argument, NULL, GDN_CLI_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char *arg_runtime;
static const char *arg_runtime_root;
static const char *arg_runtime_args[GDN_RUNTIME_EXTRA_ARGS_MAX + 1];
static size_t n_runtime_args;
static uint64_t arg_runtime_timeout_ns;
static bool arg_standby;
static bool arg_cleanup_on_wait;
static bool arg_tty;
static const char *arg_cgroup;
static uid_t arg_stdio_uid = (uid_t)-1;
static gid_t arg_stdio_gid = (gid_t)-1;
static enum gdn_log_level arg_log_level = GDN_LOG_INFO;

static const char usage[] =
    "Usage: dadoo --runtime PATH [OPTIONS] PROCESS-DIR HANDLE\n"
    "       dadoo --runtime PATH [OPTIONS] --standby\n"
    "       dadoo --help | --version\n"
    "\n"
    "Runs the process described by PROCESS-DIR/process.json in the container HANDLE\n"
    "with '<runtime> exec', and serves its stdio and exit status on\n"
    "PROCESS-DIR/dadoo.sock. Started by guardian; see dadoo(8).\n"
    "\n"
    "Options:\n"
    "  --runtime PATH       the OCI runtime (runc or crun)\n"
    "  --runtime-root DIR   the runtime's --root\n"
    "  --runtime-arg ARG    a global argument for the runtime (repeatable)\n"
    "  --runtime-timeout D  deadline of '<runtime> exec' (Go duration, default 60s)\n"
    "  --standby            wait for PROCESS-DIR, HANDLE and --tty on fd 3\n"
    "  --cleanup-on-wait    remove PROCESS-DIR once the exit status was delivered\n"
    "  --tty                give the process a pseudo-terminal\n"
    "  --cgroup SUB         run it in the sub-cgroup SUB of the container's "
    "cgroup\n" GDN_CLI_HELP_LOG_LEVEL GDN_CLI_HELP_HELP_VERSION;

/* A sub-cgroup is one path component: the runtime joins <container's cgroup>/<name>. */
static bool sub_cgroup_ok(const char *name)
{
	return name[0] && strlen(name) <= 64 && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0;
}

/* 0 to go on, 1 to exit successfully, -1 on a usage error (already reported). */
static int parse_args(int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_RUNTIME:
			arg_runtime = optarg;
			break;
		case OPT_RUNTIME_ROOT:
			arg_runtime_root = optarg;
			break;
		case OPT_RUNTIME_ARG:
			if (n_runtime_args == GDN_RUNTIME_EXTRA_ARGS_MAX) {
				(void)gdn_cli_usage_error("dadoo", "at most %d --runtime-arg",
							  GDN_RUNTIME_EXTRA_ARGS_MAX);
				return -1;
			}
			arg_runtime_args[n_runtime_args++] = optarg;
			break;
		case OPT_RUNTIME_TIMEOUT: {
			int64_t ns = 0;

			if (gdn_parse_duration(optarg, &ns) < 0 || ns <= 0) {
				(void)gdn_cli_usage_error(
				    "dadoo", "--runtime-timeout: '%s' is not a duration", optarg);
				return -1;
			}
			arg_runtime_timeout_ns = (uint64_t)ns;
			break;
		}
		case OPT_STANDBY:
			arg_standby = true;
			break;
		case OPT_CLEANUP_ON_WAIT:
			arg_cleanup_on_wait = true;
			break;
		case OPT_TTY:
			arg_tty = true;
			break;
		case OPT_CGROUP:
			if (!sub_cgroup_ok(optarg)) {
				(void)gdn_cli_usage_error(
				    "dadoo", "--cgroup: '%s' is not a sub-cgroup name", optarg);
				return -1;
			}
			arg_cgroup = optarg;
			break;
		case GDN_CLI_OPT_LOG_LEVEL:
			if (gdn_cli_log_level(optarg, &arg_log_level, &err) < 0) {
				(void)gdn_cli_usage_error("dadoo", "%s", gdn_err_str(err));
				return -1;
			}
			break;
		case GDN_CLI_OPT_HELP:
			(void)gdn_cli_help(usage);
			return 1;
		case GDN_CLI_OPT_VERSION:
			(void)gdn_cli_version("dadoo");
			return 1;
		default:
			/* getopt_long has said what was wrong */
			(void)gdn_cli_usage_error("dadoo", NULL);
			return -1;
		}
	}
	if (!arg_runtime) {
		(void)gdn_cli_usage_error("dadoo", "--runtime is required");
		return -1;
	}
	if (argc - optind != (arg_standby ? 0 : 2)) {
		(void)gdn_cli_usage_error("dadoo", arg_standby ? "--standby takes no arguments"
							       : "expected PROCESS-DIR and HANDLE");
		return -1;
	}
	return 0;
}

/* The pid file, dadoo.sock, the event loop's signalfd and the exitcode's file-to-be: done while
 * the runtime starts the process. */
static int setup(void *arg, struct gdn_err **err)
{
	struct dd_state *s = arg;
	_cleanup_free_ char *pid_path = gdn_path_join(s->dir, GDN_PROC_DADOO_PID);
	char pid[16];
	int n, r;

	if (!pid_path)
		return gdn_err_set(err, ENOMEM, "setup");
	s->dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return gdn_err_set(err, errno, "open '%s'", s->dir);
	n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	r = gdn_fs_write_atomic(pid_path, pid, (size_t)n, 0600, err);
	if (r < 0)
		return r;
	r = dd_loop_init(s, err);
	if (r < 0)
		return r;
	r = dd_server_listen(s, err);
	if (r < 0)
		return r;
	dd_exit_prepare(s);
	return 0;
}

static int open_pipe(int *ret_read, int *ret_write, struct gdn_err **err)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return gdn_err_set(err, errno, "pipe2");
	*ret_read = p[0];
	*ret_write = p[1];
	return 0;
}

/* Pipes for the process's stdio; ours are the non-blocking ends. */
static int launch_pipes(struct dd_state *s, struct dd_exec *x, struct gdn_err **err)
{
	int r = open_pipe(&x->stdio[0], &s->in.fd, err);

	if (r >= 0)
		r = open_pipe(&s->src[DD_SRC_STDOUT].w.fd, &x->stdio[1], err);
	if (r >= 0)
		r = open_pipe(&s->src[DD_SRC_STDERR].w.fd, &x->stdio[2], err);
	if (r < 0)
		return r;
	if (gdn_fd_set_nonblock(s->in.fd, true) < 0 ||
	    gdn_fd_set_nonblock(s->src[DD_SRC_STDOUT].w.fd, true) < 0 ||
	    gdn_fd_set_nonblock(s->src[DD_SRC_STDERR].w.fd, true) < 0)
		return gdn_err_set(err, errno, "set O_NONBLOCK");
	x->stderr_peek = s->src[DD_SRC_STDERR].w.fd;
	/* A pipe's inode is 0600 and ours: a user other than root could not open
	 * /proc/self/fd/N of its own stdio (Garden's fifos are chowned likewise). */
	if (s->stdio_uid != (uid_t)-1 || s->stdio_gid != (gid_t)-1)
		for (int i = 0; i < 3; i++)
			if (fchown(x->stdio[i], s->stdio_uid, s->stdio_gid) < 0)
				return gdn_err_set(err, errno, "chown the process's stdio");
	return 0;
}

static int adopt_master(struct dd_state *s, int master, unsigned char veof, struct gdn_err **err)
{
	s->master = s->src[DD_SRC_STDOUT].w.fd = master;
	s->src[DD_SRC_STDERR].eof = true; /* a terminal merges stderr into stdout */
	s->veof = veof;
	if (gdn_fd_set_nonblock(master, true) < 0)
		return gdn_err_set(err, errno, "set O_NONBLOCK on the pty master");
	s->in.fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
	if (s->in.fd < 0)
		return gdn_err_set(err, errno, "copy the pty master");
	return 0;
}

static void close_stdio(struct dd_exec *x)
{
	for (int i = 0; i < 3; i++)
		if (x->stdio[i] >= 0)
			(void)close(gdn_steal_fd(&x->stdio[i]));
}

/* Starts the process. */
static int launch(struct dd_state *s, struct gdn_err **err)
{
	_cleanup_free_ char *console_dir = NULL;
	_cleanup_free_ char *console_path = NULL;
	_cleanup_free_ char *process_json = gdn_path_join(s->dir, GDN_PROC_SPEC);
	_cleanup_free_ char *bundle = gdn_path_join(s->dir, GDN_PROC_BUNDLE);
	_cleanup_close_ int console = -1;
	struct dd_exec x = {
	    .runtime = arg_runtime,
	    .runtime_root = arg_runtime_root,
	    .runtime_args = arg_runtime_args,
	    .timeout_ns = arg_runtime_timeout_ns,
	    .log = s->log,
	    .dir = s->dir,
	    .handle = s->handle,
	    .stdio = {-1, -1, -1},
	    .console_fd = -1,
	    .stderr_peek = -1,
	    .meanwhile = setup,
	    .meanwhile_arg = s,
	};
	int master = -1, r;

	if (!process_json || !bundle)
		return gdn_err_set(err, ENOMEM, "launch");
	/* a pea's process dir is its bundle (guardian writes config.json there) */
	if (access(bundle, F_OK) == 0)
		x.pea_id = s->process_id;
	else
		x.sub_cgroup = s->cgroup;
	if (s->tty) {
		dd_console_size(process_json, &x.columns, &x.rows);
		console = dd_console_listen(&console_dir, &console_path, err);
		if (console < 0)
			return console;
		x.console_fd = console;
		x.console_socket = console_path;
		r = 0;
	} else {
		r = launch_pipes(s, &x, err);
	}
	if (r >= 0)
		r = dd_runtime_exec(&x, &s->pid, &master, err);
	close_stdio(&x); /* the process has its copies */
	dd_console_remove(console_dir);
	if (r < 0)
		return r;
	if (s->tty) {
		r = adopt_master(s, master, x.veof, err);
		if (r < 0) {
			/* nobody could talk to it; it is our child (the runtime's orphan) */
			(void)kill(s->pid, SIGKILL);
			while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
				;
			return r;
		}
	}
	return 0;
}

/* The start result on fd 3, in the envelope: {"ok":true,"v":1,"pid":N} or
 * {"error":{"type":…,"message":…},"v":1}. */
static void start_result(int fd, const struct dd_state *s, const struct gdn_err *e)
{
	json_auto_t *result = NULL;

	if (fd < 0)
		return;
	if (!e)
		result = json_pack("{s:i}", "pid", (json_int_t)s->pid);
	(void)gdn_ipc_reply(fd, DD_PROTO_VERSION, result, e, NULL);
}

static void teardown(struct dd_state *s)
{
	dd_attach_free_all(s);
	dd_server_close(s);
	for (int i = 0; i < DD_NSRC; i++) {
		dd_watch_close(s, &s->src[i].w);
		gdn_buf_free(&s->src[i].unattached);
	}
	dd_watch_close(s, &s->in);
	gdn_loop_timer_cancel(&s->loop, &s->wake);
	gdn_loop_free(&s->loop);
	if (s->dirfd >= 0)
		(void)close(s->dirfd);
	if (s->exitcode_fd >= 0)
		(void)close(s->exitcode_fd);
	gdn_log_free(s->log);
}

static void state_init(struct dd_state *s, const char *dir, const char *handle)
{
	const char *slash;

	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->handle = handle;
	slash = strrchr(dir, '/');
	s->process_id = slash && slash[1] ? slash + 1 : dir;
	s->tty = arg_tty;
	s->cgroup = arg_cgroup;
	s->stdio_uid = arg_stdio_uid;
	s->stdio_gid = arg_stdio_gid;
	s->dirfd = s->master = s->exitcode_fd = -1;
	s->loop.epfd = s->loop.sig.fd = -1;
	gdn_watch_init(&s->listen, -1, dd_on_listen, NULL);
	gdn_watch_init(&s->in, -1, dd_on_stdin, NULL);
	for (int i = 0; i < DD_NSRC; i++)
		gdn_watch_init(&s->src[i].w, -1, dd_on_source, NULL);
}

/* --standby: guardian started this dadoo before it had a process for it, so that a Run does not
 * wait for an exec. The job arrives on fd 3 (a SEQPACKET socket) as the request
 * {"op":"start","v":1,"dir":D,"handle":H,"tty":T,"uid":U,"gid":G,"cgroup":C} (uid and gid: the
 * host ids its stdio pipes are given to; cgroup: as --cgroup; all three optional) with the fd of
 * the process's dadoo.log, which becomes stderr. Returns 1 with the job, 0 when guardian closed the
 * socket instead (it needs no more dadoos), or -errno; a job refused (bad, or of a version above
 * ours) is also answered as a failed start result. */
static int await_job(int fd, char **ret_dir, char **ret_handle, char **ret_cgroup,
		     struct gdn_err **err)
{
	json_auto_t *job = NULL;
	const char *dir = NULL, *handle = NULL, *op = NULL, *cgroup = NULL;
	int fds[GDN_IPC_MAX_FDS];
	size_t nfds = 0;
	json_int_t uid = -1, gid = -1;
	int tty = 0, v = 0, r;

	if (fd < 0)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EBADF, "--standby needs fd 3");
	r = gdn_ipc_recv(fd, &job, fds, &nfds, err);
	if (r <= 0)
		return r;
	if (nfds == 1) {
		(void)dup2(fds[0], STDERR_FILENO);
		(void)close(fds[0]);
	} else {
		for (size_t i = 0; i < nfds; i++)
			(void)close(fds[i]);
	}
	/* a version-0 job had no op */
	r = json_object_get(job, "op") ? gdn_ipc_request_parse(job, &op, &v, err) : 0;
	if (r >= 0 && op && strcmp(op, "start") != 0)
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "job: unknown op '%s'", op);
	if (r >= 0 && v > DD_PROTO_VERSION)
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EPROTONOSUPPORT,
				 "job of protocol version %d; this dadoo speaks versions 0 to %d",
				 v, DD_PROTO_VERSION);
	if (r >= 0 &&
	    json_unpack(job, "{s:s, s:s, s?b, s?I, s?I, s?s}", "dir", &dir, "handle", &handle,
			"tty", &tty, "uid", &uid, "gid", &gid, "cgroup", &cgroup) < 0)
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "a job without dir and handle");
	if (r >= 0 && cgroup && !sub_cgroup_ok(cgroup))
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "a job with a bad cgroup '%s'",
				 cgroup);
	if (r >= 0 && (uid < -1 || uid > UINT32_MAX - 1 || gid < -1 || gid > UINT32_MAX - 1))
		r = gdn_err_kind(err, GDN_ERR_GENERIC, EINVAL, "a job with a bad uid or gid");
	if (r < 0) {
		start_result(fd, NULL, err ? *err : NULL);
		return r;
	}
	*ret_dir = strdup(dir);
	*ret_handle = strdup(handle);
	*ret_cgroup = cgroup ? strdup(cgroup) : NULL;
	if (!*ret_dir || !*ret_handle || (cgroup && !*ret_cgroup))
		return gdn_err_set(err, ENOMEM, "job");
	arg_cgroup = *ret_cgroup;
	arg_tty = tty;
	arg_stdio_uid = (uid_t)uid;
	arg_stdio_gid = (gid_t)gid;
	return 1;
}

int main(int argc, char **argv)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *dir = NULL, *job_dir = NULL, *job_handle = NULL, *job_cgroup = NULL;
	const char *dir_arg, *handle_arg;
	struct dd_state s;
	int result_fd = -1, r;

	r = parse_args(argc, argv);
	if (r != 0)
		return r > 0 ? 0 : 2;
	gdn_log_init("dadoo", arg_log_level, STDERR_FILENO);
	if (fcntl(RESULT_FD, F_GETFD) >= 0 && gdn_fd_set_cloexec(RESULT_FD) >= 0)
		result_fd = RESULT_FD;
	(void)signal(SIGPIPE, SIG_IGN);
	(void)setsid(); /* fails harmlessly when guardian's spawn already did it */
	if (arg_standby) {
		r = await_job(result_fd, &job_dir, &job_handle, &job_cgroup, &err);
		if (r == 0)
			return 0;
		if (r < 0) {
			gdn_log_error(gdn_log_root(), "standby-failed", err, NULL);
			return 3;
		}
		dir_arg = job_dir;
		handle_arg = job_handle;
	} else {
		dir_arg = argv[optind];
		handle_arg = argv[optind + 1];
	}
	dir = realpath(dir_arg, NULL);
	state_init(&s, dir ? dir : dir_arg, handle_arg);
	s.log = gdn_log_session(gdn_log_root(), "run", "handle", s.handle, "process_id",
				s.process_id, NULL);

	if (!dir)
		r = gdn_err_set(&err, errno, "process dir '%s'", dir_arg);
	/* dadoo outlives guardian: it must not keep guardian's working directory busy. Its own
	 * process dir is how guardian tells it from a process that got its pid later (a --standby
	 * dadoo's command line does not name the dir). */
	if (r >= 0 && chdir(s.dir) < 0)
		r = gdn_err_set(&err, errno, "chdir '%s'", s.dir);
	if (r >= 0 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		r = gdn_err_set(&err, errno, "PR_SET_CHILD_SUBREAPER");
	if (r >= 0)
		r = launch(&s, &err);
	if (r < 0) {
		gdn_log_error(s.log, "start-failed", err, NULL);
		start_result(result_fd, &s, err);
		dd_exit_remove_files(&s);
		teardown(&s);
		return 3;
	}
	{
		char pid[16];

		(void)snprintf(pid, sizeof(pid), "%d", (int)s.pid);
		gdn_log_info(s.log, "started", "pid", pid, NULL);
	}
	start_result(result_fd, &s, NULL);
	/* A job socket stays open as a connection to serve: guardian attaches the Run's client
	 * through it without connecting to dadoo.sock. */
	if (result_fd >= 0 && arg_standby)
		dd_server_adopt(&s, result_fd);
	else if (result_fd >= 0)
		(void)close(result_fd);

	r = dd_loop_run(&s, &err);
	if (r < 0)
		gdn_log_error(s.log, "failed", err, NULL);
	dd_exit_remove_files(&s);
	/* Garden's --cleanup-process-dirs-on-wait: a status nobody collected keeps its dir */
	if (r >= 0 && arg_cleanup_on_wait && s.delivered)
		dd_exit_remove_dir(&s);
	teardown(&s);
	return r < 0 ? 1 : 0;
}
