/* `<runtime> [--root R] --log runtime.log --log-format json [extra args] exec --detach [--tty
 * --console-socket P] --pid-file pidfile [--cgroup SUB] -p process.json <handle>` (lib/runtime.h),
 * or for a pea (a process dir holding its own bundle, config.json) `... run --detach
 * [--console-socket P]
 * --pid-file pidfile --no-new-keyring --bundle <dir> <process id>`, run in the process dir so that
 * the relative names land there. The runtime passes its stdio on to the process. It has a
 * deadline; on every failure it is killed and reaped, and so is whatever it started. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "lib/depot.h"
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/run.h"
#include "lib/runtime.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

/* how long the runtime's leftovers get to die after SIGKILL */
#define LEFTOVERS_WAIT_NS (5ULL * 1000000000ULL)

static struct gdn_runtime runtime_of(const struct dd_exec *x)
{
	return (struct gdn_runtime){
	    .path = x->runtime,
	    .root = x->runtime_root,
	    .extra_args = x->runtime_args,
	    .timeout_ns = x->timeout_ns,
	    .log = x->log,
	};
}

static const char *verb(const struct dd_exec *x)
{
	return x->pea_id ? "run" : "exec";
}

static int failure(const struct dd_exec *x, int status, int errout, struct gdn_err **err)
{
	_cleanup_free_ char *log_path = gdn_path_join(x->dir, GDN_PROC_RUNTIME_LOG);
	_cleanup_free_ char *text = errout >= 0 ? gdn_runtime_stderr_text(errout, NULL) : NULL;
	struct gdn_runtime rt = runtime_of(x);

	int r = gdn_runtime_failed(&rt, verb(x), status, log_path, text, err);

	/* a pea's process is started by `run`: its missing executable is an exec's error */
	if (x->pea_id && err && *err && gdn_runtime_not_found(gdn_err_str(*err)))
		(*err)->kind = GDN_ERR_EXECUTABLE_NOT_FOUND;
	return r;
}

static int read_pid(const char *dir, pid_t *ret_pid, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, GDN_PROC_PIDFILE);

	if (!path)
		return gdn_err_set(err, ENOMEM, "read pidfile");
	return gdn_pidfile_read(path, ret_pid, err);
}

/* Our children, from /proc (the runtime's orphans are reparented to us, the subreaper). Returns
 * how many were signalled. */
static size_t kill_children(void)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	pid_t self = getpid();
	size_t n = 0;
	struct dirent *e;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct gdn_proc_stat st;
		uint32_t pid = 0;

		if (gdn_parse_u32(e->d_name, &pid) < 0 || (pid_t)pid == self)
			continue;
		if (gdn_proc_stat_read((pid_t)pid, &st) < 0 || st.ppid != self)
			continue;
		if (st.state != 'Z' && kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	return n;
}

/* Reaps what has exited of our children; true once there are none left. */
static bool reap_children(void)
{
	for (;;) {
		pid_t p = waitpid(-1, NULL, WNOHANG);

		if (p > 0)
			continue;
		if (p < 0 && errno == EINTR)
			continue;
		return p < 0 && errno == ECHILD;
	}
}

/* The start failed: the runtime (if still running), the process it may have started and every
 * other child we got meanwhile are killed and reaped, so that nothing starts after dadoo
 * reported failure. A process dadoo is not the parent of (no subreaper: unit tests) is killed
 * through the pidfile only. */
static void abort_start(const struct dd_exec *x, struct gdn_child *rt)
{
	uint64_t until = gdn_now_mono_ns() + LEFTOVERS_WAIT_NS;
	pid_t pid = 0;

	gdn_child_kill(rt);
	if (read_pid(x->dir, &pid, NULL) >= 0)
		(void)kill(pid, SIGKILL);
	for (;;) {
		const struct timespec tick = {0, 10 * 1000000};
		size_t n = kill_children();

		if (reap_children() && n == 0)
			break;
		if (gdn_now_mono_ns() >= until) {
			gdn_log_info(x->log, "runtime-leftovers-survived-sigkill", NULL);
			break;
		}
		(void)nanosleep(&tick, NULL);
	}
}

/* Waits for the runtime until the deadline; meanwhile takes the pty master off the console
 * socket. */
static int wait_runtime(struct dd_exec *x, struct gdn_child *rt, int *ret_status, int *ret_master,
			struct gdn_err **err)
{
	struct gdn_runtime desc = runtime_of(x);
	uint64_t deadline = gdn_now_mono_ns() + gdn_runtime_timeout_ns(&desc);
	_cleanup_close_ int master = -1;
	int r;

	while (x->console_fd >= 0 && master < 0) {
		struct pollfd p[2] = {{.fd = rt->pidfd, .events = POLLIN},
				      {.fd = x->console_fd, .events = POLLIN}};
		uint64_t now = gdn_now_mono_ns();
		int timeout = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);

		r = poll(p, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return gdn_err_set(err, errno, "poll");
		if (r == 0)
			return gdn_runtime_timed_out(&desc, verb(x), err);
		if (p[1].revents & POLLIN) {
			r = dd_console_receive(x->console_fd, err);
			if (r < 0 && r != -EAGAIN)
				return r;
			if (r >= 0) {
				master = r;
				/* at once: the process may ask for its window size any moment now
				 */
				r = dd_tty_setup(master, x->columns, x->rows, &x->veof, err);
				if (r < 0)
					return r;
			}
		}
		if (p[0].revents & POLLIN)
			break;
	}
	r = gdn_child_wait(rt, deadline, ret_status, err);
	if (r == -ETIMEDOUT)
		return gdn_runtime_timed_out(&desc, verb(x), err);
	if (r < 0)
		return gdn_err_wrap(err, "wait for the runtime");
	if (*ret_status == 0 && x->console_fd >= 0 && master < 0) {
		/* it may have connected just before exiting */
		r = dd_console_receive(x->console_fd, err);
		if (r == -EAGAIN)
			return gdn_err_kind(err, GDN_ERR_GENERIC, EPROTO,
					    "the runtime sent no console");
		if (r < 0)
			return r;
		master = r;
		r = dd_tty_setup(master, x->columns, x->rows, &x->veof, err);
		if (r < 0)
			return r;
	}
	if (ret_master)
		*ret_master = gdn_steal_fd(&master);
	return 0;
}

