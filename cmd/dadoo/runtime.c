/* `<runtime> [--root R] --log runtime.log --log-format json exec --detach [--tty
 * --console-socket P] --pid-file pidfile -p process.json <handle>`, run in the process dir so
 * that the relative names land there (and crun, which reads "--log <driver>:<path>", never sees a
 * ':' of the depot path). The runtime passes its stdio on to the process. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "lib/fs.h"
#include "lib/path.h"
#include "lib/proc.h"
#include "lib/runtime_log.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

#define ARGV_MAX 48
#define LOG_MAX (4 << 20)
#define STDERR_MAX (64 << 10)

struct argv {
	const char *v[ARGV_MAX + 1];
	size_t n;
};

static void add(struct argv *a, const char *s)
{
	if (a->n < ARGV_MAX)
		a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

bool dd_runtime_not_found(const char *msg)
{
	const char *p;

	if (!msg)
		return false;
	/* runc: exec: "x": executable file not found in $PATH
	 *       exec: "/x": stat /x: no such file or directory */
	for (p = strstr(msg, "exec: \""); p; p = strstr(p + 1, "exec: \"")) {
		const char *q = strstr(p + 7, "\": ");

		if (!q)
			break;
		q += 3;
		if (strncmp(q, "executable file not found", 25) == 0)
			return true;
		if (strncmp(q, "stat ", 5) == 0 && strstr(q, ": no such file or directory"))
			return true;
	}
	/* crun: executable file `x` not found in $PATH: No such file or directory */
	p = strstr(msg, "executable file `");
	if (p && strstr(p, "` not found"))
		return true;
	/* crun: exec container process (missing dynamic library?) `/x`: No such file or directory
	 */
	p = strstr(msg, "exec container process");
	return p && strstr(p, ": No such file or directory");
}

/* What the runtime wrote to an fd we can read back: a memfd from its start, or a pipe. */
static char *read_back(int fd)
{
	_cleanup_buf_ struct gdn_buf b = {0};
	char chunk[4096];
	off_t off = 0;
	bool seekable = lseek(fd, 0, SEEK_CUR) >= 0;

	while (b.len < STDERR_MAX) {
		ssize_t n = seekable ? pread(fd, chunk, sizeof(chunk), off)
				     : read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || gdn_buf_append(&b, chunk, (size_t)n) < 0)
			break;
		off += n;
	}
	return gdn_buf_steal(&b, NULL);
}

static int failure(const struct dd_exec *x, int status, int errout, struct gdn_err **err)
{
	_cleanup_free_ char *log_path = gdn_path_join(x->dir, "runtime.log");
	_cleanup_free_ char *log_text = NULL;
	_cleanup_free_ char *msg = NULL;
	_cleanup_err_ struct gdn_err *log_err = NULL;
	const char *name = basename_of(x->runtime);
	size_t len = 0;

	if (log_path && gdn_fs_read_file(log_path, LOG_MAX, &log_text, &len, &log_err) >= 0)
		msg = gdn_runtime_log_error(log_text);
	if (!msg && errout >= 0) {
		_cleanup_free_ char *text = read_back(errout);

		if (text)
			msg = gdn_runtime_log_error(text);
	}
	if (!msg)
		return gdn_err_kind(err, GDN_ERR_GENERIC, EIO, "%s exec: exit status %d", name,
				    status);
	return gdn_err_kind(
	    err, dd_runtime_not_found(msg) ? GDN_ERR_EXECUTABLE_NOT_FOUND : GDN_ERR_GENERIC, EIO,
	    "%s exec: exit status %d: %s", name, status, msg);
}

static int read_pid(const char *dir, pid_t *ret_pid, struct gdn_err **err)
{
	_cleanup_free_ char *path = gdn_path_join(dir, "pidfile");

	if (!path)
		return gdn_err_set(err, ENOMEM, "read pidfile");
	return gdn_pidfile_read(path, ret_pid, err);
}

/* The runtime started the process but it cannot be served: better gone than unreachable. */
static void kill_started(const char *dir)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	pid_t pid = 0;

	if (read_pid(dir, &pid, &err) >= 0)
		(void)kill(pid, SIGKILL);
}

