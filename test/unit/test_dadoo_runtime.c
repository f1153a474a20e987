/* link: cmd/dadoo/runtime.c cmd/dadoo/tty.c */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
#include "lib/runtime.h"
#include "lib/util.h"
#include "cmd/dadoo/dadoo.h"

/* A fake runtime: records its argv and cwd; behaves per handle. */
static const char fake_runtime[] =
    "#!/bin/sh\n"
    "dir=$(dirname \"$0\")\n"
    "printf '%s\\n' \"$@\" > \"$dir/args\"\n"
    "pwd > \"$dir/cwd\"\n"
    "for h; do :; done\n"
    "case \"$h\" in\n"
    "ok) echo 4242 > pidfile; echo 'to the process' >&2; exit 0 ;;\n"
    "nopid) exit 0 ;;\n"
    "runc-nf)\n"
    "  echo '{\"level\":\"error\",\"msg\":\"exec failed: unable to start container process: "
    "exec: \\\"nosuch\\\": executable file not found in $PATH\",\"time\":\"t\"}' > runtime.log\n"
    "  exit 255 ;;\n"
    "crun-stderr) echo 'executable file `x` not found in $PATH: No such file or directory' >&2;"
    " exit 1 ;;\n"
    "*) echo '{\"msg\":\"cannot do it\",\"level\":\"error\"}' > runtime.log; exit 2 ;;\n"
    "esac\n";

static char *slurp(const char *name)
{
	char path[128];
	char *data = NULL;
	size_t len = 0;
	struct gdn_err *err = NULL;

	snprintf(path, sizeof(path), "%s/%s", tap_tmp, name);
	CHECK_OK(gdn_fs_read_file(path, 1 << 16, &data, &len, &err), err);
	return data;
}

/* Runs the fake runtime for `handle` with pipes for stdio; returns dd_runtime_exec's result. */
static bool as_pea;	       /* exec_fake runs `run` of a pea bundle, `handle` its id */
static const char *sub_cgroup; /* the exec's --cgroup */

static int exec_fake(const char *handle, pid_t *pid, struct gdn_err **err, char **ret_stderr)
{
	char rt[128];
	int in[2], out[2], errp[2], r;
	struct gdn_err *e = NULL;

	snprintf(rt, sizeof(rt), "%s/fake-runc", tap_tmp);
	CHECK_OK(gdn_fs_write_atomic(rt, fake_runtime, strlen(fake_runtime), 0755, &e), e);
	CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
	      pipe2(errp, O_CLOEXEC | O_NONBLOCK) == 0);
	struct dd_exec x = {
	    .runtime = rt,
	    .runtime_root = "/run/rt",
	    .dir = tap_tmp,
	    .handle = as_pea ? "sandbox" : handle,
	    .pea_id = as_pea ? handle : NULL,
	    .sub_cgroup = sub_cgroup,
	    .stdio = {in[0], out[1], errp[1]},
	    .console_fd = -1,
	    .stderr_peek = -1,
	};
	if (strcmp(handle, "crun-stderr") == 0)
		x.stderr_peek = errp[0];
	r = dd_runtime_exec(&x, pid, NULL, err);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
	close(errp[1]);
	if (ret_stderr) {
		char buf[256];
		ssize_t n = read(errp[0], buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		*ret_stderr = strdup(buf);
	}
	close(errp[0]);
	return r;
}

static void test_exec_arguments_and_pid(void)
{
	struct gdn_err *err = NULL;
	pid_t pid = 0;
	_cleanup_free_ char *errout = NULL;

	CHECK_OK(exec_fake("ok", &pid, &err, &errout), err);
	CHECK_INTEQ(pid, 4242);
	_cleanup_free_ char *args = slurp("args");
	CHECK_STREQ(args,
		    "--root\n/run/rt\n--log\nruntime.log\n--log-format\njson\nexec\n--detach\n"
		    "--pid-file\npidfile\n-p\nprocess.json\nok\n");
	_cleanup_free_ char *cwd = slurp("cwd");
	CHECK(strncmp(cwd, tap_tmp, strlen(tap_tmp)) == 0);
	/* the runtime's stderr is the process's */
	CHECK_STREQ(errout, "to the process\n");

	/* on cgroup v2, into the container's @init leaf */
	sub_cgroup = "@init";
	CHECK_OK(exec_fake("ok", &pid, &err, NULL), err);
	sub_cgroup = NULL;
	_cleanup_free_ char *leaf_args = slurp("args");
	CHECK_STREQ(leaf_args,
		    "--root\n/run/rt\n--log\nruntime.log\n--log-format\njson\nexec\n--detach\n"
		    "--pid-file\npidfile\n--cgroup\n@init\n-p\nprocess.json\nok\n");
}

