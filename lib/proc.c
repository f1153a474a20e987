/* The one spawn helper: see proc.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "lib/proc.h"
#include "lib/buf.h"
#include "lib/path.h"
#include "lib/fs.h"
#include "lib/run.h"
#include "lib/util.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define RUN_OUTPUT_MAX (64 * 1024)
#define SPAWN_MAX_EXTRA 1024

/* What the child reports over the error pipe when it cannot exec. */
enum spawn_stage {
	STAGE_EXEC = 1,
	STAGE_FDS,
	STAGE_SETSID,
	STAGE_CHDIR,
	STAGE_DETACH,
};

struct spawn_report {
	int stage;
	int errnum;
};

/* Everything the child needs, prepared before fork so the child never allocates. */
struct child_args {
	const struct gdn_spawn_opts *o;
	char **candidates; /* executables to try, in order */
	char *const *envp;
	int *src; /* source fd for each target fd 0..n_targets-1 */
	int *tmp; /* scratch, n_targets entries */
	int n_targets;
	int err_w;
	pid_t parent;
};

static _Noreturn void child_fail(int errfd, enum spawn_stage stage, int errnum)
{
	struct spawn_report rep = {.stage = stage, .errnum = errnum ? errnum : EIO};
	ssize_t n;

	if (errfd >= 0) {
		do
			n = write(errfd, &rep, sizeof(rep));
		while (n < 0 && errno == EINTR);
	}
	_exit(127);
}

/* Runs in the forked child: async-signal-safe calls only. */
static _Noreturn void child(const struct child_args *a)
{
	static const unsigned long kernel_sa_dfl[8];
	const struct gdn_spawn_opts *o = a->o;
	struct sigaction sa;
	sigset_t none;
	int errfd, saved = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&sa.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		/* glibc refuses its reserved signals (32, 33), which can still be inherited as
		 * ignored; the kernel's struct sigaction for SIG_DFL is all zeroes */
		if (sigaction(sig, &sa, NULL) < 0)
			(void)syscall(SYS_rt_sigaction, sig, kernel_sa_dfl, NULL, (NSIG - 1) / 8);
	}
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* Move everything we still need above the target range first, so that no source
	 * collides with a target number while we dup2 onto the targets. */
	errfd = fcntl(a->err_w, F_DUPFD_CLOEXEC, a->n_targets);
	if (errfd < 0)
		_exit(127);
	for (int i = 0; i < a->n_targets; i++) {
		a->tmp[i] = fcntl(a->src[i], F_DUPFD_CLOEXEC, a->n_targets);
		if (a->tmp[i] < 0)
			child_fail(errfd, STAGE_FDS, errno);
	}
	for (int i = 0; i < a->n_targets; i++) {
		if (dup2(a->tmp[i], i) < 0) /* the copy is not CLOEXEC, as wanted */
			child_fail(errfd, STAGE_FDS, errno);
	}
	(void)close_range((unsigned)a->n_targets, ~0U, CLOSE_RANGE_CLOEXEC);

	if (o->setsid && setsid() < 0)
		child_fail(errfd, STAGE_SETSID, errno);
	if (o->pdeathsig > 0) {
		(void)prctl(PR_SET_PDEATHSIG, (unsigned long)o->pdeathsig, 0, 0, 0);
		if (getppid() != a->parent)
			_exit(127); /* the parent is already gone */
	}
	if (o->cwd && chdir(o->cwd) < 0)
		child_fail(errfd, STAGE_CHDIR, errno);
	if (o->detach) {
		/* the grandchild keeps errfd until its exec, so the report still reaches gdn_spawn
		 */
		pid_t g = fork();

		if (g < 0)
			child_fail(errfd, STAGE_DETACH, errno);
		if (g > 0)
			_exit(0);
	}

	for (char **c = a->candidates; *c; c++) {
		int e;

		(void)execve(*c, o->argv, a->envp);
		e = errno;
		switch (e) {
		case EACCES:
			saved = e;
			continue;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
			if (!saved)
				saved = e;
			continue;
		default:
			child_fail(errfd, STAGE_EXEC, e);
		}
	}
	child_fail(errfd, STAGE_EXEC, saved ? saved : ENOENT);
}

static const char *env_path(char *const *envp)
{
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return NULL;
}

