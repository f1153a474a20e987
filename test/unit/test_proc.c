#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "lib/proc.h"
#include "lib/fs.h"
#include "test/unit/tap.h"

/* A NULL-terminated vector of the arguments (-Wwrite-strings makes literals const). Vectors
 * come from a small rotating pool, enough for one spawn's argv and envp. */
static char *const *V(const char *first, ...) __attribute__((sentinel));
static char *const *V(const char *first, ...)
{
	static char *pool[4][16];
	static int next;
	char **v = pool[next++ % 4];
	va_list ap;
	int n = 0;

	va_start(ap, first);
	for (const char *a = first; a && n < 15; a = va_arg(ap, const char *))
		v[n++] = (char *)a;
	va_end(ap);
	v[n] = NULL;
	return v;
}

#define SH(script) V("sh", "-c", (script), NULL)

static int run_sh(const char *script, char **out)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_spawn_opts o = {.path = "/bin/sh", .argv = SH(script), .stdin_fd = -1};
	int status = -1;

	CHECK_OK(gdn_proc_run(&o, &status, out, &err), err);
	return status;
}

static void test_exit_code(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_spawn_opts o = {.path = "/bin/sh",
				   .argv = SH("exit 3"),
				   .stdin_fd = -1,
				   .stdout_fd = -1,
				   .stderr_fd = -1};
	pid_t pid = -1;
	int pidfd = -1, status = -1;

	CHECK_OK(gdn_spawn(&o, &pid, &pidfd, &err), err);
	CHECK(pid > 0 && pidfd >= 0);
	CHECK(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
	CHECK_OK(gdn_proc_wait(pid, pidfd, &status, &err), err);
	CHECK_INTEQ(status, 3);
	close(pidfd);
	/* by pid, without a pidfd */
	o.argv = SH("exit 0");
	CHECK_OK(gdn_spawn(&o, &pid, NULL, &err), err);
	CHECK_OK(gdn_proc_wait(pid, -1, &status, &err), err);
	CHECK_INTEQ(status, 0);
}

static void test_signal_status(void)
{
	CHECK_INTEQ(run_sh("kill -TERM $$", NULL), 128 + SIGTERM);
	CHECK_INTEQ(run_sh("kill -KILL $$", NULL), 128 + SIGKILL);
	CHECK_INTEQ(gdn_proc_status_code(W_EXITCODE(5, 0)), 5);
	CHECK_INTEQ(gdn_proc_status_code(SIGKILL), 137);
}

static void test_exec_failure(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
	struct gdn_spawn_opts o = {
	    .argv = V("x", NULL), .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
	char path[600];
	pid_t pid = 0;

	o.path = "/nonexistent/binary";
	CHECK_INTEQ(gdn_spawn(&o, &pid, NULL, &e1), -ENOENT);
	CHECK_STREQ(gdn_err_str(e1), "exec '/nonexistent/binary': No such file or directory");
	CHECK_INTEQ(waitpid(-1, NULL, WNOHANG), -1); /* the failed child was reaped */
	CHECK_INTEQ(errno, ECHILD);
	o.path = "no-such-command-gdn";
	CHECK_INTEQ(gdn_spawn(&o, &pid, NULL, &e2), -ENOENT);
	CHECK(strstr(gdn_err_str(e2), "exec 'no-such-command-gdn'") != NULL);
	snprintf(path, sizeof(path), "%s/noexec", tap_tmp);
	CHECK_OK(gdn_fs_write_atomic(path, "#!/bin/sh\n", 10, 0644, &e3), e3);
	o.path = path;
	CHECK_INTEQ(gdn_spawn(&o, &pid, NULL, &e3), -EACCES);
	o.path = "/bin/true";
	o.cwd = "/nonexistent-dir";
	CHECK_INTEQ(gdn_spawn(&o, &pid, NULL, &e4), -ENOENT);
	CHECK(strstr(gdn_err_str(e4), "chdir '/nonexistent-dir'") != NULL);
}

/* Moves whatever occupies fds 3..9 out of the way, so pipes land on low numbers. */
static void free_low_fds(void)
{
	for (int fd = 3; fd < 10; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) < 0)
			continue;
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 100);
		CHECK(nfd >= 100);
		if (fd == tap_skip_fd)
			tap_skip_fd = nfd;
		close(fd);
	}
}