static void test_exec_failure_messages(void)
{
	struct gdn_err *err = NULL;
	pid_t pid = 0;

	CHECK(exec_fake("runc-nf", &pid, &err, NULL) < 0);
	CHECK_INTEQ(err->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
	CHECK_STREQ(gdn_err_str(err),
		    "fake-runc exec: exit status 255: exec failed: unable to start container "
		    "process: exec: \"nosuch\": executable file not found in $PATH");
	err = gdn_err_free(err);

	CHECK(exec_fake("other", &pid, &err, NULL) < 0);
	CHECK_INTEQ(err->kind, GDN_ERR_GENERIC);
	CHECK_STREQ(gdn_err_str(err), "fake-runc exec: exit status 2: cannot do it");
	err = gdn_err_free(err);

	/* no log: the runtime's stderr explains */
	CHECK(exec_fake("crun-stderr", &pid, &err, NULL) < 0);
	CHECK_INTEQ(err->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
	CHECK_STREQ(gdn_err_str(err), "fake-runc exec: exit status 1: executable file `x` not "
				      "found in $PATH: No such file or directory");
	err = gdn_err_free(err);

	CHECK(exec_fake("nopid", &pid, &err, NULL) < 0);
	CHECK(strstr(gdn_err_str(err), "pidfile") != NULL);
	gdn_err_free(err);
}

static void test_pea_run(void)
{
	struct gdn_err *err = NULL;
	pid_t pid = 0;
	char want[512];

	as_pea = true;
	CHECK_OK(exec_fake("ok", &pid, &err, NULL), err);
	CHECK_INTEQ(pid, 4242);
	_cleanup_free_ char *args = slurp("args");
	snprintf(want, sizeof(want),
		 "--root\n/run/rt\n--log\nruntime.log\n--log-format\njson\nrun\n--detach\n"
		 "--pid-file\npidfile\n--no-new-keyring\n--bundle\n%s\nok\n",
		 tap_tmp);
	CHECK_STREQ(args, want);
	/* a pea's missing executable is an exec's error, with run's name */
	CHECK(exec_fake("runc-nf", &pid, &err, NULL) < 0);
	CHECK_INTEQ(err->kind, GDN_ERR_EXECUTABLE_NOT_FOUND);
	CHECK(strncmp(gdn_err_str(err), "fake-runc run: exit status 255: ", 32) == 0);
	gdn_err_free(err);
	as_pea = false;
}

static void test_not_found_patterns(void)
{
	static const char runc_pfx[] = "exec failed: unable to start container process: ";
	static const char *const yes[] = {
	    "exec: \"x\": executable file not found in $PATH",
	    "exec: \"/bin/x\": stat /bin/x: no such file or directory",
	    "executable file `x` not found in $PATH: No such file or directory",
	    "exec container process (missing dynamic library?) `/x`: No such file or directory",
	};
	static const char *const no[] = {
	    "exec: \"/etc\": permission denied",
	    "chdir to cwd (\"/nope\") set in config.json failed: no such file or directory",
	    "open executable: Operation not permitted",
	    "container `c1` does not exist",
	    "",
	};
	char msg[512];

	for (size_t i = 0; i < GDN_ARRAY_SIZE(yes); i++) {
		snprintf(msg, sizeof(msg), "%s%s", runc_pfx, yes[i]);
		CHECK(gdn_runtime_not_found(yes[i]));
		CHECK(gdn_runtime_not_found(msg));
	}
	for (size_t i = 0; i < GDN_ARRAY_SIZE(no); i++) {
		snprintf(msg, sizeof(msg), "%s%s", runc_pfx, no[i]);
		CHECK(!gdn_runtime_not_found(no[i]));
		CHECK(!gdn_runtime_not_found(msg));
	}
	CHECK(!gdn_runtime_not_found(NULL));
}

static void test_console_size(void)
{
	char path[128];
	unsigned c = 0, r = 0;
	struct gdn_err *err = NULL;
	static const char spec[] =
	    "{\"terminal\":true,\"consoleSize\":{\"height\":40,\"width\":132}}";

	snprintf(path, sizeof(path), "%s/process.json", tap_tmp);
	dd_console_size(path, &c, &r);
	CHECK(c == 80 && r == 24);
	CHECK_OK(gdn_fs_write_atomic(path, spec, strlen(spec), 0600, &err), err);
	dd_console_size(path, &c, &r);
	CHECK(c == 132 && r == 40);
}

static void test_console_socket(void)
{
	char *dir = NULL, *path = NULL;
	struct gdn_err *err = NULL;
	int fd = dd_console_listen(&dir, &path, &err);

	CHECK_OK(fd, err);
	CHECK(strncmp(path, "/tmp/dadoo-", 11) == 0 && strlen(path) < 108);
	CHECK(access(path, F_OK) == 0);
	CHECK_INTEQ(dd_console_receive(fd, &err), -EAGAIN);
	close(fd);
	dd_console_remove(dir);
	CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
	free(dir);
	free(path);
}

/* A runtime that gets stuck the way `runc exec` does on a FIFO at the container's /etc/passwd:
 * its `runc init` child hangs (here a sleep that also records its pid), and so does the runtime
 * waiting for it. "late" starts the process only after a while. */
static const char stuck_runtime[] =
    "#!/bin/sh\n"
    "for h; do :; done\n"
    "case \"$h\" in\n"
    "hang) sleep 30 & echo $! > init.pid; exec sleep 30 ;;\n"
    "late) sleep 0.5; sleep 30 & echo $! > pidfile; echo yes > started; exit 0 ;;\n"
    "started) sleep 30 & echo $! > pidfile; exit 0 ;;\n"
    "esac\n";

static int exec_stuck(const char *handle, uint64_t timeout_ns,
		      int (*meanwhile)(void *, struct gdn_err **), struct gdn_err **err)
{
	char rt[128];
	struct gdn_err *e = NULL;
	pid_t pid = 0;

	snprintf(rt, sizeof(rt), "%s/stuck-runc", tap_tmp);
	CHECK_OK(gdn_fs_write_atomic(rt, stuck_runtime, strlen(stuck_runtime), 0755, &e), e);
	struct dd_exec x = {
	    .runtime = rt,
	    .timeout_ns = timeout_ns,
	    .dir = tap_tmp,
	    .handle = handle,
	    .stdio = {-1, -1, -1},
	    .console_fd = -1,
	    .stderr_peek = -1,
	    .meanwhile = meanwhile,
	};
	return dd_runtime_exec(&x, &pid, NULL, err);
}

static pid_t pid_in(const char *name)
{
	_cleanup_free_ char *text = slurp(name);
	uint32_t pid = 0;

	text[strcspn(text, "\n")] = '\0';
	CHECK(gdn_parse_u32(text, &pid) == 0 && pid > 1);
	return (pid_t)pid;
}

/* No child of ours is left, not even a zombie. */
static void check_no_children(void)
{
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

static void test_exec_deadline_kills_runtime_and_its_orphans(void)
{
	struct gdn_err *err = NULL;
	uint64_t t0 = gdn_now_mono_ns();
	pid_t init;

	/* as dadoo: the runtime's orphans come to us */
	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	CHECK_INTEQ(exec_stuck("hang", 400 * 1000000ULL, NULL, &err), -ETIMEDOUT);
	CHECK(gdn_now_mono_ns() - t0 < 4000000000ULL);
	CHECK_STREQ(gdn_err_str(err),
		    "stuck-runc exec: timed out after 400ms: the runtime was killed");
	gdn_err_free(err);
	init = pid_in("init.pid");
	CHECK(kill(init, 0) < 0 && errno == ESRCH);
	check_no_children();
}

static int failing_setup(void *arg, struct gdn_err **err)
{
	(void)arg;
	return gdn_err_set(err, EMFILE, "setup");
}

static void test_failed_setup_kills_the_runtime_before_it_starts_anything(void)
{
	struct gdn_err *err = NULL;
	const struct timespec wait = {1, 0};
	char path[160];

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	CHECK(exec_stuck("late", 0, failing_setup, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "setup") != NULL);
	gdn_err_free(err);
	check_no_children();
	/* the process never starts after dadoo reported failure */
	nanosleep(&wait, NULL);
	snprintf(path, sizeof(path), "%s/started", tap_tmp);
	CHECK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/pidfile", tap_tmp);
	CHECK(access(path, F_OK) < 0);
}

static int ok_setup(void *arg, struct gdn_err **err)
{
	(void)arg;
	(void)err;
	return 0;
}

static void test_started_process_is_killed_when_the_exec_fails_late(void)
{
	struct gdn_err *err = NULL;
	pid_t pid;

	/* a TTY exec whose runtime sent no console fails after the process started */
	char rt[128], *dir = NULL, *sock = NULL;
	struct gdn_err *e = NULL;
	int console;

	CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
	snprintf(rt, sizeof(rt), "%s/stuck-runc", tap_tmp);
	CHECK_OK(gdn_fs_write_atomic(rt, stuck_runtime, strlen(stuck_runtime), 0755, &e), e);
	console = dd_console_listen(&dir, &sock, &e);
	CHECK_OK(console, e);
	struct dd_exec x = {
	    .runtime = rt,
	    .dir = tap_tmp,
	    .handle = "started",
	    .stdio = {-1, -1, -1},
	    .console_fd = console,
	    .console_socket = sock,
	    .stderr_peek = -1,
	    .meanwhile = ok_setup,
	};
	pid_t got = 0;
	int master = -1;

	CHECK(dd_runtime_exec(&x, &got, &master, &err) < 0);
	CHECK(strstr(gdn_err_str(err), "no console") != NULL);
	CHECK_INTEQ(master, -1);
	gdn_err_free(err);
	pid = pid_in("pidfile");
	CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	check_no_children();
	close(console);
	dd_console_remove(dir);
	free(dir);
	free(sock);
}

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_exec_arguments_and_pid),
	    TEST(test_exec_failure_messages),
	    TEST(test_pea_run),
	    TEST(test_not_found_patterns),
	    TEST(test_console_size),
	    TEST(test_console_socket),
	    TEST(test_exec_deadline_kills_runtime_and_its_orphans),
	    TEST(test_failed_setup_kills_the_runtime_before_it_starts_anything),
	    TEST(test_started_process_is_killed_when_the_exec_fails_late),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