/* Waits for the runtime; meanwhile takes the pty master off the console socket. */
static int wait_runtime(struct dd_exec *x, pid_t pid, int pidfd, int *ret_status, int *ret_master,
			struct gdn_err **err)
{
	_cleanup_close_ int master = -1;
	siginfo_t si;

	for (;;) {
		struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN},
				      {.fd = x->console_fd, .events = POLLIN}};
		nfds_t n = x->console_fd >= 0 && master < 0 ? 2 : 1;

		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return gdn_err_set(err, errno, "poll");
		}
		if (n == 2 && (p[1].revents & POLLIN)) {
			int r = dd_console_receive(x->console_fd, err);

			if (r < 0 && r != -EAGAIN)
				return r;
			if (r >= 0)
				master = r;
			/* at once: the process may ask for its window size any moment now */
			if (r >= 0 &&
			    (r = dd_tty_setup(master, x->columns, x->rows, &x->veof, err)) < 0)
				return r;
		}
		if (p[0].revents & POLLIN)
			break;
	}
	memset(&si, 0, sizeof(si));
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0) {
		if (errno != EINTR)
			return gdn_err_set(err, errno, "wait for the runtime (pid %d)", (int)pid);
	}
	*ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	if (*ret_status == 0 && x->console_fd >= 0 && master < 0) {
		/* it may have connected just before exiting */
		int r = dd_console_receive(x->console_fd, err);

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

int dd_runtime_exec(struct dd_exec *x, pid_t *ret_pid, int *ret_master, struct gdn_err **err)
{
	_cleanup_close_ int errout = -1;
	_cleanup_close_ int pidfd = -1;
	_cleanup_free_ char *pidfile = gdn_path_join(x->dir, "pidfile");
	_cleanup_free_ char *log = gdn_path_join(x->dir, "runtime.log");
	struct gdn_spawn_opts o;
	_cleanup_err_ struct gdn_err *setup_err = NULL;
	struct argv a = {.n = 0};
	pid_t pid = 0;
	int status = -1, setup = 0, r;

	if (ret_master)
		*ret_master = -1;
	if (!pidfile || !log)
		return gdn_err_set(err, ENOMEM, "exec");
	/* what is there is stale: the runtime appends to its log */
	(void)unlink(pidfile);
	(void)unlink(log);
	add(&a, x->runtime);
	if (x->runtime_root) {
		add(&a, "--root");
		add(&a, x->runtime_root);
	}
	for (const char *const *g = x->runtime_args; g && *g; g++)
		add(&a, *g);
	add(&a, "--log");
	add(&a, "runtime.log");
	add(&a, "--log-format");
	add(&a, "json");
	add(&a, "exec");
	add(&a, "--detach");
	if (x->console_socket) {
		add(&a, "--tty");
		add(&a, "--console-socket");
		add(&a, x->console_socket);
	}
	add(&a, "--pid-file");
	add(&a, "pidfile");
	add(&a, "-p");
	add(&a, "process.json");
	add(&a, x->handle);

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
	r = gdn_spawn(&o, &pid, &pidfd, err);
	if (r < 0)
		return gdn_err_wrap(err, "%s exec", basename_of(x->runtime));
	if (x->meanwhile && x->console_fd < 0)
		setup = x->meanwhile(x->meanwhile_arg, &setup_err);
	r = wait_runtime(x, pid, pidfd, &status, ret_master, err);
	if (r < 0 && status == 0)
		kill_started(x->dir);
	if (r < 0)
		return gdn_err_wrap(err, "%s exec", basename_of(x->runtime));
	if (status != 0)
		return failure(x, status, errout >= 0 ? errout : x->stderr_peek, err);
	if (x->meanwhile && x->console_fd >= 0)
		setup = x->meanwhile(x->meanwhile_arg, &setup_err);
	if (setup < 0) {
		kill_started(x->dir);
		if (ret_master && *ret_master >= 0)
			(void)close(gdn_steal_fd(ret_master));
		if (err)
			*err = gdn_steal_ptr(&setup_err);
		return setup;
	}
	r = read_pid(x->dir, ret_pid, err);
	if (r < 0) {
		if (ret_master && *ret_master >= 0)
			(void)close(gdn_steal_fd(ret_master));
		return gdn_err_wrap(err, "%s exec", basename_of(x->runtime));
	}
	return 0;
}