static int move_fd(int fd, int min)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, min);

	CHECK(nfd >= min);
	close(fd);
	return nfd;
}

static void check_read(int fd, const char *want)
{
	char buf[64] = "";
	ssize_t n = gdn_fd_read_all(fd, buf, sizeof(buf) - 1);

	CHECK(n >= 0);
	CHECK_STREQ(buf, want);
}

static void test_fd_mapping_collisions(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL;
	int p1[2], p2[2], p3[2], extra[3], status = -1;
	struct gdn_spawn_opts o = {
	    .path = "/bin/sh",
	    .argv = SH("echo three >&3; echo four >&4; echo five >&5;"
		       "cd /proc/self/fd && echo *"),
	    .stdin_fd = -1,
	    .extra_fds = extra,
	    .n_extra_fds = 3,
	};

	free_low_fds();
	CHECK(pipe2(p1, O_CLOEXEC) == 0 && p1[0] == 3 && p1[1] == 4);
	CHECK(pipe2(p2, O_CLOEXEC) == 0 && p2[0] == 5 && p2[1] == 6);
	CHECK(pipe2(p3, O_CLOEXEC) == 0 && p3[0] == 7 && p3[1] == 8);
	p1[0] = move_fd(p1[0], 50);
	p2[0] = move_fd(p2[0], 50);
	p3[0] = move_fd(p3[0], 50);
	CHECK(dup3(p3[1], 3, O_CLOEXEC) == 3);
	close(p3[1]);
	p3[1] = 3;
	/* sources 4, 3, 6 for targets 3, 4, 5: two sources sit on other targets' numbers */
	extra[0] = p1[1];
	extra[1] = p3[1];
	extra[2] = p2[1];
	CHECK_OK(gdn_proc_run(&o, &status, &out, &err), err);
	CHECK_INTEQ(status, 0);
	/* the child saw exactly 0..5 (and the fd of the directory sh was listing) */
	CHECK(strncmp(out, "0 1 2 3 4 5", 11) == 0);
	CHECK(strlen(out) <= 14);
	close(p1[1]);
	close(p2[1]);
	close(p3[1]);
	check_read(p1[0], "three\n");
	check_read(p3[0], "four\n");
	check_read(p2[0], "five\n");
}

static void test_output_capture(void)
{
	_cleanup_free_ char *out = NULL, *big = NULL, *none = NULL;

	CHECK_INTEQ(run_sh("echo out; echo err >&2; exit 2", &out), 2);
	CHECK_STREQ(out, "out\nerr\n");
	CHECK_INTEQ(run_sh("head -c 100000 /dev/zero | tr '\\0' a; echo done >&2", &big), 0);
	CHECK_INTEQ(strlen(big), 64 * 1024);
	CHECK(big[0] == 'a' && big[65535] == 'a');
	CHECK_INTEQ(run_sh("true", &none), 0);
	CHECK_STREQ(none, "");
	CHECK_INTEQ(run_sh("echo ignored", NULL), 0);
}

static void test_stdin_and_devnull(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL, *out2 = NULL;
	struct gdn_spawn_opts o = {.path = "cat", .argv = V("cat", NULL)};
	int p[2], status = -1;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_INTEQ(write(p[1], "piped", 5), 5);
	close(p[1]);
	o.stdin_fd = p[0];
	CHECK_OK(gdn_proc_run(&o, &status, &out, &err), err);
	CHECK_STREQ(out, "piped");
	o.stdin_fd = -1;
	CHECK_OK(gdn_proc_run(&o, &status, &out2, &err), err);
	CHECK_STREQ(out2, "");
	CHECK_INTEQ(status, 0);
}

static void test_setsid(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	struct gdn_spawn_opts o = {.path = "sleep",
				   .argv = V("sleep", "30", NULL),
				   .stdin_fd = -1,
				   .stdout_fd = -1,
				   .stderr_fd = -1};
	pid_t pid = -1;
	int pidfd = -1, status = -1;

	CHECK_OK(gdn_spawn(&o, &pid, &pidfd, &err), err);
	CHECK(getsid(pid) == getsid(0));
	kill(pid, SIGKILL);
	CHECK_OK(gdn_proc_wait(pid, pidfd, &status, &err), err);
	CHECK_INTEQ(status, 137);
	close(pidfd);
	o.setsid = true;
	CHECK_OK(gdn_spawn(&o, &pid, &pidfd, &err), err);
	CHECK(getsid(pid) == pid);
	CHECK(getsid(pid) != getsid(0));
	kill(pid, SIGTERM);
	CHECK_OK(gdn_proc_wait(pid, pidfd, &status, &err), err);
	CHECK_INTEQ(status, 143);
}