/* The executables to try: `file` itself when it contains '/', else each PATH entry. */
static char **exec_candidates(const char *file, const char *path)
{
	char **v;
	size_t n = 0;
	const char *p;

	if (strchr(file, '/')) {
		v = calloc(2, sizeof(char *));
		if (v && !(v[0] = strdup(file))) {
			free(v);
			v = NULL;
		}
		return v;
	}
	if (!path)
		path = DEFAULT_PATH;
	for (p = path;; p++) {
		if (*p == ':' || *p == '\0')
			n++;
		if (*p == '\0')
			break;
	}
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return NULL;
	n = 0;
	for (p = path;;) {
		size_t len = strcspn(p, ":");
		char *s = NULL;

		/* an empty entry means the current directory (POSIX) */
		if (asprintf(&s, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", file) < 0) {
			gdn_strv_free(v);
			return NULL;
		}
		v[n++] = s;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return v;
}

int gdn_which(const char *file, char **ret, struct gdn_err **err)
{
	_cleanup_strv_ char **candidates = NULL;

	if (!file || !*file)
		return gdn_err_set(err, EINVAL, "no executable name");
	candidates = exec_candidates(file, getenv("PATH"));
	if (!candidates)
		return gdn_err_set(err, ENOMEM, "look up '%s'", file);
	for (char **c = candidates; *c; c++) {
		struct stat st;

		if (stat(*c, &st) == 0 && S_ISREG(st.st_mode) && access(*c, X_OK) == 0) {
			*ret = strdup(*c);
			return *ret ? 0 : gdn_err_set(err, ENOMEM, "look up '%s'", file);
		}
	}
	if (strchr(file, '/'))
		return gdn_err_set(err, ENOENT, "'%s' is not an executable file", file);
	return gdn_err_set(err, ENOENT, "'%s' not found in PATH", file);
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int report_error(const struct gdn_spawn_opts *o, const struct spawn_report *rep,
			struct gdn_err **err)
{
	switch (rep->stage) {
	case STAGE_FDS:
		return gdn_err_set(err, rep->errnum, "spawn '%s': set up fds", o->path);
	case STAGE_SETSID:
		return gdn_err_set(err, rep->errnum, "spawn '%s': setsid", o->path);
	case STAGE_CHDIR:
		return gdn_err_set(err, rep->errnum, "spawn '%s': chdir '%s'", o->path,
				   o->cwd ? o->cwd : "");
	case STAGE_DETACH:
		return gdn_err_set(err, rep->errnum, "spawn '%s': fork", o->path);
	default:
		return gdn_err_set(err, rep->errnum, "exec '%s'", o->path);
	}
}

int gdn_spawn(const struct gdn_spawn_opts *o, pid_t *ret_pid, int *ret_pidfd, struct gdn_err **err)
{
	_cleanup_strv_ char **candidates = NULL;
	_cleanup_close_ int devnull = -1, err_r = -1, err_w = -1, pidfd = -1;
	int src[3 + SPAWN_MAX_EXTRA], tmp[3 + SPAWN_MAX_EXTRA];
	struct child_args a;
	struct spawn_report rep;
	sigset_t all, old;
	size_t got = 0;
	int n_targets, pipefd[2];
	pid_t pid;

	if (!o || !o->path || !*o->path || !o->argv || !o->argv[0])
		return gdn_err_set(err, EINVAL, "spawn: no path or argv");
	if (o->n_extra_fds > SPAWN_MAX_EXTRA || (o->n_extra_fds && !o->extra_fds))
		return gdn_err_set(err, EINVAL, "spawn '%s': bad extra fds", o->path);
	if (o->detach && (ret_pid || ret_pidfd))
		return gdn_err_set(err, EINVAL, "spawn '%s': a detached child has no pid", o->path);
	n_targets = 3 + (int)o->n_extra_fds;

	memset(&a, 0, sizeof(a));
	a.o = o;
	a.envp = o->envp ? o->envp : environ;
	candidates = exec_candidates(o->path, o->envp ? env_path(o->envp) : getenv("PATH"));
	if (!candidates)
		return gdn_err_set(err, ENOMEM, "spawn '%s'", o->path);

	if (o->stdin_fd < 0 || o->stdout_fd < 0 || o->stderr_fd < 0) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (devnull < 0)
			return gdn_err_set(err, errno, "spawn '%s': open '/dev/null'", o->path);
	}
	src[0] = o->stdin_fd >= 0 ? o->stdin_fd : devnull;
	src[1] = o->stdout_fd >= 0 ? o->stdout_fd : devnull;
	src[2] = o->stderr_fd >= 0 ? o->stderr_fd : devnull;
	for (size_t i = 0; i < o->n_extra_fds; i++) {
		if (o->extra_fds[i] < 0)
			return gdn_err_set(err, EBADF, "spawn '%s': extra fd #%zu is %d", o->path,
					   i, o->extra_fds[i]);
		src[3 + i] = o->extra_fds[i];
	}

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return gdn_err_set(err, errno, "spawn '%s': pipe", o->path);
	err_r = pipefd[0];
	err_w = pipefd[1];
	a.candidates = candidates;
	a.src = src;
	a.tmp = tmp;
	a.n_targets = n_targets;
	a.err_w = err_w;
	a.parent = getpid();

	/* No signal handler of ours may run in the child before it resets them. */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child(&a);
	{
		int e = errno;

		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		if (pid < 0)
			return gdn_err_set(err, e, "spawn '%s': fork", o->path);
	}
	(void)close(gdn_steal_fd(&err_w));

	while (got < sizeof(rep)) {
		ssize_t n = read(err_r, (char *)&rep + got, sizeof(rep) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	/* a child that failed, or a detached one's intermediate (gone already or about to be) */
	if (got > 0 || o->detach)
		reap(pid);
	if (got > 0) {
		if (got < sizeof(rep))
			return gdn_err_set(err, EIO, "spawn '%s': short error report", o->path);
		return report_error(o, &rep, err);
	}

	if (ret_pidfd) {
		pidfd = pidfd_open(pid, 0);
		if (pidfd < 0) {
			int e = errno;

			(void)kill(pid, SIGKILL);
			reap(pid);
			return gdn_err_set(err, e, "spawn '%s': pidfd_open", o->path);
		}
		*ret_pidfd = gdn_steal_fd(&pidfd);
	}
	if (ret_pid)
		*ret_pid = pid;
	return 0;
}

int gdn_proc_status_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	if (WIFSTOPPED(wstatus))
		return 128 + WSTOPSIG(wstatus);
	return 255;
}

int gdn_proc_wait(pid_t pid, int pidfd, int *ret_status, struct gdn_err **err)
{
	siginfo_t si;
	int r;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (pidfd >= 0)
			r = waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
		else
			r = waitid(P_PID, (id_t)pid, &si, WEXITED);
		if (r == 0)
			break;
		if (errno != EINTR)
			return gdn_err_set(err, errno, "wait for process %d", (int)pid);
	}
	switch (si.si_code) {
	case CLD_EXITED:
		r = si.si_status;
		break;
	case CLD_KILLED:
	case CLD_DUMPED:
		r = 128 + si.si_status;
		break;
	default:
		return gdn_err_set(err, EIO, "wait for process %d: unexpected code %d", (int)pid,
				   si.si_code);
	}
	if (ret_status)
		*ret_status = r;
	return 0;
}

int gdn_proc_run(const struct gdn_spawn_opts *o, int *ret_status, char **ret_output,
		 struct gdn_err **err)
{
	_cleanup_run_result_ struct gdn_run_result res = {0};
	struct gdn_run_opts ro = {
	    .spawn = o,
	    .capture_stdout = true,
	    .merge_stderr = true,
	    .output_max = RUN_OUTPUT_MAX,
	};
	int r = gdn_run(&ro, &res, err);

	if (r < 0)
		return r;
	if (ret_status)
		*ret_status = res.status;
	if (ret_output)
		*ret_output = gdn_steal_ptr(&res.out);
	return 0;
}

int gdn_pidfile_read(const char *path, pid_t *ret_pid, struct gdn_err **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	uint32_t pid = 0;
	int r = gdn_fs_read_file(path, 64, &text, &len, err);

	if (r < 0)
		return r;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	if (gdn_parse_u32(text, &pid) < 0 || pid == 0 || pid > INT32_MAX)
		return gdn_err_set(err, EINVAL, "pidfile '%s' holds '%s'", path, text);
	*ret_pid = (pid_t)pid;
	return 0;
}

int gdn_pidfd_from_pidfile(const char *path, pid_t *ret_pid)
{
	pid_t pid = 0;
	int r = gdn_pidfile_read(path, &pid, NULL);
	int fd;

	if (r < 0)
		return r;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	if (ret_pid)
		*ret_pid = pid;
	return fd;
}

int gdn_proc_stat_read(pid_t pid, struct gdn_proc_stat *ret)
{
	_cleanup_free_ char *text = NULL;
	char path[64];
	const char *p;
	size_t len = 0;
	int ppid = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (gdn_fs_read_file(path, 4096, &text, &len, NULL) < 0)
		return -ENOENT;
	/* "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": parse after the last ')' */
	p = strrchr(text, ')');
	if (!p || sscanf(p + 1, " %c %d %*d %*d %*d %*d %lu", &ret->state, &ppid, &ret->flags) != 3)
		return -EBADMSG;
	ret->ppid = (pid_t)ppid;
	return 0;
}