/* Everything after the spawn; the caller aborts the start if this fails. */
static int exec_started(struct dd_exec *x, struct gdn_child *rt, int errout, pid_t *ret_pid,
			int *ret_master, struct gdn_err **err)
{
	_cleanup_err_ struct gdn_err *setup_err = NULL;
	_cleanup_close_ int master = -1;
	struct gdn_runtime desc = runtime_of(x);
	int status = -1, r;

	if (x->meanwhile && x->console_fd < 0 && x->meanwhile(x->meanwhile_arg, &setup_err) < 0)
		return gdn_err_code(*err = gdn_steal_ptr(&setup_err)); /* no need to wait for it */
	r = wait_runtime(x, rt, &status, &master, err);
	if (r < 0)
		return r == -ETIMEDOUT
			   ? r
			   : gdn_err_wrap(err, "%s %s", gdn_runtime_name(&desc), verb(x));
	if (status != 0)
		return failure(x, status, errout >= 0 ? errout : x->stderr_peek, err);
	if (x->meanwhile && x->console_fd >= 0 && x->meanwhile(x->meanwhile_arg, &setup_err) < 0)
		return gdn_err_code(*err = gdn_steal_ptr(&setup_err));
	r = read_pid(x->dir, ret_pid, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s %s", gdn_runtime_name(&desc), verb(x));
	if (ret_master)
		*ret_master = gdn_steal_fd(&master);
	return 0;
}

int dd_runtime_exec(struct dd_exec *x, pid_t *ret_pid, int *ret_master, struct gdn_err **err)
{
	_cleanup_child_ struct gdn_child rt = GDN_CHILD_INIT;
	_cleanup_close_ int errout = -1;
	_cleanup_free_ char *pidfile = gdn_path_join(x->dir, GDN_PROC_PIDFILE);
	_cleanup_free_ char *log = gdn_path_join(x->dir, GDN_PROC_RUNTIME_LOG);
	_cleanup_err_ struct gdn_err *e = NULL;
	struct gdn_runtime desc = runtime_of(x);
	struct gdn_runtime_argv a;
	struct gdn_spawn_opts o;
	int r;

	if (ret_master)
		*ret_master = -1;
	if (!pidfile || !log)
		return gdn_err_set(err, ENOMEM, "exec");
	/* what is there is stale: the runtime appends to its log */
	(void)unlink(pidfile);
	(void)unlink(log);
	gdn_runtime_argv_init(&a, &desc, GDN_PROC_RUNTIME_LOG);
	gdn_runtime_argv_add(&a, verb(x));
	gdn_runtime_argv_add(&a, "--detach");
	if (x->console_socket) {
		/* a pea's terminal is its config.json's */
		if (!x->pea_id)
			gdn_runtime_argv_add(&a, "--tty");
		gdn_runtime_argv_add(&a, "--console-socket");
		gdn_runtime_argv_add(&a, x->console_socket);
	}
	gdn_runtime_argv_add(&a, "--pid-file");
	gdn_runtime_argv_add(&a, GDN_PROC_PIDFILE);
	if (x->pea_id) {
		gdn_runtime_argv_add(&a, "--no-new-keyring");
		/* absolute: the state's bundle is how guardian knows the container is the pea's */
		gdn_runtime_argv_add(&a, "--bundle");
		gdn_runtime_argv_add(&a, x->dir);
		gdn_runtime_argv_add(&a, x->pea_id);
	} else {
		if (x->sub_cgroup) {
			gdn_runtime_argv_add(&a, "--cgroup");
			gdn_runtime_argv_add(&a, x->sub_cgroup);
		}
		gdn_runtime_argv_add(&a, "-p");
		gdn_runtime_argv_add(&a, GDN_PROC_SPEC);
		gdn_runtime_argv_add(&a, x->handle);
	}
	r = gdn_runtime_argv_check(&a, &desc, verb(x), err);
	if (r < 0)
		return r;

	/* with a TTY the runtime's stderr is nobody's: keep it to explain a failure */
	if (x->stdio[2] < 0) {
		errout = memfd_create("runtime-stderr", MFD_CLOEXEC);
		if (errout < 0)
			return gdn_err_set(err, errno, "memfd_create");
	}
	o = (struct gdn_spawn_opts){
	    .path = x->runtime,
	    .argv = (char *const *)a.v,
	    .stdin_fd = x->stdio[0],
	    .stdout_fd = x->stdio[1],
	    .stderr_fd = x->stdio[2] >= 0 ? x->stdio[2] : errout,
	    .cwd = x->dir,
	};
	r = gdn_child_spawn(&rt, &o, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s %s", gdn_runtime_name(&desc), verb(x));
	r = exec_started(x, &rt, errout, ret_pid, ret_master, &e);
	if (r < 0) {
		abort_start(x, &rt);
		if (err && !*err)
			*err = gdn_steal_ptr(&e);
		return r;
	}
	return 0;
}