static void test_env_and_path_search(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL, *out2 = NULL, *out3 = NULL;
	struct gdn_spawn_opts o = {
	    .path = "sh",
	    .argv = SH("echo \"$FOO:$PATH\""),
	    .envp = V("FOO=bar", "PATH=/nonexistent:/usr/bin:/bin", NULL),
	    .stdin_fd = -1,
	};
	int status = -1;

	CHECK_OK(gdn_proc_run(&o, &status, &out, &err), err);
	CHECK_STREQ(out, "bar:/nonexistent:/usr/bin:/bin\n");
	/* no PATH in the child's env: the default search path */
	o.envp = V("FOO=baz", NULL);
	o.argv = SH("echo \"$FOO\"");
	CHECK_OK(gdn_proc_run(&o, &status, &out2, &err), err);
	CHECK_STREQ(out2, "baz\n");
	/* NULL envp inherits ours */
	setenv("GDN_TEST_INHERIT", "yes", 1);
	o.envp = NULL;
	o.argv = SH("echo \"$GDN_TEST_INHERIT\"");
	CHECK_OK(gdn_proc_run(&o, &status, &out3, &err), err);
	CHECK_STREQ(out3, "yes\n");
}

static void test_cwd(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_free_ char *out = NULL;
	struct gdn_spawn_opts o = {
	    .path = "/bin/sh", .argv = SH("pwd"), .stdin_fd = -1, .cwd = tap_tmp};
	char want[128];
	int status = -1;

	CHECK_OK(gdn_proc_run(&o, &status, &out, &err), err);
	snprintf(want, sizeof(want), "%s\n", tap_tmp);
	CHECK_STREQ(out, want);
}

