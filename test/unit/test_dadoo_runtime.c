/* link: cmd/dadoo/runtime.c cmd/dadoo/tty.c */
#include <fcntl.h>
#include <string.h>

#include "test/unit/tap.h"
#include "lib/fs.h"
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
	    .handle = handle,
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
		CHECK(dd_runtime_not_found(yes[i]));
		CHECK(dd_runtime_not_found(msg));
	}
	for (size_t i = 0; i < GDN_ARRAY_SIZE(no); i++) {
		snprintf(msg, sizeof(msg), "%s%s", runc_pfx, no[i]);
		CHECK(!dd_runtime_not_found(no[i]));
		CHECK(!dd_runtime_not_found(msg));
	}
	CHECK(!dd_runtime_not_found(NULL));
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

int main(void)
{
	static const struct tap_test tests[] = {
	    TEST(test_exec_arguments_and_pid), TEST(test_exec_failure_messages),
	    TEST(test_not_found_patterns),     TEST(test_console_size),
	    TEST(test_console_socket),
	};
	return tap_run(tests, GDN_ARRAY_SIZE(tests));
}