static void test_signals_reset(void)
{
	_cleanup_free_ char *out = NULL;
	sigset_t set;

	/* ignored and blocked signals in the parent must not leak into the child */
	signal(SIGTERM, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	CHECK_INTEQ(run_sh("grep -E '^Sig(Blk|Ign)' /proc/self/status", &out), 0);
	CHECK(strstr(out, "SigBlk:\t0000000000000000") != NULL);
	CHECK(strstr(out, "SigIgn:\t0000000000000000") != NULL);
	CHECK_INTEQ(run_sh("kill -TERM $$; echo survived", NULL), 143);
	/* and the parent's own mask is restored */
	sigprocmask(SIG_BLOCK, NULL, &set);
	CHECK(sigismember(&set, SIGUSR1));
	CHECK(!sigismember(&set, SIGCHLD));
}

static void test_pdeathsig(void)
{
	int p[2], status = 0;
	pid_t mid, sleeper = -1;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	mid = fork();
	CHECK(mid >= 0);
	if (mid == 0) {
		struct gdn_err *err = NULL;
		struct gdn_spawn_opts o = {.path = "sleep",
					   .argv = V("sleep", "30", NULL),
					   .stdin_fd = -1,
					   .stdout_fd = -1,
					   .stderr_fd = -1,
					   .pdeathsig = SIGKILL};
		pid_t pid = -1;

		if (gdn_spawn(&o, &pid, NULL, &err) < 0)
			_exit(1);
		(void)!write(p[1], &pid, sizeof(pid));
		_exit(0);
	}
	close(p[1]);
	CHECK_INTEQ(read(p[0], &sleeper, sizeof(sleeper)), sizeof(sleeper));
	CHECK(waitpid(mid, &status, 0) == mid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the orphan comes to us (subreaper) and must have been killed by its death signal */
	CHECK(waitpid(sleeper, &status, 0) == sleeper);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_bad_options(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL, *e2 = NULL;
	struct gdn_spawn_opts o = {.path = "/bin/true", .argv = NULL};
	int bad[1] = {-1};

	CHECK_INTEQ(gdn_spawn(&o, NULL, NULL, &e1), -EINVAL);
	o.argv = V("true", NULL);
	o.extra_fds = bad;
	o.n_extra_fds = 1;
	CHECK_INTEQ(gdn_spawn(&o, NULL, NULL, &e2), -EBADF);
}

static void test_detach(void)
{
	_cleanup_err_ struct gdn_err *err = NULL;
	_cleanup_err_ struct gdn_err *e2 = NULL;
	_cleanup_err_ struct gdn_err *e3 = NULL;
	char dir[] = "/tmp/gdn-test-detach.XXXXXX";
	char file[64], script[256];
	_cleanup_free_ char *got = NULL;
	size_t len = 0;
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(file, sizeof(file), "%s/out", dir);
	(void)snprintf(script, sizeof(script), "printf ok >%s.tmp && mv %s.tmp %s", file, file,
		       file);
	struct gdn_spawn_opts o = {.path = "/bin/sh",
				   .argv = SH(script),
				   .stdin_fd = -1,
				   .stdout_fd = -1,
				   .stderr_fd = -1,
				   .detach = true};
	CHECK_OK(gdn_spawn(&o, NULL, NULL, &err), err);
	/* nothing of ours to wait for: the intermediate is reaped, the child is not ours */
	CHECK_INTEQ(waitpid(-1, NULL, WNOHANG), -1);
	CHECK_INTEQ(errno, ECHILD);
	for (int i = 0; i < 500 && access(file, F_OK) < 0; i++)
		(void)usleep(10000);
	CHECK_OK(gdn_fs_read_file(file, 64, &got, &len, &err), err);
	CHECK_STREQ(got, "ok");
	(void)unlink(file);
	(void)rmdir(dir);
	/* a failed exec is still reported */
	o.path = "/nonexistent/gdn-test";
	CHECK_INTEQ(gdn_spawn(&o, NULL, NULL, &e2), -ENOENT);
	/* and there is no pid to give */
	o.path = "/bin/sh";
	CHECK_INTEQ(gdn_spawn(&o, &pid, NULL, &e3), -EINVAL);
}

static void test_which(void)
{
	_cleanup_err_ struct gdn_err *e1 = NULL;
	_cleanup_err_ struct gdn_err *e2 = NULL;
	_cleanup_err_ struct gdn_err *e3 = NULL;
	_cleanup_free_ char *sh = NULL, *abs = NULL;
	char *none = NULL;

	CHECK_OK(gdn_which("sh", &sh, &e1), e1);
	CHECK(sh && sh[0] == '/' && access(sh, X_OK) == 0);
	CHECK_OK(gdn_which("/bin/sh", &abs, &e1), e1);
	CHECK_STREQ(abs, "/bin/sh");
	CHECK_INTEQ(gdn_which("gdn-no-such-program", &none, &e2), -ENOENT);
	CHECK(strstr(gdn_err_str(e2), "not found in PATH") != NULL);
	/* a directory is not an executable */
	CHECK_INTEQ(gdn_which("/tmp", &none, &e3), -ENOENT);
	CHECK(none == NULL);
}

/* /proc/<pid>/stat: ourselves, a zombie child (a comm with ") " in it), a reaped one. */
static void test_proc_stat(void)
{
	struct gdn_proc_stat st;
	pid_t child;

	CHECK_INTEQ(gdn_proc_stat_read(getpid(), &st), 0);
	CHECK(st.state == 'R' || st.state == 'S');
	CHECK_INTEQ(st.ppid, getppid());
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		(void)prctl(PR_SET_NAME, "x) Z 1 (", 0, 0, 0);
		_exit(0);
	}
	for (int i = 0; i < 500; i++) {
		CHECK_INTEQ(gdn_proc_stat_read(child, &st), 0);
		if (st.state == 'Z')
			break;
		usleep(2000);
	}
	CHECK(st.state == 'Z');
	CHECK_INTEQ(st.ppid, getpid());
	CHECK(waitpid(child, NULL, 0) == child);
	CHECK_INTEQ(gdn_proc_stat_read(child, &st), -ENOENT);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_exit_code),
	    TEST(test_signal_status),
	    TEST(test_exec_failure),
	    TEST(test_fd_mapping_collisions),
	    TEST(test_output_capture),
	    TEST(test_stdin_and_devnull),
	    TEST(test_setsid),
	    TEST(test_env_and_path_search),
	    TEST(test_cwd),
	    TEST(test_signals_reset),
	    TEST(test_pdeathsig),
	    TEST(test_detach),
	    TEST(test_which),
	    TEST(test_bad_options),
	    TEST(test_proc_stat),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
